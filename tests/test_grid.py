import numpy as np
import pytest

from bayesinv import Grid1D, Grid2D


def test_grid2d_geometry_follows_conventions():
    g = Grid2D(nx=4, nz=3, dx=10.0, dz=5.0, x0=-20.0, z0=2.0)
    assert g.shape == (3, 4) and g.size == 12
    np.testing.assert_allclose(g.x_edges, [-20, -10, 0, 10, 20])
    np.testing.assert_allclose(g.z_edges, [2, 7, 12, 17])
    # cell (iz, ix) = (1, 2) has flat index iz * nx + ix = 6 and centre (x0 + 2.5 dx, z0 + 1.5 dz)
    np.testing.assert_allclose(g.cell_centers[6], [5.0, 9.5])
    assert g.extent == (-20.0, 20.0, 17.0, 2.0)


def test_ravel_unravel_round_trip_in_c_order(rng):
    g = Grid2D(nx=5, nz=3, dx=1.0, dz=1.0)
    field = rng.standard_normal(g.shape)
    flat = g.ravel(field)
    assert flat[1 * 5 + 2] == field[1, 2]
    np.testing.assert_array_equal(g.unravel(flat), field)
    draws = rng.standard_normal((2, 7, g.size))
    assert g.unravel(draws).shape == (2, 7, 3, 5)


def test_coords_name_dims_for_pymc():
    g = Grid2D(nx=3, nz=2, dx=2.0, dz=1.0)
    coords = g.coords("density")
    assert set(coords) == {"density_z", "density_x", "density_cell"}
    np.testing.assert_allclose(coords["density_x"], [1, 3, 5])
    np.testing.assert_allclose(coords["density_z"], [0.5, 1.5])
    assert Grid1D(3, 2.0).coords("rho") == {"rho_z": pytest.approx([1.0, 3.0, 5.0])}


def test_refine_keeps_the_region():
    g = Grid2D(nx=3, nz=2, dx=2.0, dz=1.0, x0=1.0).refine(2)
    assert (g.nx, g.nz, g.dx, g.dz, g.x0) == (6, 4, 1.0, 0.5, 1.0)
    assert Grid1D(4, 2.0).refine(4).size == 16


def test_contains_includes_the_boundary():
    g = Grid2D(nx=2, nz=2, dx=1.0, dz=1.0)
    np.testing.assert_array_equal(
        g.contains([[0.5, 0.5], [0.0, 0.0], [2.5, 1.0], [1.0, -0.1]]), [True, True, False, False]
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nx": 0, "nz": 2, "dx": 1.0, "dz": 1.0}, "Grid2D: nx must be an integer >= 1"),
        ({"nx": 2, "nz": 2.5, "dx": 1.0, "dz": 1.0}, "Grid2D: nz must be an integer >= 1"),
        ({"nx": 2, "nz": 2, "dx": -1.0, "dz": 1.0}, "Grid2D: dx must be a finite number > 0"),
        ({"nx": 2, "nz": 2, "dx": 1.0, "dz": np.nan}, "Grid2D: dz must be a finite number > 0"),
        ({"nx": 2, "nz": 2, "dx": 1.0, "dz": 1.0, "z0": np.inf}, "Grid2D: z0 must be a finite"),
        ({"nx": 2, "nz": 2, "dx": "1.0", "dz": 1.0}, "Grid2D: dx must be a finite number > 0"),
        ({"nx": True, "nz": 2, "dx": 1.0, "dz": 1.0}, "Grid2D: nx must be an integer >= 1"),
    ],
)
def test_bad_grid_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Grid2D(**kwargs)


def test_shape_errors_are_clear():
    g = Grid2D(nx=3, nz=2, dx=1.0, dz=1.0)
    with pytest.raises(ValueError, match=r"expected \(2, 3\)"):
        g.ravel(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="expected 6"):
        g.unravel(np.zeros(5))
    with pytest.raises(ValueError, match="expected 4"):
        Grid1D(4, 1.0).unravel(np.zeros(3))
