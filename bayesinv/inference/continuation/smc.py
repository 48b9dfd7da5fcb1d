"""Level solver ``"smc"``: Sequential Monte Carlo, to find every mode of a first level.

Local solvers (MAP, Laplace, NUTS started at one point) stay in the basin they start in. On a
multimodal level (the low-frequency band of a waveform problem, a sign ambiguity) SMC's
tempering from the prior spreads particles over all modes; the level carries on either its
best particle (default: the particle of highest posterior density, which a later local level
then refines) or the posterior mean with the particles' covariance as the next mass-matrix
guess (for a level whose posterior is unimodal).

Options (``options={"smc": {...}}``): ``carry`` (``"best"`` or ``"mean"``) and arguments of
:func:`bayesinv.inference.smc.sample_smc` (default 2 chains of 500 particles).
"""

from __future__ import annotations

import numpy as np

from bayesinv.inference.continuation.registry import Level, LevelOutcome
from bayesinv.inference.preconditioning import Preconditioner
from bayesinv.inference.smc import sample_smc

__all__ = ["solve_smc"]


def _particles(dt, model, flat) -> np.ndarray:
    """Flat unconstrained vectors of every particle, shape ``(chains * draws, n)``."""
    post = dt["posterior"]
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    values = {rv.name: np.asarray(post[rv.name].values) for rv in model.free_RVs}
    out = np.empty((n_chain * n_draw, flat.n))
    for c in range(n_chain):
        for d in range(n_draw):
            out[c * n_draw + d] = flat.initial({k: v[c, d] for k, v in values.items()})
    return out


def _max_rhat(dt, model) -> float:
    import arviz as az

    post = dt["posterior"]
    if post.sizes["chain"] < 2:
        return np.nan
    worst = []
    for rv in model.free_RVs:
        arr = np.asarray(post[rv.name].values)
        worst.append(np.max(np.asarray(az.rhat(arr.reshape(arr.shape[0], arr.shape[1], -1)))))
    return float(np.max(worst))


def solve_smc(level: Level) -> LevelOutcome:
    r"""Solve a level by Sequential Monte Carlo.

    Parameters
    ----------
    level : Level
        The level (its ``initial_point`` and the model's custom initial values are not
        used: SMC starts from prior draws).

    Returns
    -------
    LevelOutcome
        ``point``: the particle of highest posterior density (``carry="best"``) or the
        posterior mean (``carry="mean"``); ``diagnostics``: ``n_stages`` (most tempering
        stages of any chain), ``log_marginal_likelihood`` (mean over chains), ``max_rhat``
        (across the independent SMC runs), ``best_logp``, ``carry``; ``result``: the
        DataTree; ``preconditioner``: with ``carry="mean"``, the particles' mean and
        covariance; with ``"best"``, none (the particles may span several modes).

    Notes
    -----
    The highest-density particle is found by evaluating the level's log density
    :math:`\log p(\theta_i \mid d)` (unconstrained coordinates, Jacobian included) at
    every particle: one compiled evaluation per particle, cheap beside SMC's own cost.
    """
    options = dict(level.options)
    carry = options.pop("carry", "best")
    if carry not in ("best", "mean"):
        raise ValueError(f"continuation (smc): carry must be 'best' or 'mean', got {carry!r}")
    kwargs = {"draws": 500, "chains": 2} | options
    model, flat = level.model, level.density
    dt = sample_smc(model, random_seed=level.seed, **kwargs)
    x = _particles(dt, model, flat)
    logps = np.array([flat.logp_dlogp(xi)[0] for xi in x])
    best = int(np.nanargmax(logps))
    stats = dt["sample_stats"]
    diagnostics = {
        "n_stages": int(np.max(np.asarray(stats["n_stages"].values))),
        "log_marginal_likelihood": float(np.mean(stats["log_marginal_likelihood"].values)),
        "max_rhat": _max_rhat(dt, model),
        "best_logp": float(logps[best]),
        "carry": carry,
    }
    if carry == "best":
        point, pre = flat.constrained(x[best]), None
        logp = float(logps[best])
    else:
        post = dt["posterior"]
        point = {
            rv.name: np.asarray(post[rv.name].mean(("chain", "draw")).values)
            for rv in model.free_RVs
        }
        pre = Preconditioner.from_draws(x, flat.layout)
        logp = float(flat.logp_dlogp(flat.initial(point))[0])
    return LevelOutcome(point, logp, diagnostics, dt, pre)
