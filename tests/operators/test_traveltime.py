import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.operators.traveltime import StraightRayTomography
from bayesinv.testing import check_compiled_model, dot_test, taylor_test


@pytest.fixture
def grid():
    return Grid2D(nx=9, nz=6, dx=10.0, dz=10.0, x0=-30.0, z0=5.0)


def reference_lengths(grid, sources, receivers):
    """Per-cell clipping (Liang-Barsky on every cell box), a method independent of Siddon's.

    A ray lying on an edge between two cells gets clipped into both closed boxes: it is
    then given half its length in each (all of it when the edge is on the grid boundary).
    """
    xe, ze = grid.x_edges, grid.z_edges
    zz, xx = np.meshgrid(np.arange(grid.nz), np.arange(grid.nx), indexing="ij")
    ix, iz = xx.ravel(), zz.ravel()
    lo = np.column_stack([xe[ix], ze[iz]])
    hi = np.column_stack([xe[ix + 1], ze[iz + 1]])
    out = np.zeros((len(sources), grid.size))
    for r, (p0, p1) in enumerate(zip(np.asarray(sources), np.asarray(receivers), strict=True)):
        d = p1 - p0
        length = np.hypot(*d)
        if length == 0:
            continue
        t0 = np.zeros(grid.size)
        t1 = np.ones(grid.size)
        on_edge_weight = np.ones(grid.size)
        for a in range(2):
            if d[a] == 0:
                inside = (p0[a] >= lo[:, a]) & (p0[a] <= hi[:, a])
                t1 = np.where(inside, t1, -1.0)
                on_low, on_high = p0[a] == lo[:, a], p0[a] == hi[:, a]
                n_cells = grid.nx if a == 0 else grid.nz
                idx = ix if a == 0 else iz
                shared = (on_low & (idx > 0)) | (on_high & (idx < n_cells - 1))
                on_edge_weight = np.where(shared, 0.5, on_edge_weight)
            else:
                ta = (lo[:, a] - p0[a]) / d[a]
                tb = (hi[:, a] - p0[a]) / d[a]
                t0 = np.maximum(t0, np.minimum(ta, tb))
                t1 = np.minimum(t1, np.maximum(ta, tb))
        out[r] = np.maximum(t1 - t0, 0.0) * length * on_edge_weight
    return out


def special_rays(grid):
    """Rays along grid lines, along the boundary, through vertices, degenerate rays."""
    xe, ze = grid.x_edges, grid.z_edges
    x_mid, z_mid = xe[3], ze[2]
    rays = [
        ((xe[0], z_mid), (xe[-1], z_mid)),  # along an interior horizontal line
        ((x_mid, ze[0]), (x_mid, ze[-1])),  # along an interior vertical line
        ((xe[0], ze[0]), (xe[-1], ze[0])),  # along the top boundary
        ((xe[-1], ze[-1]), (xe[0], ze[-1])),  # along the bottom boundary, reversed
        ((xe[0], ze[-1]), (xe[0], ze[0])),  # along the left boundary
        ((xe[-1], ze[1]), (xe[-1], ze[4])),  # part of the right boundary
        ((xe[0], ze[0]), (xe[6], ze[6])),  # diagonal through vertices (square cells)
        ((xe[8], ze[0]), (xe[2], ze[6])),  # anti-diagonal through vertices
        ((xe[1], ze[1]), (xe[5], ze[3])),  # slope 1/2: through every other vertex
        ((xe[2] + 3.0, ze[1] + 3.0), (xe[2] + 3.0, ze[1] + 3.0)),  # source == receiver
        ((xe[1] + 2.5, ze[2] + 1.0), (xe[1] + 2.5, ze[5] - 4.0)),  # short vertical
        ((xe[0] + 0.5, ze[3]), (xe[4] + 2.0, ze[3])),  # partial, on a line
    ]
    return np.array([r[0] for r in rays]), np.array([r[1] for r in rays])


def random_rays_inside(grid, rng, n):
    def pts():
        return np.column_stack(
            [
                rng.uniform(grid.x_edges[0], grid.x_edges[-1], n),
                rng.uniform(grid.z_edges[0], grid.z_edges[-1], n),
            ]
        )

    return pts(), pts()


def test_homogeneous_medium_gives_distance_times_slowness(grid, rng):
    src, rec = random_rays_inside(grid, rng, 300)
    op = StraightRayTomography(grid, src, rec, strict=True)
    s = 1.0 / 2500.0
    t = op.forward(np.full(grid.size, s))
    expected = np.hypot(*(rec - src).T) * s
    np.testing.assert_allclose(t, expected, rtol=1e-12)
    np.testing.assert_allclose(op.numba_kernels().forward(np.full(grid.size, s)), t, rtol=1e-14)


def test_total_length_is_distance_for_special_rays(grid):
    src, rec = special_rays(grid)
    op = StraightRayTomography(grid, src, rec, strict=True)
    total = op.forward(np.ones(grid.size))
    np.testing.assert_allclose(total, np.hypot(*(rec - src).T), rtol=1e-12, atol=1e-12)
    assert total[9] == 0.0  # source == receiver
    assert np.all(op.data > 0)


def test_special_rays_match_reference(grid):
    src, rec = special_rays(grid)
    op = StraightRayTomography(grid, src, rec)
    ref = reference_lengths(grid, src, rec)
    np.testing.assert_allclose(op.matrix.toarray(), ref, rtol=0, atol=1e-11)


def test_random_rays_match_reference_including_clipped(grid, rng):
    # end points anywhere in a box larger than the grid: many rays are clipped or miss it
    n = 200
    lo = np.array([grid.x_edges[0] - 40.0, grid.z_edges[0] - 30.0])
    hi = np.array([grid.x_edges[-1] + 40.0, grid.z_edges[-1] + 30.0])
    src = rng.uniform(lo, hi, (n, 2))
    rec = rng.uniform(lo, hi, (n, 2))
    op = StraightRayTomography(grid, src, rec)
    assert 0 < op.clipped.sum() < n
    ref = reference_lengths(grid, src, rec)
    np.testing.assert_allclose(op.matrix.toarray(), ref, rtol=0, atol=1e-11)
    # a clipped ray's total is the length of its part inside the grid
    assert np.all(op.forward(np.ones(grid.size)) <= op.distances + 1e-12)


def test_diagonal_of_square_cells_visits_only_diagonal_cells():
    g = Grid2D(nx=5, nz=5, dx=2.0, dz=2.0)
    op = StraightRayTomography(g, [[0.0, 0.0]], [[10.0, 10.0]])
    A = g.unravel(op.matrix.toarray()[0])
    np.testing.assert_allclose(A, np.eye(5) * 2.0 * np.sqrt(2.0), rtol=1e-14)
    assert op.nnz == 5


def test_ray_on_a_non_representable_grid_line_is_split():
    # z = 0.3 is not exactly 3 * 0.1 in floating point: within tolerance of the line
    g = Grid2D(nx=3, nz=5, dx=0.1, dz=0.1)
    op = StraightRayTomography(g, [[0.0, 0.3]], [[0.3, 0.3]])
    A = g.unravel(op.matrix.toarray()[0])
    np.testing.assert_allclose(A[2], [0.05, 0.05, 0.05], rtol=1e-12)
    np.testing.assert_allclose(A[3], [0.05, 0.05, 0.05], rtol=1e-12)
    assert np.sum(A) == pytest.approx(0.3, rel=1e-14)


def test_clipping_rule_and_strict_mode(grid):
    xe, ze = grid.x_edges, grid.z_edges
    z = ze[0] + 13.0
    src = np.array([[xe[0] - 50.0, z], [xe[0] - 50.0, ze[0] - 1.0], [xe[0] + 1.0, z]])
    rec = np.array([[xe[-1] + 50.0, z], [xe[-1] + 50.0, ze[0] - 1.0], [xe[0] + 5.0, z]])
    op = StraightRayTomography(grid, src, rec)
    lengths = op.forward(np.ones(grid.size))
    np.testing.assert_allclose(lengths, [xe[-1] - xe[0], 0.0, 4.0], rtol=1e-14)
    np.testing.assert_array_equal(op.clipped, [True, True, False])
    with pytest.raises(ValueError, match=r"StraightRayTomography: ray\(s\) \[0, 1\] leave"):
        StraightRayTomography(grid, src, rec, strict=True)


def test_bad_input_raises(grid):
    with pytest.raises(ValueError, match="StraightRayTomography: sources has non-finite"):
        StraightRayTomography(grid, [[np.nan, 10.0]], [[0.0, 10.0]])
    with pytest.raises(ValueError, match="StraightRayTomography: receivers has non-finite"):
        StraightRayTomography(grid, [[0.0, 10.0]], [[0.0, np.inf]])
    with pytest.raises(ValueError, match="same number of rows"):
        StraightRayTomography(grid, [[0.0, 10.0]], [[0.0, 10.0], [1.0, 10.0]])
    with pytest.raises(ValueError, match=r"sources must have shape \(n, 2\)"):
        StraightRayTomography(grid, [[0.0, 10.0, 1.0]], [[0.0, 10.0, 1.0]])


def test_dot_taylor(grid, rng):
    src, rec = random_rays_inside(grid, rng, 40)
    op = StraightRayTomography(grid, src, rec)
    dot_test(op, rng)
    assert taylor_test(op, rng.uniform(1e-4, 1e-3, grid.size), rng).order == np.inf


def test_compiled_model(grid, rng):
    src, rec = random_rays_inside(grid, rng, 25)
    check_compiled_model(StraightRayTomography(grid, src, rec), seed=7, sigma=5.0)
