"""Elliptic2D: manufactured solutions, exact layered solutions, scaling, adjoints, bad input."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from bayesinv import Grid2D
from bayesinv.operators.elliptic import CellAverage, Elliptic2D
from bayesinv.testing import check_compiled_model, dot_test, taylor_test

UNIT = Grid2D(nx=4, nz=4, dx=0.25, dz=0.25)


def l2_error(op, u_nodes, exact):
    """L2 norm of (bilinear interpolant of u_nodes - exact), 3x3 Gauss points per element."""
    t, w = np.polynomial.legendre.leggauss(3)
    t = 0.5 * (t + 1.0)
    w = 0.5 * w
    xn, zn = op.x_nodes, op.z_nodes
    hx, hz = xn[1] - xn[0], zn[1] - zn[0]
    total = 0.0
    for a, wa in zip(t, w, strict=True):  # z offset
        for b, wb in zip(t, w, strict=True):  # x offset
            uh = (
                (1 - a) * (1 - b) * u_nodes[:-1, :-1]
                + (1 - a) * b * u_nodes[:-1, 1:]
                + a * (1 - b) * u_nodes[1:, :-1]
                + a * b * u_nodes[1:, 1:]
            )
            X, Z = np.meshgrid(xn[:-1] + b * hx, zn[:-1] + a * hz)
            total += wa * wb * hx * hz * np.sum((uh - exact(X, Z)) ** 2)
    return np.sqrt(total)


@pytest.mark.parametrize("anisotropic", [False, True])
def test_manufactured_solution_converges_at_order_two(anisotropic):
    # u = sin(pi x) sin(pi z) + x z on the unit square, Dirichlet u = x z on right, top,
    # bottom, Neumann a_x du/dn = -a_x du/dx on the left (outward normal -x)
    ax, az = (np.exp(0.3), np.exp(-0.4)) if anisotropic else (np.exp(0.3),) * 2
    pi = np.pi

    def exact(x, z):
        return np.sin(pi * x) * np.sin(pi * z) + x * z

    def f(x, z):
        return (ax + az) * pi**2 * np.sin(pi * x) * np.sin(pi * z)

    def neumann_left(x, z):
        return -ax * (pi * np.cos(pi * x) * np.sin(pi * z) + z)

    bc = {
        "left": ("neumann", neumann_left),
        "right": ("dirichlet", lambda x, z: x * z),
        "top": ("dirichlet", lambda x, z: x * z),
        "bottom": ("dirichlet", lambda x, z: x * z),
    }
    m = np.log(np.r_[np.full(16, ax), np.full(16, az)]) if anisotropic else np.full(16, 0.3)
    errors = []
    for n in (8, 16, 32):
        op = Elliptic2D(
            UNIT, [[0.5, 0.5]], mesh=(n, n), source=f, boundary=bc, anisotropic=anisotropic
        )
        errors.append(l2_error(op, op.solve(m), exact))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(orders - 2.0) < 0.1), (errors, orders)
    assert errors[-1] < 2e-3


def test_layered_in_x_matches_exact_solution_with_flux():
    # a varies along x only; u = 0 left, u = 1 right, no flow top/bottom, f = 0:
    # u(x) = int_0^x 1/a / int_0^1 1/a (piecewise linear, exact for Q1), q = -1 / int_0^1 1/a
    grid = Grid2D(nx=5, nz=2, dx=0.2, dz=0.5)
    a_col = np.array([1.0, 0.1, 3.0, 0.5, 2.0])
    m = np.log(np.tile(a_col, 2))
    xs = np.linspace(0.0, 1.0, 11)
    pts = np.column_stack([xs, np.full(xs.size, 0.37)])
    bc = {"left": ("dirichlet", 0.0), "right": ("dirichlet", 1.0)}
    bc |= {"top": ("neumann", 0.0), "bottom": ("neumann", 0.0)}
    op = Elliptic2D(
        grid,
        pts,
        mesh=(10, 4),
        boundary=bc,
        flux_points=[[0.1, 0.3], [0.75, 0.9]],
        flux_normals=[[1.0, 0.0], [2.0, 0.0]],
    )
    resist = np.concatenate([[0.0], np.cumsum(0.2 / a_col)])
    edges = np.linspace(0.0, 1.0, 6)
    exact_u = np.interp(xs, edges, resist) / resist[-1]  # piecewise linear in x
    d = op.forward(m)
    np.testing.assert_allclose(d[:11], exact_u, rtol=0, atol=1e-12)
    np.testing.assert_allclose(d[11:], -1.0 / resist[-1], rtol=1e-12)


def test_layered_in_z_with_source_matches_exact_nodal_values():
    # -(a u')' = f in z, u(0) = u(1) = 0, no flow left/right: a u' = C - f z and
    # u(z) = int_0^z (C - f s)/a(s) ds with C from u(1) = 0 (Q1 is nodally exact here)
    f = 10.0
    a_lay = np.array([2.0, 0.2, 1.0, 5.0])
    grid = Grid2D(nx=1, nz=4, dx=1.0, dz=0.25)
    edges = np.linspace(0.0, 1.0, 5)
    i1 = np.sum(np.diff(edges) / a_lay)
    i2 = np.sum(np.diff(edges**2) / 2 / a_lay)
    C = f * i2 / i1

    def exact(z):
        k = np.clip(np.searchsorted(edges, z, side="right") - 1, 0, 3)
        below = np.concatenate(
            [[0.0], np.cumsum((C * np.diff(edges) - f * np.diff(edges**2) / 2) / a_lay)]
        )
        return below[k] + (C * (z - edges[k]) - f * (z**2 - edges[k] ** 2) / 2) / a_lay[k]

    zs = np.linspace(0.0, 1.0, 17)
    bc = {"left": ("neumann", 0.0), "right": ("neumann", 0.0)}
    op = Elliptic2D(
        grid, np.column_stack([np.full(17, 0.3), zs]), mesh=(3, 16), source=f, boundary=bc
    )
    np.testing.assert_allclose(op.forward(np.log(a_lay)), exact(zs), rtol=0, atol=1e-12)


def test_scaling_the_coefficient_scales_the_solution_exactly(rng):
    grid = Grid2D(nx=4, nz=3, dx=0.5, dz=0.5)
    bc = {"bottom": ("neumann", lambda x, z: np.sin(x))}
    op = Elliptic2D(
        grid,
        rng.uniform([0, 0], [2, 1.5], (7, 2)),
        mesh=(8, 9),
        source=lambda x, z: 1.0 + x * z,
        boundary=bc,
        flux_points=[[0.3, 0.2], [1.1, 1.4]],
        flux_normals=[[0.0, 1.0], [1.0, 1.0]],
    )
    m = rng.standard_normal(grid.size)
    d = op.forward(m)
    for c in (0.01, 3.0, 1e4):
        dc = op.forward(m + np.log(c))
        np.testing.assert_allclose(dc[:7], d[:7] / c, rtol=1e-11)  # u scales by 1/c
        np.testing.assert_allclose(dc[7:], d[7:], rtol=1e-11)  # the flux does not


def test_matches_scipy_reference_assembly(rng):
    # plain scipy assembly, element by element, of the same Q1 system
    grid = Grid2D(nx=3, nz=2, dx=1.0, dz=0.5)
    nxm, nzm = 6, 4
    a = np.exp(rng.standard_normal(grid.size))
    op = Elliptic2D(grid, [[1.0, 0.5]], mesh=(nxm, nzm), source=2.0)
    hx, hz = 3.0 / nxm, 1.0 / nzm
    S = np.array([[1.0, -1.0], [-1.0, 1.0]])
    M = np.array([[2.0, 1.0], [1.0, 2.0]]) / 6
    K = (hz / hx) * np.kron(M, S) + (hx / hz) * np.kron(S, M)
    Me = hx * hz * np.kron(M, M)
    n = (nxm + 1) * (nzm + 1)
    A = sp.lil_matrix((n, n))
    b = np.zeros(n)
    for iz in range(nzm):
        for ix in range(nxm):
            nodes = [iz * (nxm + 1) + ix + k for k in (0, 1, nxm + 1, nxm + 2)]
            ae = a[(iz // 2) * 3 + ix // 2]
            A[np.ix_(nodes, nodes)] += ae * K
            b[nodes] += Me @ np.full(4, 2.0)
    boundary = np.zeros((nzm + 1, nxm + 1), bool)
    boundary[[0, -1], :] = boundary[:, [0, -1]] = True
    free = ~boundary.ravel()
    u = np.zeros(n)
    u[free] = spsolve(A.tocsr()[free][:, free], b[free])
    np.testing.assert_allclose(op.solve(np.log(a)).ravel(), u, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("unknown", ["log", "a"])
def test_dot_and_taylor_tests(rng, unknown):
    grid = Grid2D(nx=3, nz=3, dx=1.0, dz=1.0)
    bc = {"left": ("neumann", 0.5), "top": ("dirichlet", lambda x, z: x)}
    op = Elliptic2D(
        grid,
        rng.uniform(0, 3, (6, 2)),
        mesh=(6, 6),
        source=3.0,
        boundary=bc,
        flux_points=rng.uniform(0, 3, (3, 2)),
        flux_normals=rng.standard_normal((3, 2)),
        unknown=unknown,
    )
    m = rng.standard_normal(9) if unknown == "log" else np.exp(rng.standard_normal(9))
    dot_test(op, rng, m, tol=1e-10)
    dm = rng.uniform(-0.5, 0.5, 9) * (1.0 if unknown == "log" else m)
    assert float(taylor_test(op, m, rng, dm)) > 1.9


def test_anisotropic_dot_and_taylor(rng):
    op = Elliptic2D(
        UNIT,
        rng.uniform(0, 1, (5, 2)),
        mesh=(8, 8),
        source=1.0,
        flux_points=[[0.4, 0.6]],
        flux_normals=[[0.0, 1.0]],
        anisotropic=True,
    )
    m = rng.standard_normal(32)
    dot_test(op, rng, m, tol=1e-10)
    assert float(taylor_test(op, m, rng)) > 1.9


def test_compiled_path_and_rejection_of_non_positive_coefficient(rng):
    # (the same NaN data inside a compiled PyMC log density: see test_elliptic1d.py). One
    # compile covers Elliptic2D and CellAverage kernels: a coarse model of a finer field.
    fine = Grid2D(8, 8, 0.125, 0.125)
    physics = Elliptic2D(UNIT, [[0.3, 0.4], [0.6, 0.5]], mesh=(8, 8), source=10.0)
    check_compiled_model(physics @ CellAverage(fine, UNIT, "harmonic"), seed=3)
    op = Elliptic2D(UNIT, rng.uniform(0, 1, (6, 2)), mesh=(8, 8), source=10.0, unknown="a")
    kernels = op.numba_kernels()
    good = np.ones(16)
    assert np.all(np.isfinite(kernels.forward(good)))
    bad = good.copy()
    bad[5] = -0.1
    assert np.all(np.isnan(kernels.forward(bad)))
    assert np.all(np.isnan(kernels.vjp(bad, np.ones(6))))
    assert np.all(np.isnan(kernels.jvp(bad, np.ones(16))))
    with pytest.raises(ValueError, match=r"Elliptic2D: m .*index 5"):
        op.forward(bad)
    # thread safety: concurrent kernel calls (nogil) give the serial results
    from concurrent.futures import ThreadPoolExecutor

    models = [np.exp(rng.standard_normal(16)) for _ in range(8)]
    serial = [kernels.vjp(a, np.ones(6)) for a in models]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda a: kernels.vjp(a, np.ones(6)), models))
    np.testing.assert_array_equal(np.array(threaded), np.array(serial))


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match=r"Elliptic2D: points \[1\] lie outside the domain"):
        Elliptic2D(UNIT, [[0.5, 0.5], [1.2, 0.5]])
    with pytest.raises(ValueError, match=r"Elliptic2D: flux_points \[0\] lie outside"):
        Elliptic2D(UNIT, None, flux_points=[[0.5, -0.1]], flux_normals=[[1.0, 0.0]])
    with pytest.raises(ValueError, match="does not nest in mesh"):
        Elliptic2D(UNIT, [[0.5, 0.5]], mesh=(6, 8))
    with pytest.raises(ValueError, match="no Dirichlet side"):
        Elliptic2D(
            UNIT,
            [[0.5, 0.5]],
            boundary={s: ("neumann", 0.0) for s in ("left", "right", "top", "bottom")},
        )
    with pytest.raises(ValueError, match="boundary key"):
        Elliptic2D(UNIT, [[0.5, 0.5]], boundary={"front": ("dirichlet", 0.0)})
    with pytest.raises(ValueError, match="unknown"):
        Elliptic2D(UNIT, [[0.5, 0.5]], unknown="sigma")
    with pytest.raises(ValueError, match="flux_normals"):
        Elliptic2D(UNIT, None, flux_points=[[0.5, 0.5]], flux_normals=[[0.0, 0.0]])
