"""Numba kernels of the zero-phase FIR filter on traces (see ``BandPass``).

``y[t, n] = sum_j h[j] x[t, n - j + M]`` over the samples inside the trace (zero outside),
``M = (len(h) - 1) / 2``; the adjoint correlates: ``x[t, m] = sum_j h[j] y[t, m + j - M]``.
Both gather along one trace; ``prange`` runs over traces (independent). The ``*_serial``
twins loop over traces in the calling thread, for a few traces, where launching the thread
pool on every call costs more than the work (see :data:`SERIAL_TRACES`).
"""

import numpy as np
from numba import prange

from bayesinv._numba import njit

#: below this many traces, the filter and the whitening run in the calling thread
SERIAL_TRACES = 8


@njit(nogil=True, cache=True)
def _convolve(xs, y, h, t, nt, adjoint):
    """One trace: y[t] = h * xs[t] (or the correlation, for the adjoint); gathers."""
    half = (h.shape[0] - 1) // 2
    sign = -1 if adjoint else 1
    for n in range(nt):
        lo = max(0, n - half)
        hi = min(nt - 1, n + half)
        s = 0.0
        for k in range(lo, hi + 1):  # x[k] with tap index (n - k) sign + half
            s += h[sign * (n - k) + half] * xs[t, k]
        y[t, n] = s


@njit(nogil=True, cache=True, parallel=True)
def _filter_threads(x, h, n_traces, nt, adjoint):
    xs = x.reshape((n_traces, nt))
    y = np.zeros((n_traces, nt))
    for t in prange(n_traces):
        _convolve(xs, y, h, t, nt, adjoint)
    return y.ravel()


@njit(nogil=True, cache=True)
def _filter_serial(x, h, n_traces, nt, adjoint):
    xs = x.reshape((n_traces, nt))
    y = np.zeros((n_traces, nt))
    for t in range(n_traces):
        _convolve(xs, y, h, t, nt, adjoint)
    return y.ravel()


@njit(nogil=True, cache=True)
def fir_apply(x, h, n_traces, nt):
    """Filter every trace (threads over traces from :data:`SERIAL_TRACES` traces on)."""
    if n_traces < SERIAL_TRACES:
        return _filter_serial(x, h, n_traces, nt, False)
    return _filter_threads(x, h, n_traces, nt, False)


@njit(nogil=True, cache=True)
def fir_adjoint(y, h, n_traces, nt):
    """Apply the adjoint of :func:`fir_apply` (correlation with the taps)."""
    if n_traces < SERIAL_TRACES:
        return _filter_serial(y, h, n_traces, nt, True)
    return _filter_threads(y, h, n_traces, nt, True)
