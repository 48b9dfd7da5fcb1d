"""The elliptic operators' link to the shared sparse Cholesky (``operators/_cholesky_numba``).

``solver = (perm, first, ptr, scatter, factor_size, n_values)``: the pattern arrays of
:class:`~bayesinv.operators._cholesky_numba.CholeskyPattern` over the listed entries (one
per element-matrix entry between free nodes; duplicates are summed by the factorisation),
the length of the factor storage, and the number of listed entries.
"""

from __future__ import annotations

import numpy as np

from bayesinv._numba import njit
from bayesinv.operators._cholesky_numba import CholeskyPattern, cholesky_factor, cholesky_solve


def make_solver(rows: np.ndarray, cols: np.ndarray, n: int):
    """Symbolic analysis of the listed entries ``(rows, cols)`` of an ``n x n`` SPD matrix."""
    pattern = CholeskyPattern(rows, cols, n)
    return (*pattern.arrays, np.int64(pattern.size), np.int64(rows.size))


@njit(cache=True, nogil=True)
def spd_factor(solver, values):
    """Cholesky factor of the matrix with the listed ``values``; ``(ok, L)``."""
    _, first, ptr, scatter, size, _ = solver
    L = np.empty(size)
    ok = cholesky_factor(first, ptr, scatter, values, L)
    return ok, L


@njit(cache=True, nogil=True)
def spd_solve(solver, L, b):
    """Solve ``A x = b`` in place with the factor ``L``."""
    perm, first, ptr, _, _, _ = solver
    cholesky_solve(perm, first, ptr, L, b)
