"""NUTS sampling entry point (nutpie by default, PyMC's own NUTS on request).

With ``time_budget`` or ``save_to`` the nutpie sampler runs in the background
(``nutpie.sample(..., blocking=False)``): when the budget runs out, or on Ctrl-C
(``KeyboardInterrupt``), sampling is aborted and the draws taken so far are returned (and
written to ``save_to``), trimmed to the number of draws every chain completed. The result's
root attributes say whether and why the run was interrupted.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pymc as pm

from bayesinv import _seeds

__all__ = ["SAMPLERS", "sample"]

#: samplers accepted by :func:`sample`, mapped to PyMC's ``nuts_sampler`` names
SAMPLERS = {"nutpie": "nutpie", "pymc": "pymc"}


def _seed_to_int(random_seed) -> int:
    if isinstance(random_seed, np.random.Generator):
        return int(random_seed.integers(0, 2**31 - 1))
    if isinstance(random_seed, bool) or not isinstance(random_seed, int | np.integer):
        raise ValueError(
            "sample: random_seed must be an int or a numpy.random.Generator "
            f"(bayesinv never samples with an implicit seed), got {random_seed!r}"
        )
    if random_seed < 0:
        raise ValueError(f"sample: random_seed must be non-negative, got {random_seed}")
    return int(random_seed)


def sample(
    model: pm.Model | None = None,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    random_seed,
    sampler: str = "nutpie",
    progressbar: bool | None = None,
    time_budget: float | None = None,
    save_to=None,
    blas_threads: int | None = 1,
    **kwargs,
):
    """Draw posterior samples with NUTS and return an ArviZ DataTree.

    Parameters
    ----------
    model : pymc.Model, optional
        The model; defaults to the model in context.
    draws, tune, chains : int
        Kept draws per chain, warm-up draws per chain, number of chains.
    random_seed : int or numpy.random.Generator
        Required: the same seed gives the same draws.
    sampler : {"nutpie", "pymc"}
        ``"nutpie"`` (default) compiles the model with PyTensor's numba backend and samples
        in Rust threads; ``"pymc"`` uses PyMC's own NUTS.
    progressbar : bool, optional
        Show progress; by default only when standard error is attached to a terminal.
    time_budget : float, optional
        Wall-clock seconds allowed for sampling (nutpie only; compilation not included).
        When they run out, sampling stops and the draws taken so far are returned.
    save_to : str or Path, optional
        NetCDF file the result is written to (atomically) when sampling ends, finished or
        interrupted (nutpie only).
    blas_threads : int or None
        Threads each BLAS call (dense kernels, covariance factorisations, sparse solvers'
        dense parts) may use while sampling. Chains already run in parallel threads, so the
        default of 1 avoids oversubscribing the cores; ``None`` leaves BLAS as it is.
    **kwargs
        Passed to :func:`pymc.sample` (e.g. ``cores``, ``target_accept``,
        ``nuts_sampler_kwargs={"adaptation": "low_rank"}`` for nutpie). With
        ``time_budget`` or ``save_to`` only ``cores``, ``target_accept``, ``initvals``
        (a dict) and ``nuts`` (options of :func:`nutpie.sample`) are accepted.

    Returns
    -------
    xarray.DataTree
        With groups ``posterior``, ``sample_stats``, ``observed_data`` and, for nutpie,
        the warm-up groups. With ``time_budget`` or ``save_to`` the root attributes hold
        ``interrupted`` (``""``, ``"time_budget"`` or ``"KeyboardInterrupt"``),
        ``draws_completed`` (per chain) and ``draws_kept``; the same seed gives the same
        draws as without them.

    Examples
    --------
    >>> import pymc as pm
    >>> with pm.Model() as model:
    ...     x = pm.Normal("x")
    >>> idata = sample(model, draws=100, tune=100, chains=1, random_seed=1)  # doctest: +SKIP
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sample: sampler must be one of {sorted(SAMPLERS)}, got {sampler!r}")
    for name, value, low in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"sample: {name} must be an integer >= {low}, got {value!r}")
    model = pm.modelcontext(model)
    seed = _seed_to_int(random_seed)
    if progressbar is None:
        progressbar = sys.stderr.isatty()
    if blas_threads is not None:
        if isinstance(blas_threads, bool) or not isinstance(blas_threads, int) or blas_threads < 1:
            raise ValueError(f"sample: blas_threads must be None or >= 1, got {blas_threads!r}")
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=blas_threads, user_api="blas"):
            return sample(
                model,
                draws=draws,
                tune=tune,
                chains=chains,
                random_seed=seed,
                sampler=sampler,
                progressbar=progressbar,
                time_budget=time_budget,
                save_to=save_to,
                blas_threads=None,
                **kwargs,
            )
    if time_budget is not None or save_to is not None:
        if sampler != "nutpie":
            raise ValueError("sample: time_budget and save_to need sampler='nutpie'")
        if time_budget is not None and not (np.isfinite(time_budget) and time_budget > 0):
            raise ValueError(f"sample: time_budget must be positive seconds, got {time_budget!r}")
        return _sample_interruptible(
            model,
            int(draws),
            int(tune),
            int(chains),
            seed,
            progressbar,
            time_budget,
            save_to,
            kwargs,
        )
    with _seeds.reproducible_compilation():  # the same rounding with a cold or warm cache
        return pm.sample(
            draws=int(draws),
            tune=int(tune),
            chains=int(chains),
            random_seed=seed,
            nuts_sampler=SAMPLERS[sampler],
            progressbar=progressbar,
            model=model,
            **kwargs,
        )


_BACKGROUND_KWARGS = {"cores", "target_accept", "initvals", "nuts"}


def _nutpie_seed(seed: int, chains: int) -> int:
    """Return the seed :func:`pymc.sample` gives nutpie, so both paths draw the same."""
    from pymc.util import get_random_generator

    return int(get_random_generator(seed).spawn(chains)[0].integers(2**30))


def _trim(tree, chains: int):
    """Keep the draws every chain completed (nutpie pads unfinished chains with NaN)."""
    if "posterior" not in tree.children or "sample_stats" not in tree.children:
        return tree, [0] * chains, 0
    stats = tree["sample_stats"]
    n_draws = tree["posterior"].sizes.get("draw", 0)
    if "energy" in stats.data_vars and n_draws:
        done = np.isfinite(np.asarray(stats["energy"].values, dtype=float)).sum(axis=1)
    else:
        done = np.full(chains, n_draws)
    keep = int(done.min()) if len(done) else 0
    for group in ("posterior", "sample_stats"):
        tree[group] = tree[group].isel(draw=slice(0, keep))
    return tree, [int(d) for d in done], keep


def _sample_interruptible(model, draws, tune, chains, seed, progressbar, budget, save_to, kw):
    import nutpie
    from pymc.backends.arviz import patch_nutpie_idata

    unknown = sorted(set(kw) - _BACKGROUND_KWARGS)
    if unknown:
        raise ValueError(
            f"sample: with time_budget or save_to, {unknown} are not supported "
            f"(accepted: {sorted(_BACKGROUND_KWARGS)})"
        )
    nuts = dict(kw.get("nuts") or {})
    if "target_accept" in kw:
        nuts["target_accept"] = kw["target_accept"]
    initvals = kw.get("initvals")
    if initvals is not None and not isinstance(initvals, dict):
        raise ValueError("sample: with time_budget or save_to, initvals must be one dict")
    compile_kwargs = {"backend": "numba"}
    if initvals:
        compile_kwargs["initial_points"] = initvals
    with _seeds.reproducible_compilation():  # the same rounding with a cold or warm cache
        compiled = nutpie.compile_pymc_model(model, **compile_kwargs)
    t0 = time.monotonic()
    background = nutpie.sample(
        compiled,
        draws=draws,
        tune=max(tune, 1),  # nuts-rs needs at least one tuning step, as in pymc.sample
        chains=chains,
        cores=kw.get("cores"),
        seed=_nutpie_seed(seed, chains),
        save_warmup=False,
        progress_bar=progressbar,
        blocking=False,
        **nuts,
    )
    reason = ""
    tree = None
    try:
        while tree is None:
            remaining = None if budget is None else budget - (time.monotonic() - t0)
            if remaining is not None and remaining <= 0:
                reason = "time_budget"
                break
            try:
                tree = background.wait(timeout=0.25 if remaining is None else min(remaining, 0.25))
            except TimeoutError:
                continue
    except KeyboardInterrupt:
        reason = "KeyboardInterrupt"
    if tree is None:
        tree = background.abort()
    elapsed = time.monotonic() - t0
    patch_nutpie_idata(tree, model, sampling_time=elapsed)
    tree, done, keep = _trim(tree, chains)
    tree.attrs.update(
        {
            "interrupted": reason,
            "draws_completed": done,
            "draws_kept": keep,
            "sampling_wall_time_s": round(elapsed, 3),
        }
    )
    if save_to is not None:
        from bayesinv.io import write_datatree

        write_datatree(tree, save_to)
    return tree
