"""Composition of forward operators with the chain rule."""

from __future__ import annotations

import numba
import numpy as np

from bayesinv.operators.base import ForwardOperator, NumbaKernels

__all__ = ["ComposedOperator", "compose"]


class ComposedOperator(ForwardOperator):
    r"""The composition ``outer ∘ inner``: ``m -> outer(inner(m))``.

    Parameters
    ----------
    outer, inner : ForwardOperator
        Operators with ``inner.n_data == outer.n_params``.

    Notes
    -----
    With :math:`u = B(m)` and :math:`d = A(u)`, the chain rule gives

    .. math::

        J_{A∘B}(m)\,δm = J_A(u)\,J_B(m)\,δm, \qquad
        J_{A∘B}(m)^T δd = J_B(m)^T J_A(u)^T δd .

    When ``inner`` is linear the linearisation point of ``outer`` still needs ``u = B(m)``;
    when ``outer`` is linear it is skipped. Numba kernels exist when both parts have them.
    """

    def __init__(self, outer: ForwardOperator, inner: ForwardOperator):
        for which, op in (("outer", outer), ("inner", inner)):
            if not isinstance(op, ForwardOperator):
                raise TypeError(f"compose: {which} must be a ForwardOperator, got {type(op)}")
        if inner.n_data != outer.n_params:
            raise ValueError(
                f"compose: {inner.name} gives {inner.n_data} values but {outer.name} "
                f"takes {outer.n_params}"
            )
        self.outer = outer
        self.inner = inner
        self.n_params = inner.n_params
        self.n_data = outer.n_data
        self.linear = outer.linear and inner.linear
        reasons = [r for r in (outer.object_mode_reason, inner.object_mode_reason) if r]
        self.object_mode_reason = "; ".join(reasons) or None

    @property
    def name(self) -> str:
        """``"Outer @ Inner"``."""
        return f"{self.outer.name} @ {self.inner.name}"

    def _forward(self, m):
        return self.outer._forward(self.inner._forward(m))

    def _outer_point(self, m):
        # a linear outer operator ignores its linearisation point: skip computing inner(m)
        if self.outer.linear:
            return np.zeros(self.outer.n_params)
        return self.inner._forward(m)

    def _jvp(self, m, dm):
        return self.outer._jvp(self._outer_point(m), self.inner._jvp(m, dm))

    def _vjp(self, m, dd):
        return self.inner._vjp(m, self.outer._vjp(self._outer_point(m), dd))

    def _build_numba_kernels(self):
        ko, ki = self.outer.numba_kernels(), self.inner.numba_kernels()
        if ko is None or ki is None:
            return None
        f_out, jvp_out, vjp_out = ko
        f_in, jvp_in, vjp_in = ki

        if self.outer.linear:

            @numba.njit(nogil=True)
            def forward(m):
                return f_out(f_in(m))

            @numba.njit(nogil=True)
            def jvp(m, dm):
                du = jvp_in(m, dm)
                return jvp_out(du, du)

            @numba.njit(nogil=True)
            def vjp(m, dd):
                # outer is linear: its linearisation point is irrelevant
                return vjp_in(m, vjp_out(m[:0], dd))

        else:

            @numba.njit(nogil=True)
            def forward(m):
                return f_out(f_in(m))

            @numba.njit(nogil=True)
            def jvp(m, dm):
                return jvp_out(f_in(m), jvp_in(m, dm))

            @numba.njit(nogil=True)
            def vjp(m, dd):
                return vjp_in(m, vjp_out(f_in(m), dd))

        return NumbaKernels(forward, jvp, vjp)


def compose(*operators: ForwardOperator) -> ForwardOperator:
    """Compose operators right to left: ``compose(A, B, C)(m) = A(B(C(m)))``.

    Parameters
    ----------
    *operators : ForwardOperator
        At least one operator; adjacent sizes must agree.

    Returns
    -------
    ForwardOperator
        The composed operator (the operator itself when only one is given).

    Examples
    --------
    >>> import numpy as np
    >>> from bayesinv.operators import MatrixOperator
    >>> A = MatrixOperator(np.ones((2, 3)))
    >>> B = MatrixOperator(np.eye(3))
    >>> compose(A, B).forward(np.arange(3.0))
    array([3., 3.])
    """
    if not operators:
        raise ValueError("compose: give at least one operator")
    result = operators[-1]
    for op in reversed(operators[:-1]):
        result = ComposedOperator(op, result)
    return result
