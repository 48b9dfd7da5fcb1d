import numpy as np
import pytest

from bayesinv import Grid1D, Grid2D
from bayesinv.multiscale import GridHierarchy, Prolongation, coarsen
from bayesinv.testing import dot_test

KINDS = ["constant", "bilinear"]

COARSE_2D = Grid2D(nx=6, nz=4, dx=20.0, dz=10.0, x0=-50.0, z0=5.0)
COARSE_1D = Grid1D(nz=5, dz=4.0, z0=1.0)


def _pairs():
    return {
        "2d-factor2": (COARSE_2D, COARSE_2D.refine(2)),
        "2d-anisotropic": (
            COARSE_2D,
            Grid2D(nx=18, nz=8, dx=20.0 / 3, dz=5.0, x0=-50.0, z0=5.0),
        ),
        "1d-factor2": (COARSE_1D, COARSE_1D.refine(2)),
        "1d-factor3": (COARSE_1D, COARSE_1D.refine(3)),
    }


@pytest.fixture(params=list(_pairs()))
def pair(request):
    return _pairs()[request.param]


def _reference(coarse, fine, kind, theta):
    """Slow numpy reference from cell coordinates: nearest containing cell or np.interp.

    ``np.interp`` holds the end values outside the range of the coarse centres, which is the
    documented boundary rule.
    """
    if isinstance(coarse, Grid1D):
        if kind == "constant":
            idx = np.searchsorted(coarse.z_edges, fine.z_centers) - 1
            return theta[idx]
        return np.interp(fine.z_centers, coarse.z_centers, theta)
    field = coarse.unravel(theta)
    if kind == "constant":
        iz = np.searchsorted(coarse.z_edges, fine.z_centers) - 1
        ix = np.searchsorted(coarse.x_edges, fine.x_centers) - 1
        return field[np.ix_(iz, ix)].ravel()
    # separable: interpolate along x for every coarse row, then along z for every fine column
    along_x = np.array([np.interp(fine.x_centers, coarse.x_centers, row) for row in field])
    out = np.array([np.interp(fine.z_centers, coarse.z_centers, col) for col in along_x.T]).T
    return out.ravel()


@pytest.mark.parametrize("kind", KINDS)
def test_matches_numpy_reference(pair, kind, rng):
    coarse, fine = pair
    P = Prolongation(coarse, fine, kind)
    theta = rng.standard_normal(coarse.size)
    expected = _reference(coarse, fine, kind, theta)
    np.testing.assert_allclose(P.forward(theta), expected, atol=1e-13)
    k = P.numba_kernels()
    np.testing.assert_allclose(k.forward(theta), expected, atol=1e-13)
    dd = rng.standard_normal(fine.size)
    np.testing.assert_allclose(k.vjp(theta, dd), P.vjp(theta, dd), atol=1e-13)
    np.testing.assert_allclose(k.jvp(theta, theta), expected, atol=1e-13)


@pytest.mark.parametrize("kind", KINDS)
def test_dot_test(pair, kind, rng):
    assert dot_test(Prolongation(*pair, kind), rng) <= 1e-10


@pytest.mark.parametrize("kind", KINDS)
def test_constant_is_reproduced(pair, kind):
    coarse, fine = pair
    P = Prolongation(coarse, fine, kind)
    np.testing.assert_allclose(P.forward(np.full(coarse.size, 2.5)), 2.5, rtol=0, atol=1e-14)


def test_bilinear_reproduces_linear_functions_in_interior():
    coarse = COARSE_2D
    fine = coarse.refine(2)
    P = Prolongation(coarse, fine, "bilinear")

    def f(pts):
        return 3.0 + 0.2 * pts[:, 0] - 0.7 * pts[:, 1]

    out = P.forward(f(coarse.cell_centers))
    c = fine.cell_centers
    xc, zc = coarse.x_centers, coarse.z_centers
    interior = (c[:, 0] >= xc[0]) & (c[:, 0] <= xc[-1]) & (c[:, 1] >= zc[0]) & (c[:, 1] <= zc[-1])
    assert interior.sum() == (2 * coarse.nx - 2) * (2 * coarse.nz - 2)
    np.testing.assert_allclose(out[interior], f(c)[interior], atol=1e-12)
    # outside the coarse centres the documented rule holds the edge value: not linear there
    assert not np.allclose(out[~interior], f(c)[~interior])


def test_restriction_of_constant_prolongation_is_scaled_identity(rng):
    theta = rng.standard_normal(COARSE_2D.size)
    P = Prolongation(COARSE_2D, COARSE_2D.refine(2), "constant")
    np.testing.assert_allclose(P.vjp(theta, P.forward(theta)), 4.0 * theta, atol=1e-13)
    P1 = Prolongation(COARSE_1D, COARSE_1D.refine(3), "constant")
    theta1 = rng.standard_normal(COARSE_1D.size)
    np.testing.assert_allclose(P1.vjp(theta1, P1.forward(theta1)), 3.0 * theta1, atol=1e-13)


def test_hierarchy_levels():
    fine = Grid2D(nx=32, nz=16, dx=2.5, dz=5.0, x0=10.0)
    h = GridHierarchy(fine, 3)
    assert len(h) == h.n_levels == 3
    assert [g.shape for g in h] == [(4, 8), (8, 16), (16, 32)]
    assert h[2] == fine
    assert h[0] == Grid2D(nx=8, nz=4, dx=10.0, dz=20.0, x0=10.0)
    assert coarsen(fine, 4) == h[0]
    h1 = GridHierarchy(Grid1D(nz=12, dz=1.0), 3)
    assert [g.nz for g in h1] == [3, 6, 12]


def test_hierarchy_composition_constant(rng):
    fine = Grid2D(nx=16, nz=8, dx=1.0, dz=1.0)
    h = GridHierarchy(fine, 3)
    theta = rng.standard_normal(h[0].size)
    composed = h.prolongation(0, kind="constant")
    direct = Prolongation(h[0], fine, "constant")
    np.testing.assert_allclose(composed.forward(theta), direct.forward(theta), atol=1e-14)
    assert dot_test(composed, rng) <= 1e-10
    assert composed.numba_kernels() is not None
    # one step at a time equals the composition
    step = h.prolongation(1, kind="constant").forward(h.prolongation(0, 1).forward(theta))
    np.testing.assert_allclose(step, direct.forward(theta), atol=1e-14)


def test_hierarchy_composition_bilinear(rng):
    fine = Grid2D(nx=32, nz=16, dx=1.0, dz=2.0)
    h = GridHierarchy(fine, 3)
    P = h.prolongation(0, kind="bilinear")
    assert dot_test(P, rng) <= 1e-10

    def f(pts):
        return 1.0 - 0.5 * pts[:, 0] + 0.25 * pts[:, 1]

    out = P.forward(f(h[0].cell_centers))
    c = fine.cell_centers
    # exact where every step interpolates between exact values: between the outermost
    # level-1 centres that lie inside the span of the level-0 centres (a quarter of a
    # level-0 cell in from them)
    xc, zc = h[0].x_centers, h[0].z_centers
    qx, qz = h[0].dx / 4, h[0].dz / 4
    interior = (
        (c[:, 0] >= xc[0] + qx)
        & (c[:, 0] <= xc[-1] - qx)
        & (c[:, 1] >= zc[0] + qz)
        & (c[:, 1] <= zc[-1] - qz)
    )
    assert interior.sum() == (fine.nx - 6) * (fine.nz - 6)
    np.testing.assert_allclose(out[interior], f(c)[interior], atol=1e-12)
    np.testing.assert_allclose(P.forward(np.ones(h[0].size)), 1.0, atol=1e-14)


def test_hierarchy_same_level_is_identity(rng):
    h = GridHierarchy(Grid1D(nz=8, dz=1.0), 2)
    theta = rng.standard_normal(8)
    for kind in KINDS:
        np.testing.assert_allclose(h.prolongation(1, kind=kind).forward(theta), theta)


@pytest.mark.parametrize(
    ("coarse", "fine", "kind", "match"),
    [
        (COARSE_2D, COARSE_1D, "constant", "both be Grid2D or both Grid1D"),
        (COARSE_2D, COARSE_2D.refine(2), "cubic", "kind must be one of"),
        (COARSE_1D, Grid1D(nz=11, dz=2.0, z0=1.0), "constant", "nz=11 is not a multiple"),
        (COARSE_1D, Grid1D(nz=10, dz=2.0, z0=0.0), "constant", "does not refine the coarse grid"),
        (COARSE_2D, Grid2D(12, 8, 10.0, 5.0, x0=-40.0, z0=5.0), "constant", "along x"),
    ],
)
def test_bad_grids(coarse, fine, kind, match):
    with pytest.raises(ValueError, match="Prolongation: .*" + match):
        Prolongation(coarse, fine, kind)


def test_bad_hierarchy():
    with pytest.raises(ValueError, match=r"GridHierarchy: 4 levels do not fit .*nx=12"):
        GridHierarchy(Grid2D(nx=12, nz=16, dx=1.0, dz=1.0), 4)
    with pytest.raises(ValueError, match="GridHierarchy: n_levels must be an integer >= 1"):
        GridHierarchy(Grid1D(nz=8, dz=1.0), 0)
    h = GridHierarchy(Grid1D(nz=8, dz=1.0), 2)
    with pytest.raises(ValueError, match="GridHierarchy: to=0 is coarser than level=1"):
        h.prolongation(1, to=0)
    with pytest.raises(ValueError, match=r"GridHierarchy: level=2 is not a level in 0..1"):
        h.prolongation(2)
