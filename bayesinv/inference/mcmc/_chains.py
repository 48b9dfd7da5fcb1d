"""Chains in parallel threads and the result as an ArviZ DataTree (pCN, delayed acceptance).

Chain ``c`` draws from its own generator, seeded by child ``c`` of the run's seed
(:func:`bayesinv._seeds.child_seeds`), and calls its own copy of the target
(:meth:`GaussianPriorTarget.for_thread`), so the draws do not depend on how many threads
run or in which order chains finish. Threads run truly in parallel only inside code that
releases the GIL (numba kernels compiled with ``nogil``, BLAS, sparse solvers); a
log-likelihood written in plain Python runs one chain at a time.

BLAS is limited to one thread per call while chains run (as in ``bayesinv.sample``): the
dense products of these samplers are small (error-model whitening, Laplace references), and
a multi-threaded BLAS spinning next to the chain threads on a busy machine made delayed
acceptance 20-30 times slower (measured on the elliptic benchmark, load ~12 on 2 cores).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr

from bayesinv import _checks, _progress, _seeds
from bayesinv.inference._threads import blas_limit


def check_run(where, draws, tune, chains, cores):
    """Validate the common arguments; return them as ints (``cores`` resolved)."""
    draws = _checks.check_int(draws, where, "draws", low=1)
    tune = _checks.check_int(tune, where, "tune", low=0)
    chains = _checks.check_int(chains, where, "chains", low=1)
    if cores is None:
        cores = min(chains, os.cpu_count() or 1)
    cores = _checks.check_int(cores, where, "cores", low=1)
    return draws, tune, chains, cores


def run_chains(run_one, chains: int, cores: int, random_seed, where: str):
    """Run ``run_one(chain, rng)`` for every chain, ``cores`` at a time; results in order.

    Parameters
    ----------
    run_one : callable
        ``(chain index, numpy.random.Generator) -> (draws (n_draws, n), stats dict)``.
    chains, cores : int
        Number of chains and of threads.
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        The run's seed.
    where : str
        Caller's name for messages.

    Returns
    -------
    draws : numpy.ndarray, shape (chains, n_draws, n)
    stats : dict of numpy.ndarray, each ``(chains, n_draws, ...)`` or ``(chains, ...)``
    seeds : list of int
        The chains' seeds.
    wall : float
        Seconds spent.
    """
    seeds = _seeds.child_seeds(random_seed, chains, where)
    rngs = [np.random.default_rng(s) for s in seeds]
    _progress.stage(f"{where} ({chains} chains)")
    t0 = time.perf_counter()
    with blas_limit(1, where):
        if cores == 1 or chains == 1:
            results = [run_one(c, rngs[c]) for c in range(chains)]
        else:
            with ThreadPoolExecutor(max_workers=cores) as pool:
                results = list(pool.map(run_one, range(chains), rngs))
    wall = time.perf_counter() - t0
    draws = np.stack([r[0] for r in results])
    stats = {k: np.stack([r[1][k] for r in results]) for k in results[0][1]}
    return draws, stats, seeds, wall


def to_datatree(target, draws, stats: dict, attrs: dict):
    """Return the posterior draws as a DataTree with ``sample_stats`` and root attributes.

    Parameters
    ----------
    target : GaussianPriorTarget
        Builds the ``posterior`` (and ``observed_data`` for a model) from flat draws.
    draws : numpy.ndarray, shape (chains, n_draws, n)
    stats : dict
        Arrays of shape ``(chains, n_draws)`` become per-draw statistics; arrays of shape
        ``(chains,)`` or ``(chains, k)`` per-chain ones (dims ``chain`` and ``{key}_dim``).
    attrs : dict
        Root attributes (``inference``, the seed, settings).

    Returns
    -------
    xarray.DataTree
    """
    tree = target.to_datatree(draws)
    chains, n_draws = draws.shape[:2]
    data = {}
    for key, value in stats.items():
        value = np.asarray(value)
        if value.shape[:2] == (chains, n_draws):
            data[key] = (("chain", "draw"), value)
        elif value.ndim == 1:
            data[key] = (("chain",), value)
        else:
            data[key] = (("chain", f"{key}_dim"), value)
    coords = {"chain": np.arange(chains), "draw": np.arange(n_draws)}
    tree["sample_stats"] = xr.DataTree(xr.Dataset(data, coords=coords))
    clean = {k: (list(v) if isinstance(v, tuple | list) else v) for k, v in attrs.items()}
    tree.attrs.update(clean)
    tree["posterior"].attrs.update({"inference": attrs.get("inference", "")})
    return tree


class RobbinsMonro:
    r"""Adapt a step size in (0, ``high``] to a target acceptance rate during tuning.

    :math:`\log β_{t+1} = \log β_t + t^{-0.6} (α_t - α^*)`, with :math:`α_t` the
    acceptance probability of step ``t``; the step is frozen after tuning, so the kept draws
    come from a fixed, reversible kernel.
    """

    def __init__(self, start: float, target: float, high: float = 1.0):
        self.log_step = float(np.log(start))
        self.target = float(target)
        self.high = float(np.log(high))
        self.t = 0

    @property
    def step(self) -> float:
        """Current step size."""
        return float(np.exp(self.log_step))

    def update(self, accept_prob: float) -> None:
        """Move the step after one proposal with acceptance probability ``accept_prob``."""
        self.t += 1
        self.log_step += (self.t**-0.6) * (accept_prob - self.target)
        self.log_step = min(self.log_step, self.high)
