import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.operators import Gravity2D
from bayesinv.testing import dot_test, taylor_test

G_NEWTON = 6.67430e-11
MGAL = 1e5


def closed_form_numpy(grid, receivers):
    """Vectorised numpy version of the closed-form cell attraction (reference)."""
    X = grid.x_edges[None, None, :] - receivers[:, 0, None, None]
    Z = grid.z_edges[None, :, None] - receivers[:, 1, None, None]
    X, Z = np.broadcast_arrays(X, Z)
    with np.errstate(divide="ignore", invalid="ignore"):
        term_x = np.where(X != 0, 0.5 * X * np.log(X**2 + Z**2), 0.0)
        term_z = np.where(Z != 0, Z * np.arctan(X / Z), 0.0)
    phi = term_x + term_z  # (nr, nz + 1, nx + 1)
    cell = phi[:, 1:, 1:] - phi[:, 1:, :-1] - phi[:, :-1, 1:] + phi[:, :-1, :-1]
    return 2 * G_NEWTON * MGAL * cell.reshape(len(receivers), -1)


def quadrature_numpy(grid, receivers, n=12):
    """Gauss-Legendre quadrature of the 2-D line-mass kernel over each cell (reference)."""
    t, w = np.polynomial.legendre.leggauss(n)
    xs = grid.x_edges[:-1, None] + 0.5 * grid.dx * (t + 1)  # (nx, n)
    zs = grid.z_edges[:-1, None] + 0.5 * grid.dz * (t + 1)  # (nz, n)
    wq = 0.25 * grid.dx * grid.dz * np.outer(w, w)  # (n, n)
    out = np.empty((len(receivers), grid.size))
    for r, (xr, zr) in enumerate(receivers):
        X = xs[None, :, None, :] - xr  # (1, nx, 1, n)
        Z = zs[:, None, :, None] - zr  # (nz, 1, n, 1)
        k = Z / (X**2 + Z**2)  # (nz, nx, n, n)
        out[r] = 2 * G_NEWTON * MGAL * np.einsum("abij,ij->ab", k, wq).ravel()
    return out


def test_matches_numpy_closed_form_including_surface_receivers(rng):
    grid = Grid2D(nx=13, nz=7, dx=7.0, dz=4.0, x0=-30.0)
    x = np.concatenate([grid.x_edges[::3], rng.uniform(-80, 80, 5)])
    z = np.concatenate([np.zeros(5), -rng.uniform(0.1, 20.0, x.size - 5)])
    rx = np.column_stack([x, z])
    op = Gravity2D(grid, rx)
    np.testing.assert_allclose(op.G, closed_form_numpy(grid, rx), rtol=1e-12, atol=0)


def test_matches_independent_quadrature_for_elevated_receivers():
    grid = Grid2D(nx=10, nz=6, dx=10.0, dz=10.0)
    rx = np.column_stack([np.linspace(-30, 130, 11), np.full(11, -5.0)])
    op = Gravity2D(grid, rx)
    ref = quadrature_numpy(grid, rx, n=24)
    np.testing.assert_allclose(op.G, ref, rtol=2e-6, atol=1e-12 * np.abs(ref).max())


def test_buried_cylinder_matches_analytic_attraction():
    # horizontal cylinder of radius R at (xc, zc): g_z = 2 pi G rho R^2 (zc - zr) / r^2
    R, xc, zc, rho = 25.0, 100.0, 60.0, 400.0
    grid = Grid2D(nx=100, nz=60, dx=2.0, dz=2.0)
    # fraction of each cell inside the disk, by 8x8 sub-sampling
    s = (np.arange(8) + 0.5) / 8
    xs = grid.x_edges[:-1, None] + grid.dx * s
    zs = grid.z_edges[:-1, None] + grid.dz * s
    inside = (xs[None, :, None, :] - xc) ** 2 + (zs[:, None, :, None] - zc) ** 2 <= R**2
    density = rho * inside.mean(axis=(2, 3))
    rx = np.column_stack([np.linspace(0, 200, 41), np.zeros(41)])
    op = Gravity2D(grid, rx)
    computed = op.forward(grid.ravel(density))
    analytic = 2 * np.pi * G_NEWTON * rho * R**2 * zc / ((rx[:, 0] - xc) ** 2 + zc**2) * MGAL
    np.testing.assert_allclose(computed, analytic, rtol=2e-3)
    assert computed.argmax() == 20 and np.all(computed > 0)  # peak above the body, positive


def test_signs_and_units_positive_excess_gives_positive_mgal():
    # an infinite horizontal slab of thickness h gives the Bouguer value 2 pi G rho h
    grid = Grid2D(nx=2001, nz=1, dx=50.0, dz=10.0, x0=-50025.0, z0=5.0)
    op = Gravity2D(grid, [[0.0, 0.0]])
    g = op.forward(np.full(grid.size, 1000.0))[0]
    bouguer = 2 * np.pi * G_NEWTON * 1000.0 * 10.0 * MGAL
    assert g > 0
    assert g == pytest.approx(bouguer, rel=2e-4)


def test_adjoint_and_taylor(rng):
    grid = Grid2D(nx=9, nz=5, dx=10.0, dz=10.0)
    op = Gravity2D(grid, np.column_stack([np.linspace(0, 90, 7), np.zeros(7)]))
    assert dot_test(op, rng) <= 1e-10
    assert taylor_test(op, rng.standard_normal(grid.size), rng).order == np.inf


@pytest.mark.parametrize(
    ("receivers", "message"),
    [
        ([[50.0, 10.0]], r"receiver\(s\) \[0\] lie inside the model cells"),
        ([[0.0, 0.0], [np.nan, 0.0]], r"non-finite coordinates at row\(s\) \[1\]"),
        ([[0.0, 0.0, 1.0]], r"shape \(n, 2\)"),
        ([["0", "0"]], r"Gravity2D: receivers must be an array of \(x, z\) numbers"),
        ([[0.0, 0.0], [1.0]], r"Gravity2D: receivers must be an array of \(x, z\) numbers"),
    ],
)
def test_bad_receivers_raise(receivers, message):
    with pytest.raises(ValueError, match=message):
        Gravity2D(Grid2D(nx=10, nz=5, dx=10.0, dz=10.0), receivers)


def test_receivers_on_the_boundary_or_beside_the_grid_are_allowed():
    grid = Grid2D(nx=10, nz=5, dx=10.0, dz=10.0)
    op = Gravity2D(grid, [[0.0, 0.0], [100.0, 25.0], [-5.0, 30.0], [50.0, 50.0]])
    assert np.all(np.isfinite(op.G))


def test_wrong_grid_type_is_rejected():
    with pytest.raises(TypeError, match="Grid2D"):
        Gravity2D("grid", [[0.0, 0.0]])
