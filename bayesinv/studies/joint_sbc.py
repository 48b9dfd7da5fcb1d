r"""The calibration study model: a small hierarchical joint inversion checked by SBC.

One density field on a :class:`~bayesinv.grid.Grid2D` (``nx`` × ``nz`` cells, default 8 × 4)
with an :class:`~bayesinv.model.fields.IIDNormal` prior is observed by two modalities, each with
a :class:`~bayesinv.model.noise.ScaledNoise` (reported errors times an unknown scale factor
``{name}_sigma ~ LogNormal(0, noise_prior_sd)``):

- ``gravity``: :class:`~bayesinv.operators.Gravity2D` at ``n_gravity`` surface receivers
  (mGal);
- ``muography``: line integrals of density along straight rays,
  :class:`~bayesinv.operators.traveltime.StraightRayTomography` used as a linear operator
  on the density field (kg/m², as in muon radiography), rays from the left to the right
  edge of the section.

The reported errors are ``relative_error`` times the prior-predictive standard deviation of
each noise-free datum, :math:`e_i = r\,σ_ρ \sqrt{\sum_j G_{ij}^2}`, so the data are
informative whatever the units.

Truths and data are drawn from the very model that is fitted (one ``pm.Model`` built by
:class:`~bayesinv.model.JointInversion`): :meth:`JointSBCStudy.simulate` draws all free
variables and both observed variables jointly from the prior predictive, and
:meth:`JointSBCStudy.fit` samples that model's posterior with nutpie, the observed data
having been turned into shared variables so that the model is compiled once per process
and only the data change between replicates. With ``fixed_noise_scale`` the fitted model
has both noise scale factors fixed (``pm.do``) while the data are still simulated with the
random ones: a deliberately wrong inference, the negative control of the study.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from bayesinv import _seeds
from bayesinv._checks import check_int, check_positive

__all__ = ["JointSBCStudy"]

MODALITIES = ("gravity", "muography")

#: per-process cache of built and compiled models, keyed by the (hashable) study
_CACHE: dict = {}
#: guards the cache and the shared random state of the compiled draw function, so that
#: replicates may run in threads (a threaded map, or dask workers with several threads)
_LOCK = threading.RLock()
#: seed the draw function is compiled with; no draw uses it, since :meth:`simulate` reseeds
#: every generator of the function from the replicate's own seed before each draw
_UNUSED_COMPILE_SEED = 0


@dataclass(frozen=True)
class JointSBCStudy:
    """A two-modality hierarchical joint inversion whose calibration is checked by SBC.

    Parameters
    ----------
    nx, nz : int
        Cells of the density grid (``nx * nz`` field parameters).
    cell : float
        Cell size (m), square cells.
    density_sd : float
        Prior standard deviation of the density contrast (kg/m³), prior mean 0.
    n_gravity : int
        Surface gravity receivers, evenly spread over the section.
    n_rays : int
        Muography rays, from the left edge to the right edge at evenly spread depths.
    relative_error : float
        Reported errors as a fraction of each datum's prior-predictive standard deviation.
    noise_prior_sd : float
        Log-scale standard deviation of the noise scale factors' ``LogNormal(0, ·)`` prior.
    draws, tune : int
        Kept and warm-up draws of the one nutpie chain per replicate.
    fixed_noise_scale : float, optional
        If given, the fitted model fixes both noise scale factors at this value (a wrong,
        overconfident inference when it is well below 1): the negative control.

    Examples
    --------
    >>> study = JointSBCStudy()
    >>> study.n_params, study.var_names
    (32, ('density', 'gravity_sigma', 'muography_sigma'))
    """

    nx: int = 8
    nz: int = 4
    cell: float = 25.0
    density_sd: float = 100.0
    n_gravity: int = 10
    n_rays: int = 10
    relative_error: float = 0.2
    noise_prior_sd: float = 0.5
    draws: int = 200
    tune: int = 300
    fixed_noise_scale: float | None = None

    def __post_init__(self):
        where = "JointSBCStudy"
        for name in ("nx", "nz", "n_gravity", "n_rays", "draws"):
            check_int(getattr(self, name), where, name, low=1)
        check_int(self.tune, where, "tune", low=0)
        for name in ("cell", "density_sd", "relative_error", "noise_prior_sd"):
            check_positive(getattr(self, name), where, name)
        if self.fixed_noise_scale is not None:
            check_positive(self.fixed_noise_scale, where, "fixed_noise_scale")

    @property
    def n_params(self) -> int:
        """Number of field parameters (cells)."""
        return self.nx * self.nz

    @property
    def var_names(self) -> tuple[str, ...]:
        """Variables whose ranks are checked: the field and any fitted noise scale factors."""
        if self.fixed_noise_scale is not None:
            return ("density",)
        return ("density", *(f"{m}_sigma" for m in MODALITIES))

    def grid(self):
        """Return the density grid.

        Returns
        -------
        Grid2D
        """
        from bayesinv.grid import Grid2D

        return Grid2D(nx=self.nx, nz=self.nz, dx=self.cell, dz=self.cell)

    def operators(self) -> dict:
        """Return the forward operators of the two modalities.

        Returns
        -------
        dict of str to ForwardOperator
            ``{"gravity": Gravity2D, "muography": StraightRayTomography}``.
        """
        from bayesinv.operators import Gravity2D
        from bayesinv.operators.traveltime import StraightRayTomography

        grid = self.grid()
        width, depth = self.nx * self.cell, self.nz * self.cell
        x = np.linspace(0.0, width, self.n_gravity + 2)[1:-1]
        gravity = Gravity2D(grid, np.column_stack([x, np.zeros_like(x)]))
        # rays cross the section from the left edge to the right edge; alternate between
        # flat rays and rays dipping across it so that every cell is seen at some angle
        z = np.linspace(0.0, depth, self.n_rays + 2)[1:-1]
        z_end = np.where(np.arange(self.n_rays) % 2 == 0, z, depth - z)
        sources = np.column_stack([np.zeros_like(z), z])
        receivers = np.column_stack([np.full_like(z, width), z_end])
        muography = StraightRayTomography(grid, sources, receivers, strict=True)
        return {"gravity": gravity, "muography": muography}

    def errors(self) -> dict:
        """Return the reported errors: ``relative_error`` × prior-predictive sd of each datum.

        Returns
        -------
        dict of str to numpy.ndarray
        """
        out = {}
        for name, op in self.operators().items():
            rows = np.column_stack([op.forward(e) for e in np.eye(op.n_params)])
            out[name] = self.relative_error * self.density_sd * np.sqrt((rows**2).sum(axis=1))
        return out

    def inversion(self):
        """Return the joint inversion (with placeholder zero data).

        Returns
        -------
        JointInversion
        """
        from bayesinv.model import JointInversion
        from bayesinv.model.fields import IIDNormal
        from bayesinv.model.modality import Modality
        from bayesinv.model.noise import ScaledNoise

        errors = self.errors()
        inv = JointInversion("sbc_study").add_field(
            "density", self.grid(), IIDNormal(0.0, self.density_sd)
        )
        for name, op in self.operators().items():
            noise = ScaledNoise(errors[name], prior_sd=self.noise_prior_sd)
            inv.add_modality(Modality(name, op, np.zeros(op.n_data), noise, field="density"))
        return inv

    def generative_model(self):
        """Return the joint model whose prior predictive gives the truths and data.

        Returns
        -------
        pymc.Model
        """
        return self._cached("generative", lambda: self.inversion().build())

    def fitted_model(self):
        """Return the model fitted to each replicate, its observed data in shared variables.

        Returns
        -------
        tuple of (pymc.Model, dict)
            The model (with the noise scale factors fixed when ``fixed_noise_scale`` is set)
            and the names of the shared variables holding each modality's data.
        """

        def build():
            import pymc as pm

            model = self.inversion().build()
            if self.fixed_noise_scale is not None:
                fixed = float(self.fixed_noise_scale)
                model = pm.do(model, {f"{m}_sigma": fixed for m in MODALITIES})
            return _observed_as_shared(model)

        return self._cached("fitted", build)

    def _cached(self, what: str, build):
        key = (self, what)
        with _LOCK:
            if key not in _CACHE:
                _CACHE[key] = build()
            return _CACHE[key]

    def _draw_function(self):
        def build():
            from pymc.pytensorf import compile as compile_pymc

            model = self.generative_model()
            names = [*self.var_names_generative(), *MODALITIES]
            with _seeds.reproducible_compilation():
                fn = compile_pymc([], [model[n] for n in names], random_seed=_UNUSED_COMPILE_SEED)
            return names, fn

        return self._cached("draw", build)

    def var_names_generative(self) -> tuple[str, ...]:
        """Free variables drawn as the truth (the field and both noise scale factors)."""
        return ("density", *(f"{m}_sigma" for m in MODALITIES))

    def simulate(self, rng):
        """Draw a truth and its data from the prior predictive of the generative model.

        Parameters
        ----------
        rng : numpy.random.Generator or int
            Source of the replicate's randomness (a generator is consumed once, see
            :mod:`bayesinv._seeds`).

        Returns
        -------
        tuple of (dict, dict)
            ``truth`` (``density`` of shape ``(nz, nx)``, ``gravity_sigma``,
            ``muography_sigma``) and ``data`` (one vector per modality).
        """
        from pymc.pytensorf import reseed_rngs

        names, fn = self._draw_function()
        rngs = [v for v in fn.get_shared() if "RandomGenerator" in type(v.type).__name__]
        seed = _seeds.as_int(rng, "JointSBCStudy.simulate", "rng")
        # reseed and draw atomically: the generators of the compiled function are shared by
        # the threads of this process, and a draw must depend only on this replicate's seed
        with _LOCK:
            reseed_rngs(rngs, seed)
            values = dict(zip(names, fn(), strict=True))
        truth = {n: np.asarray(values[n]) for n in self.var_names_generative()}
        data = {m: np.asarray(values[m], dtype=np.float64) for m in MODALITIES}
        return truth, data

    def fit(self, data, seed):
        """Sample the posterior of the fitted model given one replicate's data (nutpie).

        Parameters
        ----------
        data : dict of str to numpy.ndarray
            One vector per modality, from :meth:`simulate`.
        seed : int, numpy.random.SeedSequence or numpy.random.Generator
            Sampler seed (see :mod:`bayesinv._seeds`).

        Returns
        -------
        xarray.DataTree
            With a ``posterior`` group of ``draws`` draws from one chain.

        Notes
        -----
        The model is compiled (by :func:`bayesinv.inference.sampling.compile_model`, once per
        process) inside :func:`bayesinv._seeds.reproducible_compilation`: with
        PyTensor's default fast-math flags the compiled log density rounds differently in a
        process that compiled its kernels than in one that loaded them from the on-disk cache,
        and the same seed gave different chains in a serial run and on a dask cluster.
        """
        from bayesinv.inference.sampling import compile_model, sample

        seed = _seeds.as_int(seed, "JointSBCStudy.fit", "seed")

        def build():
            model, shared = self.fitted_model()
            return compile_model(model), shared

        compiled, shared = self._cached("compiled", build)
        compiled = compiled.with_data(**{shared[m]: data[m] for m in MODALITIES})
        return sample(
            compiled,
            draws=self.draws,
            tune=self.tune,
            chains=1,
            cores=1,
            random_seed=seed,
            progressbar=False,
        )


def _observed_as_shared(model):
    """Rebuild ``model`` with each observed variable's data in a shared variable.

    Returns the new model and ``{observed name: shared variable name}``; the shared
    variables are named ``{name}_observed`` and hold the original data.
    """
    import pytensor
    from pymc.model.fgraph import (
        ModelObservedRV,
        fgraph_from_model,
        model_from_fgraph,
        model_observed_rv,
    )
    from pymc.pytensorf import toposort_replace

    fgraph, _ = fgraph_from_model(model)
    replacements, names = [], {}
    for node in fgraph.toposort():
        if isinstance(node.op, ModelObservedRV):
            rv, observed, *dims = node.inputs
            name = node.op.name
            shared = pytensor.shared(np.asarray(observed.data), name=f"{name}_observed")
            replacements.append((node.outputs[0], model_observed_rv(rv, shared, name, *dims)))
            names[name] = shared.name
    toposort_replace(fgraph, tuple(replacements))
    return model_from_fgraph(fgraph, mutate_fgraph=True), names
