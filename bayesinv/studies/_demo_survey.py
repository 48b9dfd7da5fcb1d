"""The flagship demo's synthetic section and how its posteriors are sampled.

Two bodies seen by gravity and by travel times; NUTS in Laplace coordinates.

Part of :mod:`bayesinv.studies.demo` (which re-exports :class:`DemoSurvey`,
:func:`demo_survey` and :func:`boundary_band`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesinv._seeds import as_generator, child_seeds
from bayesinv.grid import Grid2D

#: the seed's independent streams (children of ``SeedSequence(seed)``, see bayesinv._seeds)
STREAMS = ("noise", "separate", "joint")


@dataclass(frozen=True)
class DemoSurvey:
    """The demo's synthetic truth and data.

    Attributes
    ----------
    grid : Grid2D
        Model grid.
    truth : dict of str to numpy.ndarray
        True ``density`` (kg/m³) and ``slowness`` (s/m), each ``(nz, nx)``.
    shape : numpy.ndarray
        Indicator of the bodies (+1 block, -1 disk, fractional at edges), ``(nz, nx)``.
    gravity, traveltime : ForwardOperator
        The two forward operators.
    receivers : numpy.ndarray
        Gravity stations ``(n, 2)``.
    clean, data : dict of str to numpy.ndarray
        Noise-free and noisy data of each modality.
    """

    grid: Grid2D
    truth: dict
    shape: np.ndarray
    gravity: object
    traveltime: object
    receivers: np.ndarray
    clean: dict
    data: dict


def _pairs(a: np.ndarray, b: np.ndarray):
    return np.repeat(a, len(b), axis=0), np.tile(b, (len(a), 1))


def demo_survey(config) -> DemoSurvey:
    """Make the demo's seeded truth and data (gravity and travel times).

    Parameters
    ----------
    config : DemoConfig
        Settings (the seed drives the noise).

    Returns
    -------
    DemoSurvey
    """
    from bayesinv.operators import Gravity2D, StraightRayTomography
    from bayesinv.synthetic import Body, bodies_field, surface_line

    c = config
    grid = Grid2D(c.nx, c.nz, c.cell, c.cell)
    width, depth = c.nx * c.cell, c.nz * c.cell
    block = bodies_field(
        grid, [Body("rectangle", (0.3 * width, 0.3 * depth), (0.2 * width, 0.2 * depth), 1.0)]
    )
    disk = bodies_field(
        grid, [Body("disk", (0.7 * width, 0.45 * depth), (0.15 * depth, 0.15 * depth), 1.0)]
    )
    truth = {
        "density": 300.0 * block - 200.0 * disk,
        "slowness": c.background_slowness + 1e-4 * block - 0.8e-4 * disk,
    }
    receivers = surface_line(0.0, width, c.n_receivers)
    gravity = Gravity2D(grid, receivers)
    z = np.linspace(0.05 * depth, 0.95 * depth, c.n_sensors)
    left = np.column_stack([np.zeros(c.n_sensors), z])
    right = np.column_stack([np.full(c.n_sensors, width), z])
    shots = np.column_stack(
        [np.linspace(0.05 * width, 0.95 * width, 2 * c.n_sensors), np.zeros(2 * c.n_sensors)]
    )
    rays = [_pairs(left, right), _pairs(shots, left), _pairs(shots, right)]
    traveltime = StraightRayTomography(
        grid, np.vstack([r[0] for r in rays]), np.vstack([r[1] for r in rays])
    )
    clean = {
        "gravity": gravity.forward(grid.ravel(truth["density"])),
        "traveltime": traveltime.forward(grid.ravel(truth["slowness"])),
    }
    rng = as_generator(child_seeds(c.seed, len(STREAMS), "demo_survey", "seed")[0], "demo_survey")
    data = {
        "gravity": clean["gravity"] + rng.normal(0.0, c.noise_sd, clean["gravity"].size),
        "traveltime": clean["traveltime"]
        + rng.normal(0.0, c.traveltime_noise_sd, clean["traveltime"].size),
    }
    return DemoSurvey(grid, truth, block - disk, gravity, traveltime, receivers, clean, data)


def boundary_band(shape: np.ndarray) -> np.ndarray:
    """Cells whose 3 x 3 neighbourhood straddles a body boundary.

    Parameters
    ----------
    shape : numpy.ndarray
        Body indicator ``(nz, nx)`` (absolute value near 1 inside a body, 0 outside).

    Returns
    -------
    numpy.ndarray of bool
        ``(nz, nx)`` mask.
    """
    from scipy.ndimage import maximum_filter, minimum_filter

    a = np.abs(shape)
    return (maximum_filter(a, 3) - minimum_filter(a, 3)) > 0.5


def sample_in_laplace_coordinates(model, config, seed: int, progressbar):
    """NUTS in the coordinates of the model's Laplace approximation at its MAP point.

    The travel times pin down the mean slowness about 240 times better than its prior
    (Hessian eigenvalues up to 6e4 in the prior's whitened coordinates), so plain NUTS needs
    about 500 leapfrog steps per draw until nutpie's low-rank adaptation has learnt those
    directions (which took 800 or more warm-up draws). In the Laplace coordinates (exact for
    the separate inversion, which is linear-Gaussian) NUTS needs about 15 steps from the
    start. The posterior is unchanged (an affine change of variables); the draws are
    recorded under the model's own names, the working vector ``preconditioned_z`` is dropped.

    Parameters
    ----------
    model : pymc.Model
        One of the demo's models (:func:`~bayesinv.studies.demo.build_joint_model`).
    config : DemoConfig
        Sampler settings (``draws``, ``tune``, ``chains``, ``adaptation``, ``target_accept``).
    seed : int
        Seed of the MAP search, the Hessian and the sampler.
    progressbar : bool or None
        Show nutpie's progress bar.

    Returns
    -------
    xarray.DataTree
        Posterior draws of the model's variables and the sampler statistics.
    """
    from bayesinv.inference import find_map, hessian_preconditioner, sample_preconditioned
    from bayesinv.inference.preconditioning import unconstrained_layout

    point = find_map(model, random_seed=seed)
    x_map = np.concatenate([np.ravel(point[v.name]) for v in model.value_vars])
    logp_dlogp = model.logp_dlogp_function(ravel_inputs=True, mode="NUMBA")
    logp_dlogp.set_extra_values({})
    layout = unconstrained_layout(model)
    guess, _ = hessian_preconditioner(logp_dlogp, x_map, layout, random_seed=seed)
    return sample_preconditioned(
        model,
        guess,
        draws=config.draws,
        tune=config.tune,
        chains=config.chains,
        random_seed=seed,
        progressbar=progressbar,
        nuts={"adaptation": config.adaptation, "target_accept": config.target_accept},
    )
