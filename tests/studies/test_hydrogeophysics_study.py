"""Case study 08 (pumping test + ERT): the petrophysical link and the synthetic survey."""

from pathlib import Path

import numpy as np
import pytest

from bayesinv.studies.runner import check_config, load_config, load_study

ROOT = Path(__file__).resolve().parents[2] / "case_studies" / "08_hydrogeophysics"


@pytest.fixture(scope="module")
def study():
    module = load_study(ROOT)
    config = check_config(load_config(ROOT, "quick"), module.REQUIRED, "08")
    return module, config | {"nx": 8, "nz": 4, "cell": 15.0, "n_times": 4}


def test_relation_is_archie_after_eliminating_porosity(study):
    module, config = study
    slope, intercept = module.relation_coefficients(config)
    m, b = config["cementation"], config["kc_exponent"]
    for phi in (0.1, 0.2, 0.35):
        log_k = config["log_k_background"] + b * np.log(phi / config["porosity_background"])
        archie = config["log_fluid_conductivity"] + m * np.log(phi)
        assert slope * log_k + intercept == pytest.approx(archie, abs=1e-12)


def test_truth_scatters_about_the_relation_by_the_configured_amount(study):
    module, config = study
    from bayesinv import Grid2D

    grid = Grid2D(40, 40, 1.0, 1.0)
    slope, intercept = module.relation_coefficients(config)
    truth = module._truth(grid, config, np.random.default_rng(0))
    residual = truth["log_cond"] - (slope * truth["log_k"] + intercept)
    assert np.std(residual) == pytest.approx(config["petro_scatter"], rel=0.1)
    assert abs(np.mean(residual)) < 4 * config["petro_scatter"] / 40
    # negative control: with Archie's exponent off by 50% the residual is biased in the channel
    wrong = module._truth(grid, config | {"cementation": 3.0}, np.random.default_rng(0))
    channel = truth["porosity"] > config["porosity_background"]
    off = wrong["log_cond"] - (slope * wrong["log_k"] + intercept)
    assert abs(np.mean(off[channel])) > 10 * config["petro_scatter"] / np.sqrt(channel.sum())


def test_survey_drawdown_grows_and_the_channel_is_seen(study):
    module, config = study
    grid, _, ops, clean, data, ert_sd, _ = module._survey(config)
    s = clean["pumping"].reshape(-1, config["n_times"])
    assert np.all(s > 0) and np.all(np.diff(s, axis=1) > 0)  # pumping only lowers heads
    background = ops["pumping"].forward(np.full(grid.size, config["log_k_background"]))
    assert np.max(np.abs(clean["pumping"] - background)) > 10 * config["drawdown_noise_sd"]
    assert np.all(ert_sd > 0) and data["ert"].shape == clean["ert"].shape
    again = module._survey(config)[4]
    assert np.array_equal(again["pumping"], data["pumping"])  # same seed, same data
