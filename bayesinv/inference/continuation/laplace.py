"""Level solver ``"laplace"``: MAP in the level before's coordinates, then the Hessian.

The MAP is found by L-BFGS-B on ``z`` with ``x = x0 + A z`` (``A`` the level before's
mass-matrix guess carried to this level), the Laplace approximation there
(:func:`~bayesinv.inference.preconditioning.hessian_preconditioner`, its eigensolver started
from the guess's directions) is this level's guess, and two Newton steps with that
covariance polish the MAP (exact in one step for Gaussian posteriors).

Options (``options={"laplace": {...}}``): ``"optimizer"`` (L-BFGS-B ``options`` of
:func:`scipy.optimize.minimize`; ``continuation(..., map_kwargs=...)``) and ``"hessian"``
(arguments of :func:`~bayesinv.inference.preconditioning.hessian_preconditioner`;
``continuation(..., laplace_kwargs=...)``).
"""

from __future__ import annotations

import numpy as np

from bayesinv.inference.continuation.registry import Level, LevelOutcome
from bayesinv.inference.preconditioning import Preconditioner, hessian_preconditioner

__all__ = ["solve_laplace"]


def solve_laplace(level: Level) -> LevelOutcome:
    """Solve a level by a Laplace approximation at its MAP.

    Parameters
    ----------
    level : Level
        The level.

    Returns
    -------
    LevelOutcome
        ``diagnostics``: ``success``, ``n_iterations``, ``message``, ``grad_norm``,
        ``preconditioned`` and those of the Hessian (``rank``, ``n_gradients``,
        ``min_eig``, ``max_eig``, ``n_not_positive``); ``result``: the
        :class:`scipy.optimize.OptimizeResult`; ``preconditioner``: the Laplace guess.
    """
    from scipy.optimize import minimize

    flat = level.density
    x0, guess, carried = level.start()

    def objective(z):
        logp, grad = flat.logp_dlogp(x0 + guess.factor_times(z))
        if not np.isfinite(logp):
            return np.inf, np.zeros_like(z)
        return -float(logp), -guess.factor_transpose_times(grad)

    optimizer = dict(level.options.get("optimizer") or {})
    options = {"maxiter": 5000, "gtol": 1e-9, "ftol": 1e-14} | optimizer
    res = minimize(objective, np.zeros(x0.size), jac=True, method="L-BFGS-B", options=options)
    x_map = x0 + guess.factor_times(res.x)
    kwargs = {"random_seed": level.seed} | dict(level.options.get("hessian") or {})
    if carried and guess.rank and "start_basis" not in kwargs:
        kwargs["start_basis"] = guess.basis
    pre, info = hessian_preconditioner(flat.logp_dlogp, x_map, flat.layout, **kwargs)
    logp, grad = flat.logp_dlogp(x_map)
    for _ in range(2):  # Newton polish with the Laplace covariance
        trial = x_map + pre.factor_times(pre.factor_transpose_times(grad))
        logp_trial, grad_trial = flat.logp_dlogp(trial)
        if not np.isfinite(logp_trial) or logp_trial <= logp:
            break
        x_map, logp, grad = trial, logp_trial, grad_trial
    pre = Preconditioner(x_map, pre.scale, pre.basis, pre.factors, pre.layout)
    diagnostics = {
        "success": bool(res.success),
        "n_iterations": int(res.nit),
        "message": str(res.message),
        "grad_norm": float(np.linalg.norm(grad)),
        "preconditioned": carried,
    } | info
    point = flat.constrained(x_map)
    return LevelOutcome(
        point, float(flat.logp_dlogp(flat.initial(point))[0]), diagnostics, res, pre
    )
