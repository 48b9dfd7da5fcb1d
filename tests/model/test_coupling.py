"""Couplings: cross-gradient operator, petrophysical and homogenization terms."""

import numpy as np
import pymc as pm
import pytest

from bayesinv import Grid2D
from bayesinv.model import JointInversion
from bayesinv.model.coupling import (
    CrossGradient,
    Homogenization,
    Petrophysical,
    archie,
    linear,
    power_law,
)
from bayesinv.model.fields import IIDNormal
from bayesinv.model.modality import Modality
from bayesinv.model.noise import KnownNoise
from bayesinv.operators import CrossGradient2D, Gravity2D
from bayesinv.testing import check_compiled_model, dot_test, model_taylor_test, taylor_test


def cross_gradient_numpy(a, b, dx, dz):
    ax, az = np.diff(a, axis=1)[:-1] / dx, np.diff(a, axis=0)[:, :-1] / dz
    bx, bz = np.diff(b, axis=1)[:-1] / dx, np.diff(b, axis=0)[:, :-1] / dz
    return (ax * bz - az * bx).ravel()


@pytest.fixture
def grid():
    return Grid2D(nx=6, nz=4, dx=10.0, dz=5.0)


def test_cross_gradient_matches_numpy_and_vanishes_for_parallel_structure(grid, rng):
    op = CrossGradient2D(grid)
    a, b = rng.standard_normal(grid.shape), rng.standard_normal(grid.shape)
    got = op.forward(np.concatenate([a.ravel(), b.ravel()]))
    np.testing.assert_allclose(got, cross_gradient_numpy(a, b, 10.0, 5.0), rtol=1e-12)
    # b a function of a: gradients parallel, cross-gradient zero
    par = np.concatenate([a.ravel(), 3.0 * a.ravel() - 2.0])
    np.testing.assert_allclose(op.forward(par), 0.0, atol=1e-14)


def test_cross_gradient_derivatives(grid, rng):
    op = CrossGradient2D(grid)
    m = rng.standard_normal(op.n_params)
    assert dot_test(op, rng, m) <= 1e-10
    result = taylor_test(op, m, rng)
    assert result.order > 1.9 or result.order == np.inf  # bilinear: remainder h² exactly
    check_compiled_model(op, seed=3)


def two_field_inversion(grid, coupling, coarse=None):
    rx = np.column_stack([np.linspace(0, 60, 5), np.zeros(5)])
    op = Gravity2D(grid, rx)
    inv = JointInversion()
    inv.add_field("density", grid, IIDNormal(0.0, 1.0))
    inv.add_field("slowness", coarse or grid, IIDNormal(0.5, 0.2))
    inv.add_modality(Modality("gravity", op, np.zeros(5), KnownNoise(0.1), field="density"))
    inv.add_coupling(coupling)
    return inv.build()


@pytest.mark.parametrize(
    "coupling",
    [
        CrossGradient("density", "slowness", weight=2.0, scales=(1.0, 0.2)),
        Petrophysical("density", "slowness", linear(0.3, 0.5), scatter=0.1),
        Petrophysical("slowness", "density", power_law(2.0, 1.5), scatter=0.5),
    ],
)
def test_coupling_gradients_pass_taylor_tests(grid, rng, coupling):
    model = two_field_inversion(grid, coupling)
    if isinstance(coupling, Petrophysical) and coupling.source == "slowness":
        # the power law needs a positive source: evaluate near slowness = 0.5
        result = model_taylor_test(model, rng, scale=0.05)
    else:
        result = model_taylor_test(model, rng)
    assert result.order > 1.9


def test_homogenization_gradient_and_averages(grid, rng):
    coarse = Grid2D(nx=3, nz=2, dx=20.0, dz=10.0)
    for kind in ["arithmetic", "harmonic", "geometric"]:
        link = Homogenization("density", "slowness", kind=kind, scatter=0.2, log=True)
        model = two_field_inversion(grid, link, coarse)
        assert model_taylor_test(model, rng).order > 1.9
    # averages against numpy on a log-field
    fine = rng.normal(0.0, 0.5, grid.shape)
    blocks = np.exp(fine).reshape(2, 2, 3, 2)
    expected = {
        "arithmetic": np.log(blocks.mean(axis=(1, 3))),
        "harmonic": np.log(1.0 / (1.0 / blocks).mean(axis=(1, 3))),
        "geometric": np.log(blocks).mean(axis=(1, 3)),
    }
    for kind, want in expected.items():
        link = Homogenization("f", "c", kind=kind, scatter=0.1, log=True)
        got = link.average(pm.math.constant(fine.ravel()), grid, coarse).eval()
        np.testing.assert_allclose(got, want.ravel(), rtol=1e-12)
    # Wiener bounds: harmonic <= geometric <= arithmetic
    h, g, a = (expected[k] for k in ("harmonic", "geometric", "arithmetic"))
    assert np.all(h <= g + 1e-12) and np.all(g <= a + 1e-12)


def test_petrophysical_relations():
    x = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(linear(2.0, 1.0)(x), 2 * x + 1)
    np.testing.assert_allclose(power_law(1.7, 0.25)(x), 1.7 * x**0.25)
    got = archie(np.log(5.0), 2.0)(pm.math.constant(x)).eval()
    np.testing.assert_allclose(got, np.log(5.0 * x**2.0), rtol=1e-12)


def test_coupling_errors(grid):
    with pytest.raises(ValueError, match="two different fields"):
        CrossGradient("a", "a", 1.0)
    with pytest.raises(ValueError, match="CrossGradient: weight must be a finite number > 0"):
        CrossGradient("a", "b", 0.0)
    with pytest.raises(ValueError, match="Petrophysical: scatter must be a finite number > 0"):
        Petrophysical("a", "b", linear(1, 0), scatter=-1.0)
    with pytest.raises(ValueError, match="kind must be one of"):
        Homogenization("a", "b", kind="mean")
    bad_coarse = Grid2D(nx=4, nz=2, dx=15.0, dz=10.0)
    with pytest.raises(ValueError, match="not an exact coarsening"):
        two_field_inversion(grid, Homogenization("density", "slowness"), bad_coarse)
    with pytest.raises(ValueError, match="must share one Grid2D"):
        two_field_inversion(grid, CrossGradient("density", "slowness", 1.0), bad_coarse)
    inv = JointInversion().add_field("a", grid)
    inv.add_modality(Modality("g", Gravity2D(grid, [[0.0, 0.0]]), np.zeros(1), KnownNoise(1.0)))
    inv.add_coupling(CrossGradient("a", "b", 1.0))
    with pytest.raises(ValueError, match=r"CrossGradient needs undeclared field\(s\) \['b'\]"):
        inv.build()
