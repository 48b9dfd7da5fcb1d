"""SMC recovers both modes of a sign-ambiguous posterior; NUTS started in one mode does not."""

import warnings

import numpy as np
import pymc as pm
import pytest
from scipy import stats

import bayesinv
from bayesinv.inference.smc import sample_smc

Y = np.array([1.5, 1.2, 1.4])
SIGMA = 0.3
PRIOR_MU, PRIOR_SD = 0.5, 1.0


def bimodal_model():
    """y ~ N(θ², σ): θ and -θ fit equally; the prior N(0.5, 1) favours the positive mode."""
    with pm.Model() as model:
        theta = pm.Normal("theta", PRIOR_MU, PRIOR_SD)
        pm.Normal("y", theta**2, SIGMA, observed=Y)
    return model


def exact_positive_mass():
    theta = np.linspace(-4.0, 4.0, 200001)
    logp = stats.norm.logpdf(theta, PRIOR_MU, PRIOR_SD) + stats.norm.logpdf(
        Y[:, None], theta**2, SIGMA
    ).sum(axis=0)
    w = np.exp(logp - logp.max())
    return float(w[theta > 0].sum() / w.sum())


@pytest.fixture(scope="module")
def smc_run():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = sample_smc(bimodal_model(), draws=1000, chains=4, random_seed=11)
    return idata, caught


def test_smc_recovers_both_modes_with_the_right_weights(smc_run):
    idata, caught = smc_run
    assert not [w for w in caught if "object mode" in str(w.message).lower()]
    theta = idata["posterior"]["theta"].values
    assert theta.shape == (4, 1000)
    p_exact = exact_positive_mass()
    assert 0.7 < p_exact < 0.85  # a non-trivial split
    p_chain = (theta > 0).mean(axis=1)
    # resampling correlates particles: allow 5 binomial standard errors of half the draws
    se = np.sqrt(p_exact * (1 - p_exact) / (theta.size / 2))
    assert abs(p_chain.mean() - p_exact) < 5 * se, (p_chain, p_exact)
    # each mode sits where the likelihood says: |θ| ≈ sqrt(mean y)
    assert np.median(theta[theta > 0]) == pytest.approx(np.sqrt(Y.mean()), abs=0.1)
    assert np.median(theta[theta < 0]) == pytest.approx(-np.sqrt(Y.mean()), abs=0.1)


def test_nuts_started_in_one_mode_misses_the_other():
    idata = bayesinv.sample(
        bimodal_model(),
        draws=500,
        tune=300,
        chains=2,
        random_seed=11,
        sampler="pymc",
        jitter=False,
        initvals={"theta": -1.1},
    )
    theta = idata["posterior"]["theta"].values
    assert (theta > 0).mean() < 0.01 < 0.7 < exact_positive_mass()


def test_tempering_diagnostics_are_stored(smc_run, tmp_path):
    idata, _ = smc_run
    st = idata["sample_stats"]
    assert st["beta"].dims == ("chain", "stage")
    n = st["n_stages"].values
    assert np.all(n >= 2)
    for c in range(4):
        beta = st["beta"].values[c, : n[c]]
        assert np.all(np.diff(beta) > 0) and beta[-1] == 1.0 and 0 < beta[0] < 1
    assert np.all(np.isfinite(st["log_marginal_likelihood"].values))
    assert idata.attrs["inference"] == "smc" and idata.attrs["random_seed"] == 11
    from bayesinv.io import write_datatree

    write_datatree(idata, tmp_path / "smc.nc")  # numeric stats: writes to NetCDF


def test_same_seed_same_draws_and_bad_arguments():
    a = sample_smc(bimodal_model(), draws=100, chains=1, random_seed=5)
    b = sample_smc(bimodal_model(), draws=100, chains=1, random_seed=5)
    np.testing.assert_array_equal(a["posterior"]["theta"].values, b["posterior"]["theta"].values)
    with pytest.raises(ValueError, match="random_seed must be an int"):
        sample_smc(bimodal_model(), random_seed=None)
    with pytest.raises(ValueError, match="draws must be an integer >= 1"):
        sample_smc(bimodal_model(), draws=0, random_seed=1)
