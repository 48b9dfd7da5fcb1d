"""A modality: one data set as a likelihood term of the joint model.

A modality couples a forward operator (physics ∘ observation), the observed data, a noise
model, an optional model-discrepancy GP and a likelihood family. :meth:`Modality.add_to_model`
adds everything to the current ``pm.Model`` under names prefixed with the modality's name.
"""

from __future__ import annotations

import dataclasses
import keyword
import warnings
from dataclasses import dataclass

import numpy as np

from bayesinv._checks import check_choice, check_positive
from bayesinv.model.discrepancy import Discrepancy
from bayesinv.model.noise import Noise, numeric_array, typical_sd
from bayesinv.operators.base import ForwardOperator

__all__ = ["LIKELIHOODS", "Modality", "check_name"]

#: likelihood families accepted by :class:`Modality` (``likelihood=``)
LIKELIHOODS = ("normal", "student_t")


def check_name(name, what: str) -> str:
    """Check that ``name`` can prefix PyMC variable names.

    Parameters
    ----------
    name : str
        The name to check.
    what : str
        What is being named (for the error message).

    Returns
    -------
    str
        The name.
    """
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"{what} name must be a Python identifier, got {name!r}")
    return name


@dataclass(eq=False)
class Modality:
    r"""One data set of the joint inversion, as a likelihood term.

    Parameters
    ----------
    name : str
        Name of the modality: the observed variable is ``name``, its data dim ``{name}_obs``.
    operator : ForwardOperator
        Map from the field vector (or a parameterization's coefficients) to predicted data.
    data : array_like
        Observed data, length ``operator.n_data``. NaN is rejected unless ``mask`` excludes it.
    noise : Noise
        Noise model: :class:`~bayesinv.model.noise.KnownNoise`,
        :class:`~bayesinv.model.noise.ScaledNoise`,
        :class:`~bayesinv.model.noise.HierarchicalNoise` or
        :class:`~bayesinv.model.noise.CovarianceNoise`.
    field : str, optional
        Name of the field the operator acts on (needed when the inversion has several).
    coords : array_like, optional
        Data coordinates, ``(n,)`` or ``(n, k)`` (e.g. receiver positions); stored in the model
        as ``{name}_coords`` and used by the discrepancy GP. Default: the data index.
    discrepancy : Discrepancy, optional
        Model-discrepancy GP over ``coords``.
    likelihood : {"normal", "student_t"}
        Gaussian, or Student-t for robustness to outliers.
    nu : float, optional
        Student-t degrees of freedom; when ``None`` it is learned as ``{name}_nu`` with a
        ``Gamma(2, 0.1)`` prior (Juárez & Steel 2010).
    mask : array_like of bool, optional
        ``True`` for data to use; excluded data (which may be NaN) are not part of the
        likelihood. The data dim's coordinate keeps the original indices of the used data.
    offsets : sequence of DataTerm, optional
        Additive data terms (:class:`~bayesinv.model.offsets.Offset`,
        :class:`~bayesinv.model.offsets.LinearTrend`): cheap parameters added to the
        prediction, :math:`\hat d = F(m) + c + X b` (see :mod:`bayesinv.model.offsets`).

    Notes
    -----
    With prediction :math:`\hat d = F(m)` the likelihood of the used data is

    - diagonal noise: :math:`d_i \sim N(\hat d_i + δ_i, σ_i^2)` or
      :math:`t_ν(\hat d_i + δ_i, σ_i)`, one term per datum, so ArviZ computes pointwise
      LOO per modality;
    - full covariance (a :class:`~bayesinv.model.noise.CovarianceNoise`, or an exactly
      marginalised discrepancy): :math:`d \sim N(\hat d, Σ + K)`, a single joint term.
    """

    name: str
    operator: ForwardOperator
    data: object
    noise: Noise
    field: str | None = None
    coords: object = None
    discrepancy: Discrepancy | None = None
    likelihood: str = "normal"
    nu: float | None = None
    mask: object = None
    offsets: tuple = ()
    _used: np.ndarray = dataclasses.field(init=False, repr=False)

    def __post_init__(self):
        name = check_name(self.name, "modality")
        if not isinstance(self.operator, ForwardOperator):
            raise TypeError(f"modality {name!r}: operator must be a ForwardOperator")
        if not isinstance(self.noise, Noise):
            raise TypeError(
                f"modality {name!r}: noise must be a Noise model (KnownNoise, ScaledNoise, ...)"
            )
        if self.discrepancy is not None and not isinstance(self.discrepancy, Discrepancy):
            raise TypeError(f"modality {name!r}: discrepancy must be a Discrepancy")
        where = f"modality {name!r}"
        check_choice(self.likelihood, where, "likelihood", LIKELIHOODS)
        if self.nu is not None:
            check_positive(self.nu, where, "nu")
        n = self.operator.n_data
        data = numeric_array(self.data, where, "data")
        if data.shape != (n,):
            raise ValueError(
                f"modality {name!r}: data has shape {data.shape} but the operator "
                f"{self.operator.name} predicts {n} values"
            )
        if self.mask is None:
            mask = np.ones(n, dtype=bool)
        else:
            mask = np.asarray(self.mask)
            if mask.dtype != bool or mask.shape != (n,):
                raise ValueError(f"modality {name!r}: mask must be a boolean array of length {n}")
            if not mask.any():
                raise ValueError(f"modality {name!r}: mask excludes every datum")
        bad = mask & ~np.isfinite(data)
        if np.any(bad):
            raise ValueError(
                f"modality {name!r}: data has non-finite values at index "
                f"{np.flatnonzero(bad)[:10].tolist()}; pass mask=... to exclude them"
            )
        coords = np.arange(n, dtype=np.float64) if self.coords is None else self.coords
        coords = numeric_array(coords, where, "coords")
        if coords.ndim == 1:
            coords = coords[:, None]
        if coords.ndim != 2 or coords.shape[0] != n:
            raise ValueError(
                f"modality {name!r}: coords must have {n} rows (one per datum), got shape "
                f"{coords.shape}"
            )
        if not np.all(np.isfinite(coords[mask])):
            raise ValueError(f"modality {name!r}: coords has non-finite values")
        self.noise.validate(name, n)
        self.offsets = tuple(self.offsets)
        for term in self.offsets:
            if not hasattr(term, "add_to_model"):
                raise TypeError(
                    f"modality {name!r}: offsets must be data terms (Offset, LinearTrend), "
                    f"got {type(term).__name__}"
                )
            term.validate(name, n)
        self.data, self.coords, self.mask = data, coords, mask
        self._used = np.flatnonzero(mask)

    @property
    def obs_dim(self) -> str:
        """Name of the data dim, ``{name}_obs``."""
        return f"{self.name}_obs"

    @property
    def used(self) -> np.ndarray:
        """Indices of the data in the likelihood (all, unless masked)."""
        return self._used

    def method(self) -> str | None:
        """How the discrepancy is represented (``"exact"``, ``"hsgp"`` or ``None``)."""
        if self.discrepancy is None:
            return None
        if self.likelihood == "student_t":
            if self.discrepancy.method == "exact":
                raise ValueError(
                    f"modality {self.name!r}: an exactly marginalised discrepancy needs a "
                    "normal likelihood; use Discrepancy(method='hsgp') with student_t"
                )
            return "hsgp"
        from bayesinv.model.noise import CovarianceNoise

        diagonal = not isinstance(self.noise, CovarianceNoise)
        if self.discrepancy.method == "lowrank" and not diagonal:
            raise ValueError(
                f"modality {self.name!r}: Discrepancy(method='lowrank') needs diagonal noise; "
                "use method='exact' or 'hsgp' with a CovarianceNoise"
            )
        kind = "diagonal_normal" if diagonal else "normal"
        return self.discrepancy.resolve_method(self.used.size, kind)

    def add_prediction(self, field_vector, *, model=None):
        """Add the coordinates, offsets and noise terms; return what the likelihood needs.

        The part of :meth:`add_to_model` before the likelihood, shared with likelihoods
        built elsewhere (e.g. a cross-modal discrepancy observing several modalities).

        Parameters
        ----------
        field_vector : TensorVariable
            Flat input of the operator.
        model : pymc.Model, optional
            Defaults to the model in context.

        Returns
        -------
        predicted : TensorVariable
            ``H F(m)`` at the used data, plus offsets and trends.
        observed : numpy.ndarray
            The used data.
        kind : str
            ``"sd"`` (``noise`` is a standard deviation) or ``"cov"`` (a covariance).
        noise : TensorVariable or numpy.ndarray
            The noise term of :attr:`noise`.
        """
        import pymc as pm

        from bayesinv.ops import forward

        model = pm.modelcontext(model)
        name, used, dim = self.name, self.used, self.obs_dim
        with model:
            model.add_coord(dim, used)
            coord_dim = f"{name}_coord"
            model.add_coord(coord_dim, [f"c{i}" for i in range(self.coords.shape[1])])
            pm.Data(f"{name}_coords", self.coords[used], dims=(dim, coord_dim))
            predicted = forward(self.operator, field_vector)
            if used.size < self.operator.n_data:
                predicted = predicted[used]
            for term in self.offsets:
                predicted = predicted + term.add_to_model(name, self.coords, used, model=model)
            kind, noise = self.noise.add_to_model(name, self.operator.n_data, used, model=model)
        return predicted, self.data[used], kind, noise

    def add_to_model(self, field_vector, *args, model=None):
        """Add this modality's variables and likelihood to a PyMC model.

        Parameters
        ----------
        field_vector : TensorVariable
            Flat input of the operator (length ``operator.n_params``).
        model : pymc.Model, optional
            Defaults to the model in context (keyword only; passing it by position is the
            deprecated 0.1 spelling).

        Returns
        -------
        TensorVariable
            The observed random variable ``name``.
        """
        import pymc as pm
        import pytensor.tensor as pt

        if args:
            if len(args) > 1 or model is not None:
                raise TypeError("Modality.add_to_model: takes field_vector and model= only")
            warnings.warn(
                "Modality.add_to_model(field_vector, model) is deprecated and will be removed "
                "in bayesinv 0.3; pass model= by keyword",
                DeprecationWarning,
                stacklevel=2,
            )
            model = args[0]
        model = pm.modelcontext(model)
        name, used, dim = self.name, self.used, self.obs_dim
        with model:
            predicted, observed, kind, noise = self.add_prediction(field_vector, model=model)
            method = self.method()
            if method is not None:
                data_scale = float(np.std(observed)) or 1.0
                which, disc = self.discrepancy.add_to_model(
                    name,
                    self.coords[used],
                    data_scale,
                    method=method,
                    dims=dim,
                    noise_scale=typical_sd(noise) if kind == "sd" else None,
                    operator=self.operator,
                    used=used,
                    model=model,
                )
                if which == "mean":
                    predicted = predicted + disc
                elif which == "lowrank":
                    from bayesinv.model.discrepancy._lowrank import lowrank_normal

                    return lowrank_normal(name, predicted, noise, *disc, observed, dims=dim)
                else:
                    noise_cov = pt.diag(pt.as_tensor(noise) ** 2) if kind == "sd" else noise
                    kind, noise = "cov", noise_cov + disc
            if kind == "cov":
                if self.likelihood == "student_t":
                    nu = self._nu()
                    return pm.MvStudentT(
                        name, nu=nu, mu=predicted, scale=noise, observed=observed, dims=dim
                    )
                return pm.MvNormal(name, mu=predicted, cov=noise, observed=observed, dims=dim)
            if self.likelihood == "student_t":
                return pm.StudentT(
                    name, nu=self._nu(), mu=predicted, sigma=noise, observed=observed, dims=dim
                )
            return pm.Normal(name, mu=predicted, sigma=noise, observed=observed, dims=dim)

    def _nu(self):
        import pymc as pm

        if self.nu is not None:
            return float(self.nu)
        return pm.Gamma(f"{self.name}_nu", alpha=2.0, beta=0.1)
