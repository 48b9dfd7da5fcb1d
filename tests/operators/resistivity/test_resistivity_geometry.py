"""Field geometry: remote electrodes at stated positions and topography."""

import warnings

import numpy as np
import pymc as pm
import pytest

from bayesinv import Grid2D
from bayesinv.operators.resistivity._fe import _quad_matrices, element_matrices, fe_mesh
from bayesinv.operators.resistivity.arrays import (
    dipole_dipole,
    pole_dipole,
    pole_pole,
    surface_electrodes,
    wenner,
)
from bayesinv.operators.resistivity.operator import DCResistivity2p5D
from bayesinv.ops import forward
from bayesinv.testing import dot_test, taylor_test

RHO = 100.0


def point_potential(p, q):
    """Surface potential of a unit current at p, seen at q, on a half-space of RHO."""
    return RHO / (2 * np.pi * np.hypot(*(np.asarray(p) - np.asarray(q))))


@pytest.fixture(scope="module")
def line():
    """16 electrodes 2 m apart on 1-m cells (the default resolution of the accuracy tests)."""
    grid = Grid2D(nx=48, nz=20, dx=1.0, dz=1.0)
    return grid, surface_electrodes(8.0 + 2.0 * np.arange(16))


# --- remote electrodes ----------------------------------------------------------------------
@pytest.mark.parametrize("remote", [(60.0, 0.0), (-300.0, 0.0), (24.0, 80.0)])
def test_pole_dipole_with_stated_remote_matches_half_space(line, remote):
    """Uncorrected resistances within 2% of the analytic value including the remote B.

    With B at (60, 0) the remote's terms change the data by more than 2% (so ignoring them
    fails); the operator with B at infinity has the same accuracy without them.
    """
    grid, el = line
    abmn = pole_dipole(el.shape[0], n_max=4)
    kw = dict(data="resistance", halfspace_correction=False)
    op = DCResistivity2p5D(grid, el, abmn, remote_b=remote, **kw)
    op_inf = DCResistivity2p5D(grid, el, abmn, **kw)
    m = np.full(op.n_params, np.log(1 / RHO))
    d, d_inf = op.forward(m), op_inf.forward(m)
    b = np.array(remote)
    rows = [(el[a], el[mm], el[n]) for a, _, mm, n in abmn]
    at_infinity = np.array([point_potential(a, mm) - point_potential(a, n) for a, mm, n in rows])
    remote_terms = np.array([point_potential(b, n) - point_potential(b, mm) for _, mm, n in rows])
    np.testing.assert_allclose(d, at_infinity + remote_terms, rtol=0.02)
    np.testing.assert_allclose(d_inf, at_infinity, rtol=0.02)
    if remote == (60.0, 0.0):
        assert np.max(np.abs(remote_terms / at_infinity)) > 0.03


def test_pole_pole_with_two_remotes_matches_half_space(line):
    """Both remotes (B and N) at stated positions: their terms change data by up to ~20%."""
    grid, el = line
    abmn = pole_pole(el.shape[0], max_separation=6)
    b, n = np.array([-60.0, 0.0]), np.array([120.0, 0.0])
    op = DCResistivity2p5D(
        grid, el, abmn, data="resistance", halfspace_correction=False, remote_b=b, remote_n=n
    )
    d = op.forward(np.full(op.n_params, np.log(1 / RHO)))
    at_infinity = np.array([point_potential(el[a], el[m]) for a, _, m, _ in abmn])
    exact = (
        at_infinity
        - np.array([point_potential(b, el[m]) + point_potential(el[a], n) for a, _, m, _ in abmn])
        + point_potential(b, n)
    )
    assert np.max(np.abs(at_infinity / exact - 1)) > 0.15  # the remote terms matter here
    np.testing.assert_allclose(d, exact, rtol=0.02)
    # apparent resistivity with the geometric factor including the remotes: exact (corrected)
    op_a = DCResistivity2p5D(grid, el, abmn, remote_b=b, remote_n=n)
    np.testing.assert_allclose(op_a.geometric_factor, 1.0 / (exact / RHO), rtol=1e-12)
    np.testing.assert_allclose(op_a.forward(np.full(op.n_params, np.log(1 / RHO))), RHO)


def test_remote_geometry_dot_and_taylor(rng):
    grid = Grid2D(nx=14, nz=6, dx=2.0, dz=2.0, x0=-4.0)
    el = surface_electrodes(np.arange(-2.0, 22.1, 2.0))
    abmn = np.vstack([pole_dipole(el.shape[0], n_max=3), pole_pole(el.shape[0], 3)])
    op = DCResistivity2p5D(
        grid, el, abmn, n_wavenumbers=7, padding=5, remote_b=(-80.0, 0.0), remote_n=(90.0, 5.0)
    )
    m = np.log(0.01) + 0.5 * rng.standard_normal(op.n_params)
    assert dot_test(op, rng, m, tol=1e-10) <= 1e-10
    assert 1.9 <= taylor_test(op, m, rng, dm=0.3 * rng.standard_normal(m.size)).order < 2.5


def test_remote_bad_input(line):
    grid, el = line
    abmn = pole_pole(el.shape[0], 2)
    cases = [
        (dict(remote_b=(20.0, 3.0)), "remote_b.*inside the model"),
        (dict(remote_b=(48.5, 0.0)), "remote_b.*within one cell"),
        (dict(remote_n=(100.0, -2.0)), "remote_n.*in the air"),
        (dict(remote_b=(100.0, 0.0), remote_n=(100.0, 0.0)), "coincide"),
        (dict(remote_b=[(100.0, 0.0), (120.0, 0.0)]), "remote_b must be one"),
        (dict(remote_b=(np.nan, 0.0)), "remote_b"),
    ]
    for kw, msg in cases:
        with pytest.raises(ValueError, match=msg):
            DCResistivity2p5D(grid, el, abmn, **kw)


# --- topography ------------------------------------------------------------------------------
def ridge(x):
    return 3.0 - 3.0 * np.exp(-(((x - 20.0) / 5.0) ** 2))


@pytest.fixture(scope="module")
def ridge_survey():
    grid = Grid2D(nx=40, nz=12, dx=1.0, dz=1.0)
    xt = np.linspace(-5.0, 45.0, 101)
    topo = np.column_stack([xt, ridge(xt)])
    x = np.arange(8.0, 32.1, 2.0)
    el = np.column_stack([x, ridge(x)])
    abmn = np.vstack([wenner(x.size), dipole_dipole(x.size, n_max=3)])
    return grid, topo, el, abmn


def test_isoparametric_elements_reproduce_rectangles():
    """The general quadrilateral matrices equal the tensor formula on rectangles."""
    grid = Grid2D(nx=3, nz=3, dx=1.5, dz=0.7, x0=2.0)
    mesh = fe_mesh(grid, np.array([[3.1, 0.0]]), n_pad=2, factor=1.3)
    x_all, z_all = mesh.node_xz
    en = mesh.element_nodes
    stiff, mass = _quad_matrices(x_all[en], z_all[en])
    k = np.array([1e-3, 0.8])
    B = element_matrices(mesh, k, np.array([3.0, 0.0]))
    interior = np.ones(en.shape[0], dtype=bool)
    nze, nxe = mesh.element_shape
    eidx = np.arange(en.shape[0]).reshape(nze, nxe)
    interior[np.r_[eidx[:, 0], eidx[:, -1], eidx[-1, :]]] = False  # Robin edges differ
    np.testing.assert_allclose(
        stiff[interior] + 1e-6 * mass[interior], B[0][interior], rtol=1e-12, atol=1e-13
    )
    np.testing.assert_allclose(
        stiff[interior] + 0.64 * mass[interior], B[1][interior], rtol=1e-12, atol=1e-13
    )


def test_flat_topography_reproduces_flat_result_exactly(line, rng):
    grid, el = line
    abmn = np.vstack([wenner(el.shape[0], a_max=3), pole_dipole(el.shape[0], n_max=3)])
    flat = np.array([[-10.0, 0.0], [3.0, 0.0], [60.0, 0.0]])
    op0 = DCResistivity2p5D(grid, el, abmn, n_wavenumbers=7, padding=5)
    op1 = DCResistivity2p5D(grid, el, abmn, n_wavenumbers=7, padding=5, topography=flat)
    assert op1.n_params == grid.size and np.all(op1.active)
    m = np.log(0.01) + 0.5 * rng.standard_normal(grid.size)
    dd = rng.standard_normal(op0.n_data)
    np.testing.assert_array_equal(op1.forward(m), op0.forward(m))
    np.testing.assert_array_equal(op1.vjp(m, dd), op0.vjp(m, dd))


def test_ridge_is_symmetric_and_air_cells_are_not_parameters(ridge_survey):
    grid, topo, el, abmn = ridge_survey
    mirror = (el.shape[0] - 1) - abmn  # each array reflected about the ridge axis x = 20
    kw = dict(data="resistance", halfspace_correction=False, topography=topo, padding=6)
    op = DCResistivity2p5D(grid, el, abmn, **kw)
    opm = DCResistivity2p5D(grid, el, mirror, **kw)
    # air: cells entirely above the surface are not parameters; cells under it are
    centres = grid.cell_centers
    top = centres[:, 1] - 0.5 * grid.dz
    assert not np.any(op.active & (top + grid.dz <= ridge(centres[:, 0]) - 0.5))
    assert np.all(op.active[top >= ridge(centres[:, 0]) + 0.5])
    assert op.n_params == op.active.sum() < grid.size
    m = np.full(op.n_params, np.log(0.01))
    m[centres[op.active, 1] > 6.0] = np.log(0.1)  # symmetric two-layer model
    d, dm = op.forward(m), opm.forward(m)
    np.testing.assert_allclose(d, dm, rtol=1e-10)
    flat = DCResistivity2p5D(grid, surface_electrodes(el[:, 0]), abmn, data="resistance")
    assert np.max(np.abs(d / flat.forward(op.to_grid(m, 0.0)) - 1)) > 0.05  # the ridge matters
    np.testing.assert_array_equal(op.to_grid(m, -1.0)[~op.active], -1.0)


def test_ridge_converges_under_refinement(ridge_survey):
    """The distance to the finest solution shrinks with refinement.

    Measured max difference to refinement 8 (34,299 nodes, too slow for a test):
    7.0% (refinement 1), 4.0% (2), 0.85% (4); here against refinement 4.
    """
    grid, topo, el, abmn = ridge_survey
    kw = dict(data="resistance", halfspace_correction=False, topography=topo, padding=6)
    d = {}
    for r in (1, 2, 4):
        op = DCResistivity2p5D(grid, el, abmn, refinement=r, **kw)
        m = np.full(op.n_params, np.log(0.01))
        m[grid.cell_centers[op.active, 1] > 6.0] = np.log(0.1)
        d[r] = op.forward(m)
    e14 = np.max(np.abs(d[1] / d[4] - 1))
    e24 = np.max(np.abs(d[2] / d[4] - 1))
    assert e24 < 0.7 * e14 and e24 < 0.05


def test_topography_dot_and_taylor_and_kernels(ridge_survey, rng):
    grid, topo, el, abmn = ridge_survey
    holes = np.array([[14.0, ridge(14.0) + 3.0], [26.0, ridge(26.0) + 2.5]])
    elec = np.vstack([el, holes])
    abmn = np.vstack([abmn[::2], [[13, 14, 3, 9], [0, 13, 6, 14]]])
    op = DCResistivity2p5D(grid, elec, abmn, topography=topo, n_wavenumbers=7, padding=5)
    m = np.log(0.01) + 0.5 * rng.standard_normal(op.n_params)
    assert dot_test(op, rng, m, tol=1e-10) <= 1e-10
    assert 1.9 <= taylor_test(op, m, rng, dm=0.3 * rng.standard_normal(m.size)).order < 2.5
    k = op.numba_kernels()
    np.testing.assert_allclose(k.forward(m), op.forward(m), rtol=1e-12)
    assert np.all(np.isnan(k.forward(np.full(op.n_params, 800.0))))
    # the numerical geometric factor of the terrain: a homogeneous earth gives its resistivity
    np.testing.assert_allclose(op.forward(np.full(op.n_params, np.log(0.01))), 100.0)
    # compiled model over the active cells: no object mode, gradient = adjoint gradient
    observed = op.forward(m)
    with pm.Model() as model:
        mm = pm.Normal("m", np.log(0.01), 1.0, shape=op.n_params)
        pm.Normal("d", forward(op, mm), 0.05 * observed, observed=observed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dlogp = model.compile_dlogp(mode="NUMBA")
        logp = model.compile_logp(mode="NUMBA")
    point = {"m": m + 0.1}
    sd = 0.05 * observed
    expected = op.vjp(point["m"], (observed - op.forward(point["m"])) / sd**2) - (
        point["m"] - np.log(0.01)
    )
    np.testing.assert_allclose(dlogp(point), expected, rtol=1e-8)
    assert not np.isfinite(logp({"m": np.full(op.n_params, 800.0)}))


def test_remote_with_topography_dot_and_taylor(ridge_survey, rng):
    grid, topo, el, _ = ridge_survey
    abmn = pole_dipole(el.shape[0], n_max=3)
    op = DCResistivity2p5D(
        grid, el, abmn, topography=topo, remote_b=(-100.0, 3.0), n_wavenumbers=7, padding=5
    )
    m = np.log(0.01) + 0.5 * rng.standard_normal(op.n_params)
    assert dot_test(op, rng, m, tol=1e-10) <= 1e-10
    assert 1.9 <= taylor_test(op, m, rng, dm=0.3 * rng.standard_normal(m.size)).order < 2.5
    np.testing.assert_allclose(op.forward(np.full(op.n_params, np.log(0.01))), 100.0)


def test_topography_bad_input(ridge_survey):
    grid, topo, el, abmn = ridge_survey
    bad_order = topo.copy()
    bad_order[7, 0] = bad_order[5, 0]
    short = topo[topo[:, 0] < 25.0]
    air = el.copy()
    air[4, 1] -= 0.5
    cases = [
        (dict(topography=bad_order), r"topography\[7, 0\]"),
        (dict(topography=short), r"does not cover electrode\(s\) \[9, 10, 11, 12\]"),
        (dict(electrodes=air), r"electrode\(s\) \[4\] are above the topography"),
        (dict(topography=topo[:1]), "at least 2"),
        (dict(topography=np.column_stack([topo[:, 0], topo[:, 1] + 20.0])), "depth range"),
    ]
    for kw, msg in cases:
        args = dict(electrodes=el, topography=topo) | kw
        with pytest.raises(ValueError, match=msg):
            DCResistivity2p5D(grid, args["electrodes"], abmn, topography=args["topography"])
