"""The sign-split 1-D Poisson problem and its sampler (bayesinv.studies.sign_split)."""

import numpy as np
import pytest

from bayesinv import Grid1D
from bayesinv.operators.elliptic.elliptic1d import Elliptic1D
from bayesinv.studies import sign_split as ss


def test_forward_matches_elliptic1d_with_signed_coefficients():
    n = 16
    rng = np.random.default_rng(0)
    a = 1.0 + 0.5 * rng.standard_normal(n)
    a[5] = -0.7  # a negative cell: the discrete solution is still defined
    nodes = np.arange(1, n) / n
    op = Elliptic1D(Grid1D(nz=n, dz=1.0 / n), nodes, source=1.0, unknown="a_signed")
    np.testing.assert_allclose(ss.sign_split_forward(a), op.forward(a), rtol=1e-10, atol=1e-13)


def test_ridge_move_keeps_the_likelihood_and_its_jacobian_matches_finite_differences():
    p = ss.sign_split_problem(n_cells=8, snr=50.0)
    a = p.truth.copy()
    ll0 = ss._loglik(a, p.xm, p.data, p.sigma)
    _, c = ss._ridge_logdens(a, p.xm)
    moved = a * (c + 0.01 - p.xm) / (c - p.xm)
    assert ss._loglik(moved, p.xm, p.data, p.sigma) == pytest.approx(ll0, abs=1e-8)
    # |det da/d(delta, c)| by central differences of a(delta, c), delta_8 = -sum(delta_1..7)
    h = 1.0 / a.size

    def a_of(theta):
        delta = np.append(theta[:-1], -theta[:-1].sum())
        return h * (theta[-1] - p.xm) / delta

    delta = h * (c - p.xm) / a
    theta = np.append(delta[:-1], c)
    jac = np.empty((a.size, a.size))
    for k in range(a.size):
        e = np.zeros(a.size)
        e[k] = 1e-7 * max(abs(theta[k]), 1e-3)
        jac[:, k] = (a_of(theta + e) - a_of(theta - e)) / (2 * e[k])
    lp, _ = ss._ridge_logdens(a, p.xm)
    prior = -0.5 * np.sum((a - 1.0) ** 2)
    assert lp - prior == pytest.approx(np.log(abs(np.linalg.det(jac))), rel=1e-6)
    # negative control: a move of c that rescales the increments changes the likelihood
    assert abs(ss._loglik(moved * 1.01, p.xm, p.data, p.sigma) - ll0) > 1.0


def test_same_seed_same_draws_and_the_sampler_moves_along_the_ridge():
    p = ss.sign_split_problem()
    d1, acc = ss.sample_sign_split(p, 300, random_seed=4, chains=2, thin=3)
    d2, _ = ss.sample_sign_split(p, 300, random_seed=4, chains=2, thin=3)
    assert d1.shape == (2, 100, 128) and np.array_equal(d1, d2)
    assert np.all((acc > 0.05) & (acc < 0.95))

    # the draws fit the data to the noise: mean chi^2 per datum about 1 (127 data)
    def chi2(a):
        return np.mean(((ss.sign_split_forward(a) - p.data) / p.sigma) ** 2)

    fit = np.mean([chi2(a) for a in d1.reshape(-1, 128)])
    assert 0.6 < fit < 1.6
    # negative control: the starting perturbation of 10 % alone is far off the data
    start = p.truth * (1 + 0.1 * np.random.default_rng(0).standard_normal(128))
    assert chi2(start) > 20
    p_neg, mcse = ss.negative_mass(d1)
    assert p_neg.shape == mcse.shape == (128,) and np.all(p_neg[:20] == 0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sweeps": 0}, "sample_sign_split.*sweeps"),
        ({"chains": 0}, "sample_sign_split.*chains"),
        ({"flip_probability": 1.5}, "sample_sign_split: flip_probability"),
        ({"flip_cells": (80, 66)}, "sample_sign_split: flip_cells"),
    ],
)
def test_bad_input_names_the_argument(kwargs, message):
    p = ss.sign_split_problem(n_cells=8)
    args = {"sweeps": 10, "random_seed": 1, "flip_cells": (2, 4)} | kwargs
    with pytest.raises(ValueError, match=message):
        ss.sample_sign_split(p, **args)
    with pytest.raises(ValueError, match=r"sign_split_problem.*n_cells"):
        ss.sign_split_problem(n_cells=2)
