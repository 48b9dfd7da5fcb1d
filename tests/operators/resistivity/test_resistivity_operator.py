import threading
import warnings

import numpy as np
import pymc as pm
import pytest
from scipy.integrate import quad
from scipy.special import j0, k0

from bayesinv import Grid2D
from bayesinv.operators import ForwardOperator
from bayesinv.operators.resistivity._fe import element_matrices, fe_mesh
from bayesinv.operators.resistivity._wavenumbers import (
    optimised_wavenumbers,
    wavenumber_quadrature,
)
from bayesinv.operators.resistivity.analytic import two_layer_potential
from bayesinv.operators.resistivity.arrays import (
    dipole_dipole,
    pole_pole,
    schlumberger,
    surface_electrodes,
    wenner,
)
from bayesinv.operators.resistivity.operator import DCResistivity2p5D
from bayesinv.ops import forward
from bayesinv.testing import dot_test, taylor_test


# --- independent references ---------------------------------------------------------------
def two_layer_potential_hankel(r, rho1, rho2, h):
    """The same potential by direct numerical Hankel integration of Stefanescu's kernel."""
    q = (rho2 - rho1) / (rho2 + rho1)

    def kernel(lam):
        e = q * np.exp(-2.0 * lam * h)
        return e / (1.0 - e) * j0(lam * r)

    integral = quad(kernel, 0.0, 60.0 / h, limit=400)[0]
    return rho1 / (2 * np.pi) * (1.0 / r + 2.0 * integral)


# --- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_survey():
    grid = Grid2D(nx=14, nz=6, dx=2.0, dz=2.0, x0=-4.0)
    x = np.arange(-2.0, 22.1, 2.0)
    abmn = np.vstack([dipole_dipole(x.size, n_max=3), pole_pole(x.size, max_separation=3)[::3]])
    abmn = np.vstack([abmn, [[0, 5, 2, -1], [3, -1, 7, 8]]])  # pole-dipole, dipole-pole rows
    return grid, surface_electrodes(x), abmn


@pytest.fixture(scope="module")
def small_op(small_survey):
    grid, electrodes, abmn = small_survey
    return DCResistivity2p5D(grid, electrodes, abmn, n_wavenumbers=7, padding=5)


LOG_SIGMA0 = np.log(0.01)


def random_model(grid, rng, mean=LOG_SIGMA0, sd=0.5):
    return mean + sd * rng.standard_normal(grid.size)


# --- survey generators ---------------------------------------------------------------------
def test_survey_generators_give_valid_geometry():
    dd = dipole_dipole(10, n_max=3)
    assert dd.shape == (7 + 6 + 5, 4)
    a, b, m, n = dd.T
    assert np.all(b - a == 1) and np.all(n - m == 1) and np.all((m - b >= 1) & (m - b <= 3))
    w = wenner(10)
    a, b, m, n = w.T
    assert np.all((m - a == n - m) & (n - m == b - n))
    s = schlumberger(10, n_max=2, a=1)
    a, b, m, n = s.T
    assert np.all(n - m == 1) and np.all(m - a == b - n) and np.all(m - a >= 1)
    pp = pole_pole(5)
    assert pp.shape == (10, 4) and np.all(pp[:, [1, 3]] == -1)
    assert dipole_dipole(12, n_max=2, a=[1, 2]).shape[0] == 9 + 8 + 6 + 4
    with pytest.raises(ValueError, match="wenner"):
        wenner(3)  # no Wenner quadripole fits on three electrodes
    with pytest.raises(ValueError, match="n_max"):
        dipole_dipole(10, n_max=0)
    with pytest.raises(ValueError, match="surface_electrodes"):
        surface_electrodes([0.0, np.nan])


# --- pieces against independent references -------------------------------------------------
def test_element_matrices_match_quadrature_of_the_weak_form():
    """Q1 element matrices against 3-point Gauss quadrature of the bilinear forms."""
    grid = Grid2D(nx=3, nz=3, dx=1.5, dz=0.7, x0=2.0)
    mesh = fe_mesh(grid, np.array([[3.1, 0.0]]), n_pad=0, factor=1.3)
    k = np.array([0.01, 0.8])
    B = element_matrices(mesh, k, np.array([3.0, 0.0]))
    t, wq = np.polynomial.legendre.leggauss(3)
    t, wq = 0.5 * (t + 1), 0.5 * wq
    hx, hz = np.diff(mesh.x_nodes), np.diff(mesh.z_nodes)
    e = hx.size + 1  # an interior element: row 1, column 1 (no Robin edge)
    iz, ix = divmod(e, hx.size)
    assert 0 < iz < hz.size - 1 and 0 < ix < hx.size - 1
    a, b = hx[ix], hz[iz]
    for i, ki in enumerate(k):
        ref = np.zeros((4, 4))
        for u, wu in zip(t, wq, strict=True):
            for v, wv in zip(t, wq, strict=True):
                # local nodes (iz, ix) in C order: (0,0), (0,1), (1,0), (1,1); u along x
                N = np.array([(1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v])
                dNx = np.array([-(1 - v), 1 - v, -v, v]) / a
                dNz = np.array([-(1 - u), -u, 1 - u, u]) / b
                ref += (
                    wu
                    * wv
                    * a
                    * b
                    * (np.outer(dNx, dNx) + np.outer(dNz, dNz) + ki**2 * np.outer(N, N))
                )
        np.testing.assert_allclose(B[i, e].reshape(4, 4), ref, rtol=1e-12, atol=1e-14)
    assert np.all(np.linalg.eigvalsh(B[1].reshape(-1, 4, 4)) > -1e-12)


def test_mesh_puts_every_electrode_on_a_node():
    grid = Grid2D(nx=6, nz=4, dx=2.0, dz=1.0, x0=10.0)
    elec = np.array([[12.0, 0.0], [15.0, 0.0], [17.3, 2.5]])  # edge, centre, buried
    mesh = fe_mesh(grid, elec, n_pad=2, factor=1.5)
    nx_n = mesh.x_nodes.size
    iz, ix = np.divmod(mesh.electrode_nodes, nx_n)
    np.testing.assert_allclose(np.column_stack([mesh.x_nodes[ix], mesh.z_nodes[iz]]), elec)
    # the split cells keep their conductivity index; padding maps to the nearest edge cell
    xc = 0.5 * (mesh.x_nodes[1:] + mesh.x_nodes[:-1])
    zc = 0.5 * (mesh.z_nodes[1:] + mesh.z_nodes[:-1])
    cx = np.clip(((xc - 10.0) // 2.0).astype(int), 0, 5)
    cz = np.clip(zc.astype(int), 0, 3)
    np.testing.assert_array_equal(mesh.cell, (cz[:, None] * 6 + cx[None, :]).ravel())


@pytest.mark.parametrize(("r_min", "r_max", "n"), [(1.0, 50.0, 9), (2.0, 500.0, 11)])
def test_wavenumber_rule_integrates_k0(r_min, r_max, n):
    k, w, err = wavenumber_quadrature(r_min, r_max, n)
    assert np.all(w >= 0) and err < 1e-3
    r = np.geomspace(r_min, r_max, 37)  # not the fitting points
    approx = (2 / np.pi) * (k0(np.outer(r, k)) @ w)
    np.testing.assert_allclose(approx, 1.0 / r, rtol=1.5 * err)


@pytest.mark.parametrize(
    ("r_min", "r_max", "n"), [(1.0, 20.0, 5), (2.0, 100.0, 6), (1.0, 300.0, 7)]
)
def test_optimised_wavenumbers_integrate_k0_better_than_fixed_nodes(r_min, r_max, n):
    """Moving the nodes (Xu et al. 2000) beats log-spaced nodes at the same count."""
    k, w, err = optimised_wavenumbers(r_min, r_max, n)
    _, _, err_fixed = wavenumber_quadrature(r_min, r_max, n)
    assert k.size == n and np.all(w >= 0) and err < 1e-3 and err < 0.2 * err_fixed
    r = np.geomspace(r_min, r_max, 37)  # not the fitting points
    approx = (2 / np.pi) * (k0(np.outer(r, k)) @ w)
    np.testing.assert_allclose(approx, 1.0 / r, rtol=1.5 * err)


def test_image_series_matches_hankel_integral():
    for r in (1.0, 3.0, 10.0):
        for rho2 in (10.0, 1000.0):
            v1 = two_layer_potential(r, 100.0, rho2, 4.0)
            v2 = two_layer_potential_hankel(r, 100.0, rho2, 4.0)
            np.testing.assert_allclose(v1, v2, rtol=1e-4)


# --- physics -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def halfspace_line():
    grid = Grid2D(nx=56, nz=20, dx=1.0, dz=1.0)
    return grid, surface_electrodes(np.arange(4.0, 52.1, 2.0))


@pytest.mark.parametrize("array", ["wenner", "dipole_dipole"])
def test_halfspace_apparent_resistivity(halfspace_line, array):
    grid, electrodes = halfspace_line
    n = electrodes.shape[0]
    abmn = wenner(n) if array == "wenner" else dipole_dipole(n, n_max=6)
    op = DCResistivity2p5D(grid, electrodes, abmn)
    rho_a = op.forward(np.full(grid.size, np.log(1 / 250.0)))
    np.testing.assert_allclose(rho_a, 250.0, rtol=0.02)
    # transfer resistances are rho_a / K
    op_r = DCResistivity2p5D(grid, electrodes, abmn, data="resistance")
    r = op_r.forward(np.full(grid.size, np.log(1 / 250.0)))
    np.testing.assert_allclose(r * op.geometric_factor, rho_a, rtol=1e-12)
    # the unit half-space used to build the correction (no stale cache entry)
    np.testing.assert_allclose(op.forward(np.zeros(grid.size)), 1.0, rtol=1e-10)


def test_uncorrected_halfspace_error_shrinks_with_refinement():
    """Without the numerical geometric factor the raw scheme converges to 1/(2 pi sigma r).

    Measured max error 1.7% (refinement 1), 3.0% (2: uniform half cells lose the favourable
    x-refinement around the electrodes), 0.8% (4).
    """
    x = np.arange(8.0, 40.1, 4.0)
    abmn = wenner(x.size)
    grid = Grid2D(nx=24, nz=8, dx=2.0, dz=2.0)
    errors = []
    for refinement in (1, 4):
        op = DCResistivity2p5D(
            grid, surface_electrodes(x), abmn, halfspace_correction=False, refinement=refinement
        )
        errors.append(np.max(np.abs(op.forward(np.zeros(grid.size)) - 1.0)))
    assert errors[1] < 0.6 * errors[0]
    assert errors[1] < 0.01


@pytest.mark.parametrize("rho2", [10.0, 1000.0])
def test_two_layer_schlumberger_sounding(rho2):
    rho1, h = 100.0, 4.0
    ab2 = np.array([1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0])
    mn2 = 0.5
    x = np.r_[-ab2[::-1], -mn2, mn2, ab2]
    na = ab2.size
    abmn = np.array([[na - 1 - i, na + 2 + i, na, na + 1] for i in range(na)])
    grid = Grid2D(nx=120, nz=32, dx=0.5, dz=0.5, x0=-30.0)
    m = np.where(grid.cell_centers[:, 1] < h, np.log(1 / rho1), np.log(1 / rho2))
    rho_a = DCResistivity2p5D(grid, surface_electrodes(x), abmn).forward(m)

    am, an = ab2 - mn2, ab2 + mn2
    dv = 2 * (two_layer_potential(am, rho1, rho2, h) - two_layer_potential(an, rho1, rho2, h))
    expected = 2 * np.pi / (2 * (1 / am - 1 / an)) * dv
    assert abs(expected[-1] / rho1 - 1) > 0.5  # the sounding does see the second layer
    np.testing.assert_allclose(rho_a, expected, rtol=0.03)


@pytest.mark.parametrize("rho2", [10.0, 1000.0])
def test_vertical_contact_pole_pole(rho2):
    """A 2-D structure (a vertical contact at x = 0) against the image solution.

    Source in medium 1 at x_A < 0: V = rho1/(2 pi) (1/r + q/r') on its side, with r' the
    distance to the image at -x_A, and V = rho1 (1 + q) / (2 pi r) across the contact.
    """
    rho1 = 100.0
    q = (rho2 - rho1) / (rho2 + rho1)
    grid = Grid2D(nx=120, nz=24, dx=0.5, dz=0.5, x0=-30.0)
    m = np.where(grid.cell_centers[:, 0] < 0.0, np.log(1 / rho1), np.log(1 / rho2))
    x = np.array([-12.0, -6.0, -3.0, -1.5, 1.5, 3.0, 6.0, 12.0])
    abmn = np.array([[a, -1, i, -1] for a in (0, 1, 2) for i in range(x.size) if i != a])
    op = DCResistivity2p5D(grid, surface_electrodes(x), abmn, data="resistance")
    xa, xm = x[abmn[:, 0]], x[abmn[:, 2]]
    r, r_image = np.abs(xm - xa), np.abs(xm + xa)
    same_side = xm < 0
    exact = np.where(
        same_side,
        rho1 / (2 * np.pi) * (1 / r + q / np.where(same_side, r_image, 1.0)),
        rho1 * (1 + q) / (2 * np.pi * r),
    )
    np.testing.assert_allclose(op.forward(m), exact, rtol=0.02)


def test_reciprocity(small_survey, rng):
    grid, electrodes, _ = small_survey
    abmn = np.array([[0, 1, 5, 6], [2, 4, 9, 11], [3, -1, 8, -1]])
    swapped = abmn[:, [2, 3, 0, 1]]
    m = random_model(grid, rng, sd=1.0)
    kw = dict(data="resistance", n_wavenumbers=7, padding=5)
    r1 = DCResistivity2p5D(grid, electrodes, abmn, **kw).forward(m)
    r2 = DCResistivity2p5D(grid, electrodes, swapped, **kw).forward(m)
    np.testing.assert_allclose(r1, r2, rtol=1e-10)


def test_conductive_block_lowers_apparent_resistivity(small_op, rng):
    grid = small_op.grid
    base = np.full(grid.size, np.log(0.01))
    block = grid.unravel(base.copy())
    block[0:3, 5:9] = np.log(0.1)
    d0, d1 = small_op.forward(base), small_op.forward(grid.ravel(block))
    assert np.mean(d1) < 0.9 * np.mean(d0) and np.min(d1 / d0) < 0.5


# --- derivatives ---------------------------------------------------------------------------
@pytest.mark.parametrize("data", ["apparent_resistivity", "resistance"])
def test_dot_and_taylor(small_survey, rng, data):
    grid, electrodes, abmn = small_survey
    op = DCResistivity2p5D(grid, electrodes, abmn, data=data, n_wavenumbers=7, padding=5)
    m = random_model(grid, rng)
    assert dot_test(op, rng, m, tol=1e-10) <= 1e-10
    result = taylor_test(op, m, rng, dm=0.3 * rng.standard_normal(grid.size))
    assert 1.9 <= result.order < 2.5


@pytest.fixture(scope="module")
def borehole_op():
    """Surface line plus two boreholes (cross-hole and surface-to-hole measurements)."""
    grid = Grid2D(nx=16, nz=8, dx=1.0, dz=1.0)
    surface = surface_electrodes([3.0, 5.5, 8.0, 10.5, 13.0])
    holes = np.array([[4.0, 2.0], [4.0, 4.5], [4.0, 7.0], [12.0, 2.5], [12.0, 5.0], [12.0, 6.5]])
    elec = np.vstack([surface, holes])
    abmn = np.array(
        [
            [5, 6, 8, 9],
            [6, 7, 9, 10],
            [5, 7, 8, 10],
            [0, 5, 1, 6],
            [2, 8, 3, 9],
            [1, -1, 9, -1],
            [4, -1, 7, 10],
            [0, 4, 6, 9],
        ]
    )
    return DCResistivity2p5D(grid, elec, abmn, n_wavenumbers=7, padding=5)


def test_buried_geometry_dot_and_taylor(borehole_op, rng):
    m = random_model(borehole_op.grid, rng)
    assert dot_test(borehole_op, rng, m, tol=1e-10) <= 1e-10
    result = taylor_test(borehole_op, m, rng, dm=0.3 * rng.standard_normal(m.size))
    assert 1.9 <= result.order < 2.5


@pytest.mark.parametrize("which", ["surface", "buried"])
def test_numba_kernels_match_python_path_and_are_adjoint(small_op, borehole_op, rng, which):
    """The fused kernels (what compiled models call) equal the cached Python path."""
    op = small_op if which == "surface" else borehole_op
    k = op.numba_kernels()
    m = random_model(op.grid, rng)
    dm, dd = rng.standard_normal(op.n_params), rng.standard_normal(op.n_data)
    np.testing.assert_allclose(k.forward(m), op.forward(m), rtol=1e-12)
    jv, vj = k.jvp(m, dm), k.vjp(m, dd)
    np.testing.assert_allclose(jv, op.jvp(m, dm), rtol=1e-10, atol=1e-12 * np.abs(jv).max())
    np.testing.assert_allclose(vj, op.vjp(m, dd), rtol=1e-10, atol=1e-12 * np.abs(vj).max())
    assert abs(dd @ jv - dm @ vj) <= 1e-10 * abs(dd @ jv)
    for bad in (np.full(op.n_params, 800.0), np.full(op.n_params, -800.0)):
        assert np.all(np.isnan(k.forward(bad)))
        assert np.all(np.isnan(k.jvp(bad, dm)))
        assert np.all(np.isnan(k.vjp(bad, dd)))
    assert np.all(np.isnan(k.vjp(m, np.full(op.n_data, np.nan))))


def test_forward_jvp_vjp_solve_once_per_model(small_survey, rng, monkeypatch):
    grid, electrodes, abmn = small_survey
    op = DCResistivity2p5D(grid, electrodes, abmn, n_wavenumbers=5, padding=3, cache_size=2)
    calls = []
    solve = op._solve
    monkeypatch.setattr(op, "_solve", lambda m: calls.append(1) or solve(m))
    m1, m2, m3 = (random_model(grid, rng) for _ in range(3))
    d = op.forward(m1)
    op.vjp(m1, np.ones(op.n_data))
    op.jvp(m1.copy(), np.ones(grid.size))
    assert len(calls) == 1
    op.forward(m2), op.forward(m3)  # evicts m1 (cache_size=2)
    np.testing.assert_array_equal(op.forward(m1), d)
    assert len(calls) == 4


def test_concurrent_calls_agree_with_serial(small_op, rng):
    models = [random_model(small_op.grid, rng) for _ in range(6)]
    dd = rng.standard_normal(small_op.n_data)
    serial = [small_op.vjp(m, dd) for m in models]
    small_op._cache.clear()
    results = [None] * len(models)

    def work(i):
        results[i] = small_op.vjp(models[i], dd)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(models))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(results, serial, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# --- bad input and failures ----------------------------------------------------------------
def test_bad_input_raises_clear_errors(small_survey):
    grid, electrodes, abmn = small_survey
    op = DCResistivity2p5D(grid, electrodes, abmn[:3], n_wavenumbers=3, padding=2)
    m = np.zeros(grid.size)
    m[4] = np.inf
    with pytest.raises(ValueError, match=r"DCResistivity2p5D: m has 1 non-finite"):
        op.forward(m)
    outside = electrodes.copy()
    outside[0, 0] = grid.x_edges[0] - 1.0
    with pytest.raises(ValueError, match=r"DCResistivity2p5D: electrode\(s\) \[0\] lie outside"):
        DCResistivity2p5D(grid, outside, abmn)
    deep = electrodes.copy()
    deep[3, 1] = grid.z_edges[-1] + 0.5
    with pytest.raises(ValueError, match=r"DCResistivity2p5D: electrode\(s\) \[3\] lie outside"):
        DCResistivity2p5D(grid, deep, abmn)
    in_air = electrodes.copy()
    in_air[2, 1] = grid.z0 - 1.0
    with pytest.raises(ValueError, match=r"DCResistivity2p5D: electrodes \[2\] are above the"):
        DCResistivity2p5D(grid, in_air, abmn)
    with pytest.raises(ValueError, match=r"DCResistivity2p5D: .*coincident current electrodes"):
        DCResistivity2p5D(grid, electrodes, [[2, 2, 4, 5]])
    same_place = np.vstack([electrodes, electrodes[4:5]])
    last = same_place.shape[0] - 1
    with pytest.raises(ValueError, match=rf"electrodes\[4\] and electrodes\[{last}\] coincide"):
        DCResistivity2p5D(grid, same_place, [[0, 1, 4, 5]])
    with pytest.raises(ValueError, match=r"DCResistivity2p5D: .*current electrode as a potential"):
        DCResistivity2p5D(grid, electrodes, [[1, 2, 2, 5]])
    with pytest.raises(ValueError, match=r"DCResistivity2p5D: .*outside 0"):
        DCResistivity2p5D(grid, electrodes, [[-1, 2, 3, 5]])
    with pytest.raises(ValueError, match=r"DCResistivity2p5D: .*infinite geometric factor"):
        DCResistivity2p5D(grid, electrodes, [[3, -1, 2, 4]])  # M, N symmetric about A
    with pytest.raises(ValueError, match="DCResistivity2p5D: abmn must have shape"):
        DCResistivity2p5D(grid, electrodes, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="DCResistivity2p5D: data must be one of"):
        DCResistivity2p5D(grid, electrodes, abmn, data="potential")
    with pytest.raises(ValueError, match="DCResistivity2p5D: quadrature_tol"):
        DCResistivity2p5D(grid, electrodes, abmn, quadrature_tol=-1e-3)
    with pytest.raises(ValueError, match="DCResistivity2p5D: n_wavenumbers"):
        DCResistivity2p5D(grid, electrodes, abmn, n_wavenumbers=0)


def test_default_wavenumber_count_is_the_fewest_meeting_the_tolerance(small_survey):
    """``n_wavenumbers=None``: error <= quadrature_tol, and one fewer would not meet it."""
    grid, electrodes, abmn = small_survey
    for tol in (1e-3, 1e-5):
        op = DCResistivity2p5D(grid, electrodes, abmn, padding=2, quadrature_tol=tol)
        n = op.wavenumbers.size
        assert op.quadrature_error <= tol and 4 <= n <= 15
        fewer = DCResistivity2p5D(grid, electrodes, abmn, n_wavenumbers=n - 1, padding=2)
        assert n == 4 or fewer.quadrature_error > tol


def test_extreme_model_gives_nan_not_an_exception(small_op):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for value in (1e3, -1e3):
            m = np.full(small_op.n_params, value)
            assert np.all(np.isnan(small_op.forward(m)))
            assert np.all(np.isnan(small_op.vjp(m, np.ones(small_op.n_data))))
            assert np.all(np.isnan(small_op.jvp(m, np.ones(small_op.n_params))))
    # the NaN cotangent a likelihood returns for NaN data propagates; wrong shapes still raise
    m = np.zeros(small_op.n_params)
    assert np.all(np.isnan(small_op.vjp(m, np.full(small_op.n_data, np.nan))))
    with pytest.raises(ValueError, match="DCResistivity2p5D: dd has length"):
        small_op.vjp(m, np.full(small_op.n_data + 1, np.nan))


# --- PyTensor / PyMC -----------------------------------------------------------------------
def resistivity_model(op, observed):
    with pm.Model() as model:
        m = pm.Normal("m", np.log(0.01), 1.0, shape=op.n_params)
        pm.Normal("rho_a", forward(op, m), 0.05 * observed, observed=observed)
    return model


def test_compiled_model_has_no_object_mode_warning_and_handles_extremes(small_op, rng):
    observed = small_op.forward(random_model(small_op.grid, rng, sd=0.3))
    model = resistivity_model(small_op, observed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logp = model.compile_logp(mode="NUMBA")
        dlogp = model.compile_dlogp(mode="NUMBA")
    point = model.initial_point()
    point["m"] = random_model(small_op.grid, rng, sd=0.3)
    # compiled gradient = adjoint gradient of the Gaussian log-likelihood plus the prior
    pred = small_op.forward(point["m"])
    sd = 0.05 * observed
    expected = small_op.vjp(point["m"], (observed - pred) / sd**2) - (point["m"] - np.log(0.01))
    np.testing.assert_allclose(dlogp(point), expected, rtol=1e-8)
    assert np.isfinite(logp(point))
    # an extreme (but finite) point: rejected by the sampler through a NaN log-density
    point["m"] = np.full(small_op.n_params, 800.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = logp(point)
        grad = dlogp(point)
    assert not np.isfinite(value)
    assert not np.all(np.isfinite(grad))


class _PythonOnly(ForwardOperator):
    linear = True

    def __init__(self, n):
        self.n_params = self.n_data = n

    def _forward(self, m):
        return 2.0 * m

    def _vjp(self, m, dd):
        return 2.0 * dd


def test_operator_without_reason_still_warns():
    with pm.Model() as model:
        x = pm.Normal("x", shape=3)
        pm.Normal("y", forward(_PythonOnly(3), x), 1.0, observed=np.zeros(3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.compile_logp(mode="NUMBA")
    assert [w for w in caught if "object mode" in str(w.message)]


@pytest.mark.slow
def test_nutpie_samples_with_threads_and_no_object_mode_warning():
    """Two nutpie chains (Rust threads) call the Python operator concurrently."""
    from bayesinv import sample

    grid = Grid2D(nx=8, nz=3, dx=2.0, dz=2.0)
    x = np.arange(1.0, 15.1, 2.0)
    op = DCResistivity2p5D(
        grid, surface_electrodes(x), dipole_dipole(x.size, n_max=3), n_wavenumbers=5, padding=4
    )
    rng = np.random.default_rng(0)
    observed = op.forward(LOG_SIGMA0 + 0.3 * rng.standard_normal(grid.size))
    observed *= 1 + 0.03 * rng.standard_normal(observed.size)
    with pm.Model() as model:
        m = pm.Normal("m", LOG_SIGMA0, 0.5, shape=grid.size)
        pm.Normal("rho_a", forward(op, m), 0.03 * observed, observed=observed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = sample(model, draws=60, tune=60, chains=2, random_seed=1)
    assert not [w for w in caught if "object mode" in str(w.message)]
    draws = np.asarray(idata.posterior["m"])
    assert draws.shape == (2, 60, grid.size) and np.all(np.isfinite(draws))
    assert np.unique(draws[:, :, 0]).size > 10  # the chains moved


def test_failed_factorisation_gives_nan_in_python_and_kernels(small_survey, rng):
    """A non-positive pivot (here: a system made indefinite on purpose) is a rejection."""
    grid, electrodes, abmn = small_survey
    op = DCResistivity2p5D(grid, electrodes, abmn[:6], n_wavenumbers=3, padding=2)
    m = random_model(grid, rng)
    assert np.all(np.isfinite(op.forward(m)))
    op._solver.B[1] *= -1.0  # one wavenumber's matrix negative definite
    op._cache.clear()
    assert np.all(np.isnan(op.forward(m)))
    assert np.all(np.isnan(op.vjp(m, np.ones(op.n_data))))
    k = op.numba_kernels()  # built after the change: closes over the same arrays
    assert np.all(np.isnan(k.forward(m)))
    assert np.all(np.isnan(k.jvp(m, np.ones(op.n_params))))
    assert np.all(np.isnan(k.vjp(m, np.ones(op.n_data))))


def test_kernels_are_thread_safe(small_op, rng):
    """Concurrent kernel calls (nogil, as nutpie's chain threads make them) equal serial ones."""
    k = small_op.numba_kernels()
    models = [random_model(small_op.grid, rng) for _ in range(6)]
    dd = rng.standard_normal(small_op.n_data)
    serial = [k.vjp(m, dd) for m in models]
    results = [None] * len(models)

    def work(i):
        results[i] = k.vjp(models[i], dd)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(models))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(results, serial, strict=True):
        np.testing.assert_array_equal(a, b)


def test_kernel_state_gives_the_same_data_and_gradient(small_op, borehole_op, rng):
    """``forward_state``/``vjp_state`` (the compiled path) equal ``forward``/``vjp``."""
    for op in (small_op, borehole_op):
        kernels = op.numba_kernels()
        assert op.n_state == kernels.forward_state(random_model(op.grid, rng))[1].size
        m = random_model(op.grid, rng)
        dd = rng.standard_normal(op.n_data)
        d, state = kernels.forward_state(m)
        np.testing.assert_allclose(d, op.forward(m), rtol=1e-12)
        np.testing.assert_allclose(kernels.vjp_state(m, state, dd), op.vjp(m, dd), rtol=1e-10)
        bad = m.copy()
        bad[0] = 800.0  # exp overflows: NaN data, and a NaN gradient from that state
        d_bad, state_bad = kernels.forward_state(bad)
        assert np.all(np.isnan(d_bad))
        assert np.all(np.isnan(kernels.vjp_state(bad, state_bad, dd)))
