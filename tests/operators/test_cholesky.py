"""The shared sparse Cholesky (envelope storage after reverse Cuthill–McKee)."""

import numpy as np
import pytest
import scipy.sparse as sp

from bayesinv.operators._cholesky_numba import (
    CholeskyPattern,
    cholesky_factor,
    cholesky_solve,
    cholesky_solve_lower,
    cholesky_solve_upper,
)


def grid_laplacian(nx, nz, rng, shift=1e-2):
    """Five-point conductivity-weighted Laplacian plus a positive diagonal, as COO lists."""
    idx = np.arange(nx * nz).reshape(nz, nx)
    rows, cols, vals = [], [], []
    for a, b in ((idx[:, :-1], idx[:, 1:]), (idx[:-1, :], idx[1:, :])):
        w = rng.uniform(0.1, 10.0, a.size)
        a, b = a.ravel(), b.ravel()
        rows += [a, b, a, b]
        cols += [b, a, a, b]
        vals += [-w, -w, w, w]  # each edge listed as an element matrix: duplicates sum
    n = nx * nz
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    vals.append(np.full(n, shift))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), n


@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (20, 11), (9, 30)])
def test_solve_matches_dense(shape):
    rng = np.random.default_rng(1)
    rows, cols, vals, n = grid_laplacian(*shape, rng)
    A = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).toarray()
    pattern = CholeskyPattern(rows, cols, n)
    factor = pattern.factor(vals)
    b = rng.standard_normal(n)
    np.testing.assert_allclose(factor.solve(b), np.linalg.solve(A, b), rtol=1e-9, atol=1e-12)
    B = rng.standard_normal((4, n))
    np.testing.assert_allclose(factor.solve(B), np.linalg.solve(A, B.T).T, rtol=1e-9, atol=1e-12)
    sign, logdet = np.linalg.slogdet(A)
    assert sign > 0
    np.testing.assert_allclose(factor.logdet(), logdet, rtol=1e-10)


def test_ordering_narrows_the_envelope():
    """A grid numbered along its long side gets an envelope about as wide as the short side."""
    rng = np.random.default_rng(2)
    rows, cols, _, n = grid_laplacian(60, 8, rng)  # natural order: bandwidth 60
    pattern = CholeskyPattern(rows, cols, n)
    width = np.arange(n) - pattern.first
    assert width.max() <= 2 * 8 + 1


def test_not_positive_definite_is_reported():
    rng = np.random.default_rng(3)
    rows, cols, vals, n = grid_laplacian(5, 4, rng)
    pattern = CholeskyPattern(rows, cols, n)
    bad = vals.copy()
    bad[rows == cols] -= 100.0
    L = np.empty(pattern.size)
    assert not cholesky_factor(pattern.first, pattern.ptr, pattern.scatter, bad, L)
    nan = vals.copy()
    nan[0] = np.nan
    assert not cholesky_factor(pattern.first, pattern.ptr, pattern.scatter, nan, L)
    with pytest.raises(ValueError, match="not positive definite"):
        pattern.factor(bad)
    assert cholesky_factor(pattern.first, pattern.ptr, pattern.scatter, vals, L)


def test_numba_solve_in_place_matches_python_path():
    rng = np.random.default_rng(4)
    rows, cols, vals, n = grid_laplacian(6, 5, rng)
    pattern = CholeskyPattern(rows, cols, n)
    L = np.empty(pattern.size)
    assert cholesky_factor(pattern.first, pattern.ptr, pattern.scatter, vals, L)
    b = rng.standard_normal(n)
    x = b.copy()
    cholesky_solve(pattern.perm, pattern.first, pattern.ptr, L, x)
    A = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()
    np.testing.assert_allclose(A @ x, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("rows", "cols", "n", "message"),
    [
        ([0, 1], [0], 2, "same length"),
        ([0, 2], [0, 2], 2, "outside a 2 x 2"),
        ([0], [0], 2, "row 1 has no diagonal"),
        ([0, 1, 0], [0, 1, 1], 2, "not symmetric"),
        ([], [], 0, "n must be >= 1"),
    ],
)
def test_bad_patterns_are_named(rows, cols, n, message):
    with pytest.raises(ValueError, match=message):
        CholeskyPattern(rows, cols, n)


def test_values_of_wrong_length_are_refused():
    pattern = CholeskyPattern([0, 1], [0, 1], 2)
    with pytest.raises(ValueError, match="values must have length 2"):
        pattern.factor([1.0])
    with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
        pattern.factor([1.0, 2.0]).solve(np.ones(3))


def test_default_ordering_is_the_cheaper_of_rcm_and_given():
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    from bayesinv.operators._cholesky_numba import _envelope, _profile_flops

    rng = np.random.default_rng(5)
    for shape in [(8, 40), (40, 8), (13, 13)]:
        rows, cols, _, n = grid_laplacian(*shape, rng)
        pattern = CholeskyPattern(rows, cols, n)
        graph = sp.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n)).tocsr()
        rcm = reverse_cuthill_mckee(graph, symmetric_mode=True)
        costs = [_profile_flops(_envelope(p, rows, cols, n)) for p in (rcm, np.arange(n))]
        assert _profile_flops(pattern.first) == min(costs)


def test_a_given_ordering_is_used_and_checked():
    rng = np.random.default_rng(6)
    rows, cols, vals, n = grid_laplacian(6, 5, rng)
    perm = rng.permutation(n)
    pattern = CholeskyPattern(rows, cols, n, perm=perm)
    np.testing.assert_array_equal(pattern.perm, perm)
    A = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).toarray()
    b = rng.standard_normal(n)
    np.testing.assert_allclose(pattern.factor(vals).solve(b), np.linalg.solve(A, b), rtol=1e-9)
    with pytest.raises(ValueError, match=r"perm must be a permutation of range\(30\)"):
        CholeskyPattern(rows, cols, n, perm=np.zeros(n, dtype=int))


def test_half_solves_apply_the_inverse_factor_and_its_transpose():
    rng = np.random.default_rng(9)
    rows, cols, vals, n = grid_laplacian(5, 4, rng)
    pattern = CholeskyPattern(rows, cols, n, perm=np.arange(n))  # the given numbering
    L = np.empty(pattern.size)
    assert cholesky_factor(pattern.first, pattern.ptr, pattern.scatter, vals, L)
    A = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).toarray()
    dense = np.linalg.cholesky(A)  # the unique factor with a positive diagonal
    b = rng.standard_normal(n)
    lo, up = b.copy(), b.copy()
    cholesky_solve_lower(pattern.first, pattern.ptr, L, lo)
    cholesky_solve_upper(pattern.first, pattern.ptr, L, up)
    np.testing.assert_allclose(dense @ lo, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dense.T @ up, b, rtol=1e-12, atol=1e-12)
    both = lo.copy()
    cholesky_solve_upper(pattern.first, pattern.ptr, L, both)  # L^-T L^-1 = A^-1
    np.testing.assert_allclose(A @ both, b, rtol=1e-10, atol=1e-12)
