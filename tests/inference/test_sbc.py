"""SBC passes for exact inference and fails for an overconfident one."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from bayesinv.inference.laplace import gauss_newton_laplace
from bayesinv.inference.sbc import simulation_based_calibration
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
