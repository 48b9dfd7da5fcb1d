"""Dense matrix-vector kernels shared by every operator stored as a dense matrix."""

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def matvec(x, G):
    # gather: each output row reads all of x (BLAS gemv)
    return G @ np.ascontiguousarray(x)


@numba.njit(cache=True, nogil=True)
def rmatvec(y, G):
    # adjoint of matvec: G^T y as a gemv on the transposed (Fortran-ordered) view
    return G.T @ np.ascontiguousarray(y)
