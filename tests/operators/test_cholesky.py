"""The shared sparse Cholesky: envelope storage after reverse Cuthill–McKee, and the
supernodal factor after nested dissection."""

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
from bayesinv.operators._supernodal_numba import (
    ENVELOPE,
    SUPERNODAL,
    SparseCholesky,
    SupernodalPattern,
    grid_nested_dissection,
    sparse_factor,
    sparse_solve_rows,
    supernodal_logdet,
    supernodal_solve_rows,
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


# --- supernodal factor after nested dissection (``_supernodal_numba``) ---------------------


def q1_laplacian(nx, nz, rng, shift=1e-2):
    """Nine-point pattern of bilinear elements on ``nx × nz`` nodes (node ``iz * nx + ix``):
    each cell adds ``w (4 I - 1 1ᵀ)`` (positive semi-definite) on its four nodes."""
    idx = np.arange(nx * nz).reshape(nz, nx)
    corners = np.stack([idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]], axis=-1).reshape(
        -1, 4
    )
    w = rng.uniform(0.1, 10.0, corners.shape[0])
    local = 4.0 * np.eye(4) - 1.0
    rows = np.r_[np.repeat(corners, 4, axis=1).ravel(), np.arange(nx * nz)]
    cols = np.r_[np.tile(corners, (1, 4)).ravel(), np.arange(nx * nz)]
    vals = np.r_[(w[:, None, None] * local).ravel(), np.full(nx * nz, shift)]
    return rows, cols, vals, nx * nz


@pytest.mark.parametrize("shape", [(1, 1), (3, 1), (7, 3), (20, 11), (9, 30)])
@pytest.mark.parametrize("ordering", ["nested dissection", "random"])
def test_supernodal_solve_and_logdet_match_dense(shape, ordering):
    rng = np.random.default_rng(11)
    rows, cols, vals, n = q1_laplacian(*shape, rng)
    perm = grid_nested_dissection(*shape, leaf=4) if ordering != "random" else rng.permutation(n)
    pattern = SupernodalPattern(rows, cols, n, perm)
    L, ok = pattern.factor_values(vals)
    assert ok
    A = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).toarray()
    B = rng.standard_normal((60, n))  # more than one block of right-hand sides
    X = B.copy()
    supernodal_solve_rows(*pattern.arrays, L, X)
    np.testing.assert_allclose(A @ X.T, B.T, rtol=1e-9, atol=1e-9)
    sign, logdet = np.linalg.slogdet(A)
    assert sign > 0
    np.testing.assert_allclose(supernodal_logdet(*pattern.arrays, L), logdet, rtol=1e-10)
    # sparse right-hand sides (unit sources): the forward sweep skips zero supernodes
    E = np.zeros((3, n))
    E[np.arange(3), rng.integers(0, n, 3)] = 1.0
    X = E.copy()
    supernodal_solve_rows(*pattern.arrays, L, X)
    np.testing.assert_allclose(X, np.linalg.solve(A, E.T).T, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape", [(1, 1), (5, 1), (1, 7), (13, 6), (40, 17)])
def test_nested_dissection_is_a_permutation_with_separators_last(shape):
    perm = grid_nested_dissection(*shape, leaf=4)
    np.testing.assert_array_equal(np.sort(perm), np.arange(shape[0] * shape[1]))
    if shape == (40, 17):  # the first split is the middle column x = 20, ordered last
        ix = perm % shape[0]
        np.testing.assert_array_equal(ix[-shape[1] :], 20)
        assert set(ix[: perm.size // 2 - 20]) <= set(range(20))  # left half first
    with pytest.raises(ValueError, match="grid_nested_dissection: nx, nz and leaf must be >= 1"):
        grid_nested_dissection(0, 3)


def test_symbolic_structure_is_the_fill_of_the_dense_factor():
    """``nnz(L)`` of the symbolic analysis equals the nonzeros of the dense Cholesky factor."""
    rng = np.random.default_rng(12)
    rows, cols, vals, n = q1_laplacian(9, 7, rng)
    for perm in (grid_nested_dissection(9, 7, leaf=4), rng.permutation(n)):
        pattern = SupernodalPattern(rows, cols, n, perm)
        A = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).toarray()
        dense = np.linalg.cholesky(A[np.ix_(perm, perm)])
        assert pattern.nnz_l == np.count_nonzero(np.abs(dense) > 1e-14)


def test_nested_dissection_fills_less_than_rcm_on_a_grid():
    """On a 60 x 40 nine-point grid nested dissection beats reverse Cuthill–McKee in both the
    nonzeros of ``L`` and the factorisation flops (the reason the resistivity operator uses
    it on large meshes)."""
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    rng = np.random.default_rng(13)
    rows, cols, _, n = q1_laplacian(60, 40, rng)
    graph = sp.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n)).tocsr()
    rcm = np.asarray(reverse_cuthill_mckee(graph, symmetric_mode=True), dtype=np.int64)
    nd = SupernodalPattern(rows, cols, n, grid_nested_dissection(60, 40))
    by_rcm = SupernodalPattern(rows, cols, n, rcm)
    envelope = CholeskyPattern(rows, cols, n)
    assert nd.nnz_l < 0.8 * by_rcm.nnz_l
    assert by_rcm.nnz_l <= envelope.size  # the envelope holds the RCM fill and more
    assert nd.flops < 0.5 * by_rcm.flops


def test_supernodal_failed_pivot_is_reported():
    rng = np.random.default_rng(14)
    rows, cols, vals, n = q1_laplacian(6, 5, rng)
    pattern = SupernodalPattern(rows, cols, n, grid_nested_dissection(6, 5, leaf=4))
    bad = vals.copy()
    bad[rows == cols] -= 100.0
    assert not pattern.factor_values(bad)[1]
    nan = vals.copy()
    nan[0] = np.nan
    assert not pattern.factor_values(nan)[1]
    assert pattern.factor_values(vals)[1]
    with pytest.raises(ValueError, match=r"SupernodalPattern: perm must be a permutation"):
        SupernodalPattern(rows, cols, n, np.zeros(n, dtype=int))
    with pytest.raises(ValueError, match="SupernodalPattern: row 1 has no diagonal"):
        SupernodalPattern([0], [0], 2, [0, 1])


@pytest.mark.parametrize(("shape", "kind"), [((8, 6), ENVELOPE), ((120, 50), SUPERNODAL)])
def test_sparse_cholesky_takes_the_cheaper_storage_and_solves(shape, kind):
    rng = np.random.default_rng(15)
    rows, cols, vals, n = q1_laplacian(*shape, rng)
    chol = SparseCholesky(rows, cols, n, grid_shape=shape)
    other = SparseCholesky(rows, cols, n, grid_shape=shape, method="envelope")
    assert chol.kind == kind
    assert chol.flops <= other.flops
    L = np.empty(chol.size)
    assert sparse_factor(chol.arrays, vals, L)
    A = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()
    B = rng.standard_normal((5, n))
    X = B.copy()
    sparse_solve_rows(chol.arrays, L, X)
    np.testing.assert_allclose((A @ X.T).T, B, rtol=1e-8, atol=1e-8)
    bad = vals.copy()
    bad[rows == cols] = -1.0
    assert not sparse_factor(chol.arrays, bad, L)


def test_sparse_cholesky_bad_arguments_are_named():
    rows, cols, _, n = q1_laplacian(4, 3, np.random.default_rng(16))
    with pytest.raises(ValueError, match="SparseCholesky: method must be"):
        SparseCholesky(rows, cols, n, method="lu")
    with pytest.raises(ValueError, match=r"grid_shape \(4, 4\) does not hold n = 12"):
        SparseCholesky(rows, cols, n, grid_shape=(4, 4))
    with pytest.raises(ValueError, match="needs grid_shape"):
        SparseCholesky(rows, cols, n, method="supernodal")
