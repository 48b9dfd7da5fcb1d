"""Compressed sparse row (CSR) matrix-vector kernels shared by sparse operators.

A CSR matrix ``A`` of shape ``(n_rows, n_cols)`` is held as ``data``, ``indices`` and
``indptr``: the non-zeros of row ``i`` are ``data[indptr[i]:indptr[i + 1]]`` in columns
``indices[indptr[i]:indptr[i + 1]]``.

    matvec:  y_i = sum_k data[k] x[indices[k]],          k in row i      (gather)
    rmatvec: x_j = sum_i sum_{k in row i, indices[k] = j} data[k] y_i   (scatter)
"""

import numpy as np

from bayesinv._numba import njit


@njit(cache=True, nogil=True)
def csr_matvec(x, data, indices, indptr):
    # gather: each output row reads its own non-zeros; rows are independent
    n_rows = indptr.shape[0] - 1
    y = np.empty(n_rows)
    for i in range(n_rows):
        acc = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            acc += data[k] * x[indices[k]]
        y[i] = acc
    return y


@njit(cache=True, nogil=True)
def csr_rmatvec(y, data, indices, indptr, n_cols):
    # scatter: row i adds into several output entries, so rows would race if run in
    # parallel; kept serial (the output is a fresh local array, so calls are thread-safe)
    n_rows = indptr.shape[0] - 1
    x = np.zeros(n_cols)
    for i in range(n_rows):
        yi = y[i]
        for k in range(indptr[i], indptr[i + 1]):
            x[indices[k]] += data[k] * yi
    return x
