r"""Gauss–Newton MAP and Laplace approximation for a forward operator with Gaussian noise.

For data :math:`d = F(m) + ε`, :math:`ε \sim N(0, Γ_n)`, and a Gaussian prior
:math:`m \sim N(m_{pr}, Γ_{pr})` with a factor :math:`L L^T = Γ_{pr}`, write
:math:`m = m_{pr} + L u` (prior whitening). The negative log-posterior is

.. math:: Φ(u) = \tfrac12 \|F(m_{pr} + L u) - d\|^2_{Γ_n^{-1}} + \tfrac12 \|u\|^2 .

Gauss–Newton iterations solve :math:`(I + \tilde H) δu = -\nabla Φ` with the
prior-preconditioned data-misfit Hessian :math:`\tilde H = L^T J^T Γ_n^{-1} J L` (``J`` the
Jacobian of ``F``, applied matrix-free through ``jvp``/``vjp``; conjugate gradients, with a
backtracking line search). At the MAP point the Laplace approximation is

.. math:: Γ_{post} = L (I + \tilde H)^{-1} L^T = L (I - V D V^T) L^T,
          \qquad D = \mathrm{diag}\big(λ_i / (1 + λ_i)\big),

where :math:`\tilde H ≈ V Λ V^T`: the :class:`~bayesinv.inference.laplace.
GaussianApproximation` with factor :math:`L`. With ``rank=None`` the decomposition is exact
(from the singular values of :math:`Γ_n^{-1/2} J L`, built column- or row-wise, whichever is
fewer operator calls); with ``rank=k`` it keeps the ``k`` leading eigenpairs from the
randomised eigensolver (:func:`~bayesinv.inference._linalg.randomized_eigh`) that needs only
:math:`\tilde H`-vector products, as in Bui-Thanh, Ghattas, Martin & Stadler (2013) and
Isaac et al. (2015). Eigenvalues much smaller than one are directions the data do not
inform, so a small rank suffices when the data are few or smooth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
from scipy.sparse.linalg import LinearOperator, cg

from bayesinv import _checks, _progress, _seeds
from bayesinv.inference import _linalg
from bayesinv.inference.laplace import GaussianApproximation
from bayesinv.operators.base import ForwardOperator, as_vector

__all__ = ["LaplaceResult", "gauss_newton_laplace"]

_NAME = "gauss_newton_laplace"


@dataclass(frozen=True)
class LaplaceResult(GaussianApproximation):
    """Gauss–Newton Laplace approximation of a posterior at its MAP point.

    A :class:`~bayesinv.inference.laplace.GaussianApproximation` whose factor is the prior
    factor ``L`` and whose basis holds the kept eigenvectors of the prior-preconditioned
    data-misfit Hessian (``cov()`` and ``sample(n, rng)`` come from it).

    Attributes
    ----------
    map : numpy.ndarray
        MAP point (the posterior mean of the approximation).
    prior_factor : numpy.ndarray
        Lower-triangular ``L`` with ``L L^T = Γ_pr``.
    eigenvalues : numpy.ndarray
        Kept eigenvalues of the prior-preconditioned data-misfit Hessian, decreasing.
    eigenvectors : numpy.ndarray
        Matching eigenvectors, shape ``(n_params, rank)``.
    iterations : int
        Gauss–Newton iterations taken.
    converged : bool
        Whether the gradient norm fell below the tolerance.
    operator_calls : dict
        Counts of ``forward``, ``jvp`` and ``vjp`` calls.
    idata : xarray.DataTree
        Draws from the approximation (``posterior``; with ``observed_data``,
        ``posterior_predictive`` and ``log_likelihood`` for the data), so every diagnostic
        works on it; group ``laplace`` holds ``{name}_map`` and the kept ``eigenvalues``,
        root attributes ``inference``, ``rank``, ``gauss_newton_iterations``,
        ``converged``.
    """

    eigenvalues: np.ndarray = field(repr=False, default=None)
    iterations: int = 0
    converged: bool = False
    operator_calls: dict = field(default_factory=dict)
    idata: object = field(repr=False, default=None)

    @property
    def map(self) -> np.ndarray:
        """The MAP point."""
        return self.mean

    @property
    def prior_factor(self) -> np.ndarray:
        """The prior factor ``L``."""
        return self.scale

    @property
    def eigenvectors(self) -> np.ndarray:
        """The kept eigenvectors."""
        return self.basis


class _Counted:
    """The operator's calls, counted, at a fixed linearisation point."""

    def __init__(self, op: ForwardOperator):
        self.op = op
        self.calls = {"forward": 0, "jvp": 0, "vjp": 0}

    def forward(self, m):
        self.calls["forward"] += 1
        return self.op.forward(m)

    def jvp(self, m, dm):
        self.calls["jvp"] += 1
        return self.op.jvp(m, dm)

    def vjp(self, m, dd):
        self.calls["vjp"] += 1
        return self.op.vjp(m, dd)


def _noise_factor(noise_sd, noise_cov, n_data):
    """Whitening ``W`` (callable on vectors and its transpose) and the log-determinant."""
    if (noise_sd is None) == (noise_cov is None):
        raise ValueError(f"{_NAME}: give exactly one of noise_sd and noise_cov")
    if noise_sd is not None:
        sd = np.broadcast_to(np.asarray(noise_sd, dtype=np.float64), (n_data,)).copy()
        if not np.all(np.isfinite(sd)) or np.any(sd <= 0):
            raise ValueError(f"{_NAME}: noise_sd must be finite and positive")
        return (lambda r: r / sd), (lambda r: r / sd), sd
    cov = np.asarray(noise_cov, dtype=np.float64)
    if cov.shape != (n_data, n_data):
        raise ValueError(f"{_NAME}: noise_cov has shape {cov.shape}, expected {(n_data, n_data)}")
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(f"{_NAME}: noise_cov is not symmetric positive definite") from None

    def whiten(r):
        return sla.solve_triangular(chol, r, lower=True)

    def whiten_t(r):
        return sla.solve_triangular(chol, r, lower=True, trans="T")

    return whiten, whiten_t, None


def _prior_factor(prior_cov, n):
    cov = np.asarray(prior_cov, dtype=np.float64)
    if cov.ndim == 0 or cov.ndim == 1:
        var = np.broadcast_to(cov, (n,))
        if not np.all(np.isfinite(var)) or np.any(var <= 0):
            raise ValueError(f"{_NAME}: prior_cov (variances) must be finite and positive")
        return np.diag(np.sqrt(var))
    if cov.shape != (n, n):
        raise ValueError(f"{_NAME}: prior_cov has shape {cov.shape}, expected {(n, n)}")
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(f"{_NAME}: prior_cov is not symmetric positive definite") from None


def gauss_newton_laplace(
    operator: ForwardOperator,
    data,
    *,
    prior_mean,
    prior_cov,
    noise_sd=None,
    noise_cov=None,
    rank: int | None = None,
    m0=None,
    max_iter: int = 50,
    gtol: float = 1e-10,
    cg_rtol: float = 1e-12,
    oversampling: int = 10,
    power_iterations: int = 1,
    draws: int = 1000,
    chains: int = 4,
    random_seed,
    name: str = "m",
    data_name: str = "data",
    grid=None,
) -> LaplaceResult:
    """Gauss–Newton MAP and Laplace approximation for a forward operator with Gaussian noise.

    Parameters
    ----------
    operator : ForwardOperator
        Forward map ``F`` (linear or not); only ``forward``, ``jvp`` and ``vjp`` are used.
    data : array_like
        Observed data, length ``operator.n_data``.
    prior_mean : array_like or float
        Prior mean of ``m``.
    prior_cov : array_like or float
        Prior covariance: a matrix ``(n, n)``, a vector of variances or one variance.
    noise_sd : array_like or float, optional
        Noise standard deviation(s) (independent noise).
    noise_cov : array_like, optional
        Noise covariance matrix (give exactly one of ``noise_sd`` and ``noise_cov``).
    rank : int, optional
        Keep this many eigenpairs (randomised, matrix-free); ``None`` for the exact
        decomposition.
    m0 : array_like, optional
        Starting point (default: the prior mean).
    max_iter : int
        Largest number of Gauss–Newton iterations.
    gtol : float
        Stop when the gradient norm is below ``gtol`` times its initial value.
    cg_rtol : float
        Relative tolerance of the conjugate-gradient solves for the Newton steps.
    oversampling, power_iterations : int
        Settings of the randomised eigensolver (``rank`` given).
    draws, chains : int
        Independent draws per "chain" stored in the DataTree (chains let R-hat-based
        diagnostics run unchanged).
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Seeds the draws and the randomised eigensolver.
    name : str
        Posterior variable name.
    data_name : str
        Observed variable name.
    grid : Grid2D, optional
        Store ``name`` with dims ``("{name}_z", "{name}_x")`` and the grid's coordinates.

    Returns
    -------
    LaplaceResult

    Raises
    ------
    ValueError
        On inconsistent sizes or covariances that are not positive definite.
    """
    if not isinstance(operator, ForwardOperator):
        raise ValueError(f"{_NAME}: operator must be a ForwardOperator, got {type(operator)}")
    n, nd = operator.n_params, operator.n_data
    d = as_vector(data, nd, _NAME, "data")
    m_pr = np.broadcast_to(np.asarray(prior_mean, dtype=np.float64), (n,)).copy()
    m_pr = as_vector(m_pr, n, _NAME, "prior_mean")
    chol = _prior_factor(prior_cov, n)
    whiten, whiten_t, noise_vec = _noise_factor(noise_sd, noise_cov, nd)
    if rank is not None:
        rank = _checks.check_int(rank, _NAME, "rank", low=1, high=n)
    draws = _checks.check_int(draws, _NAME, "draws", low=1)
    chains = _checks.check_int(chains, _NAME, "chains", low=1)
    max_iter = _checks.check_int(max_iter, _NAME, "max_iter", low=0)
    rng = _seeds.as_generator(random_seed, _NAME)
    op = _Counted(operator)
    _progress.stage("Gauss-Newton Laplace")

    u = np.zeros(n)
    if m0 is not None:
        u = sla.solve_triangular(chol, as_vector(m0, n, _NAME, "m0") - m_pr, lower=True)

    problem = _Whitened(op, d, m_pr, chol, whiten, whiten_t)
    u, iterations, converged = _iterate(problem, u, max_iter, gtol, cg_rtol, operator.linear)
    m_map = problem.model_of(u)
    if rank is None:
        lam, vecs = _exact_eigh(op, m_map, chol, whiten, whiten_t, n, nd)
    else:
        lam, vecs = _linalg.randomized_eigh(
            problem.hessian_misfit(m_map),
            n,
            rank,
            rng=rng,
            oversampling=_checks.check_int(oversampling, _NAME, "oversampling", low=0),
            power_iterations=_checks.check_int(power_iterations, _NAME, "power_iterations", low=0),
        )
        lam = np.clip(lam, 0.0, None)  # the misfit Hessian is positive semi-definite
    result = LaplaceResult(
        mean=m_map,
        scale=chol,
        basis=vecs,
        factors=GaussianApproximation.factors_of(lam),
        eigenvalues=lam,
        iterations=iterations,
        converged=converged,
        operator_calls=dict(op.calls),
        idata=None,
    )
    idata = _to_datatree(
        result, operator, d, noise_vec, noise_cov, draws, chains, rng, name, data_name, grid
    )
    object.__setattr__(result, "idata", idata)
    return result


class _Whitened:
    """The prior-whitened problem: ``m = m_pr + L u``, misfit whitened by the noise."""

    def __init__(self, op, d, m_pr, chol, whiten, whiten_t):
        self.op, self.d, self.m_pr, self.chol = op, d, m_pr, chol
        self.whiten, self.whiten_t = whiten, whiten_t

    def model_of(self, u):
        return self.m_pr + self.chol @ u

    def objective(self, u):
        r = self.whiten(self.op.forward(self.model_of(u)) - self.d)
        return 0.5 * (r @ r + u @ u), r

    def gradient(self, u, r):
        return self.chol.T @ self.op.vjp(self.model_of(u), self.whiten_t(r)) + u

    def hessian_misfit(self, m):
        def matvec(x):
            x = np.asarray(x).ravel()
            jx = self.whiten(self.op.jvp(m, self.chol @ x))
            return self.chol.T @ self.op.vjp(m, self.whiten_t(jx))

        return matvec


def _iterate(problem, u, max_iter, gtol, cg_rtol, linear):
    """Gauss–Newton iterations from ``u``; return ``(u, iterations, converged)``."""
    n = u.size
    phi, r = problem.objective(u)
    g = problem.gradient(u, r)
    g0 = max(np.linalg.norm(g), np.finfo(float).tiny)
    converged = bool(np.linalg.norm(g) <= gtol * g0) or np.linalg.norm(g) == 0.0
    iterations = 0
    while not converged and iterations < max_iter:
        hm = problem.hessian_misfit(problem.model_of(u))
        system = LinearOperator((n, n), matvec=lambda x, hm=hm: np.asarray(x).ravel() + hm(x))
        step, _ = cg(system, -g, rtol=cg_rtol, atol=0.0, maxiter=10 * n)
        alpha = 1.0
        while True:  # backtracking (Armijo) line search; a full step for linear problems
            phi_new, r_new = problem.objective(u + alpha * step)
            if phi_new <= phi + 1e-4 * alpha * (g @ step) or alpha < 1e-10:
                break
            alpha *= 0.5
        u = u + alpha * step
        phi, r = phi_new, r_new
        g = problem.gradient(u, r)
        iterations += 1
        converged = bool(np.linalg.norm(g) <= gtol * g0)
        if linear and iterations >= 2:
            break  # one exact step (plus one polish) solves a linear problem
    return u, iterations, converged


def _exact_eigh(op, m, chol, whiten, whiten_t, n, nd):
    """Exact eigenpairs of L^T J^T Γn^-1 J L from the SVD of A = Γn^-1/2 J L."""
    if nd <= n:  # rows of A: A^T e_j = L^T J^T W^T e_j, nd vjp calls
        eye = np.eye(nd)
        a = np.column_stack([chol.T @ op.vjp(m, whiten_t(eye[:, j])) for j in range(nd)]).T
    else:  # columns of A: A e_i = W J L e_i, n jvp calls
        a = np.column_stack([whiten(op.jvp(m, chol[:, i])) for i in range(n)])
    _, s, vt = np.linalg.svd(a, full_matrices=False)
    return s**2, vt.T


def _to_datatree(result, operator, d, noise_vec, noise_cov, draws, chains, rng, name, dname, grid):
    import arviz as az
    import xarray as xr

    m = result.sample(draws * chains, rng)
    pred = np.array([operator.forward(mi) for mi in m])
    if noise_vec is not None:
        noisy = pred + rng.standard_normal(pred.shape) * noise_vec
        loglik = -0.5 * ((d - pred) / noise_vec) ** 2 - np.log(noise_vec * np.sqrt(2 * np.pi))
    else:
        noisy = pred + rng.multivariate_normal(np.zeros(d.size), noise_cov, size=pred.shape[0])
        loglik = None  # pointwise log-likelihood is not defined for correlated noise
    dims = {dname: [f"{dname}_obs"]}
    coords = {}
    if grid is not None:
        m = grid.unravel(m)
        dims[name] = [f"{name}_z", f"{name}_x"]
        coords = {f"{name}_z": grid.z_centers, f"{name}_x": grid.x_centers}
    groups = {
        "posterior": {name: m.reshape(chains, draws, *m.shape[1:])},
        "posterior_predictive": {dname: noisy.reshape(chains, draws, -1)},
        "observed_data": {dname: d},
    }
    if loglik is not None:
        groups["log_likelihood"] = {dname: loglik.reshape(chains, draws, -1)}
    tree = az.from_dict(groups, dims=dims, coords=coords)
    m_map = result.map if grid is None else grid.unravel(result.map)
    map_dims = dims.get(name, [f"{name}_dim_{i}" for i in range(m_map.ndim)])
    tree["laplace"] = xr.DataTree(
        xr.Dataset(
            {
                f"{name}_map": (map_dims, m_map),
                "eigenvalues": (("mode",), result.eigenvalues),
            },
            coords={k: v for k, v in coords.items() if k in map_dims},
        )
    )
    tree.attrs.update(
        {
            "inference": _NAME,
            "rank": int(result.rank),
            "gauss_newton_iterations": int(result.iterations),
            "converged": int(result.converged),
        }
    )
    return tree
