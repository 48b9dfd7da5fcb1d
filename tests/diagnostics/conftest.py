import numpy as np
import pymc as pm
import pytest

import bayesinv


@pytest.fixture(scope="module")
def two_modality_run():
    """A tiny two-modality model; modality ``b`` holds a gross outlier."""
    rng = np.random.default_rng(3)
    ya = rng.normal(1.0, 1.0, 20)
    yb = rng.normal(-1.0, 0.5, 6)
    yb[0] = 8.0
    coords = {"a_obs": np.linspace(0.0, 95.0, 20), "b_obs": np.arange(6)}
    with pm.Model(coords=coords) as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        nu = pm.Normal("nu", 0.0, 5.0)
        pm.Normal("a", mu, 1.0, observed=ya, dims="a_obs")
        pm.Normal("b", nu, 0.5, observed=yb, dims="b_obs")
    idata = bayesinv.sample(model, draws=500, tune=300, chains=2, random_seed=1)
    with model:
        pm.sample_posterior_predictive(
            idata, extend_inferencedata=True, random_seed=1, progressbar=False
        )
    return model, idata
