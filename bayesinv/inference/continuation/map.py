"""Level solver ``"map"``: the MAP point by :func:`pymc.find_MAP` (no mass-matrix guess).

Options (``continuation(..., map_kwargs=...)`` or ``options={"map": {...}}``): extra
arguments of :func:`pymc.find_MAP` (L-BFGS-B by default, no jitter, no progress bar).
"""

from __future__ import annotations

import numpy as np
import pymc as pm

from bayesinv.inference._model_space import value_point
from bayesinv.inference.continuation.registry import Level, LevelOutcome

__all__ = ["solve_map"]


def solve_map(level: Level) -> LevelOutcome:
    """Solve a level by MAP estimation.

    Parameters
    ----------
    level : Level
        The level.

    Returns
    -------
    LevelOutcome
        ``point``: the MAP; ``diagnostics``: ``success``, ``n_iterations``, ``message``,
        ``grad_norm``; ``result``: what ``pm.find_MAP(return_inferencedata=True)``
        returned; no preconditioner.
    """
    model = level.model
    kwargs = {"jitter": False, "progressbar": False} | dict(level.options)
    dt = pm.find_MAP(
        initvals=level.initial_point or None,
        model=model,
        random_seed=level.seed,
        return_inferencedata=True,
        **kwargs,
    )
    post = dt["posterior"]
    point = {rv.name: np.asarray(post[rv.name].values[0, 0]) for rv in model.free_RVs}
    res = dt["optimizer_result"]
    diagnostics = {
        "success": bool(res["success"].values),
        "n_iterations": int(res["nit"].values) if "nit" in res else -1,
        "message": str(res["message"].values) if "message" in res else "",
        "grad_norm": float(np.linalg.norm(res["jac"].values)) if "jac" in res else np.nan,
    }
    logp = float(model.compile_logp()(value_point(model, point)))
    return LevelOutcome(point, logp, diagnostics, dt)
