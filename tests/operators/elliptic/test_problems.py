"""The issue-17 elliptic benchmark problem: geometry, determinism, noise level."""

import numpy as np

from bayesinv.operators.elliptic import elliptic_benchmark


def test_benchmark_problem_geometry_seed_and_noise():
    p = elliptic_benchmark(3)
    assert (p.grid.nx, p.grid.nz, p.operator.n_params, p.operator.n_data) == (8, 8, 64, 169)
    assert p.operator.shape == (33, 33) and p.sigma == 0.05 and p.prior_sd == 2.0
    t = (np.arange(13) + 1) / 14
    np.testing.assert_allclose(np.unique(p.points[:, 0]), t)
    np.testing.assert_allclose(np.unique(p.points[:, 1]), t)
    q = elliptic_benchmark(3)
    np.testing.assert_array_equal(p.data, q.data)  # same seed, same problem
    assert not np.array_equal(p.data, elliptic_benchmark(4).data)
    r = (p.data - p.operator.forward(p.truth)) / p.sigma
    assert abs(r.std() - 1.0) < 0.2 and abs(r.mean()) < 0.3  # N(0, 1) residuals, n = 169
    # the coarse level: same data space, close to the fine model
    coarse = p.operator_on(16)
    d_c, d_f = coarse.forward(p.truth), p.operator.forward(p.truth)
    assert coarse.n_data == 169 and 0 < np.abs(d_c - d_f).max() < 0.2 * np.abs(d_f).max()
    # the homogenized coarse level takes the fine parameters; it is a biased surrogate here
    hom = p.homogenized_on(4, 16)
    assert (hom.n_params, hom.n_data) == (64, 169)
    d_h = hom.forward(p.truth)
    assert np.all(np.isfinite(d_h)) and np.abs(d_h - d_f).max() > 3 * p.sigma
    # one fine cell per coarse cell: the cell problem returns a itself, the model is unchanged
    same = p.homogenized_on(8, 32).forward(p.truth)
    np.testing.assert_allclose(same, d_f, rtol=1e-12, atol=1e-14)
