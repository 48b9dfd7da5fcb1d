"""pCN and Laplace-preconditioned pCN against closed-form posteriors, with negative controls."""

import numpy as np
import pymc as pm
import pytest

from bayesinv.calibration import simulation_based_calibration
from bayesinv.diagnostics import convergence_report
from bayesinv.inference.mcmc import GaussianPriorTarget, sample_pcn
from bayesinv.inference.mcmc import pcn as pcn_module
from bayesinv.operators import MatrixOperator
from bayesinv.ops import forward
from bayesinv.testing import check_gaussian_posterior

PRIOR_SD = 2.0
NOISE_SD = 0.5


def closed_form(G, data, prior_sd=PRIOR_SD, noise_sd=NOISE_SD):
    """Exact posterior mean and covariance of the linear-Gaussian problem."""
    precision = G.T @ G / noise_sd**2 + np.eye(G.shape[1]) / prior_sd**2
    cov = np.linalg.inv(precision)
    return cov @ G.T @ data / noise_sd**2, cov


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(7)
    G = rng.standard_normal((12, 4))
    data = G @ rng.normal(0.0, PRIOR_SD, 4) + rng.normal(0.0, NOISE_SD, 12)
    return G, data, *closed_form(G, data)


def draws_of(tree, name="m"):
    return tree["posterior"][name].values


def test_pcn_matches_closed_form_from_a_likelihood_callable(problem):
    G, data, mean, cov = problem

    def loglik(x):  # any Python code, no gradient
        return -0.5 * np.sum(((G @ x - data) / NOISE_SD) ** 2)

    target = GaussianPriorTarget(loglik, prior_sd=PRIOR_SD, n=4)
    tree = sample_pcn(target, draws=1500, tune=500, chains=4, thin=4, random_seed=1)
    check_gaussian_posterior(draws_of(tree), mean, cov)
    accept = float(tree["sample_stats"]["accept"].mean())
    assert 0.15 < accept < 0.35  # adapted to target_accept = 0.25
    assert convergence_report(tree).passed


def test_random_walk_with_the_pcn_rule_fails_the_same_check(problem, monkeypatch):
    """Negative control: a proposal that does not preserve the prior, accepted by ψ = ℓ."""
    G, data, mean, cov = problem
    monkeypatch.setattr(
        pcn_module.PCNKernel,
        "propose",
        staticmethod(lambda z, rng, beta: z + beta * rng.standard_normal(z.size)),
    )
    target = GaussianPriorTarget(
        forward=lambda x: G @ x, data=data, noise_sd=NOISE_SD, n=4, prior_sd=PRIOR_SD
    )
    tree = sample_pcn(target, draws=1500, tune=500, chains=4, thin=4, random_seed=1)
    assert not check_gaussian_posterior(draws_of(tree), mean, cov, raise_error=False).passed


def test_laplace_pcn_matches_closed_form_and_its_correction_matters(problem, monkeypatch):
    G, data, mean, cov = problem
    # the Laplace reference is centred on purpose a little off the MAP: the sampler must
    # still be exact, and dropping ψ's correction must show
    target = GaussianPriorTarget(
        forward=MatrixOperator(G), data=data, noise_sd=NOISE_SD, prior_sd=PRIOR_SD
    )
    from bayesinv.inference import gauss_newton_laplace

    fit = gauss_newton_laplace(
        MatrixOperator(G),
        data,
        prior_mean=0.0,
        prior_cov=PRIOR_SD**2,
        noise_sd=NOISE_SD * 1.5,
        random_seed=0,
        draws=1,
        chains=1,
    )
    tree = sample_pcn(target, reference=fit, draws=1000, tune=300, chains=4, random_seed=2)
    check_gaussian_posterior(draws_of(tree), mean, cov)
    assert tree.attrs["reference"] == "laplace"
    # on this linear problem the exact Laplace reference is the posterior: steps of 1
    exact = sample_pcn(target, reference="laplace", draws=200, tune=200, chains=2, random_seed=2)
    assert float(exact["sample_stats"]["accept"].mean()) > 0.99

    monkeypatch.setattr(pcn_module.Reference, "correction", lambda self, x, z: 0.0)
    wrong = sample_pcn(
        target, reference=fit, draws=1000, tune=300, chains=4, random_seed=2, compiled=False
    )
    assert not check_gaussian_posterior(draws_of(wrong), mean, cov, raise_error=False).passed


def test_pcn_on_a_pymc_model_with_a_compiled_operator(problem):
    G, data, mean, cov = problem
    with pm.Model() as model:
        m = pm.Normal("m", 0.0, PRIOR_SD, shape=4)
        pm.Normal("d", forward(MatrixOperator(G), m), NOISE_SD, observed=data)
    target = GaussianPriorTarget.from_model(model)
    np.testing.assert_allclose(target.prior_factor, PRIOR_SD)
    x = np.arange(4.0)
    expected = -0.5 * np.sum(((G @ x - data) / NOISE_SD) ** 2) - 12 * np.log(
        NOISE_SD * np.sqrt(2 * np.pi)
    )
    assert target.log_likelihood(x) == pytest.approx(expected, rel=1e-9)
    tree = sample_pcn(model, draws=1000, tune=500, chains=2, thin=4, random_seed=3)
    check_gaussian_posterior(draws_of(tree), mean, cov)
    assert "observed_data" in tree.children
    assert tree["posterior"]["m"].dims == ("chain", "draw", "m_dim_0")


def test_mvnormal_prior_is_read_from_the_model(problem):
    G, data, _, _ = problem
    prior_cov = np.array([[4.0, 1.0, 0, 0], [1.0, 2.0, 0, 0], [0, 0, 1.0, 0.5], [0, 0, 0.5, 3.0]])
    with pm.Model() as model:
        a = pm.MvNormal("a", np.ones(4), prior_cov)
        pm.Normal("d", pm.math.dot(G, a), NOISE_SD, observed=data)
    target = GaussianPriorTarget.from_model(model, mode=None)
    np.testing.assert_allclose(target.prior_cov(), prior_cov, rtol=1e-12)
    np.testing.assert_allclose(target.prior_mean, 1.0)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: pm.Normal("m", 0.0, pm.Normal("s", 1.0, 0.1), shape=2), "'m' depend on other"),
        (lambda: pm.LogNormal("m", 0.0, 1.0, shape=2), "'m' has a transform"),
        (lambda: pm.StudentT("m", nu=3, mu=0.0, sigma=1.0, shape=2), "'m' has prior StudentTRV"),
    ],
)
def test_non_gaussian_priors_are_refused_naming_the_variable(build, message):
    with pm.Model() as model:
        m = build()
        pm.Normal("d", m.sum(), 1.0, observed=[0.5])
    with pytest.raises(ValueError, match=message):
        GaussianPriorTarget.from_model(model)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"step_size": 0.0}, ValueError, "step_size"),
        ({"target_accept": 1.0}, ValueError, "target_accept"),
        ({"reference": "posterior"}, ValueError, "reference"),
        ({"draws": 0}, ValueError, "draws"),
        ({"random_seed": None}, ValueError, "random_seed"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    target = GaussianPriorTarget(lambda x: 0.0, prior_sd=1.0, n=2)
    args = {"draws": 10, "tune": 0, "chains": 1, "random_seed": 0} | kwargs
    with pytest.raises(error, match=message):
        sample_pcn(target, **args)
    with pytest.raises(TypeError, match=r"GaussianPriorTarget or a pymc\.Model"):
        sample_pcn("model", random_seed=0)
    with pytest.raises(ValueError, match="exactly one of log_likelihood and forward"):
        GaussianPriorTarget(prior_sd=1.0, n=2)


def test_non_physical_proposals_are_rejected_not_fatal():
    """A forward map returning NaN (the kernels' convention) makes ℓ = -inf: rejected."""

    def positive_only(x):
        return np.full(1, np.nan) if np.any(x <= 0) else np.array([np.sum(np.log(x))])

    target = GaussianPriorTarget(
        forward=positive_only, data=[0.0], noise_sd=1.0, prior_mean=3.0, prior_sd=1.0, n=2
    )
    start = np.random.default_rng(0)
    tree = sample_pcn(target, draws=300, tune=100, chains=2, random_seed=start)
    assert np.all(draws_of(tree) > 0)
    assert np.all(np.isfinite(tree["sample_stats"]["loglik"].values))


def test_same_seed_same_draws_whatever_the_threads(problem):
    G, data, _, _ = problem
    target = GaussianPriorTarget(
        forward=lambda x: G @ x, data=data, noise_sd=NOISE_SD, prior_sd=PRIOR_SD, n=4
    )
    args = {"draws": 50, "tune": 50, "chains": 3}
    a = sample_pcn(target, random_seed=5, cores=1, **args)
    b = sample_pcn(target, random_seed=5, cores=3, **args)
    c = sample_pcn(target, random_seed=6, cores=1, **args)
    np.testing.assert_array_equal(draws_of(a), draws_of(b))
    assert not np.array_equal(draws_of(a), draws_of(c))
    assert a.attrs["chain_seeds"] == b.attrs["chain_seeds"]


def _kl_problem(n, rng_seed=3):
    """A function on [0, 1] in n sine modes with prior sd 1/k, observed at 5 points."""
    k = np.arange(1, n + 1)
    t = np.linspace(0.1, 0.9, 5)
    G = np.sqrt(2) * np.sin(np.pi * np.outer(t, k))
    rng = np.random.default_rng(rng_seed)
    truth = rng.standard_normal(64) / np.arange(1, 65)
    data = np.sqrt(2) * np.sin(np.pi * np.outer(t, np.arange(1, 65))) @ truth
    data = data + 0.3 * rng.standard_normal(5)
    return GaussianPriorTarget(forward=lambda x: G @ x, data=data, noise_sd=0.3, prior_sd=1 / k)


def _random_walk_acceptance(target, beta, steps, rng):
    """Random-walk Metropolis with the prior's scale: accepts by likelihood AND prior ratio."""
    u = rng.standard_normal(target.n)
    ll = target.log_likelihood(target.prior_apply(u))
    accepted = 0
    for _ in range(steps):
        v = u + beta * rng.standard_normal(target.n)
        ll_v = target.log_likelihood(target.prior_apply(v))
        if np.log(rng.random()) < ll_v - ll - 0.5 * (v @ v - u @ u):
            u, ll, accepted = v, ll_v, accepted + 1
    return accepted / steps


def test_pcn_acceptance_is_flat_under_refinement_while_random_walk_collapses():
    beta = 0.2
    pcn, rwm = [], []
    for n in (16, 128, 1024):
        target = _kl_problem(n)
        tree = sample_pcn(target, draws=1500, tune=0, chains=1, step_size=beta, random_seed=n)
        pcn.append(float(tree["sample_stats"]["accept"].mean()))
        rwm.append(_random_walk_acceptance(target, beta, 1500, np.random.default_rng(n)))
    # measured: pCN 0.40, 0.40, 0.40; random walk 0.38, 0.17, 0.01
    assert max(pcn) - min(pcn) < 0.08, pcn
    assert min(pcn) > 0.3, pcn
    assert rwm[-1] < 0.03 and rwm[0] > 10 * rwm[-1], rwm


def _sbc_problem():
    G = np.array([[1.0, 0.5], [0.2, -1.0], [0.7, 0.7]])

    def simulate(rng):
        truth = rng.normal(0.0, 1.0, 2)
        return {"m": truth}, G @ truth + rng.normal(0.0, 0.5, 3)

    def target(data):
        return GaussianPriorTarget(
            forward=lambda x: G @ x, data=data, noise_sd=0.5, prior_sd=1.0, n=2
        )

    return simulate, target


@pytest.mark.slow
def test_pcn_passes_sbc_at_reduced_size():
    simulate, target = _sbc_problem()

    def fit(data, seed):
        return sample_pcn(target(data), draws=400, tune=200, chains=2, cores=1, random_seed=seed)

    result = simulation_based_calibration(simulate, fit, 40, random_seed=11, n_ranks=19, bins=4)
    assert result.passed, result
