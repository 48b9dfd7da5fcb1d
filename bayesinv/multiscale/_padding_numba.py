"""Zero-padding kernels: embed a vector in a longer one, and keep its leading part.

    pad:      y = [x; 0]      (length n)
    truncate: x = y[:k]       (the adjoint of pad)

Both gather into a fresh local array, so they are thread-safe.
"""

import numpy as np

from bayesinv._numba import njit


@njit(cache=True, nogil=True)
def pad(x, n):
    # gather: a copy into a fresh zero vector
    out = np.zeros(n)
    out[: x.shape[0]] = x
    return out


@njit(cache=True, nogil=True)
def truncate(y, k):
    # gather: the first k entries, copied so the caller owns the result
    return y[:k].copy()
