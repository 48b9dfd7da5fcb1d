r"""Simulation-based calibration (Talts et al. 2018) of an inference procedure.

Does the inference recover its own prior? Repeat: draw a truth :math:`θ^*` and data
:math:`y^* \mid θ^*` from the generative model, fit the posterior to :math:`y^*`, and record
the rank of :math:`θ^*` among :math:`L` posterior draws (the number of draws below it). If
the inference is exact, each rank is uniform on ``0..L``. An overconfident posterior puts the
truth in its tails (a U-shaped histogram, rank standard deviation above :math:`1/\sqrt{12}`
of the range), a biased one shifts the ranks.

Uniformity is tested per scalar parameter with a chi-square test on ``bins`` equal bins,
Bonferroni-corrected over parameters. Draws are thinned evenly to ``L`` per fit; pass fits
whose draws are nearly independent (or thin enough), since autocorrelated draws also
distort the ranks.

The driver is generic: ``simulate(rng) -> (truth, data)`` and ``fit(data, seed) -> DataTree``
are any callables (a PyMC model sampled with :func:`bayesinv.sample`, a Laplace
approximation, ...). Replicate ``i`` is seeded by the ``i``-th child of
``numpy.random.SeedSequence(random_seed)``, so its result does not depend on how many
replicates there are, on which worker runs it or in which order replicates finish. They run
serially, through any ``map`` (e.g. ``ThreadPoolExecutor.map``), or on a dask.distributed
``client`` (a ``LocalCluster`` or a real cluster, see
:mod:`bayesinv.inference.replicates`). With ``results_file`` every replicate's ranks are
written (atomically) as they arrive: an interrupted study keeps its finished replicates and
running it again resumes, computing only the missing ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bayesinv import _seeds
from bayesinv._checks import check_float, check_int
from bayesinv.calibration.ranks import SBCResult, sbc_from_ranks

__all__ = ["load_sbc_ranks", "replicate_seeds", "simulation_based_calibration"]

#: format tag of the results file written by :func:`simulation_based_calibration`
RESULTS_FORMAT = "bayesinv-sbc-ranks/1"


def _one(args):
    simulate, fit, seed, n_ranks, var_names = args
    rng = _seeds.as_generator(seed, "simulation_based_calibration")
    truth, data = simulate(rng)
    idata = fit(data, seed)
    names = list(truth) if var_names is None else list(var_names)
    out = {}
    for name in names:
        if name not in truth:
            raise ValueError(f"simulation_based_calibration: simulate gave no truth for {name!r}")
        values = np.asarray(idata["posterior"][name].values, dtype=float)
        draws = values.reshape(-1, *values.shape[2:])
        if draws.shape[0] < n_ranks:
            raise ValueError(
                f"simulation_based_calibration: fit returned {draws.shape[0]} draws of "
                f"{name!r}, fewer than n_ranks={n_ranks}"
            )
        keep = np.linspace(0, draws.shape[0] - 1, n_ranks).round().astype(int)
        t = np.asarray(truth[name], dtype=float).reshape(draws.shape[1:])
        out[name] = np.sum(draws[keep] < t, axis=0)
    return out


def replicate_seeds(random_seed, n_sims: int) -> list[int]:
    """Seeds of the replicates of a study: children of ``SeedSequence(random_seed)``.

    Parameters
    ----------
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Study seed (a generator is consumed once to draw it).
    n_sims : int
        Number of replicates.

    Returns
    -------
    list of int
        ``n_sims`` seeds in ``0..2**32 - 1``; the first ``k`` do not depend on ``n_sims``,
        so a study can be extended and keep its finished replicates.

    Notes
    -----
    These are :func:`bayesinv._seeds.child_seeds` of the study seed: replicate ``i`` gets
    ``SeedSequence(random_seed).spawn(n_sims)[i].generate_state(1)[0]``.
    """
    where = "simulation_based_calibration"
    n_sims = check_int(n_sims, where, "n_sims", low=1)
    return _seeds.child_seeds(random_seed, n_sims, where)


def simulation_based_calibration(
    simulate,
    fit,
    n_sims: int,
    *,
    random_seed,
    n_ranks: int = 99,
    bins: int = 10,
    alpha: float = 0.01,
    var_names=None,
    map=map,
    client=None,
    results_file=None,
    tag: str = "",
    progress=None,
) -> SBCResult:
    """Run simulation-based calibration of an inference procedure.

    Parameters
    ----------
    simulate : callable
        ``simulate(rng) -> (truth, data)``: draws parameters from the prior and data given
        them; ``truth`` maps variable names to values.
    fit : callable
        ``fit(data, seed) -> xarray.DataTree`` with a ``posterior`` group holding those
        variables (at least ``n_ranks`` draws).
    n_sims : int
        Number of replicates.
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Study seed; replicate ``i`` gets seed :func:`replicate_seeds` ``[i]`` (use an int to
        resume from ``results_file``).
    n_ranks : int
        Posterior draws per replicate the truth is ranked among (``L``); ``L + 1`` should be
        divisible by ``bins``.
    bins : int
        Bins of the chi-square uniformity test.
    alpha : float
        Family-wise significance level.
    var_names : list of str, optional
        Variables to check (default: every key of ``truth``).
    map : callable
        ``map(function, iterable)``; a parallel map runs replicates concurrently. Ignored
        with ``client``.
    client : distributed.Client, optional
        Run replicates on this dask client (see
        :func:`bayesinv.inference.replicates.dask_client`); ``simulate`` and ``fit`` must be
        picklable by cloudpickle.
    results_file : str or Path, optional
        JSON file holding every finished replicate's seed and ranks, rewritten atomically
        as each replicate arrives. If it exists, its replicates are reused (it must come
        from the same ``random_seed``, ``n_ranks``, ``var_names`` and ``tag``) and only the
        missing ones run.
    tag : str
        Identifies the study (e.g. a hash of its configuration) in ``results_file``, so a
        file is never resumed by a different study.
    progress : callable, optional
        Called as ``progress(n_done, n_sims)`` after each replicate.

    Returns
    -------
    SBCResult
    """
    from bayesinv.inference.replicates import run_replicates

    check_int(n_sims, "simulation_based_calibration", "n_sims", low=2)
    check_int(n_ranks, "simulation_based_calibration", "n_ranks", low=1)
    check_int(bins, "simulation_based_calibration", "bins", low=2)
    if (n_ranks + 1) % bins:
        raise ValueError(
            f"simulation_based_calibration: n_ranks + 1 = {n_ranks + 1} is not divisible by "
            f"bins = {bins}"
        )
    check_float(
        alpha, "simulation_based_calibration", "alpha", low=0, high=1, low_open=True, high_open=True
    )
    if var_names is not None:
        var_names = [str(v) for v in var_names]
    study_seed = _seeds.as_int(random_seed, "simulation_based_calibration")
    seeds = replicate_seeds(study_seed, n_sims)
    header = {
        "format": RESULTS_FORMAT,
        "random_seed": study_seed,
        "n_ranks": int(n_ranks),
        "var_names": var_names,
        "tag": str(tag),
    }
    done: dict[int, dict] = {}
    if results_file is not None:
        results_file = Path(results_file)
        if results_file.exists():
            done = _read_state(results_file, header, seeds)
    todo = [i for i in range(n_sims) if i not in done]
    tasks = [(simulate, fit, seeds[i], n_ranks, var_names) for i in todo]
    if progress is not None and done:
        progress(len(done), n_sims)
    for j, out in run_replicates(_one, tasks, client=client, map=map, key_prefix="sbc"):
        done[todo[j]] = out
        if results_file is not None:
            _write_state(results_file, header, done, seeds)
        if progress is not None:
            progress(len(done), n_sims)
    names = list(done[0])
    ranks = {name: np.stack([np.asarray(done[i][name]) for i in range(n_sims)]) for name in names}
    return sbc_from_ranks(ranks, n_ranks, bins=bins, alpha=alpha, seeds=seeds)


def _write_state(path: Path, header: dict, done: dict, seeds: list) -> None:
    from bayesinv.io import write_text

    state = dict(header)
    state["replicates"] = {
        str(i): {"seed": seeds[i], "ranks": {k: np.asarray(v).tolist() for k, v in out.items()}}
        for i, out in sorted(done.items())
    }
    write_text(path, json.dumps(state))


def _load_state(path: Path, where: str) -> dict:
    """Read a results file, checking that it is one."""
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{where} cannot be read as JSON ({err})") from None
    if not isinstance(state, dict) or state.get("format") != RESULTS_FORMAT:
        raise ValueError(f"{where} is not a {RESULTS_FORMAT} file")
    return state


def _read_state(path: Path, header: dict, seeds: list) -> dict[int, dict]:
    where = f"simulation_based_calibration: results_file {str(path)!r}"
    state = _load_state(path, where)
    for key, value in header.items():
        if state.get(key) != value:
            raise ValueError(
                f"{where} belongs to another study: its {key} differs "
                f"({state.get(key)!r} != {value!r}); use another file or the same settings"
            )
    done = {}
    for key, record in state.get("replicates", {}).items():
        i = int(key)
        if i >= len(seeds):
            continue  # a larger study ran into this file; its extra replicates are not needed
        if record["seed"] != seeds[i]:
            raise ValueError(f"{where}: replicate {i} has seed {record['seed']}, not {seeds[i]}")
        done[i] = {name: np.asarray(r, dtype=np.int64) for name, r in record["ranks"].items()}
    return done


def load_sbc_ranks(path, *, bins: int = 10, alpha: float = 0.01) -> SBCResult:
    """Analyse the replicates finished so far in a results file.

    Parameters
    ----------
    path : str or Path
        ``results_file`` of :func:`simulation_based_calibration`.
    bins : int
        Bins of the chi-square test.
    alpha : float
        Family-wise significance level.

    Returns
    -------
    SBCResult
        Over the finished replicates, in replicate order.
    """
    path = Path(path)
    where = f"load_sbc_ranks: {str(path)!r}"
    state = _load_state(path, where)
    records = [state["replicates"][k] for k in sorted(state["replicates"], key=int)]
    if len(records) < 2:
        raise ValueError(f"{where} holds {len(records)} replicate(s); need at least 2")
    names = list(records[0]["ranks"])
    ranks = {
        n: np.stack([np.asarray(r["ranks"][n], dtype=np.int64) for r in records]) for n in names
    }
    return sbc_from_ranks(
        ranks, state["n_ranks"], bins=bins, alpha=alpha, seeds=[r["seed"] for r in records]
    )
