"""Level solver ``"nuts"``: NUTS in the coordinates of the level before's guess.

The model is rewritten by :func:`~bayesinv.inference.preconditioning.precondition` with the
level before's mass-matrix guess (carried to this level) and sampled by
:func:`bayesinv.sample`; the posterior mean is carried on, and the draws' mean and
covariance are the next level's guess.

Options (``continuation(..., sample_kwargs=...)`` or ``options={"nuts": {...}}``):
arguments of :func:`bayesinv.sample` (default 2 chains of 200 + 200 draws, no progress bar).
"""

from __future__ import annotations

import numpy as np

from bayesinv.inference.continuation.registry import Level, LevelOutcome
from bayesinv.inference.preconditioning import Z_NAME, Preconditioner, precondition
from bayesinv.inference.sampling import sample

__all__ = ["solve_nuts"]


def _diagnostics(dt, model) -> dict:
    import arviz as az

    post = dt["posterior"]
    rhat, ess = [], []
    for rv in model.free_RVs:
        arr = np.asarray(post[rv.name].values)
        arr = arr.reshape(arr.shape[0], arr.shape[1], -1)
        if arr.shape[0] > 1:
            rhat.append(np.max(np.asarray(az.rhat(arr))))
        ess.append(np.min(np.asarray(az.ess(arr, method="bulk"))))
    stats = dt["sample_stats"]
    steps = float(np.asarray(stats["n_steps"].values).sum()) if "n_steps" in stats else np.nan
    if "warmup_sample_stats" in dt.children and "n_steps" in dt["warmup_sample_stats"]:
        steps += float(np.asarray(dt["warmup_sample_stats"]["n_steps"].values).sum())
    return {
        "max_rhat": float(np.max(rhat)) if rhat else np.nan,
        "min_ess_bulk": float(np.min(ess)),
        "n_divergent": int(np.asarray(stats["diverging"].values).sum()),
        "n_steps": steps,
    }


def solve_nuts(level: Level) -> LevelOutcome:
    """Solve a level by NUTS in the coordinates of the level before's guess.

    Parameters
    ----------
    level : Level
        The level.

    Returns
    -------
    LevelOutcome
        ``point``: the posterior mean; ``diagnostics``: ``max_rhat``, ``min_ess_bulk``,
        ``n_divergent``, ``n_steps`` (leapfrog steps, warm-up included),
        ``preconditioned``; ``result``: the DataTree (draws of the original variables, plus
        ``preconditioned_z``); ``preconditioner``: the draws' mean and covariance.
    """
    flat = level.density
    model = level.model
    _, guess, carried = level.start()
    kwargs = {"draws": 200, "tune": 200, "chains": 2, "progressbar": False} | dict(level.options)
    dt = sample(precondition(model, guess), random_seed=level.seed, **kwargs)
    post = dt["posterior"]
    point = {
        rv.name: np.asarray(post[rv.name].mean(("chain", "draw")).values) for rv in model.free_RVs
    }
    diagnostics = _diagnostics(dt, model) | {"preconditioned": carried}
    z = np.asarray(post[Z_NAME].values).reshape(-1, guess.n)
    pre = Preconditioner.from_draws(guess.apply(z), flat.layout)
    logp = float(flat.logp_dlogp(flat.initial(point))[0])
    return LevelOutcome(point, logp, diagnostics, dt, pre)
