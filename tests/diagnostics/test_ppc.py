import arviz as az
import numpy as np
import pytest

from bayesinv.diagnostics.ppc import (
    modality_loo,
    modality_names,
    plot_ppc,
    posterior_predictive_check,
    ppc_table,
)


def synthetic(rng, shift=0.0, n=200, draws=2000):
    """Predictive draws N(0, 1) per datum; data from the same law, shifted by ``shift``."""
    pred = rng.normal(size=(2, draws // 2, n))
    y = rng.normal(size=n) + shift
    return az.from_dict(
        {"posterior_predictive": {"g": pred}, "observed_data": {"g": y}},
        dims={"g": ["g_obs"]},
        coords={"g_obs": np.linspace(0.0, 1.0, n)},
    )


def test_calibrated_predictive_passes_the_checks(rng):
    check = posterior_predictive_check(synthetic(rng))["g"]
    s = check.summary()
    assert s["n_data"] == 200
    assert abs(s["coverage_90"] - 0.9) < 0.06 and abs(s["coverage_50"] - 0.5) < 0.1
    assert abs(s["rms_z"] - 1.0) < 0.15 and s["frac_extreme"] < 0.1
    assert 0.01 < s["p_value"] < 0.99
    assert check.x_label == "g_obs" and check.x[-1] == 1.0
    np.testing.assert_allclose(check.z, (check.observed - check.mean) / check.sd)


def test_shifted_data_fail_the_checks(rng):
    s = posterior_predictive_check(synthetic(rng, shift=3.0))["g"].summary()
    assert s["p_value"] == 0.0 and s["coverage_90"] < 0.5 and s["rms_z"] > 2.5


def test_two_modalities_misfit_shows_in_its_own_row(two_modality_run):
    _, idata = two_modality_run
    assert modality_names(idata) == ["a", "b"]
    table = ppc_table(posterior_predictive_check(idata))
    assert list(table.index) == ["a", "b"]
    assert table.loc["a", "p_value"] > 0.01
    assert table.loc["b", "p_value"] < 0.01 and table.loc["b", "max_abs_z"] > 5


def test_loo_per_modality_flags_the_outlier(two_modality_run):
    model, idata = two_modality_run
    loo = modality_loo(idata, model)
    assert list(loo.index) == ["a", "b"]
    assert loo.loc["a", "n_bad_k"] == 0 and loo.loc["a", "warning"] == ""
    assert loo.loc["b", "n_bad_k"] >= 1 and "unreliable" in loo.loc["b", "warning"]
    assert loo.loc["a", "n_data"] == 20
    # same numbers as ArviZ on the full log-likelihood
    import pymc as pm

    tree = idata.copy()
    tree["log_likelihood"] = pm.compute_log_likelihood(
        idata, model=model, extend_inferencedata=False, progressbar=False
    )
    with pytest.warns(UserWarning):
        ref = az.loo(tree, var_name="b")
    assert loo.loc["b", "elpd_loo"] == pytest.approx(ref.elpd)
    assert "log_likelihood" not in idata.children  # input left unchanged


def test_plot_ppc_writes_png(two_modality_run, tmp_path):
    _, idata = two_modality_run
    check = posterior_predictive_check(idata, "a")["a"]
    path = plot_ppc(check, tmp_path / "ppc_a.png", truth=np.ones(20))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors(rng, two_modality_run):
    _, idata = two_modality_run
    with pytest.raises(ValueError, match="var_names \\['c'\\] are not observed"):
        posterior_predictive_check(idata, ["c"])
    with pytest.raises(ValueError, match="no 'prior_predictive' group"):
        posterior_predictive_check(idata, group="prior_predictive")
    with pytest.raises(ValueError, match="pass the model"):
        modality_loo(idata)
    bad = az.from_dict(
        {
            "posterior_predictive": {"g": rng.normal(size=(1, 10, 3))},
            "observed_data": {"g": np.ones(4)},
        }
    )
    with pytest.raises(ValueError, match="data shape"):
        posterior_predictive_check(bad)


def _with_coords(rng, n, **coords):
    tree = synthetic(rng, n=n)
    tree["observed_data"] = (
        tree["observed_data"]
        .to_dataset()
        .assign_coords({k: ("g_obs", v) for k, v in coords.items()})
    )
    return tree


def test_data_are_placed_at_station_position(rng):
    x = np.linspace(100.0, 0.0, 30)  # stations listed right to left
    check = posterior_predictive_check(_with_coords(rng, 30, g_x=x, g_z=np.zeros(30)))["g"]
    assert check.x_label == "station x (m)" and not check.x_scattered
    np.testing.assert_array_equal(check.x, x)
    # a borehole: x constant, depth varies
    z = np.linspace(5.0, 50.0, 30)
    check = posterior_predictive_check(_with_coords(rng, 30, g_x=np.full(30, 7.0), g_z=z))["g"]
    assert check.x_label == "station depth z (m)"
    np.testing.assert_array_equal(check.x, z)


def test_rays_are_placed_at_source_receiver_distance(rng, tmp_path):
    sx, sz = np.zeros(12), np.repeat([10.0, 20.0, 30.0], 4)
    rx, rz = np.full(12, 40.0), np.tile([5.0, 15.0, 25.0, 35.0], 3)
    tree = _with_coords(rng, 12, g_source_x=sx, g_source_z=sz, g_receiver_x=rx, g_receiver_z=rz)
    check = posterior_predictive_check(tree)["g"]
    assert check.x_label == "source-receiver distance (m)" and check.x_scattered
    np.testing.assert_allclose(check.x, np.hypot(rx - sx, rz - sz))
    assert plot_ppc(check, tmp_path / "rays.png").read_bytes()[:4] == b"\x89PNG"
    # receivers alone: their varying coordinate
    only = _with_coords(rng, 12, g_receiver_x=rx, g_receiver_z=rz)
    assert posterior_predictive_check(only)["g"].x_label == "receiver depth z (m)"


def test_without_positions_the_index_or_dim_coordinate_is_used(rng):
    assert posterior_predictive_check(synthetic(rng))["g"].x_label == "g_obs"
    tree = az.from_dict(
        {
            "posterior_predictive": {"g": rng.normal(size=(1, 50, 4))},
            "observed_data": {"g": np.ones(4)},
        }
    )
    check = posterior_predictive_check(tree)["g"]
    assert check.x_label == "datum index" and check.x.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_loo_counts_data_that_do_not_depend_on_the_parameters_exactly(rng):
    # PSIS is undefined for a datum whose log-likelihood is the same in every draw (ArviZ
    # raises); its exact leave-one-out value is that log-likelihood
    ll = rng.normal(-1.0, 0.3, size=(2, 200, 6))
    ll[:, :, [0, 3]] = [-0.7, -2.1]
    mu = rng.normal(size=(2, 200))  # one posterior: ArviZ takes the relative efficiency from it
    tree = az.from_dict({"posterior": {"mu": mu}, "log_likelihood": {"y": ll}})
    with pytest.raises(ValueError, match="tail values are the same"):
        az.loo(tree, var_name="y")  # the negative control: ArviZ alone fails
    loo = modality_loo(tree)
    varying = az.from_dict(
        {
            "posterior": {"mu": mu},
            "log_likelihood": {"y": ll[:, :, [1, 2, 4, 5]]},
        }
    )
    ref = az.loo(varying, var_name="y", pointwise=True)
    assert loo.loc["y", "n_data"] == 6 and loo.loc["y", "n_constant"] == 2
    assert loo.loc["y", "elpd_loo"] == pytest.approx(ref.elpd - 0.7 - 2.1)
    assert loo.loc["y", "p_loo"] == pytest.approx(ref.p)
    elpd_i = np.r_[-0.7, ref.elpd_i.values[:2], -2.1, ref.elpd_i.values[2:]]
    assert loo.loc["y", "se"] == pytest.approx(np.sqrt(6 * np.var(elpd_i, ddof=1)))
    only_constant = az.from_dict(
        {"posterior": {"mu": mu}, "log_likelihood": {"y": ll[:, :, [0, 3]]}}
    )
    row = modality_loo(only_constant).loc["y"]
    assert row["elpd_loo"] == pytest.approx(-2.8) and row["p_loo"] == 0.0 and row["n_bad_k"] == 0


def test_loo_counts_round_off_constant_data_exactly_and_only_those(rng):
    # a log-likelihood that varies by round-off only (traces before the first arrival of a
    # filtered wave) is constant for LOO; one that varies by 1e-6 is not
    ll = rng.normal(-1.0, 0.3, size=(2, 200, 4))
    ll[:, :, 0] = -0.7 + 1e-14 * rng.standard_normal((2, 200))
    ll[:, :, 1] = -2.1 + 1e-6 * rng.standard_normal((2, 200))
    mu = rng.normal(size=(2, 200))
    tree = az.from_dict({"posterior": {"mu": mu}, "log_likelihood": {"y": ll}})
    row = modality_loo(tree).loc["y"]
    assert row["n_constant"] == 1
    ref = az.loo(
        az.from_dict({"posterior": {"mu": mu}, "log_likelihood": {"y": ll[:, :, 1:]}}),
        var_name="y",
    )
    assert row["elpd_loo"] == pytest.approx(ref.elpd - 0.7, abs=1e-9)
