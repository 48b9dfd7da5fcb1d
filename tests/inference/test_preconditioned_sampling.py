"""NUTS in the coordinates of a Gaussian guess, draws under the model's own names."""

import numpy as np
import pymc as pm
import pytest

from bayesinv.inference import sample_preconditioned
from bayesinv.inference.preconditioning import (
    Z_NAME,
    Preconditioner,
    hessian_preconditioner,
    unconstrained_layout,
)
from bayesinv.testing import check_gaussian_posterior

SIGMA = 0.2


@pytest.fixture
def problem(rng):
    # badly scaled data directions: 3 to 0.05 in the prior's units
    G = rng.standard_normal((6, 4)) * np.array([3.0, 1.0, 0.3, 0.05])
    d = rng.standard_normal(6)
    with pm.Model(coords={"k": np.arange(4)}) as model:
        th = pm.Normal("th", 0.0, 1.0, dims="k")
        pm.Normal("y", pm.math.dot(G, th), SIGMA, observed=d)
    prec = np.eye(4) + G.T @ G / SIGMA**2
    cov = np.linalg.inv(prec)
    return model, cov @ G.T @ d / SIGMA**2, cov


def _laplace_of(model, n):
    fn = model.logp_dlogp_function(ravel_inputs=True, mode="NUMBA")
    fn.set_extra_values({})
    pre, _ = hessian_preconditioner(fn, np.zeros(n), unconstrained_layout(model), random_seed=0)
    return pre


def _laplace(model):
    return _laplace_of(model, 4)


def test_draws_look_like_draws_of_the_model_and_match_the_closed_form(problem):
    model, mean, cov = problem
    tree = sample_preconditioned(
        model, _laplace(model), draws=500, tune=300, chains=2, random_seed=1
    )
    post = tree["posterior"]
    assert Z_NAME not in post.data_vars
    assert post["th"].dims == ("chain", "draw", "k")
    np.testing.assert_array_equal(
        tree["observed_data"]["y"].values, model.rvs_to_values[model["y"]].data
    )
    n_div = int(tree["sample_stats"]["diverging"].sum())
    check_gaussian_posterior(post["th"].values, mean, cov, n_divergent=n_div)
    # negative control: the same draws against a posterior shifted by one sd fail
    shifted = mean + np.sqrt(np.diag(cov))
    bad = check_gaussian_posterior(
        post["th"].values, shifted, cov, n_divergent=n_div, raise_error=False
    )
    assert not bad.passed
    # the guess is the exact posterior here: the sampler takes few steps per draw
    assert float(tree["sample_stats"]["n_steps"].mean()) < 8


def test_a_preconditioner_of_another_model_is_refused(problem):
    model, *_ = problem
    other = Preconditioner(np.zeros(3), np.ones(3), np.zeros((3, 0)), [], (("a", (3,)),))
    with pytest.raises(ValueError, match="precondition: the preconditioner was built for"):
        sample_preconditioned(model, other, draws=10, tune=10, chains=1, random_seed=0)


def test_var_names_restrict_the_stored_variables_and_the_seed_fixes_the_draws(rng):
    G = rng.standard_normal((5, 3))
    d = rng.standard_normal(5)
    with pm.Model() as model:
        th = pm.Normal("th", 0.0, 1.0, shape=3)
        pm.Deterministic("pred", pm.math.dot(G, th))
        pm.Deterministic("total", th.sum())
        pm.Normal("y", pm.math.dot(G, th), SIGMA, observed=d)
    guess = _laplace_of(model, 3)
    runs = [
        sample_preconditioned(
            model,
            guess,
            draws=20,
            tune=20,
            chains=1,
            random_seed=3,
            var_names=["th", "total"],
            save_warmup=True,
        )
        for _ in range(2)
    ]
    assert set(runs[0]["posterior"].data_vars) == {"th", "total"}
    assert set(runs[0]["warmup_posterior"].data_vars) == {"th", "total"}
    assert runs[0]["warmup_posterior"]["th"].sizes["draw"] == 20
    np.testing.assert_array_equal(
        runs[0]["posterior"]["th"].values, runs[1]["posterior"]["th"].values
    )
    np.testing.assert_allclose(
        runs[0]["posterior"]["total"].values, runs[0]["posterior"]["th"].values.sum(-1)
    )
