"""Gravity + travel time with a cross-gradient coupling: sharper shared boundaries."""

import numpy as np
import pytest
from scipy.ndimage import maximum_filter, minimum_filter

from bayesinv import Grid2D
from bayesinv.inference import find_map
from bayesinv.model import JointInversion
from bayesinv.model.coupling import CrossGradient
from bayesinv.model.fields import IIDNormal
from bayesinv.model.modality import Modality
from bayesinv.model.noise import KnownNoise
from bayesinv.operators import Gravity2D, StraightRayTomography
from bayesinv.synthetic import Body, bodies_field

DENSITY, SLOWNESS = 300.0, 1e-4


@pytest.fixture(scope="module")
def survey():
    grid = Grid2D(nx=16, nz=8, dx=10.0, dz=10.0)
    bodies = [
        Body("rectangle", (50.0, 35.0), (30.0, 30.0), 1.0),
        Body("rectangle", (115.0, 45.0), (30.0, 30.0), -1.0),
    ]
    shape = bodies_field(grid, bodies)
    rng = np.random.default_rng(0)
    gravity = Gravity2D(grid, np.column_stack([np.linspace(0, 160, 25), np.zeros(25)]))
    z = np.linspace(2.0, 78.0, 12)  # cross-hole rays between two boreholes
    sources = np.repeat(np.column_stack([np.zeros(12), z]), 12, axis=0)
    receivers = np.tile(np.column_stack([np.full(12, 160.0), z]), (12, 1))
    tomo = StraightRayTomography(grid, sources, receivers)
    dg = gravity.forward(grid.ravel(DENSITY * shape))
    dt = tomo.forward(grid.ravel(SLOWNESS * shape))
    sg, st = 0.01 * np.abs(dg).max(), 0.02 * np.abs(dt).max()
    dg = dg + rng.normal(0, sg, dg.size)
    dt = dt + rng.normal(0, st, dt.size)
    return grid, shape, (gravity, dg, sg), (tomo, dt, st)


def density_map(survey, weight=None):
    grid, _, (gravity, dg, sg), (tomo, dt, st) = survey
    inv = JointInversion().add_field("density", grid, IIDNormal(0.0, DENSITY))
    inv.add_modality(Modality("gravity", gravity, dg, KnownNoise(sg), field="density"))
    if weight is not None:
        inv.add_field("slowness", grid, IIDNormal(0.0, SLOWNESS))
        inv.add_modality(Modality("traveltime", tomo, dt, KnownNoise(st), field="slowness"))
        inv.add_coupling(CrossGradient("density", "slowness", weight, (DENSITY, SLOWNESS)))
    return find_map(inv.build(), random_seed=1)["density"]


def test_cross_gradient_joint_inversion_sharpens_shared_boundaries(survey):
    _, shape, *_ = survey
    truth = DENSITY * shape
    # cells whose 3x3 neighbourhood straddles a body boundary
    band = (maximum_filter(np.abs(shape), 3) - minimum_filter(np.abs(shape), 3)) > 0.5
    separate = density_map(survey)
    joint = density_map(survey, weight=1e5)
    err_separate = np.sqrt(np.mean((separate - truth)[band] ** 2))
    err_joint = np.sqrt(np.mean((joint - truth)[band] ** 2))
    # measured: 155.7 (gravity alone) vs 137.5 kg/m³ (joint), 12% lower
    assert err_joint < 0.93 * err_separate, (err_separate, err_joint)
