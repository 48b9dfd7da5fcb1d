"""Eikonal travel times as a modality: per-pick errors through the generic Modality."""

import numpy as np

from bayesinv import Grid2D
from bayesinv.model import IIDNormal, JointInversion, KnownNoise, Modality
from bayesinv.operators.eikonal import Eikonal2D, crosshole_survey


def test_traveltime_modality_with_per_pick_errors():
    grid = Grid2D(nx=8, nz=12, dx=1.0, dz=1.0)
    survey = crosshole_survey(grid, 3, 4, margin=1.0)
    op = Eikonal2D(grid, *survey, parameter="log_slowness")
    rng = np.random.default_rng(11)
    truth = np.log(0.5) + 0.05 * rng.standard_normal(grid.size)
    sigma = rng.uniform(0.01, 0.05, op.n_data)  # one error per pick
    data = op.forward(truth) + sigma * rng.standard_normal(op.n_data)
    model = (
        JointInversion()
        .add_field("log_slowness", grid, IIDNormal(np.log(0.5), 0.1))
        .add_modality(Modality("traveltime", op, data, KnownNoise(sigma)))
        .build()
    )
    logp = model.compile_logp()
    z = (truth - np.log(0.5)) / 0.1
    point = {"log_slowness_z_score": z.reshape(grid.shape)}  # the field's (z, x) dims
    # the log density as a function of the picks: Gaussian with the per-pick sigmas
    r = (data - op.forward(truth)) / sigma
    expected = (
        -0.5 * r @ r
        - np.log(sigma).sum()
        - 0.5 * z @ z
        - 0.5 * (op.n_data + z.size) * np.log(2 * np.pi)
    )
    np.testing.assert_allclose(logp(point), expected, rtol=1e-10)
    # negative control: the same picks with one common error (their mean) give another value
    common = np.full_like(sigma, sigma.mean())
    rc = (data - op.forward(truth)) / common
    shift = -0.5 * (rc @ rc - r @ r) - np.log(common).sum() + np.log(sigma).sum()
    assert abs(shift) > 0.1, shift
