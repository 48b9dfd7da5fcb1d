r"""The pCN chain compiled: proposal, forward kernel, Gaussian likelihood, accept/reject in numba.

For a :class:`~bayesinv.inference.mcmc._target.GaussianPriorTarget` made with a
:class:`~bayesinv.operators.base.ForwardOperator` that has numba kernels, the whole pCN step
of :mod:`bayesinv.inference.mcmc.pcn` — :math:`z' = \sqrt{1-β^2} z + β ξ`,
:math:`x' = μ + A z'`, ``F(x')`` by the operator's compiled ``forward`` kernel,
:math:`\ell = -\tfrac12 \sum_i ((F_i - d_i)/σ_i)^2`, the reference correction of
Laplace-pCN, the accept/reject and the Robbins–Monro adaptation of β during tuning, the
stored draws and statistics — runs in one ``nogil`` numba function, a block of steps per
call.

Random numbers: each chain keeps its numpy ``Generator`` (child ``c`` of the run's seed,
:mod:`bayesinv._seeds`) and draws, for each step of a block and in the same order as the
Python kernel, ``ξ = rng.standard_normal(n)`` then ``u = rng.random()``; the compiled block
then consumes them. So the compiled chain sees exactly the Python chain's random stream, and
the same seed gives the same draws whatever the number of threads: chains run in parallel
in threads (:func:`bayesinv.inference.mcmc._chains.run_chains`), each calling the ``nogil``
block function, which releases the GIL. The two paths differ only in floating-point
rounding (a loop sum against a BLAS dot, a dense :math:`A` against the Laplace
approximation's low-rank form), about :math:`10^{-15}` relative per step.

The outer function is compiled once per process for every operator: the forward kernel is
passed as a first-class function of type ``float64[::1](float64[::1])``.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types

from bayesinv._numba import njit

__all__ = ["compiled_forward", "run_compiled_chain"]

#: steps per call of the compiled block (the random numbers of a block are drawn before it)
BLOCK = 1024

_KERNEL = types.FunctionType(types.float64[::1](types.float64[::1]))


def compiled_forward(target):
    """Return the target's compiled forward kernel if the compiled chain applies, else ``None``.

    Parameters
    ----------
    target : GaussianPriorTarget

    Returns
    -------
    callable or None
        The ``forward`` kernel for a target made with ``forward=`` a ForwardOperator whose
        kernel maps a C-contiguous float64 vector to one (the plain Gaussian likelihood);
        ``None`` for a log-likelihood callable, a PyMC model or an operator without kernels.
    """
    if target.operator is None or not target.has_forward or target.model is not None:
        return None
    kernels = target.operator.numba_kernels()
    if kernels is None or not isinstance(kernels.forward, numba.core.dispatcher.Dispatcher):
        return None
    arg = types.float64[::1]
    try:
        kernels.forward.compile((arg,))
    except Exception:  # a kernel numba cannot type this way: the Python loop
        return None
    for sig in kernels.forward.nopython_signatures:
        if sig.args == (arg,) and sig.return_type == arg:
            return kernels.forward
    return None


@njit(nogil=True, cache=True)
def _loglik(forward, x, data, sd):
    pred = forward(x)
    if pred.size != data.size:
        return -np.inf
    s = 0.0
    for i in range(data.size):
        w = (pred[i] - data[i]) / sd[i]
        s += w * w
    value = -0.5 * s
    return value if np.isfinite(value) else -np.inf


@njit(nogil=True, cache=True)
def _affine(mu, a, z):
    n = mu.size
    x = np.empty(n)
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += a[i, j] * z[j]
        x[i] = mu[i] + s
    return x


@njit(nogil=True, cache=True)
def _correction(x, z, prior_mean, prior_inv):
    # ψ - ℓ of Laplace-pCN: -|L^{-1}(x - m)|^2 / 2 + |z|^2 / 2
    r = x - prior_mean
    w = prior_inv @ r if prior_inv.shape[0] > 0 else r
    return -0.5 * np.sum(w * w) + 0.5 * np.sum(z * z)


@njit(
    types.void(
        _KERNEL,
        types.float64[::1],
        types.float64[::1],
        types.float64[::1],
        types.float64[:, ::1],
        types.float64[::1],
        types.float64[:, ::1],
        types.boolean,
        types.float64[::1],
        types.float64[::1],
        types.float64[::1],
        types.float64[:, ::1],
        types.float64[::1],
        types.boolean,
        types.int64,
        types.float64[:, ::1],
        types.float64[:, ::1],
    ),
    nogil=True,
    cache=True,
)
def _block(
    forward, data, sd, mu, a, prior_mean, prior_inv, laplace, z, x, st, xi, log_u, tuning, thin,
    out_x, out_stats,
):  # fmt: skip
    """Run ``out_x.shape[0] * thin`` pCN steps from ``(z, x, st)`` (updated in place).

    ``st = [ll, psi, log_step, t, target_accept, log_high]``; ``out_stats`` columns:
    accept probability (mean over ``thin``), accepted (0/1), β, ℓ.
    """
    n_out = out_x.shape[0]
    k = 0
    for i in range(n_out):
        total = 0.0
        moved = 0.0
        for _ in range(thin):
            beta = np.exp(st[2])
            zn = np.sqrt(1.0 - beta**2) * z + beta * xi[k]
            xn = _affine(mu, a, zn)
            lln = _loglik(forward, xn, data, sd)
            psin = lln
            if laplace and np.isfinite(lln):
                psin = lln + _correction(xn, zn, prior_mean, prior_inv)
            log_alpha = psin - st[1] if np.isfinite(psin) else -np.inf
            prob = np.exp(min(0.0, log_alpha))
            if log_u[k] < log_alpha:
                z[:] = zn
                x[:] = xn
                st[0] = lln
                st[1] = psin
                moved = 1.0
            if tuning:
                st[3] += 1.0
                st[2] = min(st[2] + st[3] ** -0.6 * (prob - st[4]), st[5])
            total += prob
            k += 1
        out_x[i] = x
        out_stats[i, 0] = total / thin
        out_stats[i, 1] = moved
        out_stats[i, 2] = beta
        out_stats[i, 3] = st[0]


def _reference_arrays(reference):
    """``(μ, A, prior mean, L^{-1} or empty, laplace?)`` of a pCN reference, dense."""
    target = reference.target
    n = target.n
    L = target.prior_factor
    if reference.gaussian is None:
        a = np.diag(L) if L.ndim == 1 else np.array(L)
        mu = target.prior_mean.copy()
        return mu, np.ascontiguousarray(a), mu, np.empty((0, 0)), False
    g = reference.gaussian
    mu = np.asarray(g.mean, dtype=np.float64).copy()
    a = np.ascontiguousarray((g.apply(np.eye(n)) - mu).T)
    inv = np.diag(1.0 / L) if L.ndim == 1 else np.linalg.inv(L)
    return mu, a, target.prior_mean.copy(), np.ascontiguousarray(inv), True


def _random_block(rng, steps, n):
    """ξ and log u of ``steps`` steps, drawn in the Python kernel's order."""
    xi = np.empty((steps, n))
    log_u = np.empty(steps)
    for k in range(steps):
        rng.standard_normal(out=xi[k])
        log_u[k] = np.log(rng.random())
    return xi, log_u


def run_compiled_chain(
    forward, reference, rng, z0, tune, draws, thin, step_size, target_accept
):  # fmt: skip
    """One pCN chain by the compiled block (same arguments and results as the Python chain).

    Parameters
    ----------
    forward : numba dispatcher
        From :func:`compiled_forward`.
    reference : Reference
        The pCN reference (prior or Laplace).
    rng : numpy.random.Generator
        The chain's generator.
    z0 : numpy.ndarray
        Starting point in the reference's whitened coordinates.
    tune, draws, thin : int
    step_size, target_accept : float

    Returns
    -------
    x : numpy.ndarray, shape (draws, n)
    stats : dict
        As in :func:`~bayesinv.inference.mcmc.pcn.sample_pcn`.
    """
    target = reference.target
    mu, a, prior_mean, prior_inv, laplace = _reference_arrays(reference)
    consts = (forward, target.data, target.noise_sd, mu, a, prior_mean, prior_inv, laplace)
    z = np.ascontiguousarray(z0, dtype=np.float64).copy()
    x = _affine(mu, a, z)
    ll = _loglik(forward, x, target.data, target.noise_sd)
    psi = ll + _correction(x, z, prior_mean, prior_inv) if laplace and np.isfinite(ll) else ll
    st = np.array([ll, psi, np.log(step_size), 0.0, target_accept, 0.0])
    n = target.n
    done = 0
    while done < tune:
        steps = min(BLOCK, tune - done)
        xi, log_u = _random_block(rng, steps, n)
        _block(*consts, z, x, st, xi, log_u, True, 1, np.empty((steps, n)), np.empty((steps, 4)))
        done += steps
    out = np.empty((draws, n))
    stats = np.empty((draws, 4))
    per = max(1, BLOCK // thin)
    for start in range(0, draws, per):
        stop = min(draws, start + per)
        xi, log_u = _random_block(rng, (stop - start) * thin, n)
        _block(*consts, z, x, st, xi, log_u, False, thin, out[start:stop], stats[start:stop])
    result = {
        "accept": stats[:, 0].copy(),
        "step_size": stats[:, 2].copy(),
        "loglik": stats[:, 3].copy(),
        "accepted": stats[:, 1] > 0.5,
        "likelihood_evaluations": np.int64(1 + tune + draws * thin),
    }
    return out, result
