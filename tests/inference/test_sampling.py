"""Sampled posteriors against the closed form for a linear-Gaussian problem."""

import numpy as np
import pymc as pm
import pytest

import bayesinv
from bayesinv.operators import MatrixOperator
from bayesinv.ops import forward
from bayesinv.testing import check_gaussian_posterior

PRIOR_SD = 2.0
NOISE_SD = 0.5


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(7)
    G = rng.standard_normal((12, 4))
    truth = rng.normal(0.0, PRIOR_SD, 4)
    data = G @ truth + rng.normal(0.0, NOISE_SD, 12)
    precision = G.T @ G / NOISE_SD**2 + np.eye(4) / PRIOR_SD**2
    cov = np.linalg.inv(precision)
    mean = cov @ G.T @ data / NOISE_SD**2
    return G, data, mean, cov


def build(op, data):
    with pm.Model() as model:
        m = pm.Normal("m", 0.0, PRIOR_SD, shape=op.n_params)
        pm.Normal("d", forward(op, m), NOISE_SD, observed=data)
    return model


class WrongGradient(MatrixOperator):
    """Forward is right; the adjoint (so the gradient of the likelihood) has the wrong sign."""

    def _vjp(self, m, dd):
        return -super()._vjp(m, dd)

    def _build_numba_kernels(self):
        kernels = super()._build_numba_kernels()
        vjp = kernels.vjp
        import numba

        @numba.njit
        def wrong_vjp(m, dd):
            return -vjp(m, dd)

        return kernels._replace(vjp=wrong_vjp)


def posterior_draws(idata):
    return idata["posterior"]["m"].values, int(idata["sample_stats"]["diverging"].sum())


@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_linear_gaussian_posterior_matches_closed_form(problem, sampler):
    G, data, mean, cov = problem
    idata = bayesinv.sample(
        build(MatrixOperator(G), data),
        draws=1000,
        tune=500,
        chains=2,
        random_seed=3,
        sampler=sampler,
    )
    draws, n_div = posterior_draws(idata)
    check_gaussian_posterior(draws, mean, cov, n_divergent=n_div)


def test_wrong_gradient_is_caught_by_the_same_check(problem):
    G, data, mean, cov = problem
    idata = bayesinv.sample(
        build(WrongGradient(G), data), draws=1000, tune=500, chains=2, random_seed=3
    )
    draws, n_div = posterior_draws(idata)
    result = check_gaussian_posterior(draws, mean, cov, n_divergent=n_div, raise_error=False)
    assert not result.passed


def test_same_seed_same_draws(problem):
    G, data, *_ = problem
    model = build(MatrixOperator(G), data)
    a = bayesinv.sample(model, draws=50, tune=50, chains=1, random_seed=11)
    b = bayesinv.sample(model, draws=50, tune=50, chains=1, random_seed=11)
    np.testing.assert_array_equal(a["posterior"]["m"].values, b["posterior"]["m"].values)


def test_generator_seed_is_accepted(problem):
    G, data, *_ = problem
    idata = bayesinv.sample(
        build(MatrixOperator(G), data),
        draws=20,
        tune=20,
        chains=1,
        random_seed=np.random.default_rng(1),
    )
    assert idata["posterior"]["m"].shape == (1, 20, 4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"random_seed": None}, "random_seed must be an integer >= 0"),
        ({"random_seed": 1, "sampler": "hmc"}, "sampler must be one of"),
        ({"random_seed": 1, "draws": 0}, "draws must be an integer >= 1"),
        ({"random_seed": 1, "chains": 1.5}, "chains must be an integer"),
        ({"random_seed": 1, "blas_threads": 0}, "blas_threads must be an integer >= 1"),
    ],
)
def test_bad_arguments(problem, kwargs, message):
    G, data, *_ = problem
    with pytest.raises(ValueError, match=message):
        bayesinv.sample(build(MatrixOperator(G), data), **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"step": None}, r"unknown argument\(s\) 'step'"),
        ({"target_acept": 0.9}, "did you mean 'target_accept'"),
        ({"nuts_sampler_kwargs": {}}, r"nuts=\{\.\.\.\}"),
    ],
)
def test_unknown_arguments_are_refused_by_name(problem, kwargs, message):
    G, data, *_ = problem
    with pytest.raises(TypeError, match=message):
        bayesinv.sample(build(MatrixOperator(G), data), random_seed=1, **kwargs)


def test_compiled_model_gives_the_draws_of_the_model_and_reports_progress(problem):
    import io

    from bayesinv import _progress
    from bayesinv.inference.sampling import compile_model

    G, data, *_ = problem
    model = build(MatrixOperator(G), data)
    kwargs = dict(draws=300, tune=100, chains=2, random_seed=4)
    stream = io.StringIO()
    with _progress.reporting(stream, interval=0.0):
        direct = bayesinv.sample(model, **kwargs)
    compiled = compile_model(model)
    again = bayesinv.sample(compiled, **kwargs)
    np.testing.assert_array_equal(direct["posterior"]["m"].values, again["posterior"]["m"].values)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("bayesinv: sampling (2 chains): started")
    assert lines[-1].endswith("(done)")
    other = bayesinv.sample(compiled, **(kwargs | {"random_seed": 5}))
    assert not np.array_equal(other["posterior"]["m"].values, direct["posterior"]["m"].values)


def test_compiled_model_with_new_data_is_not_recompiled():
    from bayesinv.inference.sampling import compile_model

    with pm.Model() as model:
        y = pm.Data("y", np.zeros(20))
        mu = pm.Normal("mu", 0.0, 10.0)
        pm.Normal("obs", mu, 1.0, observed=y)
    compiled = compile_model(model)
    shifted = compiled.with_data(y=np.full(20, 3.0))
    kwargs = dict(draws=300, tune=200, chains=1, random_seed=2, progressbar=False)
    at_zero = bayesinv.sample(compiled, **kwargs)
    at_three = bayesinv.sample(shifted, **kwargs)
    assert abs(float(at_zero["posterior"]["mu"].mean())) < 0.7
    assert abs(float(at_three["posterior"]["mu"].mean()) - 3.0) < 0.7
    # the model's own data would mislabel the replaced data: those groups are left out
    assert "observed_data" in at_zero.children and "observed_data" not in at_three.children
    with pytest.raises(ValueError, match="set by compile_model"):
        bayesinv.sample(compiled, var_names=["mu"], **kwargs)
