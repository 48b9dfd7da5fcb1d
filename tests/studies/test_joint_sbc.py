"""The SBC study model: built from the joint model, calibrated by NUTS; negative control fails."""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from bayesinv.calibration.runner import simulation_based_calibration
from bayesinv.inference.replicates import dask_client
from bayesinv.studies.joint_sbc import MODALITIES, JointSBCStudy

STUDY = JointSBCStudy()


def run(study, n_sims, seed, **kwargs):
    return simulation_based_calibration(
        study.simulate,
        study.fit,
        n_sims,
        random_seed=seed,
        var_names=list(study.var_names),
        bins=4,
        **kwargs,
    )


def test_models_are_the_joint_model_and_compile_without_object_mode():
    model = STUDY.generative_model()
    assert {"density", "gravity_sigma", "muography_sigma", "gravity", "muography"} <= set(
        model.named_vars
    )
    fitted, shared = STUDY.fitted_model()
    assert shared == {m: f"{m}_observed" for m in MODALITIES}
    assert {v.name for v in fitted.free_RVs} == {
        "density_z_score",
        "gravity_sigma",
        "muography_sigma",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted.compile_logp(mode="NUMBA")
        fitted.compile_dlogp(mode="NUMBA")
    control, _ = JointSBCStudy(fixed_noise_scale=0.1).fitted_model()
    assert {v.name for v in control.free_RVs} == {"density_z_score"}


def test_simulate_is_seeded_and_draws_data_from_the_truth():
    ops, errors = STUDY.operators(), STUDY.errors()
    t1, d1 = STUDY.simulate(np.random.default_rng(5))
    t2, d2 = STUDY.simulate(np.random.default_rng(5))
    for key in t1:
        np.testing.assert_array_equal(t1[key], t2[key])
    for m in MODALITIES:
        np.testing.assert_array_equal(d1[m], d2[m])
    assert t1["density"].shape == (STUDY.nz, STUDY.nx)
    rng = np.random.default_rng(6)
    z = {m: [] for m in MODALITIES}
    for _ in range(60):
        truth, data = STUDY.simulate(rng)
        for m in MODALITIES:
            predicted = ops[m].forward(truth["density"].ravel())
            z[m].append((data[m] - predicted) / (truth[f"{m}_sigma"] * errors[m]))
    for m in MODALITIES:
        residuals = np.concatenate(z[m])  # standard normal if data = F(truth) + noise
        assert abs(residuals.mean()) < 0.1 and abs(residuals.std() - 1) < 0.08, m


def test_reported_errors_are_relative_to_the_prior_predictive_spread():
    rng = np.random.default_rng(1)
    op = STUDY.operators()["gravity"]
    spread = np.std([op.forward(rng.normal(0, STUDY.density_sd, 32)) for _ in range(4000)], 0)
    np.testing.assert_allclose(STUDY.errors()["gravity"], 0.2 * spread, rtol=0.06)


def test_threaded_replicates_give_the_serial_ranks():
    # the compiled models are shared by threads: drawing must stay deterministic
    serial = run(STUDY, 6, seed=12)
    with ThreadPoolExecutor(3) as pool:
        threaded = run(STUDY, 6, seed=12, map=pool.map)
    for name in serial.ranks:
        np.testing.assert_array_equal(serial.ranks[name], threaded.ranks[name])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nx": 0}, "nx must be an integer >= 1"),
        ({"tune": -1}, "tune must be an integer >= 0"),
        ({"relative_error": 0.0}, "relative_error must be a finite number > 0"),
        ({"fixed_noise_scale": -1.0}, "fixed_noise_scale must be a finite number > 0"),
    ],
)
def test_bad_study_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        JointSBCStudy(**kwargs)


@pytest.mark.slow
def test_reduced_study_is_calibrated():
    # 40 replicates x 34 parameters (32 cells, 2 noise scale factors), one short NUTS chain
    result = run(STUDY, 40, seed=20261121)
    assert result.passed, result.verdict
    assert len(result.table) == 34
    assert abs(result.table["rank_sd"].mean() - 1 / np.sqrt(12)) < 0.02


@pytest.mark.slow
def test_negative_control_noise_fixed_too_small_is_rejected():
    result = run(JointSBCStudy(fixed_noise_scale=0.1), 40, seed=20261121)
    assert not result.passed, result.verdict
    assert result.table["rejected"].sum() >= 5
    assert result.table["rank_sd"].mean() > 0.35  # U-shaped ranks: overconfident


@pytest.mark.slow
def test_serial_and_local_cluster_give_the_same_ranks(tmp_path):
    serial = run(STUDY, 4, seed=9)
    with dask_client(n_workers=2) as client:
        parallel = run(STUDY, 4, seed=9, client=client, results_file=tmp_path / "r.json")
    assert serial.seeds == parallel.seeds
    for name in serial.ranks:
        np.testing.assert_array_equal(serial.ranks[name], parallel.ranks[name])
    assert (tmp_path / "r.json").exists()
