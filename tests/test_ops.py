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
from bayesinv.ops import ForwardOp, JVPOp, VJPOp, forward


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
