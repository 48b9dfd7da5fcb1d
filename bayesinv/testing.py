"""Checks for operators and samplers that users can run on their own code too.

- :func:`dot_test`: the adjoint test ``<J dm, dd> = <dm, J^T dd>``.
- :func:`taylor_test`: the remainder of the first-order Taylor expansion decays as ``h^2``.
- :func:`check_gaussian_posterior`: sampled draws against a closed-form Gaussian posterior.
- :func:`check_compiled_model`: an operator inside a compiled PyMC model (no object mode).
- :func:`model_taylor_test`: the compiled gradient of a whole PyMC model's log density.

long: five independent checks users call one by one, each with its helpers; splitting them
into a package would scatter one public page of the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bayesinv import _seeds
from bayesinv.operators.base import ForwardOperator

__all__ = [
    "GaussianPosteriorCheck",
    "TaylorResult",
    "check_compiled_model",
    "check_gaussian_posterior",
    "dot_test",
    "taylor_test",
]


def _rng(rng, where: str) -> np.random.Generator:
    """Return the generator of an ``rng`` argument (a generator as it is, or a seed)."""
    return _seeds.as_generator(rng, where, "rng")


def dot_test(
    op: ForwardOperator,
    rng,
    m=None,
    *,
    tol: float = 1e-10,
    raise_error: bool = True,
) -> float:
    r"""Adjoint (dot-product) test of an operator's ``jvp`` and ``vjp``.

    Parameters
    ----------
    op : ForwardOperator
        The operator to test.
    rng : numpy.random.Generator or int
        Source of the random vectors ``dm`` and ``dd``.
    m : array_like, optional
        Linearisation point for nonlinear operators; a random vector by default.
    tol : float
        Largest relative error accepted.
    raise_error : bool
        Raise :class:`AssertionError` when the error exceeds ``tol``.

    Returns
    -------
    float
        The relative error ``|a - b| / max(|a|, |b|)``.

    Notes
    -----
    With random :math:`δm` and :math:`δd`, an exact adjoint satisfies
    :math:`\langle J δm, δd \rangle = \langle δm, J^T δd \rangle` up to round-off.
    """
    rng = _rng(rng, "dot_test")
    m = rng.standard_normal(op.n_params) if m is None else np.asarray(m, dtype=np.float64)
    dm = rng.standard_normal(op.n_params)
    dd = rng.standard_normal(op.n_data)
    a = float(np.dot(op.jvp(m, dm), dd))
    b = float(np.dot(dm, op.vjp(m, dd)))
    scale = max(abs(a), abs(b), np.finfo(float).tiny)
    err = abs(a - b) / scale
    if raise_error and not err <= tol:
        raise AssertionError(
            f"dot test failed for {op.name}: <J dm, dd> = {a!r}, <dm, J^T dd> = {b!r}, "
            f"relative error {err:.3e} > {tol:.1e}"
        )
    return err


@dataclass(frozen=True)
class TaylorResult:
    """Outcome of :func:`taylor_test`.

    Attributes
    ----------
    order : float
        Observed convergence order of the first-order remainder (``inf`` when the remainder
        is at round-off level at every step, as for a linear operator).
    steps : numpy.ndarray
        Step sizes ``h``.
    remainder0 : numpy.ndarray
        ``||F(m + h dm) - F(m)||``, which decays as ``h``.
    remainder1 : numpy.ndarray
        ``||F(m + h dm) - F(m) - h J dm||``, which decays as ``h^2``.
    """

    order: float
    steps: np.ndarray = field(repr=False)
    remainder0: np.ndarray = field(repr=False)
    remainder1: np.ndarray = field(repr=False)

    def __float__(self) -> float:
        return float(self.order)


def taylor_test(
    op: ForwardOperator,
    m,
    rng,
    dm=None,
    *,
    steps=None,
    min_order: float | None = 1.9,
) -> TaylorResult:
    r"""Taylor (derivative) test: ``jvp`` must be the derivative of ``forward``.

    Parameters
    ----------
    op : ForwardOperator
        The operator to test.
    m : array_like
        Expansion point.
    rng : numpy.random.Generator or int
        Source of the direction ``dm`` when it is not given.
    dm : array_like, optional
        Direction; random by default, scaled to the size of ``m``.
    steps : array_like, optional
        Decreasing step sizes; by default ``2^-k`` for ``k = 0..11``.
    min_order : float or None
        Raise :class:`AssertionError` if the observed order is below this (``None`` never
        raises).

    Returns
    -------
    TaylorResult
        ``float(result)`` is the observed order: the median slope of ``log remainder1``
        against ``log h`` over the smaller half of the steps where the remainder is above
        round-off (the asymptotic regime, where a small error in ``jvp`` shows as first-order
        decay). It is ``inf`` when the remainder is at round-off level throughout (a linear
        operator).

    Notes
    -----
    For smooth :math:`F`, :math:`\|F(m + hδm) - F(m) - h J δm\| = O(h^2)` while
    :math:`\|F(m + hδm) - F(m)\| = O(h)`. A wrong ``jvp`` shows first-order decay.
    """
    rng = _rng(rng, "taylor_test")
    m = np.asarray(m, dtype=np.float64)
    if dm is None:
        dm = rng.standard_normal(op.n_params) * max(np.linalg.norm(m) / np.sqrt(m.size), 1.0)
    dm = np.asarray(dm, dtype=np.float64)
    h = np.asarray(2.0 ** -np.arange(12) if steps is None else steps, dtype=np.float64)
    f0 = op.forward(m)
    jdm = op.jvp(m, dm)
    r0 = np.empty(h.size)
    r1 = np.empty(h.size)
    for i, hi in enumerate(h):
        diff = op.forward(m + hi * dm) - f0
        r0[i] = np.linalg.norm(diff)
        r1[i] = np.linalg.norm(diff - hi * jdm)
    # remainders below this are round-off in evaluating F, not truncation error
    noise = 1e3 * np.finfo(float).eps * max(np.linalg.norm(f0), np.linalg.norm(jdm) * h.max())
    usable = r1 > noise
    if usable.sum() < 2:
        order = np.inf
    else:
        slopes = np.diff(np.log(r1[usable])) / np.diff(np.log(h[usable]))
        order = float(np.median(slopes[slopes.size // 2 :]))
    result = TaylorResult(order, h, r0, r1)
    if min_order is not None and not order >= min_order:
        raise AssertionError(
            f"Taylor test failed for {op.name}: observed order {order:.2f} < {min_order}; "
            f"remainders {np.array2string(r1, precision=2)}"
        )
    return result


@dataclass(frozen=True)
class GaussianPosteriorCheck:
    """Outcome of :func:`check_gaussian_posterior`.

    Attributes
    ----------
    passed : bool
        Whether every check passed.
    failures : list of str
        What failed, in words.
    mean_z : numpy.ndarray
        Whitened means divided by their Monte Carlo standard errors (≈ N(0, 1)).
    sd_z : numpy.ndarray
        (Whitened standard deviations − 1) divided by their Monte Carlo standard errors.
    max_corr : float
        Largest absolute correlation between whitened coordinates.
    ks_pvalue : float
        Smallest Bonferroni-corrected Kolmogorov–Smirnov p-value of the whitened marginals
        against N(0, 1), on draws thinned to be roughly independent.
    min_ess : float
        Smallest bulk effective sample size among the whitened coordinates.
    n_divergent : int
        Divergent transitions reported by the sampler.
    """

    passed: bool
    failures: list[str]
    mean_z: np.ndarray
    sd_z: np.ndarray
    max_corr: float
    ks_pvalue: float
    min_ess: float
    n_divergent: int


def check_gaussian_posterior(
    draws,
    mean,
    cov,
    *,
    n_divergent: int = 0,
    z_max: float = 4.5,
    alpha: float = 1e-3,
    min_ess: float = 100.0,
    raise_error: bool = True,
) -> GaussianPosteriorCheck:
    r"""Compare MCMC draws with a closed-form Gaussian posterior ``N(mean, cov)``.

    Parameters
    ----------
    draws : array_like
        Draws of shape ``(chains, draws, n)`` (or ``(draws, n)`` for one chain).
    mean : array_like
        Exact posterior mean, length ``n``.
    cov : array_like
        Exact posterior covariance, ``(n, n)``.
    n_divergent : int
        Number of divergent transitions the sampler reported (must be zero to pass).
    z_max : float
        Largest accepted :math:`|z|` of a whitened mean or standard deviation against its
        Monte Carlo standard error (4.5 keeps the false-alarm rate below 1e-4 for tens of
        parameters).
    alpha : float
        Significance level of the Bonferroni-corrected KS tests and correlation check.
    min_ess : float
        Smallest accepted bulk ESS (a sampler that does not mix cannot be checked).
    raise_error : bool
        Raise :class:`AssertionError` listing the failures.

    Returns
    -------
    GaussianPosteriorCheck

    Notes
    -----
    Draws are whitened with the exact posterior, :math:`z = L^{-1}(x - μ)` with
    :math:`LL^T = Σ`, so under the null every coordinate of :math:`z` is standard normal and
    independent of the others. Means and standard deviations are then compared with their
    Monte Carlo standard errors (ArviZ ``mcse``), correlations with a Bonferroni bound
    :math:`|r_{ij}| \sqrt{ESS_{ij}} < z_{α/(2P)}` over the :math:`P = n(n-1)/2` pairs, where
    :math:`ESS_{ij}` is the effective size of the products :math:`z_i z_j` (evaluated for the
    50 largest correlations), and the marginals with KS tests on draws thinned by
    ``n / ESS``.
    """
    import arviz as az
    from scipy import stats

    x = np.asarray(draws, dtype=np.float64)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"check_gaussian_posterior: draws must be 2-D or 3-D, got {x.shape}")
    mean = np.asarray(mean, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    n = mean.size
    if x.shape[-1] != n or cov.shape != (n, n):
        raise ValueError(
            f"check_gaussian_posterior: draws {x.shape}, mean {mean.shape}, cov {cov.shape} "
            "do not agree"
        )
    chol = np.linalg.cholesky(cov)
    z = np.linalg.solve(chol, (x - mean).reshape(-1, n).T).T.reshape(x.shape)

    ess = np.asarray(az.ess(z, method="bulk")).reshape(n)
    mcse_mean = np.asarray(az.mcse(z, method="mean")).reshape(n)
    mcse_sd = np.asarray(az.mcse(z, method="sd")).reshape(n)
    mean_z = z.mean(axis=(0, 1)) / mcse_mean
    sd_z = (z.std(axis=(0, 1), ddof=1) - 1.0) / mcse_sd

    flat = z.reshape(-1, n)
    ess_min = float(np.min(ess))
    corr_z = 0.0
    if n > 1:
        corr = np.corrcoef(flat, rowvar=False)
        i, j = np.triu_indices(n, 1)
        r = np.abs(corr[i, j])
        max_corr = float(np.max(r))
        # each sample correlation has Monte Carlo sd 1/sqrt(ESS of the products z_i z_j),
        # which can be well below the marginals' ESS; checked for the largest correlations
        top = np.argsort(r)[::-1][:50]
        prods = z[..., i[top]] * z[..., j[top]]
        ess_prod = np.asarray(az.ess(prods, method="mean")).reshape(top.size)
        corr_z = float(np.max(r[top] * np.sqrt(np.maximum(ess_prod, 1.0))))
    else:
        max_corr = 0.0
    thin = max(1, int(np.ceil(flat.shape[0] / max(ess_min, 1.0))))
    pvals = [stats.kstest(z[:, ::thin, i].ravel(), "norm").pvalue for i in range(n)]
    ks_p = float(min(1.0, min(pvals) * n))

    failures = []
    if n_divergent > 0:
        failures.append(f"{n_divergent} divergent transitions")
    if ess_min < min_ess:
        failures.append(f"bulk ESS {ess_min:.0f} < {min_ess:.0f}: the sampler did not mix")
    if np.max(np.abs(mean_z)) > z_max:
        failures.append(f"posterior mean off by {np.max(np.abs(mean_z)):.1f} MCSE (> {z_max})")
    if np.max(np.abs(sd_z)) > z_max:
        failures.append(f"posterior sd off by {np.max(np.abs(sd_z)):.1f} MCSE (> {z_max})")
    # Bonferroni over the n(n-1)/2 pairs: each correlation is ~ N(0, 1/ESS) under the null
    n_pairs = max(n * (n - 1) // 2, 1)
    corr_bound = stats.norm.isf(alpha / (2 * n_pairs))
    if corr_z > corr_bound:
        failures.append(
            f"whitened correlation up to {max_corr:.3f}, {corr_z:.1f} Monte Carlo sd "
            f"(> {corr_bound:.1f}): covariance off"
        )
    if ks_p < alpha:
        failures.append(f"KS test of whitened marginals rejects N(0, 1) (p = {ks_p:.2e})")
    result = GaussianPosteriorCheck(
        not failures, failures, mean_z, sd_z, max_corr, ks_p, ess_min, int(n_divergent)
    )
    if raise_error and failures:
        raise AssertionError("posterior differs from the closed form: " + "; ".join(failures))
    return result


def check_compiled_model(op: ForwardOperator, seed: int, sigma: float = 1.0) -> None:
    """Check an operator inside a compiled PyMC model.

    A model ``m ~ N(0, I)``, ``d ~ N(F(m), sigma^2 I)`` using ``ForwardOp(op)`` must compile
    with PyTensor's numba backend (the one nutpie uses) without any "object mode" warning,
    its log density and gradient must match the operator evaluated in numpy to 1e-9, and
    the Op's gradient must pass :func:`pytensor.gradient.verify_grad`.

    Parameters
    ----------
    op : ForwardOperator
        Operator with numba kernels (operators that declare ``object_mode_reason`` pass
        too, since the bridge silences their warning on purpose).
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Seed of the random model point, the data and the gradient check's directions.
    sigma : float
        Noise standard deviation of the test model.

    Raises
    ------
    AssertionError
        If a check fails.
    """
    import warnings

    import pymc as pm
    from pytensor.gradient import verify_grad

    from bayesinv.ops import ForwardOp

    rng = _seeds.as_generator(seed, "check_compiled_model", "seed")
    m0 = rng.standard_normal(op.n_params)
    d_obs = op.forward(m0) + sigma * rng.standard_normal(op.n_data)
    with pm.Model() as model:
        m = pm.Normal("m", 0.0, 1.0, shape=op.n_params)
        pm.Normal("d", mu=ForwardOp(op)(m), sigma=sigma, observed=d_obs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logp = model.compile_logp(mode="NUMBA")
        dlogp = model.compile_dlogp(mode="NUMBA")
        lp = logp({"m": m0}) - logp({"m": np.zeros_like(m0)})
        g = dlogp({"m": m0})
    bad = [str(w.message) for w in caught if "object mode" in str(w.message).lower()]
    assert not bad, bad
    # the same quantities from the operator in numpy (a difference of log densities, since
    # PyMC's normalising constant is not exact to double precision)
    r = d_obs - op.forward(m0)
    r0 = d_obs - op.forward(np.zeros_like(m0))
    lp_ref = -0.5 * m0 @ m0 - 0.5 * (r @ r - r0 @ r0) / sigma**2
    g_ref = -m0 + op.vjp(m0, r) / sigma**2
    np.testing.assert_allclose(lp, lp_ref, rtol=1e-9, atol=1e-9 * (r0 @ r0) / sigma**2)
    np.testing.assert_allclose(g, g_ref, rtol=1e-9, atol=1e-9 * np.max(np.abs(g_ref)))
    verify_grad(ForwardOp(op), [m0], rng=rng)


class _ScalarFunction(ForwardOperator):
    """A scalar function with its gradient, seen as an operator with one output."""

    linear = False

    def __init__(self, f, grad, n, name):
        self.f, self.grad, self.n_params, self.n_data = f, grad, n, 1
        self._name = name

    @property
    def name(self) -> str:
        """Name used in messages."""
        return self._name

    def _forward(self, m):
        return np.array([self.f(m)])

    def _jvp(self, m, dm):
        return np.array([self.grad(m) @ dm])

    def _vjp(self, m, dd):
        return self.grad(m) * dd[0]


def model_taylor_test(model, rng, *, scale: float = 0.5, min_order: float | None = 1.9):
    r"""Taylor test of the compiled gradient of a PyMC model's log density.

    Compiles ``logp`` and ``dlogp`` with PyTensor's numba backend (as nutpie does), picks a
    random point near the initial point (in the unconstrained space) and a random direction,
    and checks that :math:`|\log p(x + h v) - \log p(x) - h ∇\log p(x)·v|` decays as
    :math:`h^2`. Use it for custom terms (couplings, potentials, priors).

    Parameters
    ----------
    model : pymc.Model
        The model.
    rng : numpy.random.Generator or int
        Source of the point and the direction.
    scale : float
        Standard deviation of the random offset from the initial point.
    min_order : float or None
        Passed to :func:`taylor_test`.

    Returns
    -------
    TaylorResult
    """
    rng = _rng(rng, "model_taylor_test")
    names = [v.name for v in model.value_vars]
    start = model.initial_point()
    shapes = [np.shape(start[n]) for n in names]
    sizes = [int(np.prod(s)) for s in shapes]
    logp = model.compile_logp(mode="NUMBA")
    dlogp = model.compile_dlogp(mode="NUMBA")

    def point(x):
        parts = np.split(x, np.cumsum(sizes)[:-1])
        return {n: p.reshape(s) for n, p, s in zip(names, parts, shapes, strict=True)}

    x0 = np.concatenate([np.ravel(start[n]) for n in names])
    x0 = x0 + scale * rng.standard_normal(x0.size)
    fn = _ScalarFunction(
        lambda x: float(logp(point(x))),
        lambda x: np.asarray(dlogp(point(x)), dtype=np.float64),
        x0.size,
        "model log density",
    )
    dm = rng.standard_normal(x0.size) * scale
    return taylor_test(fn, x0, rng, dm, min_order=min_order)
