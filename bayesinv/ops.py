"""PyTensor bridge: forward operators as Ops whose gradients are the operators' adjoints.

``ForwardOp(operator)(m)`` is a PyTensor expression for ``operator.forward(m)``. Its pullback
is a second Op, ``VJPOp``, that applies ``operator.vjp``; its pushforward is ``JVPOp``. All three
have numba implementations registered for PyTensor's numba backend (the one nutpie and
PyMC's samplers compile models with) whenever the operator exposes
:meth:`~bayesinv.operators.ForwardOperator.numba_kernels`, so compiled models call the kernels
directly and never drop into object mode.

Operators without numba kernels (e.g. a SciPy sparse factorisation) run their Python
``perform`` inside compiled models. That is allowed only when the operator says why in
``object_mode_reason``; the object-mode warning is then silenced for that operator alone.
An operator with neither keeps PyTensor's warning, so an accidental slow path is visible.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import (
    generate_fallback_impl,
    register_funcify_and_cache_key,
)

from bayesinv.operators.base import ForwardOperator, as_vector

__all__ = ["ForwardOp", "JVPOp", "VJPOp", "VJPStateOp", "forward"]


def _as_float_vector(x, n: int, op_name: str, argument: str):
    x = pt.as_tensor_variable(x)
    if x.ndim != 1:
        raise ValueError(f"{op_name}: {argument} must be a 1-D tensor, got {x.ndim} dimensions")
    static = x.type.shape[0]
    if static is not None and static != n:
        raise ValueError(f"{op_name}: {argument} has length {static}, expected {n}")
    if x.dtype != "float64":
        x = pt.cast(x, "float64")
    return x


class _OperatorOp(Op):
    """Common base: one operator in ``__props__``, float64 vector in and out."""

    __props__ = ("operator",)
    #: names of the inputs after ``m`` (for error messages)
    _extra_inputs: tuple[str, ...] = ()

    def __init__(self, operator: ForwardOperator):
        if not isinstance(operator, ForwardOperator):
            raise TypeError(
                f"{type(self).__name__}: expected a ForwardOperator, got {type(operator).__name__}"
            )
        self.operator = operator

    def _sizes(self) -> tuple[tuple[int, ...], int]:
        raise NotImplementedError

    def make_node(self, *inputs):
        sizes, n_out = self._sizes()
        names = ("m", *self._extra_inputs)
        if len(inputs) != len(names):
            raise TypeError(f"{self}: expected inputs {names}, got {len(inputs)}")
        tensors = [
            _as_float_vector(x, n, str(self), name)
            for x, n, name in zip(inputs, sizes, names, strict=True)
        ]
        out = pt.tensor(dtype="float64", shape=(n_out,))
        return Apply(self, tensors, [out])

    def infer_shape(self, node, input_shapes):
        return [(self._sizes()[1],)]

    #: the kernel (attribute of :class:`~bayesinv.operators.NumbaKernels`) compiled graphs call
    kernel_name = "forward"

    def __str__(self) -> str:
        return f"{type(self).__name__}{{{self.operator.name}}}"


class _LinearisedOp(_OperatorOp):
    """JVP/VJP: linear in the second input; depends on ``m`` only for nonlinear operators."""

    def connection_pattern(self, node):
        return [[not self.operator.linear], [True]]


class ForwardOp(_OperatorOp):
    r"""PyTensor Op computing ``operator.forward(m)``.

    Parameters
    ----------
    operator : ForwardOperator
        The forward map.

    Notes
    -----
    The pullback of :math:`d = F(m)` with cotangent :math:`\bar d` is
    :math:`\bar m = J_F(m)^T \bar d`, computed by :class:`VJPOp` (the operator's ``vjp``),
    itself differentiable for linear operators, so gradients of gradients stay symbolic.
    The pushforward :math:`\dot d = J_F(m) \dot m` is :class:`JVPOp`.

    An operator with a forward *state* (``operator.n_state > 0``: kernels with
    ``forward_state`` and ``vjp_state``, e.g. a PDE solver keeping its solutions and
    factors) gives the node a second output, the state, which the pullback hands to
    :class:`VJPStateOp`; a compiled log density and gradient then solves once per
    evaluation. Calling the Op still returns ``d`` alone (``default_output``).

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor.tensor as pt
    >>> from bayesinv.operators import MatrixOperator
    >>> op = ForwardOp(MatrixOperator(np.eye(3)))
    >>> m = pt.vector("m", shape=(3,))
    >>> op(m).eval({m: np.arange(3.0)})
    array([0., 1., 2.])
    """

    default_output = 0

    @property
    def _stateful(self) -> bool:
        return self.operator.n_state > 0

    @property
    def kernel_name(self) -> str:  # noqa: D102 - see _OperatorOp.kernel_name
        return "forward_state" if self._stateful else "forward"

    def _sizes(self):
        return (self.operator.n_params,), self.operator.n_data

    def make_node(self, *inputs):
        """Node with output ``d`` (and the state, for a stateful operator)."""
        node = super().make_node(*inputs)
        if not self._stateful:
            return node
        d = pt.tensor(dtype="float64", shape=(self.operator.n_data,))
        state = pt.tensor(dtype="float64", shape=(self.operator.n_state,))
        return Apply(self, node.inputs, [d, state])

    def infer_shape(self, node, input_shapes):
        """Output shapes from the operator's sizes (the Op is never evaluated for them)."""
        shapes = [(self.operator.n_data,)]
        return [*shapes, (self.operator.n_state,)] if self._stateful else shapes

    def connection_pattern(self, node):
        """Return ``d`` as connected to ``m``; the state is not a differentiable output."""
        return [[True, False]] if self._stateful else [[True]]

    def perform(self, node, inputs, outputs):
        """Evaluate ``operator.forward`` (Python path; with the state if there is one)."""
        if not self._stateful:
            outputs[0][0] = self.operator.forward(inputs[0])
            return
        m = as_vector(inputs[0], self.operator.n_params, self.operator.name, "m")
        d, state = self.operator.numba_kernels().forward_state(m)
        outputs[0][0], outputs[1][0] = np.asarray(d), np.asarray(state)

    def pullback(self, inputs, outputs, cotangents):
        """Return ``VJPOp(operator)(m, cotangent)`` (``VJPStateOp`` with the state)."""
        (m,), dd = inputs, cotangents[0]
        if self._stateful:
            return [VJPStateOp(self.operator)(m, outputs[1], dd)]
        return [VJPOp(self.operator)(m, dd)]

    def pushforward(self, inputs, outputs, tangents):
        """Return ``JVPOp(operator)(m, tangent)``."""
        (m,), (dm,) = inputs, tangents
        out = [JVPOp(self.operator)(m, dm)]
        return [*out, disconnected_type()] if self._stateful else out


class JVPOp(_LinearisedOp):
    """PyTensor Op computing ``operator.jvp(m, dm)``.

    Parameters
    ----------
    operator : ForwardOperator
        The forward map whose Jacobian is applied.

    Notes
    -----
    Linear in ``dm``; its pullback with respect to ``dm`` is :class:`VJPOp`. For a linear
    operator the output does not depend on ``m``; for a nonlinear one the derivative with
    respect to ``m`` (a second derivative of the physics) is not implemented.
    """

    _extra_inputs = ("dm",)
    kernel_name = "jvp"

    def _sizes(self):
        n = self.operator.n_params
        return (n, n), self.operator.n_data

    def perform(self, node, inputs, outputs):
        """Evaluate ``operator.jvp`` (Python path)."""
        outputs[0][0] = self.operator.jvp(*inputs)

    def pullback(self, inputs, outputs, cotangents):
        """Return the pullback: ``VJPOp`` for ``dm``; none (linear) for ``m``."""
        (m, _dm), (g,) = inputs, cotangents
        return [_second_derivative(self, m, 0), VJPOp(self.operator)(m, g)]


class VJPOp(_LinearisedOp):
    """PyTensor Op computing ``operator.vjp(m, dd)``, the gradient path of :class:`ForwardOp`.

    Parameters
    ----------
    operator : ForwardOperator
        The forward map whose transposed Jacobian is applied.

    Notes
    -----
    Linear in ``dd``; its pullback with respect to ``dd`` is :class:`JVPOp`. For a linear
    operator the output does not depend on ``m``; for a nonlinear one the derivative with
    respect to ``m`` is not implemented.
    """

    _extra_inputs = ("dd",)
    kernel_name = "vjp"

    def _sizes(self):
        return (self.operator.n_params, self.operator.n_data), self.operator.n_params

    def perform(self, node, inputs, outputs):
        """Evaluate ``operator.vjp`` (Python path)."""
        outputs[0][0] = self.operator.vjp(*inputs)

    def pullback(self, inputs, outputs, cotangents):
        """Return the pullback: ``JVPOp`` for ``dd``; none (linear) for ``m``."""
        (m, _dd), (g,) = inputs, cotangents
        return [_second_derivative(self, m, 0), JVPOp(self.operator)(m, g)]


class VJPStateOp(_OperatorOp):
    """PyTensor Op computing ``vjp_state(m, state, dd)``: the gradient reusing the forward state.

    Parameters
    ----------
    operator : ForwardOperator
        A forward map with ``n_state > 0`` (kernels with ``forward_state`` and
        ``vjp_state``).

    Notes
    -----
    Made by :meth:`ForwardOp.pullback` for stateful operators; ``state`` is the second
    output of the :class:`ForwardOp` node at the same ``m``. Equal to ``operator.vjp(m, dd)``;
    linear in ``dd`` (pullback :class:`JVPOp`); not differentiable in ``m`` or ``state``.
    """

    _extra_inputs = ("state", "dd")
    kernel_name = "vjp_state"

    def _sizes(self):
        op = self.operator
        return (op.n_params, op.n_state, op.n_data), op.n_params

    def connection_pattern(self, node):
        """Return the connections: ``dd``; ``m`` if nonlinear; never ``state``."""
        return [[not self.operator.linear], [False], [True]]

    def perform(self, node, inputs, outputs):
        """Evaluate the kernels' ``vjp_state`` (Python path)."""
        m, state, dd = inputs
        outputs[0][0] = np.asarray(self.operator.numba_kernels().vjp_state(m, state, dd))

    def pullback(self, inputs, outputs, cotangents):
        """Return the pullback: ``JVPOp`` for ``dd``; none for ``m`` and ``state``."""
        (m, _state, _dd), (g,) = inputs, cotangents
        return [
            _second_derivative(self, m, 0),
            disconnected_type(),
            JVPOp(self.operator)(m, g),
        ]


def _second_derivative(op: _OperatorOp, m, index: int):
    if op.operator.linear:
        return disconnected_type()
    return grad_not_implemented(op, index, m, "second derivatives of nonlinear operators")


def forward(operator: ForwardOperator, m):
    """Apply ``operator`` to a PyTensor vector (shorthand for ``ForwardOp(operator)(m)``).

    Parameters
    ----------
    operator : ForwardOperator
        The forward map.
    m : TensorVariable or array_like
        Model vector of length ``operator.n_params``.

    Returns
    -------
    TensorVariable
        Predicted data of length ``operator.n_data``.
    """
    return ForwardOp(operator)(m)


# --- numba backend -----------------------------------------------------------------------------
def _python_fallback(op: _OperatorOp, node, **kwargs):
    reason = op.operator.object_mode_reason
    if reason is None:
        # an operator that has not declared a Python path: keep PyTensor's warning visible
        return generate_fallback_impl(op, node, **kwargs)
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"Numba will use object mode", category=UserWarning
        )
        return generate_fallback_impl(op, node, **kwargs)


def _register_numba(op_type: type[_OperatorOp]) -> None:
    @register_funcify_and_cache_key(op_type)
    def funcify(op, node=None, **kwargs):
        kernels = op.operator.numba_kernels()
        if kernels is None:
            return _python_fallback(op, node, **kwargs), None
        # The kernel is an njit closure over the operator's data: it is called directly from
        # the compiled graph. Such closures cannot be cached on disk, hence no cache key.
        return getattr(kernels, op.kernel_name), None


for _op_type in (ForwardOp, JVPOp, VJPOp, VJPStateOp):
    _register_numba(_op_type)
