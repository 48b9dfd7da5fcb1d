"""Case study 07 (cycle skipping): the pieces the study's numbers rest on."""

from pathlib import Path

import numpy as np
import pytest

from bayesinv.studies.runner import check_config, load_config, load_study

STUDY = Path(__file__).resolve().parents[2] / "case_studies" / "07_cycle_skipping"


@pytest.fixture(scope="module")
def s07():
    module = load_study(STUDY)
    cfg = check_config(load_config(STUDY, "quick"), module.REQUIRED, "07")
    return module, cfg


def test_blocks_represent_the_true_layers_exactly(s07):
    module, cfg = s07
    _, op, truth, blocks = module._problem(cfg)
    nb = cfg["n_blocks"]
    # the block coefficients of the truth, solved from the layer velocities by hand
    layer = np.log(np.asarray(cfg["velocities"]))
    theta = (np.repeat(layer, nb // layer.size) - np.log(cfg["v_ref"])) / cfg["prior_sd"]
    field = module._field(truth, blocks, cfg)
    assert field.error(theta) < 1e-12
    assert np.allclose(field.true_theta(), theta)
    # a homogeneous model 10% too fast is 0.0953 (log units) away everywhere
    shifted = theta + np.log(1.1) / cfg["prior_sd"]
    assert field.error(shifted) == pytest.approx(np.log(1.1), rel=1e-12)
    assert op.n_params == cfg["nz"] and blocks.shape == (cfg["nz"], nb)


def test_bad_block_count_is_a_clear_error(s07):
    module, cfg = s07
    with pytest.raises(ValueError, match=r"nz .* must be a multiple of n_blocks"):
        module._problem(cfg | {"n_blocks": 3})


def test_summary_counts_basins_and_averages_coverage_only_where_converged():
    from bayesinv.studies.cycle_skipping import summary

    rows = [
        {"method": "continuation", "error": 0.01, "in_basin": True, "coverage_90": 0.75,
         "max_rhat": 1.002, "min_ess_bulk": 500.0, "seconds": 1.0},
        {"method": "continuation", "error": 0.2, "in_basin": False, "coverage_90": 0.0,
         "max_rhat": 1.5, "min_ess_bulk": 5.0, "seconds": 3.0},
        {"method": "single-band MAP", "error": 0.2, "in_basin": False,
         "coverage_90": float("nan"), "max_rhat": float("nan"), "min_ess_bulk": float("nan"),
         "seconds": 2.0},
    ]  # fmt: skip
    table = {r["method"]: r for r in summary(rows)}
    cont = table["continuation"]
    assert cont["true_basin"] == "1/2" and cont["coverage_90"] == 0.75
    assert cont["max_rhat"] == 1.002 and cont["min_ess_bulk"] == 500.0
    assert cont["mean_seconds"] == 2.0 and cont["median_error"] == pytest.approx(0.105)
    single = table["single-band MAP"]
    assert single["true_basin"] == "0/1" and single["coverage_90"] == "—"
    assert table["single-band NUTS"]["true_basin"] == "0/0"
