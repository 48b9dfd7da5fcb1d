"""The shared envelope Cholesky against SciPy's SuperLU on grid Laplacians.

Rows: the size of a PDE system (grid of unknowns), the time of one numeric factorisation and
one solve with ``bayesinv.operators._cholesky_numba``, and SciPy's ``splu`` (symmetric mode,
the fallback the operators used before) factorising and solving the same matrix, timed in
the same run; and 32 right-hand sides solved in blocks (``cholesky_solve_rows``) against one
by one and against SuperLU.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from bayesinv.operators._cholesky_numba import (
    CholeskyPattern,
    cholesky_factor,
    cholesky_solve,
    cholesky_solve_rows,
)


def _laplacian(nx, nz, rng):
    idx = np.arange(nx * nz).reshape(nz, nx)
    rows, cols, vals = [], [], []
    for a, b in ((idx[:, :-1], idx[:, 1:]), (idx[:-1, :], idx[1:, :])):
        w = rng.uniform(0.1, 10.0, a.size)
        a, b = a.ravel(), b.ravel()
        rows += [a, b, a, b]
        cols += [b, a, a, b]
        vals += [-w, -w, w, w]
    n = nx * nz
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    vals.append(np.full(n, 1e-3))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), n


def _best(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _case(nx: int, nz: int, rng, repeat: int) -> dict:
    rows, cols, vals, n = _laplacian(nx, nz, rng)
    pattern = CholeskyPattern(rows, cols, n)
    perm, first, ptr, scatter = pattern.arrays
    L = np.empty(pattern.size)
    b = rng.standard_normal(n)
    cholesky_factor(first, ptr, scatter, vals, L)  # compile
    cholesky_solve(perm, first, ptr, L, b.copy())
    t_fac = _best(lambda: cholesky_factor(first, ptr, scatter, vals, L), repeat)
    t_sol = _best(lambda: cholesky_solve(perm, first, ptr, L, b.copy()), repeat)
    A = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsc()

    def superlu():
        opts = {"SymmetricMode": True}
        return splu(A, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options=opts)

    lu = superlu()
    t_lu = _best(superlu, repeat)
    t_lus = _best(lambda: lu.solve(b), repeat)
    B = rng.standard_normal((32, n))  # e.g. the 32 electrode sources of an ERT wavenumber
    cholesky_solve_rows(perm, first, ptr, L, B.copy())

    def one_by_one():
        X = B.copy()
        for r in range(X.shape[0]):
            cholesky_solve(perm, first, ptr, L, X[r])

    t_rows = _best(lambda: cholesky_solve_rows(perm, first, ptr, L, B.copy()), repeat)
    t_each = _best(one_by_one, repeat)
    t_lu32 = _best(lambda: lu.solve(B.T.copy()), repeat)
    return {
        "benchmark": "cholesky",
        "case": f"{nx}x{nz} grid (n={n})",
        "factor_ms": 1e3 * t_fac,
        "solve_ms": 1e3 * t_sol,
        "splu_factor_ms": 1e3 * t_lu,
        "splu_solve_ms": 1e3 * t_lus,
        "factor_speedup_vs_splu": t_lu / t_fac,
        "solve32_blocked_ms": 1e3 * t_rows,
        "blocked_speedup_vs_one_by_one": t_each / t_rows,
        "splu_solve32_ms": 1e3 * t_lu32,
    }


def run(quick: bool) -> list[dict]:
    """Time factorisation and solve at several grid sizes (see the module docstring)."""
    rng = np.random.default_rng(0)
    sizes = [(48, 28), (96, 48)] if quick else [(48, 28), (96, 48), (160, 80)]
    repeat = 3 if quick else 7
    return [_case(nx, nz, rng, repeat) for nx, nz in sizes]
