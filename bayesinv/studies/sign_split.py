r"""The sign-split 1-D Poisson posterior (issue 17 item 5) and a sampler that follows it.

The problem: :math:`-(a u')' = 1` on [0, 1], :math:`u(0) = u(1) = 0`, the conductivity ``a``
piecewise constant on ``n`` cells (128 in the issue) with a Gaussian prior on ``a`` itself,
``a ~ N(1, 1)`` per cell; data ``u`` at the ``n - 1`` interior nodes, noise sd = std(u) / snr
(SNR 200). :func:`forward` is exact for f = 1 and equals
``Elliptic1D(Grid1D(n, 1/n), nodes, source=1, unknown="a_signed")`` to 4e-15.

Geometry (why NUTS, MALA, pCN and component-wise random walks fail). With :math:`t = 1/a`
the flux is :math:`a u' = c - x`, :math:`c = \sum x_j t_j / \sum t_j`, and the data see the
increments :math:`δ_j = h (c - x_j) t_j` (``x_j`` the cell midpoints), a linear map of ``u``:
the posterior is a thin neighbourhood of the line :math:`a(c) = h (c - x) / δ`, parameterised
by the stagnation point ``c``, which only the prior constrains. Along it every ``a_j`` is
linear in ``c`` and changes sign where ``c`` crosses ``x_j``. In the coordinates
:math:`(δ, c)` the likelihood is Gaussian in ``δ`` and independent of ``c``, and
:math:`|\det ∂a/∂(δ, c)| = \prod_j |a_j / δ_j| \cdot |h \sum_j 1/a_j|`; so a move of ``c`` at
fixed ``δ``, :math:`a'_j = a_j (c' - x_j)/(c - x_j)`, leaves the likelihood unchanged and is
accepted with the ratio of prior times Jacobian (the *ridge move*).

The sampler (:func:`sample_sign_split`): per sweep a component-wise pCN update of every
``a_j`` (prior-reversible, accepted with the likelihood ratio; :math:`β_j` adapted per cell
to acceptance 0.3 during tuning, then frozen; one proposal in ten an independent prior draw)
followed by 10 ridge moves. Both are Metropolis–Hastings updates of the same posterior in
their own coordinates, so the cycle is exact. Chains run in parallel threads (the numba
chain kernel is ``nogil``; each chain writes only its own output). Specific to this
problem (it uses the 1-D flux structure). Measurements: ``docs/samplers.md`` and
``case_studies/10_sign_split``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bayesinv._checks import check_int, check_positive
from bayesinv._numba import njit

__all__ = [
    "P_INDEPENDENT",
    "SignSplitProblem",
    "negative_mass",
    "sample_sign_split",
    "sign_split_forward",
    "sign_split_model",
    "sign_split_problem",
]

P_INDEPENDENT = 0.1  # share of the component-wise proposals drawn from the prior (β = 1)
_RIDGE_MOVES = 10  # ridge moves per sweep


@dataclass(frozen=True)
class SignSplitProblem:
    """The sign-split 1-D Poisson problem (see :func:`sign_split_problem`).

    Attributes
    ----------
    truth : numpy.ndarray
        True conductivity per cell, ``1 + 0.5 sin(2π x)``.
    data : numpy.ndarray
        Heads at the interior nodes plus Gaussian noise of sd ``sigma``.
    sigma : float
        Noise standard deviation.
    xm : numpy.ndarray
        Cell midpoints.
    """

    truth: np.ndarray = field(repr=False)
    data: np.ndarray = field(repr=False)
    sigma: float
    xm: np.ndarray = field(repr=False)


def sign_split_forward(a, lib=np, n_cells: int | None = None):
    r"""Heads at the interior nodes for cell conductivities ``a`` (numpy or pytensor).

    Parameters
    ----------
    a : array_like or pytensor variable
        Conductivity per cell (any sign), length ``n``.
    lib : module
        ``numpy`` or ``pytensor.tensor``.
    n_cells : int, optional
        ``n`` (required for a pytensor variable, whose length is symbolic).

    Returns
    -------
    array_like
        ``u`` at the ``n - 1`` interior nodes.

    Notes
    -----
    For :math:`f = 1` the flux is :math:`a u' = c - x`; with :math:`t_j = 1/a_j`,
    :math:`c = \sum_j x_j t_j / \sum_j t_j` (from :math:`u(1) = 0`) and
    :math:`u(x_{j+1/2}) = \sum_{k \le j} h (c - x_k) t_k`, exact for cellwise-constant ``a``.
    """
    n = int(np.shape(a)[0]) if n_cells is None else n_cells
    h = 1.0 / n
    x = (np.arange(n) + 0.5) * h
    c = lib.sum(x / a) / lib.sum(1.0 / a)
    return lib.cumsum(h * (c - x) / a)[:-1]


def sign_split_problem(seed: int = 17, n_cells: int = 128, snr: float = 200.0):
    r"""Build the true conductivity and the noisy data of the sign-split problem.

    Parameters
    ----------
    seed : int
        Seed of the noise.
    n_cells : int
        Number of cells (>= 4).
    snr : float
        Signal-to-noise ratio: ``sigma = std(u) / snr``.

    Returns
    -------
    SignSplitProblem

    Notes
    -----
    :math:`a_{true}(x) = 1 + 0.5 \sin(2πx)` at the cell midpoints, :math:`u = F(a_{true})` by
    :func:`sign_split_forward`, data :math:`u + σ ε`, :math:`ε \sim N(0, I)`.
    """
    check_int(n_cells, "sign_split_problem", "n_cells", low=4)
    check_positive(snr, "sign_split_problem", "snr")
    rng = np.random.default_rng(seed)
    xm = (np.arange(n_cells) + 0.5) / n_cells
    truth = 1.0 + 0.5 * np.sin(2 * np.pi * xm)
    u = sign_split_forward(truth)
    sigma = float(np.std(u)) / snr
    return SignSplitProblem(truth, u + sigma * rng.standard_normal(u.size), sigma, xm)


def sign_split_model(problem: SignSplitProblem):
    r"""Build the PyMC model of the problem: ``a ~ N(1, 1)`` per cell, Gaussian likelihood.

    Parameters
    ----------
    problem : SignSplitProblem

    Returns
    -------
    pymc.Model

    Notes
    -----
    :math:`p(a \mid d) \propto \prod_j φ(a_j - 1) \prod_i φ((F(a)_i - d_i)/σ)`; the model
    NUTS and SMC fail on (``docs/samplers.md``).
    """
    import pymc as pm
    import pytensor.tensor as pt

    with pm.Model() as model:
        a = pm.Normal("a", 1.0, 1.0, shape=problem.xm.size)
        pm.Normal(
            "d", sign_split_forward(a, pt, problem.xm.size), problem.sigma, observed=problem.data
        )
    return model


@njit(nogil=True, cache=True)
def _loglik(a, xm, data, sigma):
    """Gaussian log-likelihood (-inf where not finite); O(n), one division per cell."""
    n = a.size
    h = 1.0 / n
    t = np.empty(n)
    t_sum = 0.0
    s_sum = 0.0
    for j in range(n):
        t[j] = 1.0 / a[j]
        t_sum += t[j]
        s_sum += xm[j] * t[j]
    c = s_sum / t_sum
    u = 0.0
    ss = 0.0
    inv = 1.0 / sigma
    for j in range(n - 1):
        u += h * (c - xm[j]) * t[j]
        r = (u - data[j]) * inv
        ss += r * r
    ll = -0.5 * ss
    return ll if np.isfinite(ll) else -np.inf


@njit(nogil=True, cache=True)
def _ridge_logdens(a, xm):
    """Return log prior(a) + log|det ∂a/∂(δ, c)|, and c (the density of the ridge move)."""
    h = 1.0 / a.size
    t_sum = 0.0
    s_sum = 0.0
    for j in range(a.size):
        t_sum += 1.0 / a[j]
        s_sum += xm[j] / a[j]
    c = s_sum / t_sum
    lp = np.log(abs(h * t_sum))
    for j in range(a.size):
        delta = h * (c - xm[j]) / a[j]
        lp += -0.5 * (a[j] - 1.0) ** 2 + np.log(abs(a[j] / delta))
    return lp, c


@njit(nogil=True, cache=True)
def _sweep_cells(a, ll, log_beta, xm, data, sigma, tuning, rate):
    """One component-wise pCN sweep over the cells; returns (loglik, mean acceptance)."""
    n = a.size
    acc = 0.0
    for j in range(n):
        independent = np.random.random() < P_INDEPENDENT  # noqa: NPY002
        b = 1.0 if independent else np.exp(log_beta[j])
        old = a[j]
        a[j] = 1.0 + np.sqrt(1.0 - b * b) * (old - 1.0) + b * np.random.standard_normal()  # noqa: NPY002
        ll_new = _loglik(a, xm, data, sigma)
        p = min(1.0, np.exp(ll_new - ll)) if np.isfinite(ll_new) else 0.0
        if np.random.random() < p:  # noqa: NPY002
            ll = ll_new
        else:
            a[j] = old
        if not independent:
            if tuning:
                log_beta[j] = min(log_beta[j] + rate * (p - 0.3), 0.0)
            acc += p / n
    return ll, acc


@njit(nogil=True, cache=True)
def _chain(a, sweeps, tune, thin, xm, data, sigma, seed):
    # numba's per-thread generator, seeded per chain: the chain's draws depend on its seed only
    np.random.seed(seed)  # noqa: NPY002
    out = np.empty((sweeps // thin, a.size))
    log_beta = np.full(a.size, np.log(0.1))
    log_cstep = np.log(1e-3)
    ll = _loglik(a, xm, data, sigma)
    accept = np.zeros(2)
    for s in range(tune + sweeps):
        rate = (s + 1) ** -0.6
        ll, acc = _sweep_cells(a, ll, log_beta, xm, data, sigma, s < tune, rate)
        if s >= tune:
            accept[0] += acc
        for _ in range(_RIDGE_MOVES):  # c' = c + step ξ at fixed increments δ
            lp, c = _ridge_logdens(a, xm)
            c_new = c + np.exp(log_cstep) * np.random.standard_normal()  # noqa: NPY002
            a_new = a * (c_new - xm) / (c - xm)
            lp_new, _ = _ridge_logdens(a_new, xm)
            p = min(1.0, np.exp(lp_new - lp)) if np.isfinite(lp_new) else 0.0
            if np.random.random() < p:  # noqa: NPY002
                a[:] = a_new
                ll = _loglik(a, xm, data, sigma)
            if s < tune:
                log_cstep += rate * (p - 0.3)
            else:
                accept[1] += p / _RIDGE_MOVES
        k = (s - tune) // thin
        if s >= tune and (s - tune) % thin == 0 and k < out.shape[0]:
            out[k] = a
    return out, accept / max(sweeps, 1)


def _run_chains(starts, sweeps, tune, thin, xm, data, sigma, seeds):
    """Run the chains in parallel threads (``_chain`` releases the GIL; chain k owns row k)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(k):
        return _chain(starts[k].copy(), sweeps, tune, thin, xm, data, sigma, seeds[k])

    with ThreadPoolExecutor(max_workers=starts.shape[0]) as pool:
        results = list(pool.map(one, range(starts.shape[0])))
    return np.stack([r[0] for r in results]), np.stack([r[1] for r in results])


def sample_sign_split(
    problem: SignSplitProblem,
    sweeps: int,
    *,
    random_seed: int,
    chains: int = 4,
    thin: int = 10,
    tune: int | None = None,
    flip_cells=(66, 80),
    flip_probability: float = 0.3,
):
    r"""Sample the sign-split posterior by component-wise pCN and ridge moves.

    Parameters
    ----------
    problem : SignSplitProblem
    sweeps : int
        Kept sweeps per chain (each: one update of every cell and 10 ridge moves).
    random_seed : int
        Seed of the starting points and of each chain's generator.
    chains : int
        Number of chains (run in parallel threads).
    thin : int
        Keep every ``thin``-th sweep.
    tune : int, optional
        Tuning sweeps (default ``sweeps // 4``), discarded.
    flip_cells : (int, int)
        Cells ``[lo, hi)`` whose sign each chain's start flips with ``flip_probability``.
    flip_probability : float
        In [0, 1].

    Returns
    -------
    draws : numpy.ndarray
        ``(chains, sweeps // thin, n)``.
    accept : numpy.ndarray
        ``(chains, 2)``: mean acceptance of the component-wise and the ridge moves.

    Notes
    -----
    Component-wise pCN: :math:`a'_j = 1 + \sqrt{1-β_j^2}(a_j - 1) + β_j ξ`, accepted with
    :math:`\min(1, L(a')/L(a))` (prior-reversible); ridge move: :math:`c' = c + sξ`,
    :math:`a'_j = a_j (c' - x_j)/(c - x_j)`, accepted with the ratio of
    :math:`π_0(a) |\det ∂a/∂(δ, c)|`. Starts: :math:`a_{true}(1 + 0.1ξ)` with signs flipped.
    """
    name = "sample_sign_split"
    check_int(sweeps, name, "sweeps", low=1)
    check_int(chains, name, "chains", low=1)
    check_int(thin, name, "thin", low=1)
    if not 0.0 <= flip_probability <= 1.0:
        raise ValueError(f"{name}: flip_probability must be in [0, 1], got {flip_probability}")
    tune = sweeps // 4 if tune is None else check_int(tune, name, "tune", low=0)
    n = problem.xm.size
    lo, hi = flip_cells
    if not 0 <= lo < hi <= n:
        raise ValueError(f"{name}: flip_cells must satisfy 0 <= lo < hi <= {n}, got {flip_cells}")
    rng = np.random.default_rng(random_seed)
    starts = problem.truth * (1.0 + 0.1 * rng.standard_normal((chains, n)))
    starts[:, lo:hi] *= np.where(rng.random((chains, hi - lo)) < flip_probability, -1.0, 1.0)
    seeds = rng.integers(1, 2**31, chains)
    return _run_chains(starts, sweeps, tune, thin, problem.xm, problem.data, problem.sigma, seeds)


def negative_mass(draws: np.ndarray):
    r"""Posterior mass below zero per cell and its Monte Carlo standard error.

    Parameters
    ----------
    draws : numpy.ndarray
        ``(chains, draws, n)``.

    Returns
    -------
    p : numpy.ndarray
        :math:`P(a_j < 0)` per cell (the mass on the other side is :math:`1 - p`).
    mcse : numpy.ndarray
        Its Monte Carlo standard error (ArviZ's MCSE of the mean of the indicator; 0 where
        the indicator is constant).

    Notes
    -----
    :math:`\hat p_j = \frac{1}{CN} \sum 1[a_j < 0]`, MCSE :math:`\sqrt{\hat p_j(1-\hat p_j)/
    \mathrm{ESS}_j}` as computed by ArviZ from the indicator's autocorrelation.
    """
    import arviz as az

    ind = (np.asarray(draws) < 0).astype(float)
    mcse = np.asarray(az.mcse(ind, method="mean"), dtype=float)
    return ind.mean(axis=(0, 1)), np.nan_to_num(mcse)
