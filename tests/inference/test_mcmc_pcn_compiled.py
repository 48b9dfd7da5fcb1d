"""The compiled pCN loop (``_pcn_numba``) and warm starts of pCN and delayed acceptance."""

import numba
import numpy as np
import pytest

from bayesinv.inference.mcmc import GaussianPriorTarget, _pcn_numba, sample_mlda, sample_pcn
from bayesinv.inference.mcmc.pcn import Reference
from bayesinv.operators import MatrixOperator
from bayesinv.testing import check_gaussian_posterior

PRIOR_SD = 2.0
NOISE_SD = 0.5


@pytest.fixture(scope="module")
def problem():
    """A linear-Gaussian posterior (closed form) on a MatrixOperator (it has numba kernels)."""
    rng = np.random.default_rng(11)
    G = rng.standard_normal((10, 3))
    data = G @ rng.normal(0.0, PRIOR_SD, 3) + rng.normal(0.0, NOISE_SD, 10)
    precision = G.T @ G / NOISE_SD**2 + np.eye(3) / PRIOR_SD**2
    cov = np.linalg.inv(precision)
    target = GaussianPriorTarget(
        forward=MatrixOperator(G), data=data, noise_sd=NOISE_SD, prior_sd=PRIOR_SD
    )
    return target, cov @ G.T @ data / NOISE_SD**2, cov


def _draws(tree):
    return tree["posterior"]["m"].values


@pytest.mark.parametrize("reference", ["prior", "laplace"])
def test_compiled_loop_gives_the_python_loops_draws(problem, reference):
    """Same random stream: the same chain up to rounding (sums in another order)."""
    target = problem[0]
    args = {"draws": 150, "tune": 100, "chains": 2, "thin": 3, "random_seed": 4}
    fast = sample_pcn(target, reference=reference, compiled=True, **args)
    slow = sample_pcn(target, reference=reference, compiled=False, **args)
    assert fast.attrs["compiled"] == 1 and slow.attrs["compiled"] == 0
    np.testing.assert_allclose(_draws(fast), _draws(slow), rtol=0, atol=1e-9)
    for key in ("accept", "step_size", "loglik"):
        np.testing.assert_allclose(
            fast["sample_stats"][key].values, slow["sample_stats"][key].values, atol=1e-9
        )
    for key in ("accepted", "likelihood_evaluations"):
        np.testing.assert_array_equal(
            fast["sample_stats"][key].values, slow["sample_stats"][key].values
        )
    # the draws move (a loop that never accepted would match trivially); the Laplace
    # reference is the exact posterior here, so nearly every proposal is accepted
    assert float(fast["sample_stats"]["accepted"].mean()) > 0.1


def test_compiled_is_the_default_for_an_operator_with_kernels_only(problem):
    target = problem[0]
    tree = sample_pcn(target, draws=5, tune=0, chains=1, random_seed=0)
    assert tree.attrs["compiled"] == 1
    # a log-likelihood callable: the Python loop
    plain = GaussianPriorTarget(lambda x: -0.5 * float(x @ x), prior_sd=1.0, n=3)
    assert sample_pcn(plain, draws=5, tune=0, chains=1, random_seed=0).attrs["compiled"] == 0
    with pytest.raises(ValueError, match="sample_pcn: compiled=True needs"):
        sample_pcn(plain, draws=5, tune=0, chains=1, random_seed=0, compiled=True)
    with pytest.raises(TypeError, match="sample_pcn: compiled must be"):
        sample_pcn(target, draws=5, tune=0, chains=1, random_seed=0, compiled="yes")


def test_compiled_laplace_pcn_matches_closed_form_and_dropping_its_correction_fails(
    problem, monkeypatch
):
    target, mean, cov = problem
    from bayesinv.inference import gauss_newton_laplace

    # a reference a little off the posterior (noise 1.5x): the correction matters
    fit = gauss_newton_laplace(
        target.operator,
        target.data,
        prior_mean=0.0,
        prior_cov=PRIOR_SD**2,
        noise_sd=NOISE_SD * 1.5,
        random_seed=0,
        draws=1,
        chains=1,
    )
    args = {"reference": fit, "draws": 1000, "tune": 300, "chains": 4, "random_seed": 2}
    tree = sample_pcn(target, compiled=True, **args)
    check_gaussian_posterior(_draws(tree), mean, cov)
    plain = sample_pcn(target, compiled=True, draws=1000, tune=300, chains=4, thin=4, random_seed=3)
    check_gaussian_posterior(_draws(plain), mean, cov)

    real = _pcn_numba._reference_arrays
    monkeypatch.setattr(
        _pcn_numba, "_reference_arrays", lambda ref: (*real(ref)[:4], False)
    )  # negative control: ψ = ℓ with a Laplace reference
    wrong = sample_pcn(target, compiled=True, **args)
    assert not check_gaussian_posterior(_draws(wrong), mean, cov, raise_error=False).passed


def test_compiled_same_seed_same_draws_whatever_the_threads(problem):
    target = problem[0]
    args = {"draws": 60, "tune": 40, "chains": 3, "compiled": True}
    a = sample_pcn(target, random_seed=5, cores=1, **args)
    b = sample_pcn(target, random_seed=5, cores=3, **args)
    c = sample_pcn(target, random_seed=6, cores=3, **args)
    np.testing.assert_array_equal(_draws(a), _draws(b))
    assert not np.array_equal(_draws(a), _draws(c))


def test_compiled_loop_rejects_a_nan_forward_without_crashing():
    """The kernels' convention: NaN predictions for a non-physical parameter are rejected."""

    @numba.njit(nogil=True)
    def positive_only(x):
        out = np.empty(1)
        out[0] = np.nan if np.any(x <= 0) else np.sum(np.log(x))
        return out

    target = GaussianPriorTarget(
        forward=lambda x: positive_only(np.ascontiguousarray(x)),
        data=[0.0],
        noise_sd=1.0,
        prior_mean=3.0,
        prior_sd=1.0,
        n=2,
    )
    rng = np.random.default_rng(0)
    x, stats = _pcn_numba.run_compiled_chain(
        positive_only, Reference(target), rng, np.zeros(2), 100, 300, 1, 0.9, 0.25
    )
    assert np.all(x > 0)
    assert np.all(np.isfinite(stats["loglik"]))
    assert 0.0 < stats["accepted"].mean() < 1.0  # some proposals (x <= 0) were rejected


def test_warm_start_starts_where_told(problem):
    target = problem[0]
    starts = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    for compiled in (True, False):
        tree = sample_pcn(
            target,
            draws=1,
            tune=0,
            chains=2,
            random_seed=1,
            step_size=1e-9,
            initial_points=starts,
            compiled=compiled,
        )
        np.testing.assert_allclose(_draws(tree)[:, 0], starts, atol=1e-6)
        assert tree.attrs["warm_start"] == 1
    coarse = GaussianPriorTarget(
        forward=MatrixOperator(target.operator.G * 1.01),
        data=target.data,
        noise_sd=NOISE_SD,
        prior_sd=PRIOR_SD,
    )
    tree = sample_mlda(
        [coarse, target],
        draws=1,
        tune=0,
        chains=2,
        random_seed=1,
        step_size=1e-9,
        initial_points=starts,
    )
    np.testing.assert_allclose(_draws(tree)[:, 0], starts, atol=1e-6)


@pytest.mark.parametrize(
    "points, message",
    [
        (np.zeros(4), r"initial_points must have shape \(3,\) or \(2, 3\)"),
        (np.zeros((3, 3)), r"initial_points must have shape"),
        (np.array([[0.0, 0, 0], [0, np.nan, 0]]), r"initial_points\[1\] is not finite"),
    ],
)
def test_bad_initial_points(problem, points, message):
    target = problem[0]
    with pytest.raises(ValueError, match="sample_pcn: " + message):
        sample_pcn(target, draws=2, tune=0, chains=2, random_seed=0, initial_points=points)
    with pytest.raises(ValueError, match="sample_mlda: " + message):
        sample_mlda(
            [target, target], draws=2, tune=0, chains=2, random_seed=0, initial_points=points
        )
