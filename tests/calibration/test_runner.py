"""SBC passes for exact inference and fails for an overconfident one; seeds, results file."""

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from bayesinv.calibration.runner import load_sbc_ranks, sbc_from_ranks, simulation_based_calibration
from bayesinv.inference import gauss_newton_laplace
from bayesinv.operators import MatrixOperator

N, ND, PRIOR_SD, NOISE_SD = 3, 5, 1.0, 0.5
G = np.random.default_rng(0).standard_normal((ND, N))
OP = MatrixOperator(G)


def simulate(rng):
    m = rng.normal(0.0, PRIOR_SD, N)
    return {"m": m}, G @ m + rng.normal(0.0, NOISE_SD, ND)


def fit_with(noise_sd):
    def fit(data, seed):
        res = gauss_newton_laplace(
            OP,
            data,
            prior_mean=0.0,
            prior_cov=PRIOR_SD**2,
            noise_sd=noise_sd,
            random_seed=seed,
            draws=99,
            chains=1,
        )
        return res.idata

    return fit


def test_exact_posterior_is_calibrated():
    result = simulation_based_calibration(simulate, fit_with(NOISE_SD), 300, random_seed=1)
    assert result.passed, result.verdict
    assert result.ranks["m"].shape == (300, N)
    assert result.ranks["m"].min() >= 0 and result.ranks["m"].max() <= 99
    assert np.allclose(result.table["rank_sd"], 1 / np.sqrt(12), atol=0.04)


def test_overconfident_posterior_fails():
    # noise assumed 4x smaller than it is: posterior too narrow, truth in the tails
    result = simulation_based_calibration(simulate, fit_with(NOISE_SD / 4), 300, random_seed=1)
    assert not result.passed and result.verdict.startswith("FAIL")
    assert (result.table["rank_sd"] > 0.33).all()  # U-shaped ranks
    assert (result.table["p_pot_c"] < 1e-3).all()  # ArviZ's uniformity test agrees


def test_parallel_map_gives_the_same_ranks():
    serial = simulation_based_calibration(simulate, fit_with(NOISE_SD), 20, random_seed=4)
    with ThreadPoolExecutor(2) as pool:
        parallel = simulation_based_calibration(
            simulate, fit_with(NOISE_SD), 20, random_seed=4, map=pool.map
        )
    np.testing.assert_array_equal(serial.ranks["m"], parallel.ranks["m"])
    assert serial.seeds == parallel.seeds


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_sims": 1}, "n_sims must be an integer >= 2"),
        ({"n_ranks": 50}, "not divisible by bins"),
        ({"var_names": ["q"]}, "no truth for 'q'"),
        ({"n_ranks": 199, "bins": 10}, "fewer than n_ranks=199"),
    ],
)
def test_bad_arguments(kwargs, message):
    args = {"n_sims": 3, "random_seed": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        simulation_based_calibration(simulate, fit_with(NOISE_SD), **args)


def test_replicate_seeds_are_seed_sequence_children_and_prefix_stable():
    from bayesinv.calibration.runner import replicate_seeds

    seeds = replicate_seeds(7, 5)
    expected = [int(c.generate_state(1)[0]) for c in np.random.SeedSequence(7).spawn(5)]
    assert seeds == expected
    assert replicate_seeds(7, 8)[:5] == seeds  # extending a study keeps its replicates
    assert len(set(seeds)) == 5


class _Interrupt(Exception):
    pass


def counting_fit(calls, stop_after=None):
    inner = fit_with(NOISE_SD)

    def fit(data, seed):
        if stop_after is not None and len(calls) >= stop_after:
            raise _Interrupt
        calls.append(seed)
        return inner(data, seed)

    return fit


def test_results_file_resumes_after_interruption(tmp_path):
    path = tmp_path / "ranks.json"
    full = simulation_based_calibration(simulate, fit_with(NOISE_SD), 12, random_seed=3)
    calls = []
    with pytest.raises(_Interrupt):
        simulation_based_calibration(
            simulate, counting_fit(calls, stop_after=5), 12, random_seed=3, results_file=path
        )
    assert len(calls) == 5
    saved = json.loads(path.read_text())
    assert sorted(saved["replicates"], key=int) == ["0", "1", "2", "3", "4"]
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary file
    calls2, seen = [], []
    resumed = simulation_based_calibration(
        simulate,
        counting_fit(calls2),
        12,
        random_seed=3,
        results_file=path,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert calls2 == full.seeds[5:]  # only the missing replicates ran
    assert seen[0] == (5, 12) and seen[-1] == (12, 12)
    np.testing.assert_array_equal(resumed.ranks["m"], full.ranks["m"])
    assert resumed.seeds == full.seeds
    # finished: a third run fits nothing; load_sbc_ranks reads the same ranks
    calls3 = []
    again = simulation_based_calibration(
        simulate, counting_fit(calls3), 12, random_seed=3, results_file=path
    )
    assert calls3 == []
    np.testing.assert_array_equal(again.ranks["m"], full.ranks["m"])
    loaded = load_sbc_ranks(path)
    np.testing.assert_array_equal(loaded.ranks["m"], full.ranks["m"])
    pd.testing.assert_frame_equal(loaded.table, full.table)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"random_seed": 4}, "its random_seed differs"),
        ({"n_ranks": 49, "bins": 10}, "its n_ranks differs"),
        ({"tag": "other"}, "its tag differs"),
        ({"var_names": ["m"]}, "its var_names differs"),
    ],
)
def test_results_file_of_another_study_is_refused(tmp_path, kwargs, message):
    path = tmp_path / "ranks.json"
    simulation_based_calibration(simulate, fit_with(NOISE_SD), 3, random_seed=3, results_file=path)
    args = {"random_seed": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        simulation_based_calibration(simulate, fit_with(NOISE_SD), 3, results_file=path, **args)


def test_bad_results_file_is_refused(tmp_path):
    path = tmp_path / "ranks.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="cannot be read as JSON"):
        simulation_based_calibration(
            simulate, fit_with(NOISE_SD), 3, random_seed=3, results_file=path
        )
    path.write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="is not a bayesinv-sbc-ranks/1 file"):
        load_sbc_ranks(path)


def test_table_columns_and_flat_ranks():
    result = simulation_based_calibration(simulate, fit_with(NOISE_SD), 10, random_seed=2)
    table = result.table
    assert list(table.columns) == [
        "p_value",
        "p_bonferroni",
        "rejected",
        "rank_mean",
        "rank_sd",
        "p_pot_c",
    ]
    assert table["p_pot_c"].between(0, 1).all()
    np.testing.assert_allclose(table["p_bonferroni"], np.minimum(1, table["p_value"] * N))
    flat = result.flat_ranks()
    assert list(flat.columns) == ["seed", "m[0]", "m[1]", "m[2]"]
    np.testing.assert_array_equal(flat["m[1]"], result.ranks["m"][:, 1])
    assert result.n_sims == 10


def test_sbc_from_ranks_checks_its_input():
    good = {"a": np.array([0, 3, 9, 5])}
    assert sbc_from_ranks(good, 9, bins=5).n_sims == 4
    with pytest.raises(ValueError, match=r"ranks\['a'\] outside 0..9"):
        sbc_from_ranks({"a": np.array([0, 10])}, 9, bins=5)
    with pytest.raises(ValueError, match="must be integers"):
        sbc_from_ranks({"a": np.array([0.5, 1.0])}, 9, bins=5)
    with pytest.raises(ValueError, match="alpha must be a finite number > 0 and < 1"):
        simulation_based_calibration(simulate, fit_with(NOISE_SD), 3, random_seed=1, alpha=2.0)


def test_chi_square_matches_a_hand_computation():
    # 20 replicates, L = 9, 2 bins: ranks 0-4 | 5-9 -> counts 15 | 5, chi2 = 5, p = 0.0253
    r = np.array([0] * 15 + [9] * 5)
    result = sbc_from_ranks({"a": r}, 9, bins=2, alpha=0.05)
    assert result.table.loc["a", "p_value"] == pytest.approx(0.025347, rel=1e-4)
    assert not result.passed
    assert sbc_from_ranks({"a": r}, 9, bins=2, alpha=0.01).passed


def test_datatree_for_arviz(tmp_path):
    import matplotlib
    import xarray as xr

    matplotlib.use("Agg")
    from arviz_plots import plot_ecdf_pit

    from bayesinv.io import write_datatree

    result = simulation_based_calibration(simulate, fit_with(NOISE_SD), 10, random_seed=2)
    path = write_datatree(result.to_datatree(), tmp_path / "ranks.nc")
    tree = xr.open_datatree(path)
    np.testing.assert_array_equal(tree["ranks"]["m"].values, result.ranks["m"])
    np.testing.assert_array_equal(tree["ranks"]["seed"].values, result.seeds)
    np.testing.assert_allclose(tree["prior_sbc"]["m"].values[0], (result.ranks["m"] + 0.5) / 100)
    assert tree.attrs["n_ranks"] == 99
    plot_ecdf_pit(tree)  # ArviZ's own SBC ECDF plot reads it
