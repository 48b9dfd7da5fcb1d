"""Dense matrix-vector kernels shared by every operator stored as a dense matrix."""

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def matvec(G, x):
    # gather: each output row reads all of x (BLAS gemv)
    return G @ np.ascontiguousarray(x)


@numba.njit(cache=True, nogil=True)
def rmatvec(G, y):
    # adjoint of matvec: G^T y as a gemv on the transposed (Fortran-ordered) view
    return G.T @ np.ascontiguousarray(y)
