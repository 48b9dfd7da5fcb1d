"""A sparse matrix (CSR) as a linear forward operator, with numba kernels."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from bayesinv.operators._sparse_numba import csr_matvec, csr_rmatvec
from bayesinv.operators.base import ForwardOperator, NumbaKernels, linear_kernels

__all__ = ["SparseMatrixOperator", "sparse_kernels"]


def sparse_kernels(
    data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, n_cols: int
) -> NumbaKernels:
    """Numba kernels of the linear map ``m -> A m`` for a CSR matrix captured in the closure.

    Parameters
    ----------
    data, indices, indptr : numpy.ndarray
        CSR arrays (float64, int64, int64) of a matrix with ``n_cols`` columns.
    n_cols : int
        Number of columns (length of ``m``).

    Returns
    -------
    NumbaKernels
        ``forward(m) = A m`` (gather over rows), ``jvp(m, dm) = A dm`` and
        ``vjp(m, dd) = A^T dd`` (serial scatter).
    """
    csr = (data, indices, indptr)
    return linear_kernels(csr_matvec, csr_rmatvec, csr, (*csr, int(n_cols)))


class SparseMatrixOperator(ForwardOperator):
    r"""Linear operator ``d = A m`` for a sparse matrix, stored in CSR form.

    Parameters
    ----------
    A : scipy.sparse matrix or array
        Finite matrix of shape ``(n_data, n_params)``, any scipy.sparse format (or a dense
        array). It is converted to canonical CSR (duplicates summed, column indices sorted,
        explicit zeros removed) with float64 values and int64 indices, and copied.
    name : str, optional
        Name used in error messages.

    Attributes
    ----------
    data, indices, indptr : numpy.ndarray
        The read-only CSR arrays.

    Notes
    -----
    ``forward(m) = A m`` and ``vjp(m, dd) = A^T dd``. The numba forward kernel gathers,
    :math:`d_i = \sum_{k \in \text{row } i} a_k m_{j_k}`; the adjoint scatters,
    :math:`g_{j_k} \mathrel{+}= a_k\, δd_i`, and runs serially so it is race-free. Both cost
    :math:`O(\text{nnz})`.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> op = SparseMatrixOperator(sp.csr_array(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])))
    >>> op.forward(np.array([1.0, 1.0, 1.0]))
    array([3., 3.])
    """

    linear = True

    def __init__(self, A, name: str = "SparseMatrixOperator"):
        self._name = name
        A = sp.csr_array(A, dtype=np.float64, copy=True)
        if A.ndim != 2 or 0 in A.shape:
            raise ValueError(f"{name}: A must be a non-empty 2-D matrix, got shape {A.shape}")
        A.sum_duplicates()
        A.eliminate_zeros()
        A.sort_indices()
        data = np.ascontiguousarray(A.data, dtype=np.float64)
        if not np.all(np.isfinite(data)):
            raise ValueError(f"{name}: A contains non-finite values")
        indices = np.ascontiguousarray(A.indices, dtype=np.int64)
        indptr = np.ascontiguousarray(A.indptr, dtype=np.int64)
        for arr in (data, indices, indptr):
            arr.setflags(write=False)
        self.data, self.indices, self.indptr = data, indices, indptr
        self.n_data, self.n_params = (int(s) for s in A.shape)

    @property
    def name(self) -> str:
        """Name used in error messages."""
        return self._name

    @property
    def matrix(self) -> sp.csr_array:
        """A SciPy CSR copy of the matrix, shape ``(n_data, n_params)``."""
        return sp.csr_array(
            (self.data.copy(), self.indices.copy(), self.indptr.copy()),
            shape=(self.n_data, self.n_params),
        )

    @property
    def nnz(self) -> int:
        """Number of stored non-zeros."""
        return int(self.data.shape[0])

    def _forward(self, m):
        return csr_matvec(m, self.data, self.indices, self.indptr)

    def _vjp(self, m, dd):
        return csr_rmatvec(dd, self.data, self.indices, self.indptr, self.n_params)

    def _build_numba_kernels(self):
        return sparse_kernels(self.data, self.indices, self.indptr, self.n_params)
