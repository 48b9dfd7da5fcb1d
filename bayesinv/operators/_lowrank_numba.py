"""Kernels of a diagonal times a low-rank change of the identity (preconditioner factors)."""

import numpy as np

from bayesinv._numba import njit


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def lowrank_apply(z, scale, rows, basis, coef, transpose):
    # A z = s * (z + U_rows (coef * U_rows^T z_rows)); A^T v = w + U (coef * U^T w), w = s * v.
    # reassociation lets the two passes over the basis (the cost) vectorise: sums are only
    # reordered, and NaN and inf still propagate (no "nnan"/"ninf" assumptions).
    n = z.shape[0]
    w = np.empty(n)
    if transpose:
        for i in range(n):
            w[i] = scale[i] * z[i]
    else:
        for i in range(n):
            w[i] = z[i]
    m, r = basis.shape
    t = np.zeros(r)
    for a in range(m):
        wa = w[rows[a]]
        for k in range(r):
            t[k] += basis[a, k] * wa
    for k in range(r):
        t[k] *= coef[k]
    for a in range(m):
        acc = 0.0
        for k in range(r):
            acc += basis[a, k] * t[k]
        w[rows[a]] += acc
    if not transpose:
        for i in range(n):
            w[i] *= scale[i]
    return w
