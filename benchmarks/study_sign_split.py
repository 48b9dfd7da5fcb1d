r"""Study (issue 17 item 5): the sign-split 1-D Poisson posterior, and a sampler that follows it.

The problem: :math:`-(a u')' = 1` on [0, 1], :math:`u(0) = u(1) = 0`, the conductivity ``a``
piecewise constant on 128 cells with a Gaussian prior on ``a`` itself, ``a ~ N(1, 1)`` per
cell; data ``u`` at the 127 interior nodes, noise sd = std(u) / 200 (SNR 200). This module's
``forward`` is exact (for f = 1 the increments are exact) and equals
``Elliptic1D(Grid1D(128, 1/128), nodes, source=1, unknown="a_signed")`` to 4e-15.

Geometry (why NUTS, MALA, pCN and component-wise random walks fail). With :math:`t = 1/a`
the flux is :math:`a u' = c - x`, :math:`c = \sum x_j t_j / \sum t_j`, and the data see the
increments :math:`δ_j = u(x_{j+1/2}) - u(x_{j-1/2}) = h (c - x_j) t_j` (``x_j`` the cell
midpoints), a linear map of ``u``: given the data, the 127 free increments are determined
to ``±σ√2`` and the posterior is a thin neighbourhood of the line
:math:`a(c) = h (c - x) / δ` in ``a``-space, parameterised by the stagnation point ``c``,
which only the prior constrains. Along that line every ``a_j`` is linear in ``c`` and changes
sign where ``c`` crosses ``x_j``: the "sign split" is the posterior sliding along a thin,
straight ridge whose direction :math:`h/δ` has huge components in the cells near ``c``
(where ``u' ≈ 0``). Off the ridge, where :math:`\sum_j 1/a_j = 0`, ``c`` has a pole (``u``
blows up): e.g. flipping one ``a_j`` alone passes it near ``-1/\sum_{k≠j} 1/a_k ≈ -0.008``,
a thin zero-density slab. A sampler with one global step (NUTS's diagonal mass matrix,
MALA, pCN) is limited by the ridge's thin directions and cannot slide along it; a
component-wise random walk can move the loosely determined cells but not ``c``.

In the coordinates :math:`(δ_1..δ_{127}, c)` (with :math:`δ_{128} = -\sum δ_j`) the
likelihood is exactly Gaussian in ``δ`` and independent of ``c``; the Jacobian is
:math:`|\det ∂a/∂(δ, c)| = \prod_j |a_j / δ_j| \cdot |h \sum_j 1/a_j|` (checked against
finite differences). So a move of ``c`` at fixed ``δ``,
:math:`a'_j = a_j (c' - x_j)/(c - x_j)`, leaves the likelihood unchanged exactly and is
accepted with the ratio of prior times Jacobian: the ridge move.

The sampler here (``mwg``): per sweep, a component-wise pCN update of every ``a_j``
(:math:`a'_j = 1 + \sqrt{1-β_j^2}(a_j - 1) + β_j ξ`, prior-reversible, accepted with the
likelihood ratio; :math:`β_j` adapted per cell to acceptance 0.3 during tuning, then frozen:
loosely determined cells get :math:`β_j → 1`, independent prior draws that jump the thin
slabs; and one proposal in ten is such an independent prior draw whatever :math:`β_j`, which
lets a cell leave a low-mass lobe of the other sign: without it a chain started with
``a_79 < 0`` stayed there for 60000 sweeps) followed by 10 ridge moves (random-walk step on ``c``
adapted the same way). Both kernels are Metropolis–Hastings updates of the same posterior in
their own coordinates, so the cycle is exact. Chains run in parallel (numba ``prange`` over
chains, ``nogil``); each starts at ``a_true (1 + 0.1 ξ)`` with the signs of cells 66-79
flipped at random (probability 0.3 each), dispersed over the sign patterns in question. This
sampler is specific to this problem (it uses the 1-D flux structure); a general version is
open.

Usage::

    python benchmarks/study_sign_split.py nuts              # the failure, reproduced
    python benchmarks/study_sign_split.py smc DRAWS         # PyMC SMC (fails, see below)
    python benchmarks/study_sign_split.py mwg SWEEPS [SEED] [OUT.npz]
    python benchmarks/study_sign_split.py compare RUN.npz REFERENCE.npz

Measured (2026-12-06, shared 2-core machine): ``bayesinv.sample`` (nutpie, 4 x 1000 + 1000)
gives 694 divergent transitions, max R-hat 2.09, min ESS 5; in cells 63 and 64 two chains
sit at a < 0 and two at a > 0. PyMC's SMC (IMH kernel): 2 x 400 particles took 678 s and
failed (max R-hat 1.84 between runs; each population collapsed onto one side). Laplace-pCN
(``sample_pcn(reference=gauss_newton_laplace(...))``, 4 x 20000 + 5000): adapted β = 0.053,
max R-hat 1.98, min ESS 5, each chain frozen in its own sign pattern of cells 70-77.
The component-wise pCN alone (no ridge moves), 4 x 20000 sweeps: max R-hat 1.56, one chain
stuck with the stagnation point shifted. This sampler, ``mwg 200000 3``: max R-hat 1.0095,
min bulk ESS 806, P(a<0) in cells 73 and 75 = 0.55 and 0.27 (docs/samplers.md).
"""

from __future__ import annotations

import sys
import time

import numba
import numpy as np

N_CELLS = 128
H = 1.0 / N_CELLS
XM = (np.arange(N_CELLS) + 0.5) * H
P_INDEPENDENT = 0.1  # share of the component-wise proposals drawn from the prior (β = 1)


def forward(a, lib=np):
    """Heads at the interior nodes for cell conductivities ``a`` (numpy or pytensor)."""
    h = 1.0 / N_CELLS
    x = (np.arange(N_CELLS) + 0.5) * h  # F(x) = x for f = 1, at the cell midpoints
    c = lib.sum(x / a) / lib.sum(1.0 / a)
    return lib.cumsum(h * (c - x) / a)[:-1]


def problem(seed: int = 17):
    """True conductivity, data and noise sd (the same draws as :func:`build`)."""
    rng = np.random.default_rng(seed)
    a_true = 1.0 + 0.5 * np.sin(2 * np.pi * XM)
    u = forward(a_true)
    sigma = float(np.std(u)) / 200.0
    return a_true, u + sigma * rng.standard_normal(u.size), sigma


def build(seed: int = 17):
    """The PyMC model and the true conductivity."""
    import pymc as pm
    import pytensor.tensor as pt

    a_true, data, sigma = problem(seed)
    with pm.Model() as model:
        a = pm.Normal("a", 1.0, 1.0, shape=N_CELLS)
        pm.Normal("d", forward(a, pt), sigma, observed=data)
    return model, a_true


@numba.njit(nogil=True, cache=False)
def _loglik(a, data, sigma):
    """Gaussian log-likelihood (-inf where not finite); O(n), one division per cell."""
    n = a.size
    t = np.empty(n)
    t_sum = 0.0
    s_sum = 0.0
    for j in range(n):
        t[j] = 1.0 / a[j]
        t_sum += t[j]
        s_sum += XM[j] * t[j]
    c = s_sum / t_sum
    u = 0.0
    ss = 0.0
    inv = 1.0 / sigma
    for j in range(n - 1):
        u += H * (c - XM[j]) * t[j]
        r = (u - data[j]) * inv
        ss += r * r
    ll = -0.5 * ss
    return ll if np.isfinite(ll) else -np.inf


@numba.njit(nogil=True, cache=False)
def _ridge_logdens(a):
    """log prior(a) + log|det ∂a/∂(δ, c)|, and c (the density of the ridge move)."""
    t_sum = 0.0
    s_sum = 0.0
    for j in range(a.size):
        t_sum += 1.0 / a[j]
        s_sum += XM[j] / a[j]
    c = s_sum / t_sum
    lp = np.log(abs(H * t_sum))
    for j in range(a.size):
        delta = H * (c - XM[j]) / a[j]
        lp += -0.5 * (a[j] - 1.0) ** 2 + np.log(abs(a[j] / delta))
    return lp, c


@numba.njit(nogil=True, cache=False)
def _chain(a, sweeps, tune, thin, data, sigma, seed):  # long: one MCMC loop, two kernels
    # numba's per-thread generator, seeded per chain: the chain's draws depend on its seed only
    np.random.seed(seed)  # noqa: NPY002
    n = a.size
    out = np.empty((sweeps // thin, n))
    log_beta = np.full(n, np.log(0.1))
    log_cstep = np.log(1e-3)
    ll = _loglik(a, data, sigma)
    accept = np.zeros(2)
    for s in range(tune + sweeps):
        rate = (s + 1) ** -0.6
        for j in range(n):  # component-wise pCN, prior-reversible
            independent = np.random.random() < P_INDEPENDENT  # noqa: NPY002
            b = 1.0 if independent else np.exp(log_beta[j])
            old = a[j]
            a[j] = 1.0 + np.sqrt(1.0 - b * b) * (old - 1.0) + b * np.random.standard_normal()  # noqa: NPY002
            ll_new = _loglik(a, data, sigma)
            p = min(1.0, np.exp(ll_new - ll)) if np.isfinite(ll_new) else 0.0
            if np.random.random() < p:  # noqa: NPY002
                ll = ll_new
            else:
                a[j] = old
            if independent:
                continue
            if s < tune:
                log_beta[j] = min(log_beta[j] + rate * (p - 0.3), 0.0)
            else:
                accept[0] += p / n
        for _ in range(10):  # ridge moves: c' = c + step ξ at fixed increments δ
            lp, c = _ridge_logdens(a)
            c_new = c + np.exp(log_cstep) * np.random.standard_normal()  # noqa: NPY002
            a_new = a * (c_new - XM) / (c - XM)
            lp_new, _ = _ridge_logdens(a_new)
            p = min(1.0, np.exp(lp_new - lp)) if np.isfinite(lp_new) else 0.0
            if np.random.random() < p:  # noqa: NPY002
                a[:] = a_new
                ll = _loglik(a, data, sigma)
            if s < tune:
                log_cstep += rate * (p - 0.3)
            else:
                accept[1] += p / 10
        if s >= tune and (s - tune) % thin == 0 and (s - tune) // thin < out.shape[0]:
            out[(s - tune) // thin] = a
    return out, accept / sweeps


@numba.njit(parallel=True, cache=False)
def _chains(starts, sweeps, tune, thin, data, sigma, seeds):
    out = np.empty((starts.shape[0], sweeps // thin, starts.shape[1]))
    acc = np.empty((starts.shape[0], 2))
    for k in numba.prange(starts.shape[0]):  # independent chains
        out[k], acc[k] = _chain(starts[k].copy(), sweeps, tune, thin, data, sigma, seeds[k])
    return out, acc


def sample_mwg(sweeps: int, seed: int = 1, chains: int = 4, thin: int = 10):
    """Run the component-wise pCN + ridge-move sampler; draws ``(chains, sweeps/thin, 128)``."""
    a_true, data, sigma = problem()
    rng = np.random.default_rng(seed)
    starts = a_true * (1.0 + 0.1 * rng.standard_normal((chains, N_CELLS)))
    starts[:, 66:80] *= np.where(rng.random((chains, 14)) < 0.3, -1.0, 1.0)
    seeds = rng.integers(1, 2**31, chains)
    return _chains(starts, sweeps, sweeps // 4, thin, data, sigma, seeds)


def summary(post: np.ndarray) -> dict:
    """Convergence and the posterior mass below zero per cell, from draws ``(chains, draws, n)``."""
    import arviz as az

    neg = (post < 0).mean(axis=(0, 1))
    ind = (post < 0).astype(float)
    cells = np.flatnonzero(neg > 0.002)
    mcse = np.asarray(az.mcse(ind[..., cells], method="mean"), dtype=float)
    worst = int(np.argmax(neg))
    return {
        "max_rhat": float(np.max(az.rhat(post))),
        "min_ess": float(np.min(az.ess(post))),
        "cells_with_P(a<0)>0.002": cells.tolist(),
        "P(a<0)": np.round(neg[cells], 4).tolist(),
        "mcse": np.round(mcse, 4).tolist(),
        "P(a<0) per chain, worst cell": (post[..., worst] < 0).mean(axis=1).tolist(),
    }


def compare(run_path: str, ref_path: str) -> dict:
    """Per-cell P(a<0) of a run against a reference run, in units of their MC errors."""
    run, ref = np.load(run_path), np.load(ref_path)
    z = (run["neg"] - ref["neg"]) / np.sqrt(run["mcse"] ** 2 + ref["mcse"] ** 2 + 1e-12)
    cells = np.flatnonzero((run["neg"] > 0.002) | (ref["neg"] > 0.002))
    return {
        "cells": cells.tolist(),
        "run": np.round(run["neg"][cells], 4).tolist(),
        "reference": np.round(ref["neg"][cells], 4).tolist(),
        "z": np.round(z[cells], 2).tolist(),
        "max |z|": float(np.max(np.abs(z[cells]))),
    }


def _save(path, post):
    import arviz as az

    ind = (post < 0).astype(float)
    mcse = np.asarray(az.mcse(ind, method="mean"), dtype=float)
    np.savez(path, neg=ind.mean(axis=(0, 1)), mcse=np.nan_to_num(mcse), mean=post.mean((0, 1)))


if __name__ == "__main__":
    t0 = time.time()
    if sys.argv[1] == "mwg":
        sweeps = int(sys.argv[2])
        seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
        post, acc = sample_mwg(sweeps, seed)
        print(f"{time.time() - t0:.0f} s wall; acceptance (pCN, ridge) per chain {acc.tolist()}")
        print(summary(post))
        if len(sys.argv) > 4:
            _save(sys.argv[4], post)
    elif sys.argv[1] == "compare":
        print(compare(sys.argv[2], sys.argv[3]))
    elif sys.argv[1] == "nuts":
        import bayesinv

        model, _ = build()
        tree = bayesinv.sample(model, draws=1000, tune=1000, chains=4, random_seed=1)
        print("divergent", int(tree["sample_stats"]["diverging"].sum()))
        print(f"{time.time() - t0:.0f} s", summary(tree["posterior"]["a"].values))
    else:
        from bayesinv.inference import sample_smc

        model, _ = build()
        tree = sample_smc(model, draws=int(sys.argv[2]), chains=2, random_seed=1)
        print(f"{time.time() - t0:.0f} s", summary(tree["posterior"]["a"].values))
