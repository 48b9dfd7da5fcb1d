"""NUTS sampling entry point (nutpie by default, PyMC's own NUTS on request)."""

from __future__ import annotations

import sys

import numpy as np
import pymc as pm

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
    **kwargs
        Passed to :func:`pymc.sample` (e.g. ``cores``, ``target_accept``,
        ``nuts_sampler_kwargs={"adaptation": "low_rank"}`` for nutpie).

    Returns
    -------
    xarray.DataTree
        With groups ``posterior``, ``sample_stats``, ``observed_data`` and, for nutpie,
        the warm-up groups.

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
