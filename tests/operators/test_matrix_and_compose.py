import numpy as np
import pytest

from bayesinv.operators import ForwardOperator, MatrixOperator, compose
from bayesinv.testing import dot_test, taylor_test


class Cube(ForwardOperator):
    """Elementwise m**3: a small nonlinear operator with exact derivatives."""

    linear = False

    def __init__(self, n):
        self.n_params = self.n_data = n

    def _forward(self, m):
        return m**3

    def _jvp(self, m, dm):
        return 3 * m**2 * dm

    def _vjp(self, m, dd):
        return 3 * m**2 * dd


def test_matrix_operator_forward_and_adjoint(rng):
    G = rng.standard_normal((7, 4))
    op = MatrixOperator(G)
    m, d = rng.standard_normal(4), rng.standard_normal(7)
    np.testing.assert_allclose(op.forward(m), G @ m, rtol=1e-14)
    np.testing.assert_allclose(op.vjp(m, d), G.T @ d, rtol=1e-14)
    assert dot_test(op, rng) <= 1e-10
    assert taylor_test(op, m, rng).order == np.inf


def test_matrix_operator_copies_its_matrix(rng):
    G = rng.standard_normal((3, 2))
    op = MatrixOperator(G)
    G[:] = 0.0
    assert np.any(op.G != 0.0)
    with pytest.raises(ValueError, match="read-only"):
        op.G[0, 0] = 1.0


def test_numba_kernels_match_python_path(rng):
    op = MatrixOperator(rng.standard_normal((5, 6)))
    k = op.numba_kernels()
    assert op.numba_kernels() is k  # built once
    m, d = rng.standard_normal(6), rng.standard_normal(5)
    np.testing.assert_allclose(k.forward(m), op.forward(m), rtol=1e-14)
    np.testing.assert_allclose(k.jvp(m, m), op.jvp(m, m), rtol=1e-14)
    np.testing.assert_allclose(k.vjp(m, d), op.vjp(m, d), rtol=1e-14)
    # non-contiguous views (as PyTensor may pass) give the same result
    wide = np.repeat(m, 2)[::2]
    np.testing.assert_allclose(k.forward(wide), op.forward(m), rtol=1e-14)


def test_composition_of_linear_operators_is_the_matrix_product(rng):
    A, B = rng.standard_normal((3, 5)), rng.standard_normal((5, 4))
    op = MatrixOperator(A) @ MatrixOperator(B)
    assert op.linear and (op.n_params, op.n_data) == (4, 3)
    m = rng.standard_normal(4)
    np.testing.assert_allclose(op.forward(m), A @ B @ m, rtol=1e-13)
    assert dot_test(op, rng) <= 1e-10
    assert taylor_test(op, m, rng).order == np.inf


@pytest.mark.parametrize("order", ["linear_outer", "nonlinear_outer", "chain_of_three"])
def test_composition_chain_rule_with_nonlinear_parts(rng, order):
    A = MatrixOperator(rng.standard_normal((4, 5)))
    B = MatrixOperator(rng.standard_normal((5, 5)))
    ops = {
        "linear_outer": (A, Cube(5)),
        "nonlinear_outer": (Cube(4), A),
        "chain_of_three": (A, Cube(5), B),
    }[order]
    op = compose(*ops)
    assert not op.linear
    m = rng.standard_normal(op.n_params)
    assert dot_test(op, rng, m) <= 1e-10
    assert taylor_test(op, m, rng).order > 1.9


def test_composed_numba_kernels_match_python_path(rng):
    A = MatrixOperator(rng.standard_normal((4, 5)))
    B = MatrixOperator(rng.standard_normal((5, 3)))
    op = A @ B
    k = op.numba_kernels()
    m, d = rng.standard_normal(3), rng.standard_normal(4)
    np.testing.assert_allclose(k.forward(m), op.forward(m), rtol=1e-13)
    np.testing.assert_allclose(k.jvp(m, m), op.jvp(m, m), rtol=1e-13)
    np.testing.assert_allclose(k.vjp(m, d), op.vjp(m, d), rtol=1e-13)
    # a part without kernels means the composition has none
    assert (A @ Cube(5)).numba_kernels() is None


def test_size_mismatch_in_composition_is_named(rng):
    A = MatrixOperator(rng.standard_normal((3, 5)), name="A")
    B = MatrixOperator(rng.standard_normal((4, 2)), name="B")
    with pytest.raises(ValueError, match="B gives 4 values but A takes 5"):
        A @ B
    with pytest.raises(ValueError, match="at least one"):
        compose()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda op: op.forward(np.zeros(3)), "m has length 3, expected 4"),
        (lambda op: op.forward(np.zeros((2, 2))), r"m must be a 1-D vector of length 4"),
        (lambda op: op.forward([0.0, np.nan, 0.0, 0.0]), "m has 1 non-finite value"),
        (lambda op: op.vjp(np.zeros(4), np.zeros(2)), "dd has length 2, expected 3"),
        (lambda op: op.jvp(np.zeros(4), [1, 2, 3, np.inf]), "dm has 1 non-finite"),
        (lambda op: op.forward("abc"), "m is not a numeric array"),
    ],
)
def test_bad_vectors_raise_naming_operator_and_argument(call, message):
    op = MatrixOperator(np.ones((3, 4)), name="G3x4")
    with pytest.raises(ValueError, match=f"G3x4: {message}"):
        call(op)


def test_bad_matrix_is_rejected():
    with pytest.raises(ValueError, match="non-finite"):
        MatrixOperator([[1.0, np.nan]])
    with pytest.raises(ValueError, match="2-D"):
        MatrixOperator(np.ones(3))


def test_linear_kernels_build_the_triple_from_apply_and_adjoint(rng):
    import numba

    from bayesinv.operators import linear_kernels

    @numba.njit
    def apply(x, w, shift):
        return w * x[shift:]

    @numba.njit
    def adjoint(y, w, shift):
        out = np.zeros(y.shape[0] + shift)
        out[shift:] = w * y
        return out

    w = rng.normal(size=4)
    k = linear_kernels(apply, adjoint, (w, 1))
    m, x, y = rng.normal(size=5), rng.normal(size=5), rng.normal(size=4)
    np.testing.assert_allclose(k.forward(x), w * x[1:])
    np.testing.assert_allclose(k.jvp(m, x), w * x[1:])  # linear: m is ignored
    np.testing.assert_allclose(k.vjp(m, y), np.concatenate([[0.0], w * y]))
    # a non-contiguous input is made contiguous before the kernel sees it
    strided = np.zeros(10)
    strided[::2] = x
    assert not strided[::2].flags.c_contiguous
    np.testing.assert_allclose(k.forward(strided[::2]), w * x[1:])
    # separate adjoint arguments
    k2 = linear_kernels(apply, adjoint, (w, 1), (2 * w, 1))
    np.testing.assert_allclose(k2.vjp(m, y), np.concatenate([[0.0], 2 * w * y]))


def test_compose_lives_in_base_and_the_old_module_path_warns():
    from bayesinv.operators import base, compose

    assert compose is base.compose
    from bayesinv.operators import composite

    with pytest.warns(DeprecationWarning, match="bayesinv.operators.base.compose"):
        assert composite.compose is base.compose
    with pytest.warns(DeprecationWarning, match="ComposedOperator"):
        assert composite.ComposedOperator is base.ComposedOperator


@pytest.mark.parametrize(
    "module",
    [
        "bayesinv.operators.matrix",
        "bayesinv.operators.sparse",
        "bayesinv.operators.lowrank",
        "bayesinv.operators.observation",
        "bayesinv.multiscale.prolongation",
        "bayesinv.multiscale.wavelet",
        "bayesinv.multiscale.padding",
    ],
)
def test_linear_operators_get_their_kernels_from_linear_kernels(module):
    # one implementation of the (forward, jvp, vjp) closures: no hand-written njit closures
    import importlib
    import inspect

    source = inspect.getsource(importlib.import_module(module))
    assert "linear_kernels(" in source
    assert "njit" not in source
