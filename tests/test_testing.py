import numpy as np
import pytest

from bayesinv.operators import ForwardOperator, MatrixOperator
from bayesinv.testing import check_gaussian_posterior, dot_test, taylor_test


class WrongAdjoint(MatrixOperator):
    def _vjp(self, m, dd):
        return 1.001 * super()._vjp(m, dd)


class Exp(ForwardOperator):
    linear = False

    def __init__(self, n, jvp_scale=1.0):
        self.n_params = self.n_data = n
        self.jvp_scale = jvp_scale

    def _forward(self, m):
        return np.exp(m)

    def _jvp(self, m, dm):
        return self.jvp_scale * np.exp(m) * dm

    def _vjp(self, m, dd):
        return self.jvp_scale * np.exp(m) * dd


def test_dot_test_catches_a_wrong_adjoint(rng):
    op = WrongAdjoint(rng.standard_normal((6, 4)))
    assert dot_test(op, rng, raise_error=False) > 1e-4
    with pytest.raises(AssertionError, match="dot test failed for MatrixOperator"):
        dot_test(op, rng)


def test_taylor_test_reports_second_order_for_a_correct_jvp(rng):
    result = taylor_test(Exp(5), rng.standard_normal(5) * 0.3, rng)
    assert 1.9 < result.order < 2.1
    assert np.all(np.diff(np.log(result.remainder0)) < 0)


def test_taylor_test_catches_a_wrong_jvp(rng):
    op = Exp(5, jvp_scale=1.01)
    result = taylor_test(op, np.zeros(5), rng, min_order=None)
    assert result.order < 1.2
    with pytest.raises(AssertionError, match="observed order"):
        taylor_test(op, np.zeros(5), rng)


def test_gaussian_check_accepts_exact_draws_and_rejects_wrong_ones(rng):
    mean = np.array([1.0, -2.0, 0.5])
    A = rng.standard_normal((3, 3))
    cov = A @ A.T + np.eye(3)
    draws = rng.multivariate_normal(mean, cov, size=(4, 1000))
    ok = check_gaussian_posterior(draws, mean, cov)
    assert ok.passed and ok.min_ess > 3000
    # wrong mean, wrong scale, wrong correlation: each is caught
    for bad_mean, bad_cov in [(mean + 0.2, cov), (mean, 1.3 * cov), (mean, np.diag(np.diag(cov)))]:
        result = check_gaussian_posterior(draws, bad_mean, bad_cov, raise_error=False)
        assert not result.passed, (bad_mean, bad_cov)
    with pytest.raises(AssertionError, match="divergent"):
        check_gaussian_posterior(draws, mean, cov, n_divergent=3)
