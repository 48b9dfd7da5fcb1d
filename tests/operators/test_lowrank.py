import numpy as np
import pytest

from bayesinv.operators import LowRankUpdate
from bayesinv.testing import check_compiled_model, dot_test, taylor_test


def _dense(op_args):
    scale, basis, coef = op_args
    return np.diag(scale) @ (np.eye(scale.size) + basis @ np.diag(coef) @ basis.T)


@pytest.fixture(params=["all rows", "scattered rows"])
def args(request, rng):
    n, r = 12, 3
    basis = rng.standard_normal((n, r))
    if request.param == "scattered rows":
        basis[[0, 2, 3, 7, 8, 11]] = 0.0
    return rng.uniform(0.5, 2.0, n), basis, rng.standard_normal(r)


def test_matches_the_dense_matrix(args, rng):
    op = LowRankUpdate(*args)
    A = _dense(args)
    z = rng.standard_normal(op.n_params)
    np.testing.assert_allclose(op.forward(z), A @ z, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(op.vjp(z, z), A.T @ z, rtol=1e-12, atol=1e-12)
    k = op.numba_kernels()
    np.testing.assert_allclose(k.forward(z), A @ z, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(k.vjp(z, z), A.T @ z, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(k.jvp(z, 2 * z), 2 * A @ z, rtol=1e-12, atol=1e-12)


def test_dot_taylor_and_compiled(args, rng):
    op = LowRankUpdate(*args)
    dot_test(op, rng)
    assert taylor_test(op, rng.standard_normal(op.n_params), rng).order == np.inf
    check_compiled_model(op, seed=3)


def test_bad_input():
    with pytest.raises(ValueError, match=r"LowRankUpdate: basis must have shape \(3, 2\)"):
        LowRankUpdate(np.ones(3), np.ones((3, 1)), np.ones(2))
    with pytest.raises(ValueError, match="precond: scale contains non-finite values"):
        LowRankUpdate([1.0, np.nan], np.zeros((2, 0)), [], name="precond")
