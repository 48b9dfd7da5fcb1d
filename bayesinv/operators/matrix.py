"""A user's dense matrix as a linear forward operator."""

from __future__ import annotations

import numpy as np

from bayesinv.operators._matrix_numba import matvec, rmatvec
from bayesinv.operators.base import ForwardOperator, NumbaKernels, linear_kernels

__all__ = ["MatrixOperator"]


def dense_kernels(G: np.ndarray) -> NumbaKernels:
    """Numba kernels of the linear map ``m -> G m`` with ``G`` captured in the closure.

    Parameters
    ----------
    G : numpy.ndarray
        C-contiguous float64 matrix of shape ``(n_data, n_params)``.

    Returns
    -------
    NumbaKernels
        ``forward(m) = G m``, ``jvp(m, dm) = G dm``, ``vjp(m, dd) = G^T dd``.
    """
    return linear_kernels(matvec, rmatvec, (G,))


class MatrixOperator(ForwardOperator):
    """Linear operator ``d = G m`` for a user's dense matrix.

    Parameters
    ----------
    G : array_like
        Finite matrix of shape ``(n_data, n_params)``; copied to C-contiguous float64.
    name : str, optional
        Name used in error messages.

    Notes
    -----
    ``forward(m) = G m``, ``jvp(m, dm) = G dm`` and ``vjp(m, dd) = G^T dd``; the numba
    kernels call BLAS ``gemv`` in both directions.

    Examples
    --------
    >>> import numpy as np
    >>> op = MatrixOperator(np.array([[1.0, 2.0], [0.0, 1.0], [3.0, 0.0]]))
    >>> op.forward(np.array([1.0, 1.0]))
    array([3., 1., 3.])
    """

    linear = True

    def __init__(self, G, name: str = "MatrixOperator"):
        G = np.array(G, dtype=np.float64, order="C", copy=True)
        if G.ndim != 2 or 0 in G.shape:
            raise ValueError(f"{name}: G must be a non-empty 2-D matrix, got shape {G.shape}")
        if not np.all(np.isfinite(G)):
            raise ValueError(f"{name}: G contains non-finite values")
        G.setflags(write=False)
        self.G = G
        self.n_data, self.n_params = G.shape
        self._name = name

    @property
    def name(self) -> str:
        """Name used in error messages."""
        return self._name

    def _forward(self, m):
        return self.G @ m

    def _vjp(self, m, dd):
        return self.G.T @ dd

    def _build_numba_kernels(self):
        return dense_kernels(self.G)
