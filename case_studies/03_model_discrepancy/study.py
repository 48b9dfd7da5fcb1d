"""Case study 03: inverting data from a richer forward model, with and without a discrepancy GP.

The data are the 2-D gravity response of two bodies in the section *plus* a smooth regional
field from a source the model does not contain (a broad deep mass off the end of the line).
Both inversions use the same 2-D gravity operator and Matérn prior on the density contrast;
one adds a model-discrepancy Gaussian process over the receiver positions
(:class:`bayesinv.model.discrepancy.Discrepancy`; with ``marginalize = true`` the field and the
GP are integrated out and drawn exactly after sampling η and ℓ). The question is whether
the credible intervals of the density still cover the truth.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

REQUIRED = {
    "nx": int,
    "nz": int,
    "cell": float,
    "n_receivers": int,
    "noise_sd": float,
    "prior_sd": float,
    "length_scale": float,
    "coarsening": int,
    "regional_amplitude": float,
    "regional_width": float,
    "regional_center": float,
    "draws": int,
    "tune": int,
    "chains": int,
    "target_accept": float,
    "adaptation": str,
    "discrepancy_amplitude": float,
    "discrepancy_lengthscale": list,
    "marginalize": bool,
}

UNITS = {"density": "density contrast (kg/m³)", "gravity": "g_z (mGal)"}


def _survey(config: dict):
    from bayesinv import Grid2D
    from bayesinv.synthetic import gravity_survey

    grid = Grid2D(config["nx"], config["nz"], config["cell"], config["cell"])
    rng = np.random.default_rng(config["seed"])
    survey = gravity_survey(rng, grid, config["n_receivers"], config["noise_sd"])
    width = grid.nx * grid.dx
    x = survey.receivers[:, 0]
    xc, w = config["regional_center"] * width, config["regional_width"] * width
    regional = config["regional_amplitude"] * np.exp(-0.5 * ((x - xc) / w) ** 2)
    return grid, survey, regional


def _model(grid, survey, data, config, discrepancy, build: bool = True):
    """Build the study's model.

    ``discrepancy`` is True/False (the study's GP or none) or a
    :class:`~bayesinv.model.discrepancy.Discrepancy` (used by the benchmark).
    """
    from bayesinv.model import JointInversion
    from bayesinv.model.fields import MaternPrior
    from bayesinv.model.modality import Modality
    from bayesinv.model.noise import KnownNoise
    from bayesinv.operators import Gravity2D

    prior = MaternPrior(
        config["prior_sd"] ** 2, config["length_scale"], 1.5, coarsening=config["coarsening"]
    )
    if isinstance(discrepancy, bool):
        discrepancy = _discrepancy(config) if discrepancy else None
    inv = JointInversion("plain" if discrepancy is None else "with discrepancy")
    inv.add_field("density", grid, prior)
    inv.add_modality(
        Modality(
            "gravity",
            Gravity2D(grid, survey.receivers),
            data,
            KnownNoise(config["noise_sd"]),
            coords=survey.receivers,
            discrepancy=discrepancy,
        )
    )
    return inv.build() if build else inv


def _discrepancy(config: dict):
    from bayesinv.model.discrepancy import Discrepancy

    low, high = (float(v) for v in config["discrepancy_lengthscale"])
    return Discrepancy(
        "matern52",
        amplitude=config["discrepancy_amplitude"],
        lengthscale=(low, high),
        method="exact",
    )


def _figure(grid, truth, results, receivers, path):
    from bayesinv.diagnostics import plot_field_maps

    panels = {"truth": truth}
    for label, tree in results.items():
        post = tree["posterior"]["density"]
        panels[f"{label}: mean"] = post.mean(("chain", "draw")).values
    for label, tree in results.items():
        draws = tree["posterior"]["density"].values.reshape(-1, *grid.shape)
        lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
        panels[f"{label}: truth outside 90%"] = ((truth < lo) | (truth > hi)).astype(float)
    plot_field_maps(
        grid,
        panels,
        path,
        units=UNITS["density"],
        kinds={
            title: "absolute" if title.endswith("outside 90%") else "contrast" for title in panels
        },
        shared=[("truth", *[f"{k}: mean" for k in results])],
        receivers=receivers,
    )


def run(config: dict, out: Path) -> dict:
    """Run the study; return coverage, RMSE and convergence of both inversions."""
    from bayesinv.diagnostics import plot_data_fit
    from bayesinv.diagnostics.report import report
    from bayesinv.inference import sample

    grid, survey, regional = _survey(config)
    data = survey.data + regional
    clean = survey.clean + regional
    rows, trees = [], {}
    for label, with_gp in (("plain", False), ("discrepancy", True)):
        inv = _model(grid, survey, data, config, with_gp, build=False)
        # with the GP and marginalize: NUTS on η and ℓ only, the field and δ drawn exactly
        marginal = with_gp and config["marginalize"]
        t0 = time.perf_counter()
        tree = sample(
            inv.build(marginalize=marginal),
            draws=config["draws"],
            tune=config["tune"],
            chains=config["chains"],
            random_seed=config["seed"],
            target_accept=config["target_accept"],
            nuts={"adaptation": config["adaptation"]},
            progressbar=False,
        )
        if marginal:
            tree = inv.recover_marginals(tree, random_seed=config["seed"])
        wall = time.perf_counter() - t0
        result = report(
            tree,
            out / label,
            fields={"density": grid},
            truth={"density": survey.truth, "gravity": clean},
            model=inv.build(),  # the unmarginalised model: its predictive uses the field
            config=config | {"inversion": label},
            seed=config["seed"],
            units=UNITS,
            receivers=survey.receivers,
            title=f"case study 03: {label} inversion of data with an unmodelled regional",
        )
        trees[label] = result.idata
        conv, truth_table = result.convergence, result.truth
        row = {
            "inversion": label,
            "coverage_90": float(truth_table.loc["density", "coverage_90"]),
            "coverage_50": float(truth_table.loc["density", "coverage_50"]),
            "rmse": float(truth_table.loc["density", "rmse"]),
            "rms_z": float(truth_table.loc["density", "rms_z"]),
            "max_rhat": conv.max_rhat,
            "min_ess_bulk": conv.min_ess_bulk,
            "divergences": conv.n_divergent,
            "sampling_s": round(wall, 1),
        }
        if with_gp:
            post = result.idata["posterior"]
            row["gp_amplitude_mean"] = float(post["gravity_discrepancy_amplitude"].mean())
            row["gp_lengthscale_mean"] = float(post["gravity_discrepancy_lengthscale"].mean())
        rows.append(row)
        plot_data_fit(
            survey.receivers[:, 0],
            data,
            result.idata["posterior_predictive"]["gravity"].values,
            out / f"data_fit_{label}.png",
            ylabel=UNITS["gravity"],
            title=f"{label}: data (with regional) and posterior predictive",
            truth=survey.clean,
        )
    _figure(grid, survey.truth, trees, survey.receivers, out / "maps.png")
    return {"regional_peak_mgal": float(regional.max()), "table": rows}
