"""Numba kernels of the zero-phase FIR filter on traces (see ``BandPass``).

``y[t, n] = sum_j h[j] x[t, n - j + M]`` over the samples inside the trace (zero outside),
``M = (len(h) - 1) / 2``; the adjoint correlates: ``x[t, m] = sum_j h[j] y[t, m + j - M]``.
Both gather along one trace; ``prange`` runs over traces (independent).
"""

import numba
import numpy as np
from numba import prange


@numba.njit(nogil=True, cache=True, parallel=True)
def fir_apply(x, h, n_traces, nt):
    xs = x.reshape((n_traces, nt))
    y = np.zeros((n_traces, nt))
    half = (h.shape[0] - 1) // 2
    for t in prange(n_traces):
        for n in range(nt):
            lo = max(0, n - half)
            hi = min(nt - 1, n + half)
            s = 0.0
            for k in range(lo, hi + 1):  # x[k] with tap index n - k + half
                s += h[n - k + half] * xs[t, k]
            y[t, n] = s
    return y.ravel()


@numba.njit(nogil=True, cache=True, parallel=True)
def fir_adjoint(y, h, n_traces, nt):
    ys = y.reshape((n_traces, nt))
    x = np.zeros((n_traces, nt))
    half = (h.shape[0] - 1) // 2
    for t in prange(n_traces):
        for k in range(nt):
            lo = max(0, k - half)
            hi = min(nt - 1, k + half)
            s = 0.0
            for n in range(lo, hi + 1):
                s += h[n - k + half] * ys[t, n]
            x[t, k] = s
    return x.ravel()
