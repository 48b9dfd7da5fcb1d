import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.operators.magnetics import Magnetics2D, section_field_direction
from bayesinv.testing import check_compiled_model, dot_test, taylor_test

F = 50000.0


def line_dipole(receivers, centre, area, fx, fz, intensity=F):
    """Total-field anomaly (nT per unit susceptibility) of a 2-D line dipole of area ``area``."""
    R = np.asarray(receivers, dtype=float) - np.asarray(centre, dtype=float)
    r2 = np.sum(R**2, axis=1)
    fdotr = R[:, 0] * fx + R[:, 1] * fz
    return intensity * area / (2 * np.pi * r2) * (2 * fdotr**2 / r2 - (fx**2 + fz**2))


def quadrature_matrix(grid, receivers, fx, fz, n_sub=12, n_gauss=6):
    """Independent reference: composite Gauss-Legendre quadrature of the line-dipole kernel."""
    g, w = np.polynomial.legendre.leggauss(n_gauss)
    # nodes and weights on [0, 1] for the sub-cells of one cell
    sub = (np.arange(n_sub)[:, None] + 0.5 * (g[None, :] + 1.0)) / n_sub
    ws = np.tile(0.5 * w / n_sub, n_sub)
    sub = sub.ravel()
    out = np.empty((len(receivers), grid.size))
    for j, (xc, zc) in enumerate(grid.cell_centers):
        xs = xc - 0.5 * grid.dx + grid.dx * sub
        zs = zc - 0.5 * grid.dz + grid.dz * sub
        X, Z = np.meshgrid(xs, zs, indexing="ij")
        W = np.outer(ws, ws) * grid.dx * grid.dz
        for i, rec in enumerate(receivers):
            pts = np.column_stack([X.ravel(), Z.ravel()])
            vals = line_dipole(np.broadcast_to(rec, pts.shape), pts, 1.0, fx, fz)
            out[i, j] = np.sum(vals * W.ravel())
    return out


@pytest.fixture
def grid():
    return Grid2D(nx=8, nz=4, dx=10.0, dz=5.0, x0=-40.0, z0=0.0)


@pytest.fixture
def receivers(grid):
    x = np.linspace(-70.0, 70.0, 8)
    above = np.column_stack([x, np.full(8, -3.0)])
    beside = np.array([[-45.0, 7.0], [44.0, 12.0], [3.0, 24.0]])  # left, right, below
    return np.vstack([above, beside])


@pytest.mark.parametrize(
    ("inc", "dec", "strike"), [(90.0, 0.0, 0.0), (60.0, 10.0, 0.0), (-35.0, 100.0, 30.0)]
)
def test_matches_quadrature_of_dipole_kernel(grid, receivers, inc, dec, strike):
    op = Magnetics2D(grid, receivers, inc, dec, F, strike=strike)
    fx, fz = section_field_direction(inc, dec, strike)
    ref = quadrature_matrix(grid, receivers, fx, fz)
    np.testing.assert_allclose(op.G, ref, rtol=0, atol=1e-12 * np.max(np.abs(ref)))


def test_horizontal_cylinder_equals_line_dipole():
    # cells whose centres lie within radius a of a grid vertex: a disc with 4-fold symmetry,
    # whose field outside equals a line dipole up to O((a / R)^4)
    grid = Grid2D(nx=40, nz=40, dx=1.0, dz=1.0, x0=-20.0, z0=10.0)
    centre = np.array([0.0, 30.0])
    a = 6.0
    inside = np.sum((grid.cell_centers - centre) ** 2, axis=1) <= a**2
    chi = 0.01
    m = np.where(inside, chi, 0.0)
    area = inside.sum() * grid.dx * grid.dz
    assert abs(area - np.pi * a**2) < 0.1 * np.pi * a**2
    x = np.linspace(-150.0, 150.0, 31)
    rx = np.column_stack([x, np.full_like(x, -30.0)])  # at least 60 m = 10 a from the centre
    for inc, dec in [(90.0, 0.0), (45.0, 90.0), (-20.0, 250.0)]:
        op = Magnetics2D(grid, rx, inc, dec, F)
        fx, fz = op.field_direction
        expected = chi * line_dipole(rx, centre, area, fx, fz)
        np.testing.assert_allclose(op.forward(m), expected, atol=2e-5 * np.max(np.abs(expected)))


def test_single_cell_tends_to_line_dipole_far_away(grid):
    rx = np.array([[0.0, -400.0], [300.0, -250.0], [-500.0, 60.0]])
    op = Magnetics2D(grid, rx, 50.0, 40.0, F, strike=-10.0)
    fx, fz = op.field_direction
    j = 2 * grid.nx + 5
    expected = line_dipole(rx, grid.cell_centers[j], grid.dx * grid.dz, fx, fz)
    np.testing.assert_allclose(op.G[:, j], expected, rtol=1e-3)


def test_vertical_field_gives_symmetric_anomaly_for_symmetric_body(rng):
    grid = Grid2D(nx=10, nz=5, dx=4.0, dz=3.0, x0=-20.0)
    half = rng.uniform(0.0, 0.05, (5, 5))
    m = grid.ravel(np.hstack([half, half[:, ::-1]]))  # symmetric about x = 0
    x = np.linspace(-50.0, 50.0, 21)
    rx = np.column_stack([x, np.full_like(x, -1.5)])
    d = Magnetics2D(grid, rx, 90.0, 37.0, F).forward(m)
    np.testing.assert_allclose(d, d[::-1], rtol=1e-12, atol=1e-12 * np.max(np.abs(d)))
    assert d[10] > 0  # positive anomaly above a body in a downward field
    # inclined field: no longer symmetric
    d_inc = Magnetics2D(grid, rx, 45.0, 90.0, F).forward(m)
    assert np.max(np.abs(d_inc - d_inc[::-1])) > 0.1 * np.max(np.abs(d_inc))


def test_declination_and_strike_combine_as_documented(grid, receivers):
    # only D - strike matters
    a = Magnetics2D(grid, receivers, 55.0, 20.0, F, strike=5.0)
    b = Magnetics2D(grid, receivers, 55.0, 115.0, F, strike=100.0)
    np.testing.assert_allclose(a.G, b.G, rtol=1e-12, atol=1e-12 * np.max(np.abs(a.G)))
    # field along strike: only the vertical component, scaled by sin^2 I
    along = Magnetics2D(grid, receivers, 55.0, 30.0, F, strike=30.0)
    vertical = Magnetics2D(grid, receivers, 90.0, 0.0, F)
    s2 = np.sin(np.radians(55.0)) ** 2
    np.testing.assert_allclose(along.G, s2 * vertical.G, rtol=1e-12, atol=1e-9)
    # a horizontal field across strike pointing to +x: cos I sin(D - s) = 1
    assert section_field_direction(0.0, 90.0, 0.0) == pytest.approx((1.0, 0.0))
    assert section_field_direction(0.0, 0.0, 270.0) == pytest.approx((1.0, 0.0))


def test_boundary_receivers_take_the_limit_from_outside(grid):
    xe, ze = grid.x_edges, grid.z_edges
    on = np.array([[3.0, ze[0]], [xe[0], 7.0], [xe[-1], 12.0], [-7.0, ze[-1]]])
    eps = 1e-9
    off = on + np.array([[0.0, -eps], [-eps, 0.0], [eps, 0.0], [0.0, eps]])
    a = Magnetics2D(grid, on, 60.0, 20.0, F).G
    b = Magnetics2D(grid, off, 60.0, 20.0, F).G
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * np.max(np.abs(a)))


def test_bad_receivers_and_parameters_raise(grid):
    with pytest.raises(ValueError, match=r"Magnetics2D: receiver\(s\) \[1\] lie inside"):
        Magnetics2D(grid, [[0.0, -1.0], [1.0, 1.0]], 60.0, 0.0, F)
    with pytest.raises(ValueError, match=r"Magnetics2D: receiver\(s\) \[0\] sit on a cell corner"):
        Magnetics2D(grid, [[-30.0, 0.0]], 60.0, 0.0, F)
    with pytest.raises(ValueError, match="Magnetics2D: receivers has non-finite"):
        Magnetics2D(grid, [[np.nan, -1.0]], 60.0, 0.0, F)
    with pytest.raises(
        ValueError, match=r"Magnetics2D: inclination must be a finite number >= -90 and <= 90"
    ):
        Magnetics2D(grid, [[0.0, -1.0]], 91.0, 0.0, F)
    with pytest.raises(
        ValueError, match=r"Magnetics2D: intensity must be a finite number > 0 \(nT\)"
    ):
        Magnetics2D(grid, [[0.0, -1.0]], 60.0, 0.0, -5.0)
    with pytest.raises(ValueError, match="Magnetics2D: declination must be a finite number"):
        Magnetics2D(grid, [[0.0, -1.0]], 60.0, np.nan, F)


def test_dot_taylor(grid, receivers, rng):
    op = Magnetics2D(grid, receivers, 60.0, 10.0, F)
    dot_test(op, rng)
    assert taylor_test(op, rng.uniform(0, 0.01, grid.size), rng).order == np.inf


def test_compiled_model(grid, receivers):
    op = Magnetics2D(grid, receivers, 60.0, 10.0, F)
    check_compiled_model(op, seed=13, sigma=50.0)
