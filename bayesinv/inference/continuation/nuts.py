"""Level solver ``"nuts"``: NUTS in the coordinates of the level before's guess.

The model is rewritten by :func:`~bayesinv.inference.preconditioning.precondition` with the
level before's mass-matrix guess (carried to this level) and sampled by
:func:`bayesinv.sample`; the posterior mean is carried on, and the draws' mean and
covariance are the next level's guess.

Options (``continuation(..., sample_kwargs=...)`` or ``options={"nuts": {...}}``):
arguments of :func:`bayesinv.sample` (default 2 chains of 200 + 200 draws, no progress bar).

Compiled once per model: the preconditioner enters the rewritten model as ``pm.Data``
(``precondition(..., shared=True)``) and the compiled model is kept on the level's
``pymc.Model`` object, so NUTS levels that return the same model (several continuations
of one data set, or a band model whose data are ``pm.Data``) compile nutpie once and only
swap the data (the preconditioner's and the model's own ``pm.Data``, read when sampling).
"""

from __future__ import annotations

import numpy as np

from bayesinv.inference.continuation.registry import Level, LevelOutcome
from bayesinv.inference.preconditioning import (
    Z_NAME,
    Preconditioner,
    precondition,
    shared_values,
)
from bayesinv.inference.sampling import compile_model, sample

#: attribute of a ``pymc.Model`` holding its compiled preconditioned models (by layout)
_CACHE = "_bayesinv_nuts_compiled"
#: options of :func:`bayesinv.sample` that belong to the compilation
_COMPILE_OPTIONS = ("var_names", "initvals", "jitter")

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


def compiled_preconditioned(model, guess: Preconditioner, **compile_options):
    """Return the model in ``guess``'s coordinates, compiled for nutpie once per model and layout.

    Parameters
    ----------
    model : pymc.Model
        The level's model; the compiled model is cached on it.
    guess : Preconditioner
        For this model's layout.
    **compile_options
        ``var_names``, ``initvals``, ``jitter`` of
        :func:`~bayesinv.inference.sampling.compile_model` (part of the cache key).

    Returns
    -------
    CompiledModel
        With the current values of ``guess`` and of the model's ``pm.Data``.

    Notes
    -----
    The change of variables :math:`x = μ + A z` is the same map whether :math:`μ, A` are
    constants or data, so the posterior is unchanged; only the rounding of :math:`A z`
    differs (PyTensor products instead of the numba low-rank kernel).
    """
    import pytensor

    cache = model.__dict__.setdefault(_CACHE, {})
    key = (guess.layout, repr(sorted(compile_options.items())))
    if key not in cache:
        pmodel = precondition(model, guess, shared=True)
        cache[key] = compile_model(pmodel, observed_from=model, **compile_options)
    compiled = cache[key]
    names = {v.name for v in compiled.nutpie.shared_var_keys}
    data = {
        v.name: v.get_value()
        for v in model.named_vars.values()
        if isinstance(v, pytensor.compile.SharedVariable) and v.name in names
    }
    return compiled.with_data(**data, **shared_values(guess))


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
    if kwargs.get("sampler", "nutpie") == "nutpie":  # compiled once per model
        compile_options = {k: kwargs.pop(k) for k in _COMPILE_OPTIONS if k in kwargs}
        target = compiled_preconditioned(model, guess, **compile_options)
    else:
        target = precondition(model, guess)
    dt = sample(target, random_seed=level.seed, **kwargs)
    post = dt["posterior"]
    point = {
        rv.name: np.asarray(post[rv.name].mean(("chain", "draw")).values) for rv in model.free_RVs
    }
    diagnostics = _diagnostics(dt, model) | {"preconditioned": carried}
    z = np.asarray(post[Z_NAME].values).reshape(-1, guess.n)
    pre = Preconditioner.from_draws(guess.apply(z), flat.layout)
    logp = float(flat.logp_dlogp(flat.initial(point))[0])
    return LevelOutcome(point, logp, diagnostics, dt, pre)
