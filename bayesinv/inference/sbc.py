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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "SBCResult",
    "load_sbc_ranks",
    "replicate_seeds",
    "sbc_from_ranks",
    "simulation_based_calibration",
]

#: format tag of the results file written by :func:`simulation_based_calibration`
RESULTS_FORMAT = "bayesinv-sbc-ranks/1"


@dataclass(frozen=True)
class SBCResult:
    """Outcome of :func:`simulation_based_calibration`.

    Attributes
    ----------
    passed : bool
        Whether no parameter's ranks depart from uniform at level ``alpha`` (Bonferroni).
    verdict : str
        One line, ``"PASS: ..."`` or ``"FAIL: ..."``.
    ranks : dict of str to numpy.ndarray
        Ranks per variable, shape ``(n_sims, *variable_shape)``, values in ``0..n_ranks``.
    n_ranks : int
        Posterior draws ``L`` each truth is ranked among.
    table : pandas.DataFrame
        Per scalar parameter: ``p_value`` (chi-square uniformity), ``p_bonferroni``
        (``min(1, p * n_parameters)``), ``rejected`` (``p_bonferroni < alpha``),
        ``rank_mean`` and ``rank_sd`` of the normalised ranks ``rank / L`` (0.5 and 0.289
        when calibrated), and ``p_pot_c``, the p-value of ArviZ's uniformity test of the
        PIT values ``(rank + 0.5) / (L + 1)`` (``arviz_stats`` ``uniformity_test``,
        method ``pot_c``; reported for information, the verdict uses the chi-square test),
        sorted from the worst chi-square p-value.
    seeds : list of int
        Seed of each replicate (simulation and fit).
    alpha : float
        Family-wise significance level of the verdict.
    bins : int
        Bins of the chi-square test.
    """

    passed: bool
    verdict: str
    ranks: dict = field(repr=False)
    n_ranks: int
    table: pd.DataFrame = field(repr=False)
    seeds: list = field(repr=False)
    alpha: float = 0.01
    bins: int = 10

    @property
    def n_sims(self) -> int:
        """Number of replicates."""
        return len(self.seeds)

    def flat_ranks(self) -> pd.DataFrame:
        """Ranks as a table: one row per replicate, one column per scalar parameter.

        Returns
        -------
        pandas.DataFrame
            Index ``replicate``; columns ``seed`` then ``name`` or ``name[i, j]`` per
            scalar parameter.
        """
        columns = {"seed": np.asarray(self.seeds, dtype=np.int64)}
        for name, r in self.ranks.items():
            flat = r.reshape(r.shape[0], -1)
            for j, label in enumerate(_labels(name, r.shape[1:])):
                columns[label] = flat[:, j]
        return pd.DataFrame(columns, index=pd.RangeIndex(len(self.seeds), name="replicate"))

    def to_datatree(self):
        """Return the ranks as a DataTree that ArviZ's SBC plots read.

        Returns
        -------
        xarray.DataTree
            Group ``ranks``: integer ranks with dims ``("replicate", ...)`` and the seeds;
            group ``prior_sbc``: PIT values ``(rank + 0.5) / (L + 1)`` with dims
            ``("chain", "draw", ...)`` (one chain, one draw per replicate), as expected by
            ``arviz_plots.plot_ecdf_pit``. Root attributes hold ``n_ranks``, ``bins`` and
            ``alpha``.
        """
        import xarray as xr

        ranks, pit = {}, {}
        for name, r in self.ranks.items():
            dims = [f"{name}_dim_{k}" for k in range(r.ndim - 1)]
            coords = {d: np.arange(n) for d, n in zip(dims, r.shape[1:], strict=True)}
            ranks[name] = xr.DataArray(r, dims=["replicate", *dims], coords=coords)
            u = (r + 0.5) / (self.n_ranks + 1)
            pit[name] = xr.DataArray(u[None], dims=["chain", "draw", *dims], coords=coords)
        ranks["seed"] = xr.DataArray(np.asarray(self.seeds, dtype=np.int64), dims=["replicate"])
        return xr.DataTree.from_dict(
            {
                "/": xr.Dataset(
                    attrs={"n_ranks": self.n_ranks, "bins": self.bins, "alpha": self.alpha}
                ),
                "ranks": xr.Dataset(ranks),
                "prior_sbc": xr.Dataset(pit),
            }
        )


def _one(args):
    simulate, fit, seed, n_ranks, var_names = args
    rng = np.random.default_rng(seed)
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


def _check_int(label: str, value, low: int):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(
            f"simulation_based_calibration: {label} must be an integer >= {low}, got {value!r}"
        )


def replicate_seeds(random_seed, n_sims: int) -> list[int]:
    """Seeds of the replicates of a study: children of ``SeedSequence(random_seed)``.

    Parameters
    ----------
    random_seed : int or numpy.random.Generator
        Study seed (a generator is consumed once to draw it).
    n_sims : int
        Number of replicates.

    Returns
    -------
    list of int
        ``n_sims`` seeds in ``0..2**32 - 1``; the first ``k`` do not depend on ``n_sims``,
        so a study can be extended and keep its finished replicates.
    """
    from bayesinv.inference.sampling import _seed_to_int

    _check_int("n_sims", n_sims, 1)
    children = np.random.SeedSequence(_seed_to_int(random_seed)).spawn(int(n_sims))
    return [int(child.generate_state(1)[0]) for child in children]


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
    random_seed : int or numpy.random.Generator
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

    _check_int("n_sims", n_sims, 2)
    _check_int("n_ranks", n_ranks, 1)
    _check_int("bins", bins, 2)
    if (n_ranks + 1) % bins:
        raise ValueError(
            f"simulation_based_calibration: n_ranks + 1 = {n_ranks + 1} is not divisible by "
            f"bins = {bins}"
        )
    if not (0 < alpha < 1):
        raise ValueError(f"simulation_based_calibration: alpha must be in (0, 1), got {alpha!r}")
    if var_names is not None:
        var_names = [str(v) for v in var_names]
    from bayesinv.inference.sampling import _seed_to_int

    study_seed = _seed_to_int(random_seed)
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


def sbc_from_ranks(ranks: dict, n_ranks: int, *, bins: int = 10, alpha: float = 0.01, seeds=None):
    """Test ranks for uniformity: chi-square per scalar parameter, Bonferroni over them.

    Parameters
    ----------
    ranks : dict of str to array_like
        Ranks per variable, shape ``(n_sims, *variable_shape)``, integers in ``0..n_ranks``.
    n_ranks : int
        ``L``, the number of posterior draws each truth was ranked among.
    bins : int
        Bins of the chi-square test; must divide ``n_ranks + 1``.
    alpha : float
        Family-wise significance level.
    seeds : list of int, optional
        Seeds of the replicates (default: their indices).

    Returns
    -------
    SBCResult
    """
    from scipy import stats

    _check_int("n_ranks", n_ranks, 1)
    _check_int("bins", bins, 2)
    if (n_ranks + 1) % bins:
        raise ValueError(
            f"simulation_based_calibration: n_ranks + 1 = {n_ranks + 1} is not divisible by "
            f"bins = {bins}"
        )
    ranks = {name: np.asarray(r) for name, r in ranks.items()}
    if not ranks:
        raise ValueError("simulation_based_calibration: ranks is empty")
    n_sims = next(iter(ranks.values())).shape[0]
    for name, r in ranks.items():
        if r.shape[:1] != (n_sims,) or r.dtype.kind not in "iu":
            raise ValueError(
                f"simulation_based_calibration: ranks[{name!r}] must be integers with {n_sims} rows"
            )
        if r.size and (r.min() < 0 or r.max() > n_ranks):
            raise ValueError(f"simulation_based_calibration: ranks[{name!r}] outside 0..{n_ranks}")
    seeds = list(range(n_sims)) if seeds is None else [int(s) for s in seeds]
    rows, index = [], []
    width = (n_ranks + 1) // bins
    for name, r in ranks.items():
        flat = r.reshape(n_sims, -1)
        for j, label in enumerate(_labels(name, r.shape[1:])):
            counts = np.bincount(flat[:, j] // width, minlength=bins)
            p = stats.chisquare(counts).pvalue
            u = flat[:, j] / n_ranks
            rows.append((float(p), float(u.mean()), float(u.std(ddof=1))))
            index.append(label)
    table = pd.DataFrame(
        rows, index=pd.Index(index, name="parameter"), columns=["p_value", "rank_mean", "rank_sd"]
    )
    table["p_pot_c"] = _pot_c(ranks, n_sims, n_ranks)
    n_par = len(table)
    table.insert(1, "p_bonferroni", np.minimum(1.0, table["p_value"] * n_par))
    table.insert(2, "rejected", table["p_bonferroni"] < alpha)
    table = table.sort_values("p_value", kind="stable")
    min_p = float(table["p_value"].iloc[0])
    passed = min_p * n_par >= alpha
    summary = (
        f"{n_sims} replicates, {n_par} parameters, min p = {min_p:.2g} "
        f"(Bonferroni level {alpha / n_par:.2g}), worst {table.index[0]} with rank mean "
        f"{table['rank_mean'].iloc[0]:.2f} and sd {table['rank_sd'].iloc[0]:.2f} "
        "(calibrated: 0.50, 0.29)"
    )
    return SBCResult(
        passed=bool(passed),
        verdict=("PASS: " if passed else "FAIL: ") + summary,
        ranks=ranks,
        n_ranks=int(n_ranks),
        table=table,
        seeds=seeds,
        alpha=float(alpha),
        bins=int(bins),
    )


def _pot_c(ranks: dict, n_sims: int, n_ranks: int) -> np.ndarray:
    """ArviZ's uniformity test (``pot_c``) of the normalised ranks, per scalar parameter."""
    from arviz_stats.base import array_stats

    flat = np.concatenate([r.reshape(n_sims, -1) for r in ranks.values()], axis=1)
    pit = (flat.T + 0.5) / (n_ranks + 1)
    return np.asarray(array_stats.uniformity_test(pit, axis=-1, method="pot_c")[0], dtype=float)


def _labels(name: str, shape) -> list[str]:
    if not shape:
        return [name]
    return [f"{name}[{', '.join(str(i) for i in index)}]" for index in np.ndindex(shape)]
