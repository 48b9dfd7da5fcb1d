"""The operator protocol: forward map, Jacobian-vector and vector-Jacobian products.

Every map in the forward chain θ → m → d (parameterizations, physics, observation
operators, compositions) is a :class:`ForwardOperator`. Subclasses implement ``_forward``,
``_jvp`` and ``_vjp`` on validated 1-D float64 arrays; the public methods validate shapes and
finiteness and raise :class:`ValueError` naming the operator and the argument.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numba
import numpy as np

# ``compose`` and ``ComposedOperator`` are importable from here too (module __getattr__)
__all__ = ["ForwardOperator", "NumbaKernels", "as_vector", "linear_kernels"]


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
    """

    forward: Callable
    jvp: Callable
    vjp: Callable


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

    @numba.njit(nogil=True)
    def forward(m):
        return apply(np.ascontiguousarray(m), *apply_args)

    @numba.njit(nogil=True)
    def jvp(m, dm):
        return apply(np.ascontiguousarray(dm), *apply_args)

    @numba.njit(nogil=True)
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

    Notes
    -----
    Operators compose with ``@``: ``(A @ B).forward(m) == A.forward(B.forward(m))``, with
    the chain rule for ``jvp`` and ``vjp``.
    """

    n_params: int
    n_data: int
    linear: bool = False
    object_mode_reason: str | None = None

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
        return self._forward(as_vector(m, self.n_params, self.name, "m"))

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
        m = as_vector(m, self.n_params, self.name, "m")
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
        m = as_vector(m, self.n_params, self.name, "m")
        return self._vjp(m, as_vector(dd, self.n_data, self.name, "dd"))

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

    def __matmul__(self, other: ForwardOperator) -> ForwardOperator:
        """Compose two operators: ``(self @ other)(m) = self(other(m))``."""
        from bayesinv.operators.composite import compose

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


def __getattr__(name):
    # composition lives in bayesinv.operators.composite (which imports this module); it is
    # importable from here too, resolved on first use so that no import cycle arises
    if name in ("compose", "ComposedOperator"):
        from bayesinv.operators import composite

        return getattr(composite, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
