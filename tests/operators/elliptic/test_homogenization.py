"""Homogenized coarse models: analytic effective coefficients, convergence, and failure."""

import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.operators.elliptic import CellAverage, Elliptic2D, HomogenizedCoefficient
from bayesinv.testing import check_compiled_model, dot_test, taylor_test

COARSE = Grid2D(4, 4, 0.25, 0.25)
XS = (np.arange(13) + 1) / 14
POINTS = np.array([(x, z) for z in XS for x in XS])


@pytest.mark.parametrize("normal", ["z", "x"])
def test_layered_media_give_arithmetic_along_and_harmonic_across_exactly(rng, normal):
    fine, coarse = Grid2D(12, 8, 0.5, 0.25), Grid2D(3, 2, 2.0, 1.0)  # 4 x 4 fine per coarse
    layers = np.exp(rng.standard_normal((2, 4)))  # per coarse row: values of its 4 layers
    a = np.empty((8, 12))
    for cz in range(2):
        block = np.repeat(layers[cz][:, None], 4, axis=1)  # layers normal to z
        block = block if normal == "z" else block.T  # or normal to x
        a[4 * cz : 4 * cz + 4, :] = np.tile(block, (1, 3))
    axx, azz = np.exp(HomogenizedCoefficient(fine, coarse).forward(np.log(a).ravel())).reshape(
        2, 2, 3
    )
    arith = np.repeat(layers.mean(axis=1)[:, None], 3, axis=1)
    harm = np.repeat(1.0 / (1.0 / layers).mean(axis=1)[:, None], 3, axis=1)
    along, across = (axx, azz) if normal == "z" else (azz, axx)
    np.testing.assert_allclose(along, arith, rtol=1e-12)
    np.testing.assert_allclose(across, harm, rtol=1e-12)


def test_checkerboard_converges_to_the_geometric_mean():
    # two-phase checkerboard in 2-D: A* = sqrt(a1 a2) (Dykhne); conforming Q1 approaches it
    # from above at about first order (corner singularities); Richardson extrapolation of
    # the three finest cell meshes lands on the geometric mean
    a1, a2 = 1.0, 10.0
    cell = Grid2D(2, 2, 0.5, 0.5)
    m = np.log([a1, a2, a2, a1])
    exact = np.sqrt(a1 * a2)
    est = []
    for s in (4, 8, 16):
        axx, azz = np.exp(HomogenizedCoefficient(cell, Grid2D(1, 1, 1.0, 1.0), s).forward(m))
        assert axx == pytest.approx(azz, rel=1e-10)  # isotropic by symmetry
        est.append(axx)
    err = np.array(est) - exact
    assert np.all(err > 0) and np.all(np.diff(err) < 0)  # from above, decreasing
    rate = np.log2(err[:-1] / err[1:])
    assert np.all((rate > 0.6) & (rate < 1.3)), rate
    p = np.log2((est[0] - est[1]) / (est[1] - est[2]))
    extrapolated = est[2] - (est[1] - est[2]) / (2**p - 1)
    assert abs(extrapolated / exact - 1) < 0.01, (est, extrapolated)
    # the bounds: harmonic < A* < arithmetic
    assert 2 * a1 * a2 / (a1 + a2) < est[-1] < (a1 + a2) / 2


def test_effective_coefficient_within_voigt_reuss_bounds(rng):
    fine = Grid2D(8, 6, 1.0, 1.0)
    coarse = Grid2D(2, 3, 4.0, 2.0)
    m = 1.5 * rng.standard_normal(fine.size)
    op = HomogenizedCoefficient(fine, coarse, cell_refine=2)
    axx, azz = np.split(op.forward(m), 2)
    lo = CellAverage(fine, coarse, "harmonic").forward(m)
    hi = CellAverage(fine, coarse, "arithmetic").forward(m)
    assert np.all(lo < axx) and np.all(axx < hi) and np.all(lo < azz) and np.all(azz < hi)
    t = op.effective_tensor(m)
    np.testing.assert_allclose(np.log(t[:, 0, 0]), axx, rtol=1e-13)
    assert np.all(np.linalg.eigvalsh(t) > 0)


def _relative_error(fine, log_a_fine):
    """Max relative difference of u at POINTS: homogenized coarse model vs the fine model."""
    u_fine = Elliptic2D(fine, POINTS, mesh=(64, 64), source=10.0).forward(log_a_fine)
    coarse_model = Elliptic2D(COARSE, POINTS, mesh=(64, 64), source=10.0, anisotropic=True)
    u_h = coarse_model.forward(HomogenizedCoefficient(fine, COARSE).forward(log_a_fine))
    u_g = Elliptic2D(COARSE, POINTS, mesh=(64, 64), source=10.0).forward(
        CellAverage(fine, COARSE, "geometric").forward(log_a_fine)
    )
    scale = np.abs(u_fine).max()
    return np.abs(u_h - u_fine).max() / scale, np.abs(u_g - u_fine).max() / scale


def test_coarse_model_converges_to_fine_as_period_shrinks_and_fails_without_separation():
    # periodic anisotropic unit cell (a bar of 20, a wall piece of 0.05 in a background of 1),
    # period eps = 4 fine cells; eps / coarse cell = 1, 1/2, 1/4. Both models solved on the same
    # 64 x 64 Q1 mesh, so the difference is the homogenization error.
    unit = np.ones((4, 4))
    unit[1:3, 0:3] = 20.0
    unit[0, 3] = 0.05
    errors, geometric = [], []
    for n in (16, 32, 64):
        fine = Grid2D(n, n, 1 / n, 1 / n)
        e_h, e_g = _relative_error(fine, np.log(np.tile(unit, (n // 4, n // 4))).ravel())
        errors.append(e_h)
        geometric.append(e_g)
    errors = np.array(errors)
    assert np.all(errors[:-1] / errors[1:] > 1.5), errors
    assert errors[-1] < 0.1
    assert geometric[-1] > 2 * errors[-1]  # the cheap average ignores the geometry
    # no scale separation: one thin high-conductivity channel crossing the coarse cells
    fine = Grid2D(64, 64, 1 / 64, 1 / 64)
    xc = (np.arange(64) + 0.5) / 64
    X, Z = np.meshgrid(xc, xc)
    channel = np.where(np.abs(Z - 0.3 - 0.4 * X) < 0.04, np.log(100.0), 0.0).ravel()
    e_channel, _ = _relative_error(fine, channel)
    assert e_channel > 0.5 and e_channel > 5 * errors[-1], (e_channel, errors)


@pytest.mark.parametrize("kind", ["homogenized", "arithmetic", "harmonic", "geometric"])
def test_dot_and_taylor(rng, kind):
    fine, coarse = Grid2D(6, 4, 1.0, 1.0), Grid2D(3, 2, 2.0, 2.0)
    if kind == "homogenized":
        op = HomogenizedCoefficient(fine, coarse, cell_refine=2)
    else:
        op = CellAverage(fine, coarse, kind)
    m = rng.standard_normal(fine.size)
    dot_test(op, rng, m, tol=1e-10)
    order = float(taylor_test(op, m, rng, min_order=None))
    assert order > 1.9 or (kind == "geometric" and np.isinf(order))


def test_compiled_path_and_rejection():
    h = HomogenizedCoefficient(Grid2D(4, 4, 0.25, 0.25), Grid2D(2, 2, 0.5, 0.5))
    check_compiled_model(h, seed=5)
    bad = np.zeros(16)
    bad[3] = 800.0  # exp overflows: a rejected proposal
    assert np.all(np.isnan(h.numba_kernels().forward(bad)))


def test_grids_that_do_not_nest_are_refused():
    with pytest.raises(ValueError, match=r"coarse_grid .* does not nest in fine_grid"):
        HomogenizedCoefficient(Grid2D(6, 4, 1.0, 1.0), Grid2D(4, 2, 1.5, 2.0))
    with pytest.raises(ValueError, match="does not nest"):
        CellAverage(Grid2D(6, 4, 1.0, 1.0), Grid2D(3, 2, 2.0, 2.0, x0=1.0))
    with pytest.raises(ValueError, match="cell_refine"):
        HomogenizedCoefficient(Grid2D(6, 4, 1.0, 1.0), Grid2D(3, 2, 2.0, 2.0), cell_refine=0)
    with pytest.raises(ValueError, match="kind"):
        CellAverage(Grid2D(6, 4, 1.0, 1.0), Grid2D(3, 2, 2.0, 2.0), "median")
