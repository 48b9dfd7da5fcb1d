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
  ``maps_slowness.png``: the same for the slowness,
- ``data_fit.png``: gravity data against the joint posterior predictive bands,
- ``headline.json``: wall time, convergence, RMSE, boundary-band RMSE and 90% coverage of
  the truth for each inversion and field.

``posterior.nc`` carries the units of every field and datum (variable attribute ``units``)
and the survey geometry on the data dims (``gravity_x``, ``gravity_z`` on ``gravity_obs``;
``traveltime_source_x`` ... ``traveltime_receiver_z`` on ``traveltime_obs``); each page
explains its checks in words (see :mod:`bayesinv.studies._demo_page`).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path

from bayesinv import _progress
from bayesinv._checks import check_choice, check_float, check_int, check_positive
from bayesinv._seeds import child_seeds
from bayesinv.grid import Grid2D
from bayesinv.studies._demo_page import (
    FIGURES,
    UNITS,
    annotate,
    table_rows,
    write_figures,
    write_report,
)
from bayesinv.studies._demo_survey import (
    STREAMS,
    DemoSurvey,
    boundary_band,
    demo_survey,
    sample_in_laplace_coordinates,
)

__all__ = [
    "UNITS",
    "DemoConfig",
    "DemoSurvey",
    "boundary_band",
    "build_gravity_model",
    "build_joint_model",
    "demo_survey",
    "run_demo",
]

_INTS = {"nx": 2, "nz": 2, "n_receivers": 1, "n_sensors": 2, "coarsening": 1}
_INTS |= {"draws": 1, "tune": 0, "chains": 1, "seed": 0}
_POSITIVE = ("cell", "noise_sd", "prior_sd", "traveltime_noise_sd", "background_slowness")
_POSITIVE += ("slowness_prior_sd", "length_scale")


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
        The Matérn fields live on a grid this many times coarser, prolonged bilinearly
        (``nx`` and ``nz`` must be multiples). The default 1 puts them on the model grid: with
        2, the best fit of the noise-free travel times within the coarse space left
        residuals of 11 noise sds (the rays resolve the bodies' edges finer than 100 m), the
        travel-time check failed and the slowness intervals covered 54% of the truth.
    coupling_weight : float
        Weight of the cross-gradient coupling of the joint inversion.
    draws, tune, chains : int
        Sampler settings.
    adaptation : {"diag", "low_rank"}
        nutpie's mass-matrix adaptation, on top of the Laplace preconditioning (see
        :func:`run_demo`'s Notes); the preconditioning leaves little for it to learn, so the
        cheaper ``"diag"`` is the default.
    target_accept : float
        NUTS target acceptance rate; 0.9 (smaller steps than nutpie's 0.8) because the
        cross-gradient term curves the joint posterior more than its Laplace approximation
        says (0.8 gave a few divergences for some noise seeds).
    seed : int
        Seed of the synthetic noise and of both samplers (independent streams derived with
        :func:`bayesinv._seeds.child_seeds`).

    Raises
    ------
    ValueError
        If a setting has the wrong type or range (booleans are refused as numbers), or the
        grid is not a multiple of ``coarsening``.
    """

    nx: int = 16
    nz: int = 8
    cell: float = 50.0
    n_receivers: int = 40
    noise_sd: float = 0.02
    prior_sd: float = 120.0
    n_sensors: int = 6
    traveltime_noise_sd: float = 1e-3
    background_slowness: float = 5e-4
    slowness_prior_sd: float = 6e-5
    length_scale: float = 150.0
    coarsening: int = 1
    coupling_weight: float = 1e5
    draws: int = 2000
    tune: int = 300
    chains: int = 4
    adaptation: str = "diag"
    target_accept: float = 0.9
    seed: int = 2026

    def __post_init__(self):
        for name, low in _INTS.items():
            check_int(getattr(self, name), "DemoConfig", name, low=low)
        for name in _POSITIVE:
            object.__setattr__(self, name, check_positive(getattr(self, name), "DemoConfig", name))
        weight = check_float(self.coupling_weight, "DemoConfig", "coupling_weight", low=0.0)
        object.__setattr__(self, "coupling_weight", weight)
        accept = check_float(
            self.target_accept,
            "DemoConfig",
            "target_accept",
            low=0.0,
            high=1.0,
            low_open=True,
            high_open=True,
        )
        object.__setattr__(self, "target_accept", accept)
        check_choice(self.adaptation, "DemoConfig", "adaptation", ("low_rank", "diag"))
        for name in ("nx", "nz"):
            if getattr(self, name) % self.coarsening:
                raise ValueError(
                    f"DemoConfig: {name} must be a multiple of coarsening={self.coarsening}, "
                    f"got {getattr(self, name)}"
                )

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
        ``coverage_90``, ``coverage_50``, ``converged``, ``verdict``), ``verdicts`` (the
        convergence verdict of each inversion) and ``table``: one row per inversion and field
        with RMSE, boundary-band RMSE, 90% coverage and convergence.

    Notes
    -----
    Each inversion is sampled with NUTS in the coordinates of its Laplace approximation at
    the MAP point (about 15 leapfrog steps per draw instead of 500; see
    :func:`~bayesinv.studies._demo_survey.sample_in_laplace_coordinates`).

    Stages are reported through :mod:`bayesinv._progress` (building, sampling each
    inversion, writing reports); the last line on standard error names the report page.
    """
    from bayesinv.diagnostics.report import _complete
    from bayesinv.io import write_text

    config = config or DemoConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = child_seeds(config.seed, len(STREAMS), "run_demo", "seed")
    seeds = dict(zip(STREAMS, seeds, strict=True))
    _progress.stage("demo: building the survey and models")
    survey = demo_survey(config)
    models = {label: build_joint_model(survey, config, label == "joint") for label in STREAMS[1:]}
    trees, walls = {}, {}
    for label, model in models.items():
        _progress.stage(f"demo: sampling the {label} inversion")
        t0 = time.perf_counter()
        idata = sample_in_laplace_coordinates(model, config, seeds[label], progressbar)
        walls[label] = time.perf_counter() - t0
        # predictive draws and log-likelihood first, so that every group gets the geometry
        trees[label] = annotate(_complete(idata, model, seeds[label]), survey)

    _progress.stage("demo: writing the figures and reports")
    # the study's figures first: the joint page shows them (and checks that they exist)
    write_figures(out, survey, trees)
    folders = {"separate": out / "separate", "joint": out}
    results = {
        label: write_report(
            trees[label],
            folders[label],
            models[label],
            survey,
            config,
            label,
            config.seed,  # recorded; the draws were made above with the run's child seed
            FIGURES if label == "joint" else [],
        )
        for label in models  # separate first: the joint page links its page
    }
    rows = table_rows(results, survey, walls)
    joint = results["joint"]
    conv = joint.convergence
    headline = {
        "wall_time_s": round(walls["joint"], 2),
        "max_rhat": conv.max_rhat,
        "min_ess_bulk": conv.min_ess_bulk,
        "divergences": conv.n_divergent,
        "rmse_posterior_mean": float(joint.truth.loc["density", "rmse"]),
        "coverage_90": float(joint.truth.loc["density", "coverage_90"]),
        "coverage_50": float(joint.truth.loc["density", "coverage_50"]),
        "converged": conv.passed and results["separate"].convergence.passed,
        "verdict": conv.verdict,
        "verdicts": {label: r.convergence.verdict for label, r in results.items()},
        "table": rows,
    }
    write_text(out / "headline.json", json.dumps(headline, indent=2, default=str))
    _progress.finish()
    print(f"bayesinv demo: report page {(out / 'index.html').resolve()}", file=sys.stderr)
    return headline
