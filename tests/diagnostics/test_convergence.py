import arviz as az
import numpy as np
import pytest

from bayesinv.diagnostics.convergence import Thresholds, convergence_report, parameter_table


def make_tree(rng, *, shift=0.0, diverging=0, energy_rho=0.0, chains=4, draws=1000):
    a = rng.normal(size=(chains, draws))
    b = rng.normal(size=(chains, draws, 2, 3))
    b[0] += shift  # chain 0 stuck in another place
    e = rng.normal(size=(chains, draws))
    for i in range(1, draws):  # AR(1) energy: strongly autocorrelated energy lowers E-BFMI
        e[:, i] = energy_rho * e[:, i - 1] + np.sqrt(1 - energy_rho**2) * e[:, i]
    div = np.zeros((chains, draws), dtype=bool)
    div.flat[:diverging] = True
    return az.from_dict(
        {
            "posterior": {"a": a, "b": b},
            "sample_stats": {"diverging": div, "energy": e},
        },
        dims={"b": ["b_z", "b_x"]},
    )


def test_well_mixed_run_passes(rng):
    result = convergence_report(make_tree(rng))
    assert result.passed, result.verdict
    assert result.verdict.startswith("PASS: 7 parameters")
    assert result.n_divergent == 0 and result.bfmi.shape == (4,)
    assert result.max_rhat < 1.01 and result.min_ess_bulk > 400 and result.min_ess_tail > 400
    assert list(result.table.columns) == ["r_hat", "ess_bulk", "ess_tail"]
    assert len(result.table) == 7 and "b[1, 2]" in result.table.index


def test_stuck_chain_fails_on_rhat(rng):
    result = convergence_report(make_tree(rng, shift=3.0))
    assert not result.passed
    assert "R-hat" in result.verdict and "divergent" not in result.verdict
    # the worst rows are the shifted parameters, not the scalar a
    assert result.table.index[0].startswith("b[") and result.table["r_hat"].iloc[0] > 1.1
    # restricting to the unaffected variable passes
    assert convergence_report(make_tree(rng, shift=3.0), var_names="a").passed


def test_divergences_fail(rng):
    result = convergence_report(make_tree(rng, diverging=3))
    assert not result.passed and result.n_divergent == 3
    assert result.failures == ["3 divergent transition(s) (> 0)"]
    assert convergence_report(
        make_tree(rng, diverging=3), thresholds=Thresholds(max_divergences=5)
    ).passed


def test_low_bfmi_and_low_ess_fail(rng):
    result = convergence_report(make_tree(rng, energy_rho=0.95))
    assert not result.passed and "E-BFMI" in result.verdict
    short = convergence_report(make_tree(rng, draws=60))
    assert not short.passed and "bulk ESS" in short.verdict and "tail ESS" in short.verdict


def test_constant_draws_are_flagged_and_no_sample_stats_is_allowed(rng):
    idata = az.from_dict({"posterior": {"x": rng.normal(size=(2, 500)), "c": np.ones((2, 500))}})
    result = convergence_report(idata)
    assert not result.passed and "not defined" in result.verdict
    assert result.table.index[0] == "c"
    ok = convergence_report(idata, var_names=["x"])
    assert ok.passed and ok.n_divergent is None and ok.bfmi is None
    assert "divergences n/a" in ok.verdict


def test_parameter_table_matches_arviz(rng):
    idata = make_tree(rng)
    table = parameter_table(idata, ["b"])
    expected = az.rhat(idata, var_names=["b"])["b"].values.ravel()
    np.testing.assert_allclose(table["r_hat"].values, expected)


def test_bad_var_names(rng):
    with pytest.raises(ValueError, match="convergence_report: var_names \\['z'\\]"):
        convergence_report(make_tree(rng), var_names=["z"])
