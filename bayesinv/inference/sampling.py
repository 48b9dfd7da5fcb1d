"""NUTS sampling: the one place where bayesinv calls nutpie.

:func:`sample` runs nutpie (the default) or PyMC's own NUTS with one closed argument list.
nutpie always runs in the background (``nutpie.sample(..., blocking=False)``) while this
module waits in short steps, so that

- a ``time_budget`` or Ctrl-C (``KeyboardInterrupt``) stops sampling and returns (and, with
  ``save_to``, writes) the draws taken so far, trimmed to the draws every chain completed;
  the result's root attributes say whether and why the run was interrupted;
- inside :func:`bayesinv._progress.reporting` (a run without a terminal) a progress line
  (draws done of the total, elapsed time) goes to standard error.

A model that is sampled several times (e.g. with new data for each replicate of a
calibration study) is compiled once with :func:`compile_model` and the
:class:`CompiledModel` passed to :func:`sample` in place of the model.
"""

from __future__ import annotations

import inspect
import sys
import time

import numpy as np
import pymc as pm

from bayesinv import _progress, _seeds
from bayesinv.inference import _sample_args
from bayesinv.inference._threads import blas_limit

__all__ = ["SAMPLERS", "CompiledModel", "compile_model", "sample"]

#: samplers accepted by :func:`sample`, mapped to PyMC's ``nuts_sampler`` names
SAMPLERS = _sample_args.SAMPLERS

_WHERE = "sample"


class CompiledModel:
    """A PyMC model compiled once for nutpie; pass it to :func:`sample` as the model.

    Attributes
    ----------
    model : pymc.Model
        The model that was compiled.
    observed_from : pymc.Model
        The model whose observed and constant data go into the result (``model`` unless
        given to :func:`compile_model`).
    data_replaced : bool
        Whether :meth:`with_data` replaced data of the model (the result then has no
        ``observed_data`` and ``constant_data`` groups, which would show the old data).
    """

    def __init__(self, model: pm.Model, compiled, observed_from: pm.Model, data_replaced=False):
        self.model = model
        self.observed_from = observed_from
        self.data_replaced = bool(data_replaced)
        self._compiled = compiled

    @property
    def nutpie(self):
        """The nutpie compiled model (``nutpie.compile_pymc_model``'s result).

        For timing the logp+gradient function that sampling calls (``benchmarks/``).
        """
        return self._compiled

    def with_data(self, **data) -> CompiledModel:
        """Return the same compiled model with new values of its shared data variables.

        Parameters
        ----------
        **data : array_like
            New values keyed by the name of a shared variable of the model (``pm.Data``
            or ``pytensor.shared``); nothing is recompiled.

        Returns
        -------
        CompiledModel
        """
        return CompiledModel(self.model, self._compiled.with_data(**data), self.observed_from, True)


def compile_model(
    model: pm.Model | None = None,
    *,
    var_names=None,
    initvals: dict | None = None,
    jitter: bool = True,
    observed_from: pm.Model | None = None,
) -> CompiledModel:
    """Compile a model for nutpie (PyTensor's numba backend) once, to sample it many times.

    Parameters
    ----------
    model : pymc.Model, optional
        The model (default: the model in context).
    var_names : sequence of str, optional
        Variables stored in the posterior (default: every free variable and
        deterministic). Storing fewer makes sampling of large models cheaper.
    initvals : dict, optional
        Starting values by variable name, for every chain.
    jitter : bool
        Jitter each chain's start (``False``: every chain starts at the initial point).
    observed_from : pymc.Model, optional
        Model whose observed and constant data the result carries (default ``model``):
        e.g. the original model when ``model`` was rewritten by
        :func:`~bayesinv.inference.preconditioning.precondition`.

    Returns
    -------
    CompiledModel
    """
    import nutpie

    model = pm.modelcontext(model)
    if initvals is not None and not isinstance(initvals, dict):
        raise TypeError(
            f"compile_model: initvals must be one dict for all chains, got {type(initvals)}"
        )
    kwargs = {"backend": "numba"}
    if var_names is not None:
        kwargs["var_names"] = [str(v) for v in var_names]
    if initvals:
        kwargs["initial_points"] = initvals
    if not jitter:
        kwargs["jitter_rvs"] = set()
    with _seeds.reproducible_compilation():  # the same rounding with a cold or warm cache
        compiled = nutpie.compile_pymc_model(model, **kwargs)
    return CompiledModel(model, compiled, observed_from or model)


def sample(
    model: pm.Model | CompiledModel | None = None,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    random_seed,
    sampler: str = "nutpie",
    cores: int | None = None,
    target_accept: float | None = None,
    adaptation: str | None = None,
    initvals: dict | None = None,
    jitter: bool = True,
    var_names=None,
    nuts: dict | None = None,
    save_warmup: bool = False,
    progressbar: bool | None = None,
    time_budget: float | None = None,
    save_to=None,
    blas_threads: int | None = 1,
    **unknown,
):
    """Draw posterior samples with NUTS and return an ArviZ DataTree.

    Every argument is honoured or refused with a message; there are no others.

    Parameters
    ----------
    model : pymc.Model or CompiledModel, optional
        The model (default: the model in context), or a model compiled once by
        :func:`compile_model` (nutpie only; then ``initvals`` and ``var_names`` belong to
        :func:`compile_model`).
    draws, tune, chains : int
        Kept draws per chain (>= 1), warm-up draws per chain (>= 0), number of chains.
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Required: the same seed gives the same draws (:mod:`bayesinv._seeds`; an integer
        gives the draws ``pymc.sample(..., random_seed=seed)`` gives).
    sampler : {"nutpie", "pymc"}
        ``"nutpie"`` (default) compiles the model with PyTensor's numba backend and samples
        in Rust threads; ``"pymc"`` uses PyMC's own NUTS.
    cores : int, optional
        Chains run at the same time (default: the sampler's choice).
    target_accept : float, optional
        Target acceptance rate of the step-size adaptation, in (0, 1).
    adaptation : {"diag", "low_rank", "draw_diag"}, optional
        nutpie's mass-matrix adaptation (nutpie only). Default ``"diag"`` (a diagonal mass
        matrix from draws and gradients): measured against ``"low_rank"`` (diagonal plus
        low-rank corrections) on the package's benchmark problems in
        ``benchmarks/bench_samplers.py``, see ``docs/samplers.md`` for the table.
    initvals : dict, optional
        Starting values by variable name, for every chain.
    jitter : bool
        Jitter each chain's start (``False``: every chain starts at the initial point;
        PyMC's ``init="adapt_diag"``).
    var_names : sequence of str, optional
        Variables stored in the posterior (default: every free variable and deterministic).
    nuts : dict, optional
        Further options of the sampler, passed through PyMC's ``nuts=`` keyword (its
        current name; ``nuts_sampler_kwargs`` is deprecated): for nutpie the options of
        :func:`nutpie.sample`, e.g. ``nuts={"adaptation": "low_rank"}`` or
        ``{"maxdepth": 8}``; for PyMC those of :class:`pymc.NUTS`.
    save_warmup : bool
        Keep the warm-up draws (groups ``warmup_posterior`` and ``warmup_sample_stats``).
    progressbar : bool, optional
        Show the sampler's progress bar; by default only when standard error is a terminal.
        Without one, progress lines come from :mod:`bayesinv._progress` when reporting is on.
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

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``sample_stats`` and ``observed_data`` (and the warm-up
        groups with ``save_warmup``). For nutpie the root attributes hold ``interrupted``
        (``""``, ``"time_budget"`` or ``"KeyboardInterrupt"``), ``draws_completed`` (per
        chain), ``draws_kept`` and ``sampling_wall_time_s``.

    Raises
    ------
    TypeError
        For an argument not listed here (with the closest accepted name).
    ValueError
        For a value out of range, or an option the chosen sampler cannot honour.
    """
    if unknown:
        _sample_args.refuse(unknown, [p for p in inspect.signature(sample).parameters][:-1])
    options = _sample_args.check(
        locals() | {"model": None}, compiled=isinstance(model, CompiledModel), sampler=sampler
    )
    if not isinstance(model, CompiledModel):
        model = pm.modelcontext(model)
    if progressbar is None:
        progressbar = sys.stderr.isatty()
    seed = _seeds.as_int(random_seed, _WHERE)
    with blas_limit(blas_threads, _WHERE):
        if sampler == "pymc":
            return _sample_pymc(model, seed, bool(progressbar), options)
        _progress.stage(f"sampling ({options['chains']} chains)")
        if not isinstance(model, CompiledModel):
            model = compile_model(model, var_names=var_names, initvals=initvals, jitter=jitter)
        return _sample_nutpie(model, seed, bool(progressbar), time_budget, save_to, options)


def _sample_pymc(model, seed, progressbar, options):
    kwargs = {"nuts": options["nuts"]} if options["nuts"] else {}
    with _seeds.reproducible_compilation():  # the same rounding with a cold or warm cache
        return pm.sample(
            draws=options["draws"],
            tune=options["tune"],
            chains=options["chains"],
            cores=options["cores"],
            random_seed=seed,
            nuts_sampler="pymc",
            progressbar=progressbar,
            initvals=options["initvals"],
            init=options["init"],
            var_names=options["var_names"],
            discard_tuned_samples=not options["save_warmup"],
            model=model,
            **kwargs,
        )


def _nutpie_seed(seed: int, chains: int) -> int:
    # the seed pymc.sample gives nutpie, so both draw the same
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


def _wait(background, budget, t0, counts):
    """Wait for the sampler in short steps; return ``(tree or None, reason)``."""
    try:
        while True:
            remaining = None if budget is None else budget - (time.monotonic() - t0)
            if remaining is not None and remaining <= 0:
                return None, "time_budget"
            try:
                return background.wait(
                    timeout=0.25 if remaining is None else min(remaining, 0.25)
                ), ""
            except TimeoutError:
                if counts:
                    _progress.update(counts[0], counts[1])
    except KeyboardInterrupt:
        return None, "KeyboardInterrupt"


def _sample_nutpie(compiled: CompiledModel, seed, progressbar, budget, save_to, options):
    import nutpie
    from pymc.backends.arviz import patch_nutpie_idata

    counts = []

    def on_progress(chain_progress):
        # called from nutpie's threads: only record the counts; the waiting thread reports
        done = sum(int(c.finished_draws) for c in chain_progress)
        total = sum(int(c.total_draws) for c in chain_progress)
        counts[:] = [done, total]

    chains = options["chains"]
    t0 = time.monotonic()
    background = nutpie.sample(
        compiled._compiled,
        draws=options["draws"],
        tune=max(options["tune"], 1),  # nuts-rs needs at least one tuning step, as in pymc
        chains=chains,
        cores=options["cores"],
        seed=_nutpie_seed(seed, chains),
        save_warmup=options["save_warmup"],
        progress_bar=progressbar,
        progress_callback=on_progress,
        blocking=False,
        **options["nuts"],
    )
    tree, reason = _wait(background, budget, t0, counts)
    if tree is None:
        tree = background.abort()
    elapsed = time.monotonic() - t0
    patch_nutpie_idata(tree, compiled.observed_from, sampling_time=elapsed)
    if compiled.data_replaced:
        tree = tree.drop_nodes(["observed_data", "constant_data"], errors="ignore")
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
