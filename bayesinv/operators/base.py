"""The operator protocol: forward map, Jacobian-vector and vector-Jacobian products.

Every map in the forward chain θ → m → d (parameterizations, physics, observation
operators, compositions) is a :class:`ForwardOperator`; :func:`compose` (or ``@``) chains
them with the chain rule, and :func:`linear_kernels` builds the numba kernels of a linear
one from its apply and adjoint. (long: about 400 lines because the protocol and its
composition are one module: ``ForwardOperator.__matmul__`` builds a ``ComposedOperator``,
so two modules would import each other.) Subclasses implement ``_forward``,
``_jvp`` and ``_vjp`` on validated 1-D float64 arrays; the public methods validate shapes and
finiteness and raise :class:`ValueError` naming the operator and the argument.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from bayesinv._numba import njit
from bayesinv.operators._state import composed_state_kernels

__all__ = [
    "FORWARD_STATE_BYTES",
    "ComposedOperator",
    "ForwardOperator",
    "NumbaKernels",
    "as_vector",
    "compose",
    "kernels_with_state",
    "linear_kernels",
]

#: largest forward state (bytes) an operator hands from its forward to its gradient in a
#: compiled model (``NumbaKernels.forward_state``); above it the gradient recomputes
FORWARD_STATE_BYTES = 128 * 2**20


class NumbaKernels(NamedTuple):
    """Compiled (numba ``njit``) callables an operator exposes to compiled PyTensor graphs.

    Each callable takes and returns 1-D float64 arrays, carries the operator's data in its
    closure and is thread-safe (no shared mutable state), so nutpie may call it from several
    threads at once.

    Attributes
    ----------
    forward : callable
        ``forward(m) -> d``.
    jvp : callable
        ``jvp(m, dm) -> dd``, the Jacobian of ``forward`` at ``m`` applied to ``dm``.
    vjp : callable
        ``vjp(m, dd) -> dm``, the transposed Jacobian at ``m`` applied to ``dd``.
    forward_state : callable or None
        Optional, for operators whose gradient needs what the forward solve computed (PDE
        solutions, factorisations, acceptance orders): ``forward_state(m) -> (d, state)``
        with ``state`` a 1-D float64 vector of length :attr:`ForwardOperator.n_state`.
    vjp_state : callable or None
        ``vjp_state(m, state, dd) -> dm``: the same as ``vjp(m, dd)``, reusing ``state``
        from ``forward_state(m)`` instead of solving again.

    Notes
    -----
    In a compiled log density and gradient the forward value and the gradient are computed
    at the same ``m``. With ``forward_state``/``vjp_state`` the PyTensor bridge passes the
    state from the one to the other, so a PDE is solved once per evaluation instead of
    twice.
    """

    forward: Callable
    jvp: Callable
    vjp: Callable
    forward_state: Callable | None = None
    vjp_state: Callable | None = None


def kernels_with_state(op, size: int, forward, jvp, vjp, forward_state, vjp_state) -> NumbaKernels:
    r"""Return the kernels with the forward state if it fits in :data:`FORWARD_STATE_BYTES`.

    Parameters
    ----------
    op : ForwardOperator
        The operator; its ``n_state`` is set to ``size`` when the state is handed over.
    size : int
        Length of the state vector (float64 values).
    forward, jvp, vjp, forward_state, vjp_state : callable
        The njit closures (:class:`NumbaKernels`); numba compiles a closure at its first
        call, so the state kernels of an operator over the limit are never compiled.

    Returns
    -------
    NumbaKernels
        With ``forward_state``/``vjp_state`` if :math:`8\,\mathrm{size} \le`
        :data:`FORWARD_STATE_BYTES`, otherwise without them (the gradient then solves the
        forward problem again instead of holding the state in memory).
    """
    size = int(size)
    if 8 * size > FORWARD_STATE_BYTES:
        return NumbaKernels(forward, jvp, vjp)
    op._n_state = size
    return NumbaKernels(forward, jvp, vjp, forward_state, vjp_state)


def linear_kernels(apply, adjoint, apply_args=(), adjoint_args=None) -> NumbaKernels:
    """Build the numba (forward, jvp, vjp) triple of a linear operator.

    Parameters
    ----------
    apply : numba dispatcher
        ``apply(x, *apply_args) -> A x``, an ``njit`` function taking the input vector first.
    adjoint : numba dispatcher
        ``adjoint(y, *adjoint_args) -> A^T y``, an ``njit`` function taking the data-space
        vector first.
    apply_args : tuple
        The operator's constant data (arrays, integers, flags) passed after the vector to
        ``apply``. Captured in the kernels' closures, so they must not change afterwards
        (operators store them read-only).
    adjoint_args : tuple, optional
        The same for ``adjoint``; by default ``apply_args``.

    Returns
    -------
    NumbaKernels
        ``forward(m) = A m``, ``jvp(m, dm) = A dm`` (``m`` ignored) and
        ``vjp(m, dd) = A^T dd`` (``m`` ignored). Each makes its vector argument C-contiguous
        (no copy when it already is) before calling ``apply`` or ``adjoint``.

    Notes
    -----
    A linear map is its own Jacobian, so one pair of kernels gives all three entries of the
    :class:`ForwardOperator` protocol. The kernels are thread-safe when ``apply`` and
    ``adjoint`` are (no shared mutable state).

    Examples
    --------
    >>> import numba
    >>> import numpy as np
    >>> @numba.njit
    ... def scale(x, c):
    ...     return c * x
    >>> k = linear_kernels(scale, scale, (2.0,))
    >>> k.vjp(np.zeros(2), np.array([1.0, 3.0]))
    array([2., 6.])
    """
    apply_args = tuple(apply_args)
    adjoint_args = apply_args if adjoint_args is None else tuple(adjoint_args)

    @njit(nogil=True)
    def forward(m):
        return apply(np.ascontiguousarray(m), *apply_args)

    @njit(nogil=True)
    def jvp(m, dm):
        return apply(np.ascontiguousarray(dm), *apply_args)

    @njit(nogil=True)
    def vjp(m, dd):
        return adjoint(np.ascontiguousarray(dd), *adjoint_args)

    return NumbaKernels(forward, jvp, vjp)


def as_vector(x, n: int, operator: str, argument: str) -> np.ndarray:
    """Validate and convert ``x`` to a contiguous 1-D float64 vector of length ``n``.

    Parameters
    ----------
    x : array_like
        The value to check.
    n : int
        Required length.
    operator : str
        Name of the operator (used in error messages).
    argument : str
        Name of the argument (used in error messages).

    Returns
    -------
    numpy.ndarray
        ``x`` as a C-contiguous float64 vector (no copy when it already is one).

    Raises
    ------
    ValueError
        If ``x`` is not 1-D of length ``n``, or holds NaN or infinite values.
    """
    try:
        arr = np.ascontiguousarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{operator}: {argument} is not a numeric array ({err})") from None
    if arr.ndim != 1:
        raise ValueError(
            f"{operator}: {argument} must be a 1-D vector of length {n}, got shape {arr.shape}"
        )
    if arr.shape[0] != n:
        raise ValueError(f"{operator}: {argument} has length {arr.shape[0]}, expected {n}")
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr))
        raise ValueError(
            f"{operator}: {argument} has {bad.size} non-finite value(s) (first at index {bad[0]})"
        )
    return arr


class ForwardOperator:
    """Base class of all maps in the forward chain.

    Subclasses set :attr:`n_params`, :attr:`n_data` and :attr:`linear` and implement
    ``_forward(m)``, ``_jvp(m, dm)`` and ``_vjp(m, dd)`` on validated inputs. A subclass with
    numba kernels overrides :meth:`_build_numba_kernels`; one that must run in Python inside
    compiled graphs sets :attr:`object_mode_reason` to say why.

    Attributes
    ----------
    n_params : int
        Length of the model vector ``m``.
    n_data : int
        Length of the predicted data vector ``d``.
    linear : bool
        Whether ``forward`` is linear in ``m``. Linear operators satisfy
        ``jvp(m, dm) == forward(dm)`` and ignore ``m`` in ``vjp``.
    name : str
        Name used in error messages and in PyTensor graphs.
    object_mode_reason : str or None
        For operators without numba kernels: why they run in Python inside a compiled
        model (the PyTensor bridge then silences the object-mode warning for them only).
    n_state : int
        Length of the state vector of the kernels' ``forward_state`` (0: no state; see
        :class:`NumbaKernels`).
    propagates_nan : bool
        Whether ``vjp`` returns NaN for a non-finite cotangent (the cotangent of a failed
        solve in a Python-mode graph) instead of raising.

    Notes
    -----
    Operators compose with ``@``: ``(A @ B).forward(m) == A.forward(B.forward(m))``, with
    the chain rule for ``jvp`` and ``vjp``.
    """

    n_params: int
    n_data: int
    linear: bool = False
    object_mode_reason: str | None = None
    #: ``vjp`` of a non-finite cotangent (that of a failed solve) is NaN instead of an error
    propagates_nan: bool = False

    @property
    def name(self) -> str:
        """Name used in error messages (the class name unless overridden)."""
        return type(self).__name__

    # --- public API (validated) ---------------------------------------------------------
    def forward(self, m) -> np.ndarray:
        """Evaluate the forward map.

        Parameters
        ----------
        m : array_like
            Model vector of length :attr:`n_params`.

        Returns
        -------
        numpy.ndarray
            Predicted data of length :attr:`n_data`.
        """
        return self._forward(self._point(m))

    def jvp(self, m, dm) -> np.ndarray:
        """Apply the Jacobian at ``m`` to a model perturbation ``dm``.

        Parameters
        ----------
        m : array_like
            Linearisation point, length :attr:`n_params`.
        dm : array_like
            Model perturbation, length :attr:`n_params`.

        Returns
        -------
        numpy.ndarray
            Data perturbation ``J(m) dm`` of length :attr:`n_data`.
        """
        m = self._point(m)
        return self._jvp(m, as_vector(dm, self.n_params, self.name, "dm"))

    def vjp(self, m, dd) -> np.ndarray:
        """Apply the transposed Jacobian at ``m`` to a data-space vector ``dd``.

        Parameters
        ----------
        m : array_like
            Linearisation point, length :attr:`n_params`.
        dd : array_like
            Data-space vector (e.g. a residual or a cotangent), length :attr:`n_data`.

        Returns
        -------
        numpy.ndarray
            ``J(m)^T dd`` of length :attr:`n_params`.
        """
        m = self._point(m)
        if self.propagates_nan:
            arr = np.asarray(dd, dtype=np.float64)
            if arr.shape == (self.n_data,) and not np.all(np.isfinite(arr)):
                return np.full(self.n_params, np.nan)
        return self._vjp(m, as_vector(dd, self.n_data, self.name, "dd"))

    def _point(self, m) -> np.ndarray:
        """Validate a model vector: shape and finiteness, then :meth:`_check_point`."""
        m = as_vector(m, self.n_params, self.name, "m")
        self._check_point(m)
        return m

    def _check_point(self, m: np.ndarray) -> None:
        """Raise ``ValueError`` if ``m`` is not a physical model (hook; default: accept).

        PDE operators whose unknown must be positive (a coefficient itself rather than its
        logarithm) or stable (a CFL limit) check it here, naming the index, so that every
        public method refuses the same inputs. Their kernels return NaN instead (a rejected
        proposal during sampling).
        """

    def numba_kernels(self) -> NumbaKernels | None:
        """Compiled kernels for the PyTensor bridge, or ``None`` if this operator has none.

        Returns
        -------
        NumbaKernels or None
            Built once per operator instance and reused.
        """
        cached = self.__dict__.get("_numba_kernels_cache", False)
        if cached is False:
            cached = self._build_numba_kernels()
            self.__dict__["_numba_kernels_cache"] = cached
        return cached

    @property
    def n_state(self) -> int:
        """Length of the state passed from ``forward_state`` to ``vjp_state`` (0: none)."""
        kernels = self.numba_kernels()
        if kernels is None or kernels.forward_state is None:
            return 0
        return int(self._n_state)

    #: state length of an operator whose kernels have ``forward_state`` (set by subclasses)
    _n_state: int = 0

    def __matmul__(self, other: ForwardOperator) -> ForwardOperator:
        """Compose two operators: ``(self @ other)(m) = self(other(m))``."""
        if not isinstance(other, ForwardOperator):
            return NotImplemented
        return compose(self, other)

    def __repr__(self) -> str:
        kind = "linear" if self.linear else "nonlinear"
        return f"<{self.name}: {self.n_params} params -> {self.n_data} data, {kind}>"

    # --- to implement ----------------------------------------------------------------------
    def _forward(self, m: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _jvp(self, m: np.ndarray, dm: np.ndarray) -> np.ndarray:
        if self.linear:
            return self._forward(dm)
        raise NotImplementedError

    def _vjp(self, m: np.ndarray, dd: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _build_numba_kernels(self) -> NumbaKernels | None:
        return None


# --- composition ------------------------------------------------------------------------
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
        self.propagates_nan = outer.propagates_nan or inner.propagates_nan
        reasons = [r for r in (outer.object_mode_reason, inner.object_mode_reason) if r]
        self.object_mode_reason = "; ".join(reasons) or None

    @property
    def name(self) -> str:
        """``"Outer @ Inner"``."""
        return f"{self.outer.name} @ {self.inner.name}"

    def _check_point(self, m):
        self.inner._check_point(m)

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
        f_out, jvp_out, vjp_out = ko[:3]
        f_in, jvp_in, vjp_in = ki[:3]

        if self.outer.linear:

            @njit(nogil=True)
            def forward(m):
                return f_out(f_in(m))

            @njit(nogil=True)
            def jvp(m, dm):
                du = jvp_in(m, dm)
                return jvp_out(du, du)

            @njit(nogil=True)
            def vjp(m, dd):
                # outer is linear: its linearisation point is irrelevant
                return vjp_in(m, vjp_out(m[:0], dd))

        else:

            @njit(nogil=True)
            def forward(m):
                return f_out(f_in(m))

            @njit(nogil=True)
            def jvp(m, dm):
                return jvp_out(f_in(m), jvp_in(m, dm))

            @njit(nogil=True)
            def vjp(m, dd):
                return vjp_in(m, vjp_out(f_in(m), dd))

        if ko.forward_state is None and ki.forward_state is None:
            return NumbaKernels(forward, jvp, vjp)
        self._n_state = self.inner.n_data + self.inner.n_state + self.outer.n_state
        return NumbaKernels(forward, jvp, vjp, *composed_state_kernels(ko, ki, self.inner))


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
