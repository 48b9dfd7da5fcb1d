import arviz as az
import numpy as np
import pytest

from bayesinv.diagnostics.convergence import (
    INDEPENDENT_DRAWS,
    Thresholds,
    convergence_report,
    draws_are_independent,
    helper_variables,
    parameter_table,
)


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
    assert len(result.table) == 7 and "b[z=1, x=2]" in result.table.index


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


def test_internal_helpers_are_left_out_in_favour_of_the_field(rng):
    """A stuck ``density_raw`` direction that does not reach ``density`` is not ranked."""
    raw = rng.normal(size=(4, 1000, 6))
    raw[0, :, 5] += 4.0  # chain 0 stuck in a direction the field does not see
    density = raw[..., :4].reshape(4, 1000, 2, 2)
    idata = az.from_dict(
        {
            "posterior": {
                "density": density,
                "density_raw": raw,
                "sigma": np.exp(rng.normal(size=(4, 1000))),
                "sigma_log__": rng.normal(size=(4, 1000)),
                "orphan_raw": rng.normal(size=(4, 1000, 2)),
            }
        },
        dims={"density": ["density_z", "density_x"], "density_raw": ["density_coeff"]},
    )
    assert helper_variables(idata["posterior"].data_vars) == {
        "density_raw": "density",
        "sigma_log__": "sigma",
    }
    result = convergence_report(idata)
    assert result.passed, result.verdict
    assert result.left_out == {"density_raw": "density", "sigma_log__": "sigma"}
    labels = list(parameter_table(idata).index)
    assert "density[z=1, x=0]" in labels and "density_raw[coeff=5] (internal)" in labels
    assert not any("density_raw" in i or "__" in i for i in result.table.index)
    # a helper feeding nothing in the posterior is kept and marked
    assert "orphan_raw[1] (internal)" in labels and result.n_parameters == 4 + 1 + 2
    # asked for explicitly, the helper is checked and fails
    assert not convergence_report(idata, var_names=["density_raw"]).passed


def test_laplace_draws_get_no_rhat_verdict(rng):
    # independent draws, but two "chains" with different means: an MCMC verdict would fail
    draws = rng.normal(size=(2, 500, 3)) + np.array([0.0, 3.0])[:, None, None]
    idata = az.from_dict({"posterior": {"m": draws}})
    assert not convergence_report(idata).passed
    idata.attrs.update({"inference": "gauss_newton_laplace", "converged": 1})
    assert draws_are_independent(idata)
    result = convergence_report(idata)
    assert result.passed and result.draws == "independent"
    assert INDEPENDENT_DRAWS in result.verdict and "R-hat" in result.verdict
    assert result.table.empty and np.isnan(result.max_rhat) and result.n_parameters == 3
    idata.attrs["converged"] = 0
    failed = convergence_report(idata)
    assert not failed.passed and "did not converge" in failed.verdict
