import warnings

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad
from pytensor.graph.traversal import io_toposort

from bayesinv import Grid2D
from bayesinv.operators import ForwardOperator, Gravity2D, MatrixOperator
from bayesinv.ops import ForwardOp, JVPOp, VJPOp, VJPStateOp, forward


class PythonOnly(ForwardOperator):
    """Elementwise tanh with no numba kernels."""

    linear = False

    def __init__(self, n, reason=None):
        self.n_params = self.n_data = n
        self.object_mode_reason = reason

    def _forward(self, m):
        return np.tanh(m)

    def _jvp(self, m, dm):
        return dm / np.cosh(m) ** 2

    def _vjp(self, m, dd):
        return dd / np.cosh(m) ** 2


@pytest.fixture
def gravity():
    grid = Grid2D(nx=8, nz=4, dx=10.0, dz=10.0)
    return Gravity2D(grid, np.column_stack([np.linspace(0, 80, 6), np.zeros(6)]))


def gravity_model(op, rng):
    with pm.Model() as model:
        rho = pm.Normal("rho", 0.0, 100.0, shape=op.n_params)
        pm.Normal("d", forward(op, rho), 0.01, observed=op.forward(rng.normal(0, 100, op.n_params)))
    return model


def compile_numba(model):
    """Compile logp and dlogp with PyTensor's numba backend; return them and the warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logp = model.compile_logp(mode="NUMBA")
        dlogp = model.compile_dlogp(mode="NUMBA")
        point = model.initial_point()
        logp(point), dlogp(point)
    return logp, dlogp, [str(w.message) for w in caught]


def test_forward_op_matches_operator_and_infers_shape(gravity, rng):
    m = pt.vector("m", shape=(gravity.n_params,))
    d = ForwardOp(gravity)(m)
    assert d.type.shape == (gravity.n_data,)
    value = rng.standard_normal(gravity.n_params)
    np.testing.assert_allclose(d.eval({m: value}), gravity.forward(value), rtol=1e-14)
    # infer_shape answers without evaluating the Op
    fn = pytensor.function([m], d.shape)
    assert not any(isinstance(n.op, ForwardOp) for n in fn.maker.fgraph.apply_nodes)


@pytest.mark.parametrize("mode", ["FAST_RUN", "NUMBA"])
def test_gradient_agrees_with_finite_differences(gravity, rng, mode):
    verify_grad(ForwardOp(gravity), [rng.standard_normal(gravity.n_params)], rng=rng, mode=mode)


def test_gradient_of_nonlinear_python_operator(rng):
    op = ForwardOp(PythonOnly(5, reason="test"))
    verify_grad(op, [rng.standard_normal(5)], rng=rng)


def test_gradient_graph_uses_the_vjp_op(gravity):
    m = pt.vector("m", shape=(gravity.n_params,))
    g = pytensor.grad(pt.sum(ForwardOp(gravity)(m) ** 2), m)
    ops = {type(node.op) for node in io_toposort([m], [g])}
    assert VJPOp in ops


def test_second_derivative_of_linear_operator_stays_symbolic(rng):
    # Hessian of 0.5 |G m|^2 is G^T G: needs the pullback of VJPOp (a JVPOp)
    G = rng.standard_normal((4, 3))
    m = pt.vector("m", shape=(3,))
    loss = 0.5 * pt.sum(ForwardOp(MatrixOperator(G))(m) ** 2)
    hess = pytensor.gradient.hessian(loss, m)
    np.testing.assert_allclose(hess.eval({m: rng.standard_normal(3)}), G.T @ G, rtol=1e-12)


def test_pullback_of_vjp_is_jvp(gravity, rng):
    m = pt.vector("m", shape=(gravity.n_params,))
    dd = pt.vector("dd", shape=(gravity.n_data,))
    g = pt.vector("g", shape=(gravity.n_params,))
    vjp = VJPOp(gravity)(m, dd)
    (back,) = (pytensor.grad(None, dd, known_grads={vjp: g}, return_disconnected="zero"),)
    assert JVPOp in {type(node.op) for node in io_toposort([m, dd, g], [back])}
    gv = rng.standard_normal(gravity.n_params)
    np.testing.assert_allclose(
        back.eval({g: gv, m: gv}, on_unused_input="ignore"), gravity.forward(gv), rtol=1e-12
    )


def test_pushforward_is_the_jvp(gravity, rng):
    m = pt.vector("m", shape=(gravity.n_params,))
    dm = pt.vector("dm", shape=(gravity.n_params,))
    out = pytensor.gradient.pushforward(ForwardOp(gravity)(m), m, dm)
    mv, dmv = rng.standard_normal(gravity.n_params), rng.standard_normal(gravity.n_params)
    np.testing.assert_allclose(out.eval({m: mv, dm: dmv}), gravity.forward(dmv), rtol=1e-12)


def test_compiled_gravity_model_has_no_object_mode(gravity, rng):
    model = gravity_model(gravity, rng)
    logp, dlogp, messages = compile_numba(model)
    assert not [m for m in messages if "object mode" in m], messages
    # the compiled numba graph agrees with the default (C/Python) backend
    point = model.initial_point()
    point["rho"] = rng.normal(0, 50, gravity.n_params)
    np.testing.assert_allclose(logp(point), model.compile_logp()(point), rtol=1e-12)
    np.testing.assert_allclose(dlogp(point), model.compile_dlogp()(point), rtol=1e-10)


def test_python_only_operator_with_reason_is_silent_and_without_reason_warns(rng):
    def model_for(op):
        with pm.Model() as model:
            x = pm.Normal("x", shape=op.n_params)
            pm.Normal("y", forward(op, x), 1.0, observed=np.zeros(op.n_data))
        return model

    *_, quiet = compile_numba(model_for(PythonOnly(3, reason="sparse solves dominate")))
    assert not [m for m in quiet if "object mode" in m]
    *_, loud = compile_numba(model_for(PythonOnly(3)))
    assert [m for m in loud if "object mode" in m]


def test_make_node_rejects_wrong_lengths(gravity):
    with pytest.raises(ValueError, match="m has length 3, expected 32"):
        ForwardOp(gravity)(pt.vector(shape=(3,)))
    with pytest.raises(ValueError, match="1-D"):
        ForwardOp(gravity)(pt.matrix())
    with pytest.raises(TypeError, match="ForwardOperator"):
        ForwardOp(np.eye(3))


def test_ops_with_the_same_operator_are_equal(gravity):
    assert ForwardOp(gravity) == ForwardOp(gravity)
    assert hash(ForwardOp(gravity)) == hash(ForwardOp(gravity))
    assert ForwardOp(gravity) != ForwardOp(MatrixOperator(gravity.G))


class ExpSolve(ForwardOperator):
    """``d = A exp(m)`` whose gradient reuses ``exp(m)`` from the forward pass (its state).

    The plain numba ``vjp`` kernel deliberately returns NaN: a compiled gradient that is
    finite and right can only have come through ``forward_state``/``vjp_state``.
    """

    linear = False

    def __init__(self, A):
        self.A = np.ascontiguousarray(A, dtype=np.float64)
        self.n_data, self.n_params = self.A.shape
        self._n_state = self.n_params

    def _forward(self, m):
        return self.A @ np.exp(m)

    def _jvp(self, m, dm):
        return self.A @ (np.exp(m) * dm)

    def _vjp(self, m, dd):
        return np.exp(m) * (self.A.T @ dd)

    def _build_numba_kernels(self):
        import numba

        from bayesinv.operators import NumbaKernels

        A = self.A

        @numba.njit
        def forward(m):
            return A @ np.exp(m)

        @numba.njit
        def jvp(m, dm):
            return A @ (np.exp(m) * dm)

        @numba.njit
        def vjp(m, dd):
            return np.full(m.size, np.nan)

        @numba.njit
        def forward_state(m):
            e = np.exp(m)
            return A @ e, e

        @numba.njit
        def vjp_state(m, state, dd):
            return state * (A.T @ dd)

        return NumbaKernels(forward, jvp, vjp, forward_state, vjp_state)


def _logp_dlogp(op, rng):
    with pm.Model() as model:
        m = pm.Normal("m", 0.0, 1.0, shape=op.n_params)
        pm.Normal("d", mu=ForwardOp(op)(m), sigma=0.5, observed=rng.standard_normal(op.n_data))
    fn = model.logp_dlogp_function(ravel_inputs=True, mode="NUMBA")
    fn.set_extra_values({})
    return fn


@pytest.mark.parametrize("compose_with_matrices", [False, True])
def test_compiled_gradient_reuses_the_forward_state(rng, compose_with_matrices):
    op = ExpSolve(rng.standard_normal((5, 4)))
    assert op.n_state == 4
    if compose_with_matrices:
        op = MatrixOperator(rng.standard_normal((3, 5))) @ op @ MatrixOperator(np.eye(4))
        # (M1 @ op) @ M2: [M2's output (4), M2's state (0), [op's output (5), op's state (4),
        # M1's state (0)]]
        assert op.n_state == 4 + 0 + (5 + 4 + 0)
    fn = _logp_dlogp(op, rng)
    x = 0.3 * rng.standard_normal(4)
    _, grad = fn(x)
    eps = 1e-6
    numeric = [(fn(x + eps * e)[0] - fn(x - eps * e)[0]) / (2 * eps) for e in np.eye(4)]
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_stateful_op_node_and_python_path(rng):
    op = ExpSolve(rng.standard_normal((5, 4)))
    m = pt.vector("m", shape=(4,))
    d = ForwardOp(op)(m)  # the data output, not a list
    assert len(d.owner.outputs) == 2 and d is d.owner.outputs[0]
    grads = pytensor.grad(d.sum(), m)
    assert any(isinstance(node.op, VJPStateOp) for node in io_toposort([m], [grads]))
    m0 = 0.2 * rng.standard_normal(4)
    f = pytensor.function([m], [d, grads], mode="FAST_COMPILE")  # Python perform
    value, g = f(m0)
    np.testing.assert_allclose(value, op.forward(m0))
    np.testing.assert_allclose(g, op.vjp(m0, np.ones(5)))
    verify_grad(ForwardOp(op), [m0], rng=rng, mode="FAST_COMPILE")
    # a stateless operator keeps a one-output node
    plain = ForwardOp(MatrixOperator(np.eye(4)))(m)
    assert len(plain.owner.outputs) == 1
