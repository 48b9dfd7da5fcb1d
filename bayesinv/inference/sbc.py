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
approximation, ...). ``map`` may be a parallel map (e.g. from ``concurrent.futures`` or a
dask client) since every replicate has its own seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["SBCResult", "simulation_based_calibration"]


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
        Per scalar parameter: ``p_value`` (chi-square uniformity), ``rank_mean`` and
        ``rank_sd`` of the normalised ranks ``rank / L`` (0.5 and 0.289 when calibrated),
        sorted from the worst.
    seeds : list of int
        Seed of each replicate (simulation and fit).
    """

    passed: bool
    verdict: str
    ranks: dict = field(repr=False)
    n_ranks: int
    table: pd.DataFrame = field(repr=False)
    seeds: list = field(repr=False)


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
        Seeds every replicate (each gets its own child seed).
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
        ``map(function, iterable)``; a parallel map runs replicates concurrently.

    Returns
    -------
    SBCResult
    """
    from scipy import stats

    from bayesinv.inference.sampling import _seed_to_int

    for label, value, low in (("n_sims", n_sims, 2), ("n_ranks", n_ranks, 1), ("bins", bins, 2)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(
                f"simulation_based_calibration: {label} must be an integer >= {low}, got {value!r}"
            )
    if (n_ranks + 1) % bins:
        raise ValueError(
            f"simulation_based_calibration: n_ranks + 1 = {n_ranks + 1} is not divisible by "
            f"bins = {bins}"
        )
    root = np.random.default_rng(_seed_to_int(random_seed))
    seeds = [int(s) for s in root.integers(0, 2**31 - 1, size=n_sims)]
    results = list(map(_one, [(simulate, fit, s, n_ranks, var_names) for s in seeds]))
    ranks = {name: np.stack([r[name] for r in results]) for name in results[0]}

    rows, index = [], []
    width = (n_ranks + 1) // bins
    for name, r in ranks.items():
        flat = r.reshape(n_sims, -1)
        shape = r.shape[1:]
        labels = [name] if not shape else [f"{name}[{_label(i)}]" for i in np.ndindex(shape)]
        for j, label in enumerate(labels):
            counts = np.bincount(flat[:, j] // width, minlength=bins)
            p = stats.chisquare(counts).pvalue
            u = flat[:, j] / n_ranks
            rows.append((float(p), float(u.mean()), float(u.std(ddof=1))))
            index.append(label)
    table = pd.DataFrame(
        rows, index=pd.Index(index, name="parameter"), columns=["p_value", "rank_mean", "rank_sd"]
    ).sort_values("p_value")
    n_par = len(table)
    min_p = float(table["p_value"].iloc[0])
    passed = min_p * n_par >= alpha
    summary = (
        f"{n_sims} replicates, {n_par} parameters, min p = {min_p:.2g} "
        f"(Bonferroni level {alpha / n_par:.2g}), worst {table.index[0]} with rank mean "
        f"{table['rank_mean'].iloc[0]:.2f} and sd {table['rank_sd'].iloc[0]:.2f} "
        "(calibrated: 0.50, 0.29)"
    )
    return SBCResult(
        passed=passed,
        verdict=("PASS: " if passed else "FAIL: ") + summary,
        ranks=ranks,
        n_ranks=int(n_ranks),
        table=table,
        seeds=seeds,
    )


def _label(index) -> str:
    return ", ".join(str(i) for i in index)
