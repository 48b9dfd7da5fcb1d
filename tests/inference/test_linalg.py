"""The randomised eigensolver and the finite-difference Hessian actions."""

import numpy as np
import pytest

from bayesinv.inference._linalg import (
    dense_hessian,
    hessian_action,
    leading_eigh,
    randomized_eigh,
)


def _matrix(rng, eigenvalues):
    q, _ = np.linalg.qr(rng.standard_normal((eigenvalues.size, eigenvalues.size)))
    return (q * eigenvalues) @ q.T


def test_randomized_eigh_matches_numpy_on_a_low_rank_matrix(rng):
    n = 60
    lam = np.zeros(n)
    lam[:6] = [50.0, -20.0, 9.0, 4.0, -2.0, 1.0]  # indefinite, decaying in magnitude
    a = _matrix(rng, lam)
    w, v = randomized_eigh(lambda x: a @ x, n, 6, rng=np.random.default_rng(1))
    w_ref, v_ref = np.linalg.eigh(a)
    order = np.argsort(np.abs(w_ref))[::-1][:6]
    np.testing.assert_allclose(w, w_ref[order], rtol=1e-10, atol=1e-10)
    # the same invariant subspace: projectors agree
    np.testing.assert_allclose(v @ v.T, v_ref[:, order] @ v_ref[:, order].T, atol=1e-8)
    np.testing.assert_allclose(v.T @ v, np.eye(6), atol=1e-12)


def test_randomized_eigh_misses_what_a_too_small_rank_cannot_hold(rng):
    # negative control: a flat spectrum of 30 equal eigenvalues is not captured by rank 5
    # with no oversampling, so the check above must fail here
    n = 40
    lam = np.zeros(n)
    lam[:30] = 1.0 + 0.01 * np.arange(30)
    a = _matrix(rng, lam)
    w, _ = randomized_eigh(
        lambda x: a @ x, n, 5, rng=np.random.default_rng(1), oversampling=0, power_iterations=0
    )
    top = np.sort(np.abs(np.linalg.eigvalsh(a)))[::-1][:5]
    assert not np.allclose(w, top, rtol=1e-6)


def test_leading_eigh_grows_the_rank_until_the_tolerance(rng):
    n = 80
    lam = np.zeros(n)
    lam[:35] = np.geomspace(100.0, 0.5, 35)
    a = _matrix(rng, lam)
    w, _ = leading_eigh(lambda x: a @ x, n, rng=np.random.default_rng(2), rank=5, tol=0.1)
    assert w.size >= 35 and np.abs(w[-1]) < 0.1
    np.testing.assert_allclose(w[:35], lam[:35], rtol=1e-6)


def test_hessian_of_a_gaussian_log_density_is_exact(rng):
    n = 7
    precision = _matrix(rng, np.linspace(1.0, 5.0, n))
    mean = rng.standard_normal(n)

    def logp_dlogp(x):
        r = x - mean
        return -0.5 * r @ precision @ r, -precision @ r

    hv = hessian_action(logp_dlogp, rng.standard_normal(n), step=1e-3)
    np.testing.assert_allclose(dense_hessian(hv, n), precision, atol=1e-9)
    assert hv.n_gradients == 2 * n
    with pytest.raises(ValueError, match="step must be a finite number > 0"):
        hessian_action(logp_dlogp, mean, step=0.0)
