import numpy as np
import pytest
from scipy.interpolate import RegularGridInterpolator

from bayesinv import Grid2D
from bayesinv.operators.gravity import Gravity2D
from bayesinv.operators.observation import Differencer, PointSampler, Subset
from bayesinv.testing import check_compiled_model, dot_test, taylor_test


@pytest.fixture
def grid():
    return Grid2D(nx=7, nz=5, dx=10.0, dz=4.0, x0=-20.0, z0=2.0)


def random_points(grid, rng, n):
    x = rng.uniform(grid.x_edges[0], grid.x_edges[-1], n)
    z = rng.uniform(grid.z_edges[0], grid.z_edges[-1], n)
    return np.column_stack([x, z])


# --- PointSampler ---------------------------------------------------------------------------
def test_point_sampler_matches_scipy_with_clamping(grid, rng):
    pts = random_points(grid, rng, 200)
    # include the boundary, the corners and the half-cell margins explicitly
    xe, ze = grid.x_edges, grid.z_edges
    extra = np.array(
        [[xe[0], ze[0]], [xe[-1], ze[-1]], [xe[0], ze[-1]], [xe[-1], ze[0]], [xe[0], 7.3]]
    )
    pts = np.vstack([pts, extra])
    field = rng.standard_normal(grid.shape)
    ref = RegularGridInterpolator((grid.z_centers, grid.x_centers), field, method="linear")
    clamped = np.column_stack(
        [
            np.clip(pts[:, 1], grid.z_centers[0], grid.z_centers[-1]),
            np.clip(pts[:, 0], grid.x_centers[0], grid.x_centers[-1]),
        ]
    )
    op = PointSampler(grid, pts)
    expected = ref(clamped)
    np.testing.assert_allclose(op.forward(grid.ravel(field)), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        op.numba_kernels().forward(grid.ravel(field)), expected, rtol=1e-12, atol=1e-12
    )


def test_point_sampler_exact_for_affine_fields_and_at_centres(grid, rng):
    # bilinear interpolation reproduces affine fields inside the hull of the centres
    x = rng.uniform(grid.x_centers[0], grid.x_centers[-1], 50)
    z = rng.uniform(grid.z_centers[0], grid.z_centers[-1], 50)
    c = grid.cell_centers
    field = 3.0 + 0.5 * c[:, 0] - 2.0 * c[:, 1]
    op = PointSampler(grid, np.column_stack([x, z]))
    np.testing.assert_allclose(op.forward(field), 3.0 + 0.5 * x - 2.0 * z, rtol=1e-12)
    # at the centres it returns the cell values
    m = rng.standard_normal(grid.size)
    np.testing.assert_allclose(PointSampler(grid, c).forward(m), m, rtol=1e-13)


def test_point_sampler_degenerate_axis(rng):
    g = Grid2D(nx=4, nz=1, dx=1.0, dz=3.0)
    op = PointSampler(g, [[1.0, 0.1], [1.0, 2.9]])
    m = rng.standard_normal(4)
    expected = 0.5 * (m[0] + m[1])
    np.testing.assert_allclose(op.forward(m), [expected, expected], rtol=1e-14)


def test_point_sampler_rejects_outside_points(grid):
    with pytest.raises(ValueError, match=r"PointSampler: point\(s\) \[1\] lie outside"):
        PointSampler(grid, [[0.0, 5.0], [0.0, 1.9]])
    with pytest.raises(ValueError, match="PointSampler: points has non-finite"):
        PointSampler(grid, [[np.nan, 5.0]])


def test_point_sampler_dot_taylor(grid, rng):
    op = PointSampler(grid, random_points(grid, rng, 30))
    dot_test(op, rng)
    assert taylor_test(op, rng.standard_normal(op.n_params), rng).order == np.inf


# --- Subset ---------------------------------------------------------------------------------
def test_subset_forward_adjoint(rng):
    op = Subset(6, [5, 0, 3])
    x = rng.standard_normal(6)
    np.testing.assert_array_equal(op.forward(x), x[[5, 0, 3]])
    np.testing.assert_array_equal(op.vjp(x, [1.0, 2.0, 3.0]), [2.0, 0, 0, 3.0, 0, 1.0])
    k = op.numba_kernels()
    np.testing.assert_array_equal(k.forward(x), x[[5, 0, 3]])
    np.testing.assert_array_equal(k.vjp(x, np.array([1.0, 2.0, 3.0])), [2.0, 0, 0, 3.0, 0, 1.0])
    dot_test(op, rng)


@pytest.mark.parametrize(
    ("indices", "match"),
    [
        ([1, 2, 1], r"duplicates \[1\]"),
        ([0, 6], "index 6 out of range"),
        ([-1], "index -1 out of range"),
        ([], "indices is empty"),
        ([0.5], "must hold integers"),
        ([[0, 1]], "must have shape"),
    ],
)
def test_subset_bad_indices(indices, match):
    with pytest.raises(ValueError, match=f"Subset: .*{match}"):
        Subset(6, indices)


def test_subset_of_gravity(rng):
    grid = Grid2D(nx=12, nz=6, dx=10.0, dz=10.0)
    rx = np.column_stack([np.linspace(-20.0, 140.0, 9), np.zeros(9)])
    grav = Gravity2D(grid, rx)
    keep = [8, 2, 4]
    op = Subset(grav.n_data, keep) @ grav
    m = rng.standard_normal(grid.size)
    np.testing.assert_allclose(op.forward(m), grav.forward(m)[keep], rtol=1e-14)
    np.testing.assert_allclose(op.numba_kernels().forward(m), grav.forward(m)[keep], rtol=1e-12)
    dot_test(op, rng)
    check_compiled_model(op, seed=5)


# --- Differencer ----------------------------------------------------------------------------
def test_differencer_against_dense_matrix(rng):
    pairs = np.array([[1, 0], [2, 1], [0, 2], [1, 0], [4, 3]])
    op = Differencer(5, pairs)
    D = np.zeros((5, 5))
    for i, (a, b) in enumerate(pairs):
        D[i, a] += 1.0
        D[i, b] -= 1.0
    x = rng.standard_normal(5)
    y = rng.standard_normal(5)
    np.testing.assert_allclose(op.forward(x), D @ x, rtol=1e-14)
    np.testing.assert_allclose(op.vjp(x, y), D.T @ y, rtol=1e-14, atol=1e-15)
    k = op.numba_kernels()
    np.testing.assert_allclose(k.forward(x), D @ x, rtol=1e-14)
    np.testing.assert_allclose(k.vjp(x, y), D.T @ y, rtol=1e-14, atol=1e-15)
    dot_test(op, rng)


@pytest.mark.parametrize(
    ("pairs", "match"),
    [
        ([[0, 0]], "difference an entry with itself"),
        ([[0, 5]], "index 5 out of range"),
        ([0, 1], r"must have shape \(k, 2\)"),
        ([], "pairs is empty"),
    ],
)
def test_differencer_bad_pairs(pairs, match):
    with pytest.raises(ValueError, match=f"Differencer: .*{match}"):
        Differencer(5, pairs)


# --- compiled models --------------------------------------------------------------------------
def test_compiled_models(grid, rng):
    check_compiled_model(PointSampler(grid, random_points(grid, rng, 9)), seed=1)
    check_compiled_model(Subset(grid.size, [3, 1, 30]), seed=2)
    check_compiled_model(Differencer(grid.size, [[3, 1], [1, 30], [4, 3]]), seed=3)


@pytest.mark.parametrize("which", ["sampler", "subset", "differencer"])
def test_numba_kernels_match_python_and_taylor(which, grid, rng):
    ops = {
        "sampler": lambda: PointSampler(grid, random_points(grid, rng, 12)),
        "subset": lambda: Subset(grid.size, [7, 2, 30, 11]),
        "differencer": lambda: Differencer(grid.size, [[3, 1], [1, 30], [4, 3], [3, 1]]),
    }
    op = ops[which]()
    k = op.numba_kernels()
    m, dm = rng.standard_normal(op.n_params), rng.standard_normal(op.n_params)
    dd = rng.standard_normal(op.n_data)
    np.testing.assert_allclose(k.forward(m), op.forward(m), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(k.jvp(m, dm), op.forward(dm), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(k.vjp(m, dd), op.vjp(m, dd), rtol=1e-14, atol=1e-15)
    assert taylor_test(op, m, rng).order == np.inf
