import numpy as np
import pytest
import scipy.sparse as sp

from bayesinv.operators._sparse_numba import csr_matvec, csr_rmatvec
from bayesinv.operators.sparse import SparseMatrixOperator
from bayesinv.testing import check_compiled_model, dot_test, taylor_test


@pytest.fixture
def random_sparse(rng):
    return sp.random_array((40, 70), density=0.1, rng=rng, format="coo")


def test_matches_scipy(random_sparse, rng):
    op = SparseMatrixOperator(random_sparse)
    A = random_sparse.toarray()
    m = rng.standard_normal(70)
    d = rng.standard_normal(40)
    np.testing.assert_allclose(op.forward(m), A @ m, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(op.vjp(m, d), A.T @ d, rtol=1e-13, atol=1e-13)
    k = op.numba_kernels()
    np.testing.assert_allclose(k.forward(m), A @ m, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(k.jvp(m, m), A @ m, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(k.vjp(m, d), A.T @ d, rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(op.matrix.toarray(), A)


def test_kernels_against_numpy_loops(rng):
    # a reference that walks the CSR structure in plain python
    A = sp.random_array((15, 9), density=0.3, rng=rng, format="csr")
    data, indices, indptr = A.data, A.indices.astype(np.int64), A.indptr.astype(np.int64)
    x = rng.standard_normal(9)
    y = rng.standard_normal(15)
    ref_y = np.zeros(15)
    ref_x = np.zeros(9)
    for i in range(15):
        for k in range(indptr[i], indptr[i + 1]):
            ref_y[i] += data[k] * x[indices[k]]
            ref_x[indices[k]] += data[k] * y[i]
    np.testing.assert_allclose(csr_matvec(x, data, indices, indptr), ref_y, rtol=1e-14)
    np.testing.assert_allclose(csr_rmatvec(y, data, indices, indptr, 9), ref_x, rtol=1e-14)


def test_duplicates_are_summed_and_empty_rows_give_zero():
    A = sp.coo_array(([1.0, 2.0, 5.0], ([0, 0, 2], [1, 1, 0])), shape=(3, 2))
    op = SparseMatrixOperator(A)
    np.testing.assert_array_equal(op.forward(np.array([1.0, 1.0])), [3.0, 0.0, 5.0])
    assert op.nnz == 2


def test_dot_and_taylor(random_sparse, rng):
    op = SparseMatrixOperator(random_sparse)
    dot_test(op, rng)
    assert taylor_test(op, rng.standard_normal(op.n_params), rng).order == np.inf


def test_bad_input_raises():
    with pytest.raises(ValueError, match="SparseMatrixOperator: A contains non-finite"):
        SparseMatrixOperator(sp.csr_array(np.array([[np.nan, 1.0]])))
    with pytest.raises(ValueError, match="SparseMatrixOperator: A must be a non-empty"):
        SparseMatrixOperator(sp.csr_array((0, 3)))
    op = SparseMatrixOperator(sp.eye_array(3), name="S")
    with pytest.raises(ValueError, match="S: m has length 2"):
        op.forward(np.ones(2))


def test_compiled_model(random_sparse):
    check_compiled_model(SparseMatrixOperator(random_sparse), seed=11)


def test_kernels_are_thread_safe(random_sparse, rng):
    # nutpie calls the kernels from several threads at once (nogil): results must not mix
    from concurrent.futures import ThreadPoolExecutor

    op = SparseMatrixOperator(random_sparse)
    k = op.numba_kernels()
    ms = [rng.standard_normal(op.n_params) for _ in range(8)]
    ds = [rng.standard_normal(op.n_data) for _ in range(8)]
    expected = [(op.forward(m), op.vjp(m, d)) for m, d in zip(ms, ds, strict=True)]

    def work(i):
        out = None
        for _ in range(200):
            out = (k.forward(ms[i]), k.vjp(ms[i], ds[i]))
        return out

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(8)))
    for (f, g), (fe, ge) in zip(results, expected, strict=True):
        np.testing.assert_array_equal(f, fe)
        np.testing.assert_array_equal(g, ge)
