"""SMC with unphysical regions (NaN log-likelihood) and with custom initial values.

Physics operators answer NaN for a model they cannot simulate (e.g. beyond a wave scheme's
stability limit). There the posterior is zero: SMC must give such particles zero weight and
reject such proposals. PyMC's own kernels do not (the negative control): a NaN particle makes
the importance-weight ESS NaN and the run fails (or ends the tempering in one stage).
"""

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
from scipy import stats

from bayesinv.inference.smc import sample_smc

Y, SIGMA, LIMIT = 0.8, 0.5, 1.0


def truncated_model(initval=None):
    """x ~ N(0, 1), y ~ N(x, σ); the 'physics' is NaN for x > LIMIT (posterior truncated)."""
    with pm.Model() as model:
        x = pm.Normal("x", 0.0, 1.0, initval=initval)
        mu = pt.switch(x > LIMIT, np.nan, x)
        pm.Normal("y", mu, SIGMA, observed=Y)
    return model


def exact():
    """Mean and sd of the posterior N(m, s) truncated to x <= LIMIT."""
    s2 = 1.0 / (1.0 + 1.0 / SIGMA**2)
    m, s = s2 * Y / SIGMA**2, np.sqrt(s2)
    dist = stats.truncnorm(-np.inf, (LIMIT - m) / s, loc=m, scale=s)
    return dist.mean(), dist.std()


def test_nan_likelihood_is_rejected_and_the_truncated_posterior_recovered():
    dt = sample_smc(truncated_model(), draws=2000, chains=2, random_seed=3)
    x = dt["posterior"]["x"].values.ravel()
    assert np.all(x <= LIMIT)
    mean, sd = exact()
    assert abs(x.mean() - mean) < 4 * sd / np.sqrt(x.size / 4)  # particles: ESS ~ N/4 or more
    assert abs(x.std() - sd) < 0.1 * sd
    assert np.all(dt["sample_stats"]["n_stages"].values >= 2)


def test_negative_control_pymc_kernel_lets_the_nan_end_tempering():
    from pymc.smc.kernels import IMH

    from bayesinv.inference import _smc_kernels

    with truncated_model(), pytest.raises(ValueError, match="NaN"):
        pm.sample_smc(draws=500, chains=1, random_seed=3, kernel=IMH, progressbar=False,
                      compute_convergence_checks=False)  # fmt: skip
    assert _smc_kernels.nan_rejecting(IMH) is _smc_kernels.IMH
    assert _smc_kernels.nan_rejecting(object) is object


def test_custom_initial_values_do_not_collapse_the_population():
    dt = sample_smc(truncated_model(initval=0.3), draws=500, chains=1, random_seed=4)
    x = dt["posterior"]["x"].values.ravel()
    assert np.unique(x).size > 50
    assert abs(x.std() - exact()[1]) < 0.2 * exact()[1]
    stats = dt["sample_stats"]  # one chain: PyMC lays its stages along "chain"; ours do not
    assert stats["beta"].shape[0] == 1 and int(stats["n_stages"].values[0]) >= 2
    beta = stats["beta"].values[0]
    assert beta[int(stats["n_stages"].values[0]) - 1] == 1.0 and np.all(np.diff(beta) > 0)
