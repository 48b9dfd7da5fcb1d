r"""The Laplace approximation: a Gaussian at the MAP point, its draws as a DataTree.

One representation serves every Laplace path in bayesinv (:class:`GaussianApproximation`):
a mean :math:`μ`, a factor :math:`S` (a diagonal or a lower-triangular matrix: the prior
factor, or the identity) and the eigenpairs :math:`(λ_i, v_i)` of the
:math:`S`-preconditioned Hessian of :math:`-\log p` minus the identity, kept at low rank or
whole. With :math:`V = [v_i]` and :math:`c_i = (1 + λ_i)^{-1/2}`,

.. math:: x = μ + A z, \qquad A = S\,\big(I + V \mathrm{diag}(c - 1) V^T\big), \qquad
          Γ = A A^T = S\,\big(I - V \mathrm{diag}\big(\tfrac{λ}{1 + λ}\big) V^T\big)\,S^T,

with :math:`z \sim N(0, I)`: the directions the data inform get variance
:math:`1 / (1 + λ_i)` relative to :math:`S S^T`, the others keep it.

- :func:`~bayesinv.inference.gauss_newton.gauss_newton_laplace` (forward operator, Gaussian
  prior and noise) uses the prior factor for :math:`S` and the Gauss–Newton Hessian;
- :func:`laplace_at` builds it from a log density's gradient at a point (finite
  differences, :mod:`bayesinv.inference._linalg`), whole up to ``dense_max`` coordinates,
  low-rank beyond: the continuation's Laplace levels and the NUTS preconditioner use it;
- :func:`laplace` does so for a PyMC model at its MAP (:func:`~bayesinv.inference.optimize.
  find_map`) and returns the
  draws as a DataTree that every diagnostic reads (case study 02).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from bayesinv import _checks, _deprecation, _progress, _seeds
from bayesinv.inference import _linalg
from bayesinv.inference._model_space import FlatDensity, draws_to_datatree
from bayesinv.inference._threads import blas_limit
from bayesinv.inference.optimize import find_map

__all__ = ["GaussianApproximation", "LaplaceModelResult", "laplace", "laplace_at"]

# bayesinv 0.1 defined the Gauss-Newton Laplace here; it uses this module's Gaussian now
__getattr__ = _deprecation.moved_names(
    "bayesinv.inference.laplace",
    {
        "gauss_newton_laplace": "bayesinv.inference.gauss_newton",
        "LaplaceResult": "bayesinv.inference.gauss_newton",
    },
)


@dataclass(frozen=True)
class GaussianApproximation:
    r"""Gaussian :math:`N(μ, A A^T)` with :math:`A = S (I + V \mathrm{diag}(c - 1) V^T)`.

    Parameters
    ----------
    mean : numpy.ndarray, shape (n,)
        :math:`μ`.
    scale : numpy.ndarray, shape (n,) or (n, n)
        :math:`S`: a diagonal (given as its entries) or a matrix.
    basis : numpy.ndarray, shape (n, r)
        Orthonormal columns :math:`V` (``r`` may be 0).
    factors : numpy.ndarray, shape (r,)
        :math:`c > 0`, the standard deviation along each column relative to :math:`S`
        (:math:`c = (1 + λ)^{-1/2}` for Hessian eigenvalues :math:`1 + λ`).

    Notes
    -----
    See the module docstring.
    """

    mean: np.ndarray
    scale: np.ndarray
    basis: np.ndarray
    factors: np.ndarray

    @classmethod
    def from_hessian(cls, mean, scale, eigenvalues, eigenvectors):
        """Make the approximation from eigenpairs of the preconditioned Hessian minus one.

        Parameters
        ----------
        mean, scale : numpy.ndarray
            :math:`μ` and :math:`S`.
        eigenvalues : numpy.ndarray, shape (r,)
            :math:`λ > -1`.
        eigenvectors : numpy.ndarray, shape (n, r)
            :math:`V`.

        Returns
        -------
        GaussianApproximation
        """
        return cls(mean, scale, eigenvectors, cls.factors_of(eigenvalues))

    @staticmethod
    def factors_of(eigenvalues) -> np.ndarray:
        """Return :math:`c = (1 + λ)^{-1/2}` for eigenvalues :math:`λ > -1`."""
        return 1.0 / np.sqrt(1.0 + np.asarray(eigenvalues, dtype=np.float64))

    @property
    def n(self) -> int:
        """Dimension."""
        return int(np.size(self.mean))

    @property
    def rank(self) -> int:
        """Number of basis directions."""
        return int(np.size(self.factors))

    def _times_factor(self, w):
        """:math:`S` applied to rows of ``w``."""
        s = np.asarray(self.scale)
        return w * s if s.ndim == 1 else w @ s.T

    def apply(self, z) -> np.ndarray:
        """Map standard-normal coordinates to the approximation: :math:`μ + A z`.

        Parameters
        ----------
        z : array_like, shape (n,) or (k, n)

        Returns
        -------
        numpy.ndarray
        """
        z = np.asarray(z, dtype=np.float64)
        inner = z + ((z @ self.basis) * (self.factors - 1.0)) @ self.basis.T
        return self.mean + self._times_factor(inner)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Independent draws, shape ``(n, dimension)``, from ``rng``.

        Parameters
        ----------
        n : int
            Number of draws.
        rng : numpy.random.Generator
            Source of randomness.

        Returns
        -------
        numpy.ndarray
        """
        return self.apply(rng.standard_normal((int(n), self.n)))

    def tempered(self, power: float) -> GaussianApproximation:
        r"""Return the approximation with the data's curvature times ``power`` (same mean).

        Parameters
        ----------
        power : float
            :math:`τ \in (0, 1]`: ``1`` gives this approximation; smaller values widen it
            towards :math:`N(μ, S S^T)` (the prior, for a Gauss–Newton fit).

        Returns
        -------
        GaussianApproximation
            Eigenvalues :math:`τ λ_i`; mean, scale and basis unchanged.

        Notes
        -----
        With :math:`S S^T` the prior covariance, :math:`Γ_τ = ((S S^T)^{-1} + τ S^{-T} V Λ
        V^T S^{-1})^{-1}`: the Laplace approximation of prior × likelihood\ :sup:`τ` at the
        same mean, standard deviations :math:`τ^{-1/2}` times wider along directions with
        :math:`τλ \gg 1`. As the reference of Laplace-pCN
        (:func:`~bayesinv.inference.mcmc.sample_pcn`) it reaches mass far from the MAP
        (another mode) that the fit's own covariance does not; every τ gives an exact
        sampler, only the mixing changes.
        """
        power = _checks.check_float(
            power, "GaussianApproximation.tempered", "power", low=0, high=1, low_open=True
        )
        lam = 1.0 / np.asarray(self.factors, dtype=np.float64) ** 2 - 1.0
        return GaussianApproximation.from_hessian(self.mean, self.scale, power * lam, self.basis)

    def cov(self) -> np.ndarray:
        """Dense covariance :math:`A A^T` (for small problems and tests)."""
        s = np.asarray(self.scale)
        sv = self._times_factor(self.basis.T).T
        low = (sv * (self.factors**2 - 1.0)) @ sv.T
        return (np.diag(s**2) if s.ndim == 1 else s @ s.T) + low


def laplace_at(
    logp_dlogp,
    x,
    *,
    dense_max: int = 1500,
    rank: int | None = None,
    start_basis=None,
    max_rank: int | None = 200,
    tol: float = 0.1,
    oversampling: int = 10,
    step: float = 1e-4,
    random_seed,
) -> tuple[GaussianApproximation, dict]:
    r"""Laplace approximation at ``x`` from finite differences of the gradient.

    The Hessian :math:`H` of :math:`-\log p` is applied by central differences of the
    gradient (:class:`~bayesinv.inference._linalg.hessian_action`). With at most
    ``dense_max`` coordinates it is formed whole and eigendecomposed; otherwise the leading
    eigenpairs of :math:`H - I` come from the randomised eigensolver
    (:func:`~bayesinv.inference._linalg.leading_eigh`), started from ``start_basis`` (e.g.
    a coarser level's basis) plus random vectors, the rank doubled until the smallest kept
    eigenvalue is below ``tol``.

    Parameters
    ----------
    logp_dlogp : callable
        ``x -> (logp, gradient)`` on flat coordinates.
    x : array_like, shape (n,)
        The point (the MAP).
    dense_max : int
        Largest ``n`` for which the Hessian is formed whole.
    rank : int, optional
        Starting rank of the randomised solver (default: start basis size + 10, at least 20).
    start_basis : array_like, shape (n, k), optional
        Directions in the first test block.
    max_rank : int or None
        Largest number of directions kept (``None``: all).
    tol : float
        Directions with :math:`|λ| <` ``tol`` (variance within that of one) keep unit
        variance; ``0`` keeps every direction (a full dense covariance).
    oversampling : int
        Extra random vectors of the range finder.
    step : float
        Finite-difference step.
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Seeds the range finder.

    Returns
    -------
    GaussianApproximation
        Centred at ``x`` with unit :math:`S`; directions where :math:`1 + λ \le 0` (``x`` is
        not a local maximum there) are dropped and counted.
    dict
        ``n_gradients``, ``rank``, ``min_eig``, ``max_eig`` (of :math:`H`) and
        ``n_not_positive``.
    """
    where = "laplace_at"
    rng = _seeds.as_generator(random_seed, where)
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    dense_max = _checks.check_int(dense_max, where, "dense_max", low=0)
    max_rank = n if max_rank is None else _checks.check_int(max_rank, where, "max_rank", low=0)
    tol = _checks.check_float(tol, where, "tol", low=0.0)
    hv = _linalg.hessian_action(logp_dlogp, x, step)
    if n <= dense_max:
        w, vecs = np.linalg.eigh(_linalg.dense_hessian(hv, n))
        lam = w - 1.0
    else:
        k0 = 0 if start_basis is None else np.asarray(start_basis).shape[1]
        r = _checks.check_int(rank, where, "rank", low=1) if rank is not None else max(20, k0 + 10)
        lam, vecs = _linalg.leading_eigh(
            lambda v: hv(v) - v,
            n,
            rng=rng,
            rank=r,
            max_rank=max_rank,
            tol=tol,
            oversampling=oversampling,
            start_basis=start_basis,
        )
    positive = 1.0 + lam > 0
    keep = positive & (np.abs(lam) >= tol)
    order = np.argsort(np.abs(lam[keep]))[::-1][:max_rank]
    gaussian = GaussianApproximation.from_hessian(
        x, np.ones(n), lam[keep][order], vecs[:, keep][:, order]
    )
    info = {
        "n_gradients": hv.n_gradients,
        "rank": gaussian.rank,
        "min_eig": float(np.min(1.0 + lam)) if lam.size else np.nan,
        "max_eig": float(np.max(1.0 + lam)) if lam.size else np.nan,
        "n_not_positive": int(np.sum(~positive)),
    }
    return gaussian, info


@dataclass(frozen=True)
class LaplaceModelResult:
    """Laplace approximation of a PyMC model's posterior (see :func:`laplace`).

    Attributes
    ----------
    gaussian : GaussianApproximation
        In the model's flat unconstrained coordinates
        (:class:`~bayesinv.inference._model_space.ModelSpace`).
    info : dict
        As :func:`laplace_at` reports it, plus ``map_s`` and ``laplace_s`` (seconds).
    idata : xarray.DataTree
        Draws: ``posterior`` (free variables, constrained, and deterministics),
        ``observed_data``; root attribute ``inference = "laplace"``.
    """

    gaussian: GaussianApproximation = field(repr=False)
    info: dict
    idata: object = field(repr=False)


def laplace(
    model=None,
    point: dict | None = None,
    *,
    draws: int = 1000,
    chains: int = 4,
    random_seed,
    step: float = 1e-4,
    dense_max: int = 1500,
    max_rank: int | None = None,
    mode="NUMBA",
    blas_threads: int | None = 1,
) -> LaplaceModelResult:
    """Laplace approximation of a PyMC model's posterior; draws as a DataTree.

    Parameters
    ----------
    model : pymc.Model, optional
        A continuous model (default: the model in context).
    point : dict, optional
        The MAP as unconstrained values by value-variable name (what :func:`find_map`
        returns); found with :func:`find_map` when not given.
    draws, chains : int
        Independent draws per "chain" (chains let R-hat-based diagnostics run unchanged).
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Seeds the MAP search's start, the range finder and the draws.
    step : float
        Finite-difference step of the Hessian.
    dense_max : int
        Largest number of coordinates for which the Hessian is formed whole.
    max_rank : int, optional
        Directions kept beyond ``dense_max`` (default 200).
    mode : str or None
        PyTensor mode of the compiled gradient (``None`` for operators without numba
        kernels).
    blas_threads : int or None
        Threads each BLAS call may use during the MAP search and the Hessian (default 1:
        :mod:`bayesinv.inference._threads`); ``None`` leaves BLAS as it is.

    Returns
    -------
    LaplaceModelResult
    """
    import time

    import pymc as pm

    where = "laplace"
    model = pm.modelcontext(model)
    draws = _checks.check_int(draws, where, "draws", low=1)
    chains = _checks.check_int(chains, where, "chains", low=1)
    seeds = _seeds.child_seeds(random_seed, 3, where)
    _progress.stage("Laplace approximation")
    limit = blas_limit(blas_threads, where)
    t0 = time.perf_counter()
    if point is None:
        point = find_map(model, random_seed=seeds[0], blas_threads=blas_threads)
    map_s = time.perf_counter() - t0
    flat = FlatDensity(model, mode=mode)
    t0 = time.perf_counter()
    with limit, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # operators without numba kernels run in Python
        gaussian, info = laplace_at(
            flat.logp_dlogp,
            flat.flatten(point),
            dense_max=dense_max,
            tol=0.0,
            step=step,
            max_rank=None if flat.n <= dense_max else (max_rank or 200),
            random_seed=seeds[1],
        )
    info |= {"map_s": map_s, "laplace_s": time.perf_counter() - t0}
    if info["n_not_positive"]:
        warnings.warn(
            f"laplace: the Hessian of -log p has {info['n_not_positive']} non-positive "
            "eigenvalue(s) at the point, which is not a local maximum; those directions keep "
            "unit variance in the approximation",
            RuntimeWarning,
            stacklevel=2,
        )
    x = gaussian.sample(draws * chains, _seeds.as_generator(seeds[2], where))
    tree = draws_to_datatree(flat, x, chains)
    tree.attrs.update({"inference": "laplace", "rank": gaussian.rank})
    return LaplaceModelResult(gaussian, info, tree)
