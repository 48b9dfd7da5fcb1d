"""Means and transforms of prior fields (bayesinv.model.transforms)."""

import numpy as np
import pytensor.tensor as pt
import pytest

from bayesinv import Grid1D, Grid2D
from bayesinv.model.transforms import bounded_transform, field_mean, positive_transform


def test_field_mean():
    grid = Grid2D(nx=3, nz=4, dx=1.0, dz=10.0)
    np.testing.assert_allclose(field_mean(grid, 2.5).eval(), np.full(12, 2.5))
    profile = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(field_mean(grid, profile).eval(), np.repeat(profile, 3))
    # interfaces at 10 m (a cell edge) and 22 m; centres are 5, 15, 25, 35 m
    layered = field_mean(grid, pt.as_tensor([7.0, 8.0, 9.0]), interfaces=[10.0, 22.0]).eval()
    np.testing.assert_allclose(layered, np.repeat([7.0, 8.0, 9.0, 9.0], 3))
    g1 = Grid1D(nz=3, dz=1.0)
    # a centre exactly on an interface (1.5 m) belongs to the deeper layer
    np.testing.assert_allclose(field_mean(g1, [0.0, 1.0], interfaces=[1.5]).eval(), [0, 1, 1])
    with pytest.raises(ValueError, match="field_mean: value has length 3, expected 4"):
        field_mean(grid, np.ones(3))
    with pytest.raises(ValueError, match=r"field_mean: interfaces must be .* strictly increasing"):
        field_mean(grid, np.ones(3), interfaces=[20.0, 10.0])
    with pytest.raises(ValueError, match="field_mean: value has length 2, expected 3"):
        field_mean(grid, np.ones(2), interfaces=[10.0, 20.0])


def test_transforms():
    x = np.array([-20.0, -1.0, 0.0, 2.0, 30.0])
    v = positive_transform(pt.as_tensor(x), reference=1200.0, lower=300.0).eval()
    np.testing.assert_allclose(v, 300.0 + 1200.0 * np.exp(x))
    assert np.all(v > 300.0)
    sigma = positive_transform(pt.as_tensor(np.log([0.01, 1.0]))).eval()
    np.testing.assert_allclose(sigma, [0.01, 1.0])
    b = bounded_transform(pt.as_tensor(x), 1.5, 3.0).eval()
    np.testing.assert_allclose(b, 1.5 + 1.5 / (1.0 + np.exp(-x)))
    assert np.all((b >= 1.5) & (b <= 3.0))
    with pytest.raises(ValueError, match="bounded_transform: need finite lower < upper"):
        bounded_transform(pt.as_tensor(x), 3.0, 1.0)
    with pytest.raises(
        ValueError, match="positive_transform: reference must be a finite number > 0"
    ):
        positive_transform(pt.as_tensor(x), reference=0.0)


def test_transforms_refuse_strings_by_name():
    with pytest.raises(ValueError, match="bounded_transform: lower must be a finite number"):
        bounded_transform(pt.as_tensor([0.0]), "0", 1.0)
    with pytest.raises(ValueError, match="positive_transform: lower must be a finite number"):
        positive_transform(pt.as_tensor([0.0]), lower="0")


def test_old_home_still_exports_them():
    from bayesinv.model import priors

    assert priors.field_mean is field_mean
    assert priors.bounded_transform is bounded_transform
