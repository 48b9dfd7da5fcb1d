"""Dense matrix-vector kernels shared by every operator stored as a dense matrix."""

import numpy as np

from bayesinv._numba import njit


@njit(cache=True, nogil=True)
def matvec(x, G):
    # gather: each output row reads all of x (BLAS gemv)
    return G @ np.ascontiguousarray(x)


@njit(cache=True, nogil=True)
def rmatvec(y, G):
    # adjoint of matvec: G^T y as a gemv on the transposed (Fortran-ordered) view
    return G.T @ np.ascontiguousarray(y)
