"""The flagship demo, case study 01 at quick size: gravity + travel time, separate vs joint.

Run it with ``bayesinv demo --out output/demo`` (or ``make demo``); ``bayesinv run
case_studies/01_gravity_traveltime_crossgradient`` runs the same code with the study's
``config.toml`` (whose ``[quick]`` table equals :class:`DemoConfig`'s defaults, checked by the
tests). The code lives in the package so that the demo works from any installed copy, with
or without the repository's ``case_studies`` folder.

A seeded synthetic section holds two bodies (a dense, slow block and a light, fast disk)
seen by surface gravity (density contrast) and by borehole and surface-to-borehole travel
times (slowness). Two posteriors are sampled with NUTS: *separate* (both fields in one model
without coupling, which factorises into two independent inversions) and *joint* (the same
plus a cross-gradient coupling). Written to the output folder:

- the joint inversion's :func:`bayesinv.diagnostics.report.report` (``posterior.nc`` with
  provenance, the grids and the truth; ``summary.csv``, ``index.html`` and the rest), and
  the separate one's in ``separate/``,
- ``maps.png``: density truth, posterior means and standard deviations, separate and joint;
  ``maps_slowness.png``: the same for the slowness anomaly about the host,
- ``data_fit.png``: gravity data against the joint posterior predictive bands,
- ``headline.json``: wall time, convergence, RMSE, boundary-band RMSE and 90% coverage of
  the truth for each inversion and field.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from bayesinv.grid import Grid2D

__all__ = [
    "DemoConfig",
    "DemoSurvey",
    "boundary_band",
    "build_gravity_model",
    "build_joint_model",
    "demo_survey",
    "run_demo",
]

#: units of the fields and modalities, for reports and figures
UNITS = {
    "density": "density contrast (kg/m³)",
    "slowness": "slowness (s/m)",
    "gravity": "g_z (mGal)",
    "traveltime": "travel time (s)",
}


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the flagship demo (case study 01 at quick size).

    Attributes
    ----------
    nx, nz : int
        Grid size (cells of ``cell`` metres).
    cell : float
        Cell size in metres.
    n_receivers : int
        Gravity stations along the surface.
    noise_sd : float
        Gravity noise standard deviation (mGal), known to the inversion.
    prior_sd : float
        Prior standard deviation of the density contrast (kg/m³).
    n_sensors : int
        Travel-time sensors per borehole (two boreholes at the sides of the section);
        ``2 n_sensors`` surface shots fire into both boreholes too.
    traveltime_noise_sd : float
        Travel-time noise standard deviation (s), known to the inversion.
    background_slowness : float
        Known background slowness (s/m), the prior mean.
    slowness_prior_sd : float
        Prior standard deviation of the slowness (s/m).
    length_scale : float
        Correlation length (m) of the Matérn (ν = 3/2) priors.
    coarsening : int
        The Matérn fields live on a grid this many times coarser, prolonged bilinearly.
    coupling_weight : float
        Weight of the cross-gradient coupling of the joint inversion.
    draws, tune, chains : int
        Sampler settings.
    adaptation : {"low_rank", "diag"}
        nutpie's mass-matrix adaptation. The travel times pin down a few combinations of
        the slowness coefficients (above all the mean slowness) far better than the prior,
        which a diagonal mass matrix cannot follow: measured on this problem, ``"diag"``
        needed about 900 leapfrog steps per draw (tree depth 9.6), ``"low_rank"`` 15.
    seed : int
        Seed for the synthetic data and the sampler.
    """

    nx: int = 16
    nz: int = 8
    cell: float = 50.0
    n_receivers: int = 40
    noise_sd: float = 0.02
    prior_sd: float = 200.0
    n_sensors: int = 6
    traveltime_noise_sd: float = 1e-3
    background_slowness: float = 5e-4
    slowness_prior_sd: float = 1e-4
    length_scale: float = 100.0
    coarsening: int = 2
    coupling_weight: float = 1e5
    draws: int = 300
    tune: int = 400
    chains: int = 4
    adaptation: str = "low_rank"
    seed: int = 2026

    @classmethod
    def from_dict(cls, config: dict) -> DemoConfig:
        """Build from a dict (e.g. a case study's TOML table), ignoring unknown keys.

        Parameters
        ----------
        config : dict
            Settings by field name.

        Returns
        -------
        DemoConfig
        """
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in config.items() if k in names})


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


def demo_survey(config: DemoConfig) -> DemoSurvey:
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
    rng = np.random.default_rng(c.seed)
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


def build_gravity_model(
    grid: Grid2D,
    receivers,
    data,
    noise_sd: float,
    prior_sd: float,
    length_scale: float = 100.0,
    coarsening: int = 2,
):
    """Build a gravity-only model with a Matérn prior on the density contrast.

    Parameters
    ----------
    grid : Grid2D
        Model grid.
    receivers : array_like
        ``(n, 2)`` receiver positions.
    data : array_like
        Observed vertical attraction (mGal).
    noise_sd : float
        Known noise standard deviation (mGal).
    prior_sd : float
        Prior standard deviation of the density contrast at any point (kg/m³).
    length_scale : float
        Correlation length of the Matérn (ν = 3/2) prior (m).
    coarsening : int
        The prior lives on a grid this many times coarser, prolonged bilinearly.

    Returns
    -------
    pymc.Model
        Built by :class:`~bayesinv.model.JointInversion`: the field ``density`` (dims
        ``density_z``, ``density_x``) and the observed ``gravity`` (dim ``gravity_obs``;
        receiver positions in ``gravity_coords``).
    """
    from bayesinv.model import JointInversion
    from bayesinv.model.fields import MaternPrior
    from bayesinv.model.modality import Modality
    from bayesinv.model.noise import KnownNoise
    from bayesinv.operators import Gravity2D

    prior = MaternPrior(prior_sd**2, length_scale, nu=1.5, coarsening=coarsening)
    inv = JointInversion("gravity demo").add_field("density", grid, prior)
    op = Gravity2D(grid, receivers)
    inv.add_modality(Modality("gravity", op, data, KnownNoise(noise_sd), coords=receivers))
    return inv.build()


def build_joint_model(survey: DemoSurvey, config: DemoConfig, coupled: bool):
    """Build the two-field model, with or without the cross-gradient coupling.

    Parameters
    ----------
    survey : DemoSurvey
        Data and operators.
    config : DemoConfig
        Priors, noise and coupling weight.
    coupled : bool
        Add :class:`~bayesinv.model.coupling.CrossGradient` (joint) or not (separate: the
        posterior factorises into the two single-modality posteriors).

    Returns
    -------
    pymc.Model
        Fields ``density`` and ``slowness``, observed ``gravity`` and ``traveltime``.
    """
    from bayesinv.model import JointInversion
    from bayesinv.model.coupling import CrossGradient
    from bayesinv.model.fields import MaternPrior
    from bayesinv.model.modality import Modality
    from bayesinv.model.noise import KnownNoise

    c = config
    grid = survey.grid

    def matern(sd, mean=0.0):
        return MaternPrior(sd**2, c.length_scale, 1.5, coarsening=c.coarsening, mean=mean)

    inv = JointInversion("joint" if coupled else "separate")
    inv.add_field("density", grid, matern(c.prior_sd))
    inv.add_field("slowness", grid, matern(c.slowness_prior_sd, c.background_slowness))
    inv.add_modality(
        Modality(
            "gravity",
            survey.gravity,
            survey.data["gravity"],
            KnownNoise(c.noise_sd),
            field="density",
            coords=survey.receivers,
        )
    )
    inv.add_modality(
        Modality(
            "traveltime",
            survey.traveltime,
            survey.data["traveltime"],
            KnownNoise(c.traveltime_noise_sd),
            field="slowness",
        )
    )
    if coupled:
        scales = (c.prior_sd, c.slowness_prior_sd)
        inv.add_coupling(CrossGradient("density", "slowness", c.coupling_weight, scales))
    return inv.build()


def _field_numbers(result, name, truth, band) -> dict:
    mean = result.idata["posterior"][name].mean(("chain", "draw")).values
    return {
        "rmse": float(result.truth.loc[name, "rmse"]),
        "boundary_rmse": float(np.sqrt(np.mean((mean - truth)[band] ** 2))),
        "coverage_90": float(result.truth.loc[name, "coverage_90"]),
    }


def run_demo(out, config: DemoConfig | None = None, progressbar: bool | None = None) -> dict:
    """Run the demo (case study 01) and write its outputs to ``out``.

    Parameters
    ----------
    out : str or Path
        Output folder (created if missing).
    config : DemoConfig, optional
        Settings; the defaults are the study's quick size (a few minutes on 2 cores).
    progressbar : bool, optional
        Show sampling progress (default: when attached to a terminal).

    Returns
    -------
    dict
        Headline numbers of the joint inversion's density field (``wall_time_s``,
        ``max_rhat``, ``min_ess_bulk``, ``divergences``, ``rmse_posterior_mean``,
        ``coverage_90``, ``coverage_50``, ``converged``, ``verdict``) and ``table``: one
        row per inversion and field with RMSE, boundary-band RMSE, 90% coverage and
        convergence.
    """
    from bayesinv.diagnostics import plot_data_fit, plot_field_maps
    from bayesinv.diagnostics.report import report
    from bayesinv.inference import sample
    from bayesinv.io import write_text

    config = config or DemoConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    survey = demo_survey(config)
    grid = survey.grid
    band = boundary_band(survey.shape)
    truth = {**survey.truth, **survey.clean}
    results, rows = {}, []
    for label, coupled, folder in (("separate", False, out / "separate"), ("joint", True, out)):
        model = build_joint_model(survey, config, coupled)
        t0 = time.perf_counter()
        idata = sample(
            model,
            draws=config.draws,
            tune=config.tune,
            chains=config.chains,
            random_seed=config.seed,
            progressbar=progressbar,
            nuts={"adaptation": config.adaptation},
        )
        wall = time.perf_counter() - t0
        result = report(
            idata,
            folder,
            fields={"density": grid, "slowness": grid},
            truth=truth,
            model=model,
            config=asdict(config) | {"inversion": label},
            seed=config.seed,
            units=UNITS,
            receivers=survey.receivers,
            title=f"bayesinv demo (case study 01): {label} inversion, gravity + travel time",
        )
        results[label] = (result, wall)
        conv = result.convergence
        for name in ("density", "slowness"):
            numbers = _field_numbers(result, name, survey.truth[name], band)
            rows.append(
                {"inversion": label, "field": name}
                | numbers
                | {
                    "max_rhat": conv.max_rhat,
                    "min_ess_bulk": conv.min_ess_bulk,
                    "divergences": conv.n_divergent,
                    "sampling_s": round(wall, 1),
                }
            )

    means, sds = {}, {}
    for label, (result, _) in results.items():
        post = result.idata["posterior"]
        means[label] = {n: post[n].mean(("chain", "draw")).values for n in survey.truth}
        sds[label] = {n: post[n].std(("chain", "draw")).values for n in survey.truth}
    # slowness is drawn as the anomaly about the known host, on a symmetric scale
    offsets = {"density": 0.0, "slowness": config.background_slowness}
    labels = {"density": UNITS["density"], "slowness": "slowness − host slowness (s/m)"}
    for name, fname in (("density", "maps.png"), ("slowness", "maps_slowness.png")):
        plot_field_maps(
            grid,
            {
                "truth": survey.truth[name] - offsets[name],
                "separate: mean": means["separate"][name] - offsets[name],
                "joint: mean": means["joint"][name] - offsets[name],
                "separate: sd": sds["separate"][name],
                "joint: sd": sds["joint"][name],
            },
            out / fname,
            units=labels[name],
            shared_scale=("truth", "separate: mean", "joint: mean"),
            receivers=survey.receivers if name == "density" else None,
        )
    joint, wall = results["joint"]
    plot_data_fit(
        survey.receivers[:, 0],
        survey.data["gravity"],
        joint.idata["posterior_predictive"]["gravity"].values,
        out / "data_fit.png",
        ylabel=UNITS["gravity"],
        title="gravity: data and joint posterior predictive",
        truth=survey.clean["gravity"],
    )
    conv = joint.convergence
    headline = {
        "wall_time_s": round(wall, 2),
        "max_rhat": conv.max_rhat,
        "min_ess_bulk": conv.min_ess_bulk,
        "divergences": conv.n_divergent,
        "rmse_posterior_mean": float(joint.truth.loc["density", "rmse"]),
        "coverage_90": float(joint.truth.loc["density", "coverage_90"]),
        "coverage_50": float(joint.truth.loc["density", "coverage_50"]),
        "converged": conv.passed,
        "verdict": conv.verdict,
        "table": rows,
    }
    write_text(out / "headline.json", json.dumps(headline, indent=2, default=str))
    return headline
