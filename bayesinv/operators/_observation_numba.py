"""Observation kernels: selecting and differencing entries of a vector.

    subset:      d_i = x[idx_i]                 adjoint: g[idx_i] += dd_i
    difference:  d_i = x[a_i] - x[b_i]          adjoint: g[a_i] += dd_i, g[b_i] -= dd_i

The forward kernels gather (each output reads its own inputs); the adjoints scatter into a
fresh local array and run serially, so they are race-free and thread-safe.
"""

import numpy as np

from bayesinv._numba import njit


@njit(cache=True, nogil=True)
def subset_forward(x, idx):
    # gather
    out = np.empty(idx.shape[0])
    for i in range(idx.shape[0]):
        out[i] = x[idx[i]]
    return out


@njit(cache=True, nogil=True)
def subset_adjoint(dd, idx, n):
    # scatter (indices are unique, but kept serial like every scatter)
    out = np.zeros(n)
    for i in range(idx.shape[0]):
        out[idx[i]] += dd[i]
    return out


@njit(cache=True, nogil=True)
def difference_forward(x, a, b):
    # gather
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        out[i] = x[a[i]] - x[b[i]]
    return out


@njit(cache=True, nogil=True)
def difference_adjoint(dd, a, b, n):
    # scatter: an entry may appear in several pairs, so this loop stays serial
    out = np.zeros(n)
    for i in range(a.shape[0]):
        out[a[i]] += dd[i]
        out[b[i]] -= dd[i]
    return out
