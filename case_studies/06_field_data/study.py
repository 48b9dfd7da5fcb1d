"""Case study 06: a field ERT profile from a unified-format file to a posterior.

The data are the slag-dump profile of pyGIMLi's example data (``ert/slagdump.ohm``: 38
electrodes, Wenner array, 2 m spacing, resistances, topography), read with
:func:`bayesinv.formats.read_unified` from a path the user gives (``data_file``). The file
is not shipped (its repository states no licence); without it, the study writes a synthetic
stand-in of the same geometry and array (see :func:`_stand_in`) and inverts that, so that
CI runs end to end.

The same inversion runs twice: built with the Python API, and from a configuration file
through ``bayesinv invert`` (:func:`bayesinv.studies.invert.run_invert`); with the same
seed the two posteriors must be the same. At full size, when ``reference_file`` (written by
``pygimli_reference.py`` with pyGIMLi's Python) is there, the posterior is compared with
pyGIMLi's deterministic sections of the same file (:func:`_reference`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from bayesinv.studies.config import Key

REQUIRED = {
    "data_file": str,
    "nx": Key(int, low=2),
    "nz": Key(int, low=1),
    "depth": Key(float, low=0.0, low_open=True),
    "padding": Key(float, low=0.0),
    "relative_error": Key(float, low=0.0, low_open=True),
    "method": Key(str, choices=("laplace", "nuts")),
    "adaptation": Key(str, choices=("diag", "low_rank")),
    "draws": Key(int, low=1),
    "tune": Key(int, low=0),
    "chains": Key(int, low=1),
    "n_gradient_timings": Key(int, low=0),
    "prior_draws": Key(int, low=1),
    "n_electrodes": Key(int, low=4),
    "prior": Key(str, choices=("iid", "matern")),
    "length_scale": Key(float, low=0.0, low_open=True),
    "doi_shift": Key(float, low=0.0),
    "doi_sd_ratio": Key(float, low=0.0, high=1.0, low_open=True, high_open=True),
    "doi_index": Key(float, low=0.0, high=1.0, low_open=True, high_open=True),
}

OPTIONAL = {
    # pyGIMLi's sections on this grid (pygimli_reference.py), relative to this folder;
    # "": no comparison (the quick size)
    "reference_file": "",
}

UNITS = {
    "log_conductivity": "log conductivity (ln S/m)",
    "ert": "apparent resistivity (ohm m)",
}
DOWNLOAD = (
    "https://github.com/gimli-org/example-data/raw/"
    "3bab9c6b96a606e2ca12cbdafc8c7da4f1b73c67/ert/slagdump.ohm"
)


def _stand_in(path: Path, seed: int, n: int = 38) -> dict:
    """Write a synthetic file with the geometry and array of the field profile.

    ``n`` electrodes 2 m apart along the ground (38 and a line of L = 74 m like the field
    file) over a dump-shaped topography (a rise of 12.4 m L / 74 over the first 0.22 L, a
    plateau, a fall of 7 m L / 74 over the last 0.3 L), all Wenner-alpha data (222 for 38
    electrodes), resistances only (no errors, no ``k``), like the field file. The section
    (distance along the ground, depth below it) holds a 15 Ω·m host, a 60 Ω·m body under
    the plateau and a 6 Ω·m layer below 0.12 L (see :func:`_truth_log_conductivity`); data
    are computed on a grid of 1 m x 0.75 m cells (finer than the inversion's) with 3 %
    Gaussian noise.
    """
    from bayesinv import Grid2D
    from bayesinv.formats import ERTSurvey, geometric_factors, write_unified
    from bayesinv.operators.resistivity import DCResistivity2p5D
    from bayesinv.operators.resistivity.arrays import wenner

    s = 2.0 * np.arange(n)
    f = s[-1] / 74.0
    rise = 12.4 * f * np.clip(s / (16.0 * f), 0, 1)
    elevation = 108.8 + rise - 7.0 * f * np.clip((s - 52.0 * f) / (22.0 * f), 0, 1)
    step = np.diff(elevation)
    x = np.concatenate([[0.0], np.cumsum(np.sqrt(4.0 - step**2))])
    abmn = wenner(n)
    grid = Grid2D(int(s[-1]) + 22, int(np.ceil(0.32 * s[-1] / 0.75)), 1.0, 0.75, x0=-11.0)
    flat = np.column_stack([s, np.zeros(n)])
    op = DCResistivity2p5D(grid, flat, abmn, data="apparent_resistivity")
    clean = op.forward(grid.ravel(_truth_log_conductivity(grid, s[-1])))
    rng = np.random.default_rng(seed)
    rhoa = clean * (1.0 + 0.03 * rng.standard_normal(clean.size))
    resistance = rhoa / geometric_factors(flat, abmn)
    electrodes = np.column_stack([x, -elevation])
    k = geometric_factors(electrodes, abmn)
    survey = ERTSurvey(electrodes, abmn, resistance, k * resistance, k)
    write_unified(path, survey)
    return {"grid": grid, "length": float(s[-1])}


def _truth_log_conductivity(grid, length: float = 74.0):
    """Log conductivity of the stand-in's section at the centres of ``grid``, (nz, nx).

    For a line of ``length`` L (m): 15 Ω·m, a 60 Ω·m body at ``|x - 0.46 L| < 0.12 L``,
    ``0.02 L < z < 0.068 L`` and 6 Ω·m below ``z = 0.12 L`` (for L = 74 m: the body at
    25–43 m, 1.5–5 m deep, the layer below 9 m).
    """
    xc, zc = np.meshgrid(grid.x_centers, grid.z_centers)
    f = length / 74.0
    rho = np.full(grid.shape, 15.0)
    rho[(np.abs(xc - 34.0 * f) < 9.0 * f) & (zc > 1.5 * f) & (zc < 5.0 * f)] = 60.0
    rho[zc > 9.0 * f] = 6.0
    return -np.log(rho)


def _data_file(config: dict, out: Path) -> tuple[Path, dict | None]:
    """Return the field file if ``data_file`` is set, else a stand-in written to ``out``."""
    from bayesinv.io import UserError

    if config["data_file"]:
        path = Path(config["data_file"]).expanduser()
        if not path.is_file():
            raise UserError(
                f"data_file: {path} is not a file; download the profile with\n"
                f"  curl -L -o slagdump.ohm {DOWNLOAD}\n"
                "and set data_file to its path (or leave data_file empty for the stand-in)"
            )
        return path.resolve(), None
    path = (out / "stand_in.ohm").resolve()  # the invert config names it from elsewhere
    return path, _stand_in(path, config["seed"], config["n_electrodes"])


def _invert_config(path: Path, data: Path, config: dict) -> Path:
    """Write the ``bayesinv invert`` configuration of the same inversion."""
    text = f"""# bayesinv invert configuration of case study 06 (written by study.py)
[output]
folder = "invert"
title = "case study 06: bayesinv invert of {data.name}"

[grid]
nx = {config["nx"]}
nz = {config["nz"]}
depth = {config["depth"]}
padding = {config["padding"]}

[prior]
kind = "{config["prior"]}"{_length_scale_line(config)}

[inference]
method = "laplace"       # the check of the Python API's Laplace step (NUTS: API only)
draws = {config["draws"]}
tune = {config["tune"]}
chains = {config["chains"]}
seed = {config["seed"]}
prior_draws = {config["prior_draws"]}
doi_shift = {config["doi_shift"]}        # Oldenburg–Li index: references -/+ this many prior sd

[modality.ert]
kind = "ert"
file = "{data.as_posix()}"
format = "unified"
flatten = true           # the operator takes a flat surface: distance along the ground
error = {config["relative_error"]}            # relative; the file gives none
noise = "scaled"         # learn a scale factor on the stated errors
"""
    path.write_text(text)
    return path


def _length_scale_line(config: dict) -> str:
    if config["prior"] != "matern":
        return ""
    return f"\nlength_scale = {config['length_scale']}   # m"


def _gradient_time(model, n: int, seed: int) -> float:
    """Median wall time (s) of one log-density gradient, at ``n`` different points."""
    from bayesinv.inference._model_space import FlatDensity

    flat = FlatDensity(model, mode="NUMBA")
    rng = np.random.default_rng(seed)
    x0 = flat.flatten(model.initial_point())
    flat.logp_dlogp(x0)  # compile and warm up
    times = []
    for _ in range(n):
        x = x0 + 0.05 * rng.standard_normal(x0.size)  # a new point: no cached solve
        t0 = time.perf_counter()
        flat.logp_dlogp(x)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _infer(model, config: dict) -> dict:
    """Laplace approximation, and with ``method = "nuts"`` NUTS in its coordinates.

    Returns ``idata`` (the draws the report uses), ``laplace`` (the Laplace draws, which
    ``bayesinv invert`` must reproduce), ``per_gradient`` (s per gradient of the Laplace
    Hessian) and ``nuts`` (headline entries of the NUTS run, empty for Laplace).
    """
    from bayesinv.inference import laplace
    from bayesinv.inference.optimize import find_map
    from bayesinv.studies.field_data import PYTHON_MODE

    t0 = time.perf_counter()
    result = laplace(
        model,
        find_map(model, random_seed=config["seed"], mode=PYTHON_MODE),
        draws=config["draws"],
        chains=config["chains"],
        random_seed=config["seed"],
        mode=PYTHON_MODE,  # what bayesinv invert does
    )
    per_gradient = result.info["laplace_s"] / max(result.info["n_gradients"], 1)
    out = {"idata": result.idata, "laplace": result.idata, "per_gradient": per_gradient}
    out["laplace_s"] = time.perf_counter() - t0
    out["nuts"] = {}
    if config["method"] == "nuts":
        out["idata"], out["nuts"] = _nuts(model, result.gaussian, config)
    return out


def _nuts(model, gaussian, config: dict):
    """NUTS (nutpie) in the coordinates of the Laplace approximation ``gaussian``.

    ``x = m_MAP + A z`` with ``A A^T`` the Laplace covariance
    (:func:`bayesinv.inference.preconditioning.precondition`); nutpie adapts a mass matrix
    in ``z`` (``adaptation``, e.g. ``"low_rank"``) that only corrects what the Laplace
    approximation missed. Returns the draws (the model's own variables) and the headline
    entries: convergence over every cell and the noise scale, cost in gradients and time.
    """
    import arviz as az

    import bayesinv
    from bayesinv.inference import compile_model
    from bayesinv.inference.preconditioning import (
        Z_NAME,
        Preconditioner,
        precondition,
        unconstrained_layout,
    )

    g = gaussian
    pre = Preconditioner(g.mean, g.scale, g.basis, g.factors, unconstrained_layout(model))
    cpu0 = _cpu()
    t0 = time.perf_counter()
    compiled = compile_model(precondition(model, pre))
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    tree = bayesinv.sample(
        compiled,
        draws=config["draws"],
        tune=config["tune"],
        chains=config["chains"],
        cores=config["chains"],
        random_seed=config["seed"],
        progressbar=False,
        save_warmup=True,
        adaptation=config["adaptation"],
    )
    wall = time.perf_counter() - t0
    tree["posterior"] = tree["posterior"].to_dataset().drop_vars(Z_NAME)
    stats = tree["sample_stats"]
    grads = int(stats["n_steps"].values.sum())
    if "warmup_sample_stats" in tree.children:
        grads += int(tree["warmup_sample_stats"]["n_steps"].values.sum())
    names = ["log_conductivity", "ert_sigma"]
    post = tree["posterior"].to_dataset()[names]
    rhat = float(max(np.nanmax(np.asarray(az.rhat(post[n]))) for n in names))
    ess = float(min(np.nanmin(np.asarray(az.ess(post[n], method="bulk"))) for n in names))
    tail = float(min(np.nanmin(np.asarray(az.ess(post[n], method="tail"))) for n in names))
    return tree, {
        "nuts_adaptation": config["adaptation"],
        "nuts_draws": f"{config['chains']} x ({config['tune']} + {config['draws']})",
        "nuts_max_rhat": rhat,
        "nuts_min_bulk_ess": ess,
        "nuts_min_tail_ess": tail,
        "nuts_divergences": int(stats["diverging"].values.sum()),
        "nuts_mean_steps": round(float(stats["n_steps"].values.mean()), 1),
        "nuts_gradients": grads,
        "nuts_compile_s": round(compile_s, 1),
        "nuts_wall_s": round(wall, 1),
        "nuts_cpu_s": round(_cpu() - cpu0, 1),
        "nuts_wall_per_gradient_s": round(wall / max(grads, 1) * config["chains"], 4),
        "nuts_converged": bool(rhat < 1.01 and min(ess, tail) >= 400),
    }


def _cpu() -> float:
    """CPU seconds (user + system) of this process so far, all threads."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _api_inversion(survey, grid, config: dict):
    """Build with the Python API the inversion that ``bayesinv invert`` builds from the file."""
    from bayesinv.model import IIDNormal, JointInversion, MaternPrior, Modality
    from bayesinv.model.noise import ScaledNoise
    from bayesinv.operators.resistivity import from_survey

    rhoa = survey.apparent_resistivity
    errors = config["relative_error"] * np.abs(rhoa)
    mean = float(-np.log(np.median(rhoa[survey.mask])))
    inv = JointInversion()
    prior = IIDNormal(mean, 1.0)
    if config["prior"] == "matern":
        prior = MaternPrior(1.0, config["length_scale"], 1.5, mean=mean)
    inv.add_field("log_conductivity", grid, prior)
    op = from_survey(grid, survey, data="apparent_resistivity")
    noise = ScaledNoise(np.where(survey.mask, errors, 1.0))
    coords = np.arange(survey.n_data)
    inv.add_modality(
        Modality("ert", op, rhoa, noise, field="log_conductivity", coords=coords, mask=survey.mask)
    )
    return inv


def _grid(survey, config: dict):
    """Return the grid under the electrodes, ``padding`` of the line length on each side."""
    from bayesinv import Grid2D

    x = survey.electrodes[:, 0]
    width = x.max() - x.min()
    pad = config["padding"] * width
    nx, nz = config["nx"], config["nz"]
    return Grid2D(nx, nz, (width + 2 * pad) / nx, config["depth"] / nz, x0=x.min() - pad, z0=0.0)


def _pseudo(survey):
    """Pseudo-position of each datum: midpoint of the used electrodes, and their spread."""
    e = survey.electrodes[:, 0]
    idx = survey.abmn
    pos = np.where(idx >= 0, e[np.maximum(idx, 0)], np.nan)
    return np.nanmean(pos, axis=1), np.nanmax(pos, axis=1) - np.nanmin(pos, axis=1)


def run(config: dict, out: Path) -> dict:
    """Run the study; return the fit, noise scale, depth of investigation and timings."""
    return _run(config, out, _cpu())


def _run(config: dict, out: Path, cpu0: float) -> dict:
    from bayesinv.diagnostics.report import report
    from bayesinv.formats import read_unified
    from bayesinv.studies.invert import add_prior_draws, flatten_ert_survey

    out.mkdir(parents=True, exist_ok=True)
    path, truth = _data_file(config, out)
    survey = flatten_ert_survey(read_unified(path))
    grid = _grid(survey, config)
    model = _api_inversion(survey, grid, config).build()
    per_gradient = None
    if config["n_gradient_timings"]:
        per_gradient = _gradient_time(model, config["n_gradient_timings"], config["seed"])
    t0 = time.perf_counter()
    inferred = _infer(model, config)
    wall = time.perf_counter() - t0
    per_gradient = per_gradient if per_gradient is not None else inferred["per_gradient"]
    tree = add_prior_draws(inferred["idata"], model, config["prior_draws"], config["seed"])
    field_truth = None
    if truth is not None:
        field_truth = {"log_conductivity": _truth_log_conductivity(grid, truth["length"])}
    result = report(
        tree,
        out / "api",
        fields={"log_conductivity": grid},
        truth=field_truth,
        model=model,
        config=config,
        seed=config["seed"],
        units=UNITS,
        receivers=survey.electrodes,
        title=f"case study 06: {path.name}, Python API, {config['method']}",
        kinds={"log_conductivity": "absolute"},
    )
    idata = result.idata
    cli, wall_cli, ol_index = _cli_inversion(path, config, out)
    pseudo_x, spread = _pseudo(survey)
    summary = _figures(
        idata, survey, grid, pseudo_x, spread, out, field_truth, config["relative_error"]
    )
    ratio = summary.pop("sd_ratio")
    summary |= _depth_of_investigation(ratio, ol_index, grid, survey, config, out)
    summary |= _reference(idata, grid, survey, ratio, config, out)
    scale = idata["posterior"]["ert_sigma"].values.ravel()
    headline = {
        "data": "field file" if truth is None else "synthetic stand-in",
        "file": path.name,
        "n_electrodes": int(survey.electrodes.shape[0]),
        "n_data": int(survey.mask.sum()),
        "n_cells": grid.size,
        "method": config["method"],
        "time_per_gradient_s": None if per_gradient is None else round(per_gradient, 4),
        "laplace_hessian_s_per_gradient": round(inferred["per_gradient"], 4),
        "inference_s": round(wall, 1),
        "invert_cli_s": round(wall_cli, 1),
        "noise_scale_mean": float(scale.mean()),
        "noise_scale_90": f"{np.quantile(scale, 0.05):.2f} to {np.quantile(scale, 0.95):.2f}",
        "api_vs_cli_max_abs_diff": _max_diff(inferred["laplace"], cli),
    }
    headline |= inferred["nuts"] | summary
    headline |= _ppc_and_truth(result)
    if inferred["nuts"]:
        headline["laplace_vs_nuts_max_z"] = _max_z(inferred["laplace"], idata)
        headline["nuts_over_laplace_sd"] = _sd_ratio_range(inferred["laplace"], idata)
    headline["table"] = _table(inferred, idata, cli, wall, wall_cli, config["method"])
    headline["total_cpu_s"] = round(_cpu() - cpu0, 1)
    headline["verdict"] = _verdict(headline)
    return headline


def _cli_inversion(path: Path, config: dict, out: Path):
    """Run ``bayesinv invert`` on the written configuration.

    Returns its draws, its wall time and its Oldenburg–Li index of the log conductivity
    (``None`` with ``doi_shift = 0``).
    """
    from bayesinv.io import read_datatree
    from bayesinv.studies.invert import load_invert_config, run_invert

    toml = _invert_config(out / "invert.toml", path, config)
    t0 = time.perf_counter()
    run_invert(load_invert_config(toml), out / "invert")
    wall = time.perf_counter() - t0
    ol_index = None
    if config["doi_shift"] > 0:
        with np.load(out / "invert" / "doi_oldenburg_li.npz") as doi:
            ol_index = doi["log_conductivity"]
    return read_datatree(out / "invert" / "posterior.nc"), wall, ol_index


def _post_mean(tree, name="log_conductivity"):
    return tree["posterior"][name].mean(("chain", "draw")).values


def _post_sd(tree, name="log_conductivity"):
    return tree["posterior"][name].std(("chain", "draw")).values


def _sd_ratio_range(laplace_tree, nuts_tree) -> str:
    """NUTS sd / Laplace sd of the cells: median and 5 % to 95 % range."""
    r = _post_sd(nuts_tree) / _post_sd(laplace_tree)
    q = np.quantile(r, [0.05, 0.5, 0.95])
    return f"{q[1]:.2f} ({q[0]:.2f} to {q[2]:.2f})"


def _max_diff(a, b) -> float:
    return float(np.max(np.abs(_post_mean(a) - _post_mean(b))))


def _max_z(laplace_tree, nuts_tree) -> float:
    """Largest |Laplace mean - NUTS mean| / NUTS sd over the cells."""
    sd = nuts_tree["posterior"]["log_conductivity"].std(("chain", "draw")).values
    return float(np.max(np.abs(_post_mean(laplace_tree) - _post_mean(nuts_tree)) / sd))


def _ppc_and_truth(result) -> dict:
    out = {}
    if result.ppc is not None:
        ppc = result.ppc
        row = ppc.loc["ert"] if "ert" in ppc.index else ppc.iloc[0]
        out |= {f"ppc_{k}": _scalar(v) for k, v in row.items()}
    if result.truth is not None:
        t = result.truth.loc["log_conductivity"]
        out |= {"truth_coverage_90": float(t["coverage_90"]), "truth_rmse": float(t["rmse"])}
    return out


def _table(inferred, idata, cli, wall, wall_cli, method: str) -> list:
    """One row per posterior: the API's Laplace, NUTS (if run) and ``bayesinv invert``'s."""

    def row(name, tree, seconds):
        s = tree["posterior"]["ert_sigma"].values.ravel()
        sd = _post_sd(tree)
        return {
            "inversion": name,
            "noise_scale_mean": float(s.mean()),
            "noise_scale_90": f"{np.quantile(s, 0.05):.2f} to {np.quantile(s, 0.95):.2f}",
            "cell_sd_median": float(np.median(sd)),
            "cell_sd_range": f"{sd.min():.2f} to {sd.max():.2f}",
            "wall_s": seconds,
        }

    rows = [row("python API, laplace", inferred["laplace"], inferred["laplace_s"])]
    if method == "nuts":
        rows.append(row("python API, nuts (Laplace coordinates)", idata, wall))
    rows.append(row("bayesinv invert, laplace", cli, wall_cli))
    return rows


def _verdict(headline: dict) -> str:
    if headline["api_vs_cli_max_abs_diff"] >= 1e-6:
        return "FAIL: the Python API and bayesinv invert disagree"
    same = "the Python API and bayesinv invert give the same posterior"
    if headline["method"] != "nuts":
        return f"PASS: {same}"
    if not headline["nuts_converged"]:
        return f"FAIL: NUTS not converged (R-hat < 1.01, bulk/tail ESS >= 400 needed); {same}"
    return f"PASS: NUTS converged (R-hat < 1.01, bulk/tail ESS >= 400); {same} (Laplace)"


def _scalar(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


def _figures(idata, survey, grid, pseudo_x, spread, out: Path, truth, relative: float) -> dict:
    """Plot the maps (resistivity, sd, depth of investigation) and data fit; return numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bayesinv.diagnostics import plot_field_maps

    post = idata["posterior"]["log_conductivity"].values.reshape(-1, *grid.shape)
    log10_rho = -post / np.log(10.0)
    # the prior sd of every cell is 1 (ln units) for both priors: iid N(mean, 1), and the
    # Matérn field of variance 1 on the cell grid (variance 1 + 1e-6 with its jitter)
    ratio = post.std(axis=0) / 1.0
    panels = {"posterior mean log10 resistivity": log10_rho.mean(axis=0)}
    if truth is not None:
        panels["stand-in truth log10 resistivity"] = -truth["log_conductivity"] / np.log(10.0)
    sd_title = "posterior sd (decades of resistivity)"
    panels[sd_title] = log10_rho.std(axis=0)
    panels["posterior sd / prior sd (depth of investigation)"] = ratio
    labels = {k: "log10 (ohm m)" for k in panels}
    labels[sd_title] = "sd of log10 (ohm m)"
    labels["posterior sd / prior sd (depth of investigation)"] = "sd ratio"
    plot_field_maps(
        grid,
        panels,
        out / "maps.png",
        units=labels,
        kinds="absolute",
        shared=[tuple(k for k in panels if "log10" in k)],
        receivers=survey.electrodes,
    )
    obs = survey.apparent_resistivity
    pred = idata["posterior_predictive"]["ert"].values.reshape(-1, obs.size)
    scale = float(idata["posterior"]["ert_sigma"].mean())
    z = (obs - pred.mean(axis=0)) / (scale * relative * np.abs(obs))
    fig, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    im = axes[0].scatter(pseudo_x, obs, c=spread, s=14, cmap="viridis", label="observed")
    axes[0].scatter(pseudo_x, pred.mean(axis=0), c="k", s=3, label="posterior predictive mean")
    axes[0].set(ylabel="apparent resistivity (ohm m)", yscale="log")
    axes[0].legend(loc="upper right", fontsize=8)
    fig.colorbar(im, ax=axes, label="array length (m)")
    axes[1].scatter(pseudo_x, z, c=spread, s=14, cmap="viridis")
    axes[1].axhline(0, color="k", lw=0.5)
    axes[1].set(xlabel="pseudo-position: array midpoint (m)", ylabel="residual / learned sd")
    fig.savefig(out / "data_fit.png", dpi=100)
    plt.close(fig)
    lo, hi = np.quantile(pred, [0.05, 0.95], axis=0)
    return {
        "rms_residual_over_learned_sd": float(np.sqrt(np.mean(z**2))),
        "data_in_90_interval": float(np.mean((obs >= lo) & (obs <= hi))),
        "sd_ratio": ratio,
    }


def _doi_depth(row_values, grid, cutoff: float):
    """Depth (m) at which the data stop constraining: top of the first row at ``cutoff``.

    ``row_values`` is a per-row measure that is near 0 where the data decide and near 1
    where the prior does; the depth is the top edge of the shallowest row whose value is
    ``>= cutoff``, or a string naming the grid's bottom when no row reaches it.
    """
    above = np.flatnonzero(np.asarray(row_values) >= cutoff)
    if above.size == 0:
        return f">= {grid.z_edges[-1]:g} (bottom of the grid)"
    return float(grid.z_edges[above[0]])


def _depth_of_investigation(ratio, ol_index, grid, survey, config: dict, out: Path) -> dict:
    """Depth of investigation from the sd ratio and the Oldenburg–Li index; draw ``doi.png``.

    Both measures are summarised per row of cells by their median over the columns under
    the electrodes (between the first and last one); the depth is where that median first
    reaches ``doi_sd_ratio`` (posterior sd / prior sd) or ``doi_index`` (Oldenburg–Li index,
    from the ``bayesinv invert`` half, when ``doi_shift > 0``).
    """
    x = survey.electrodes[:, 0]
    inside = (grid.x_centers > x.min()) & (grid.x_centers < x.max())
    rows = {"sd ratio": np.median(ratio[:, inside], axis=1)}
    cutoffs = {"sd ratio": config["doi_sd_ratio"]}
    maps = {"sd ratio": ratio}
    if ol_index is not None:
        rows["Oldenburg–Li index"] = np.median(ol_index[:, inside], axis=1)
        cutoffs["Oldenburg–Li index"] = config["doi_index"]
        maps["Oldenburg–Li index"] = ol_index
    depths = {k: _doi_depth(rows[k], grid, cutoffs[k]) for k in rows}
    _doi_figure(maps, rows, cutoffs, depths, grid, survey, out / "doi.png")
    out_ = {
        "doi_depth_sd_ratio_m": depths["sd ratio"],
        "sd_ratio_per_row": _row_string(rows["sd ratio"]),
    }
    if ol_index is not None:
        out_["doi_depth_oldenburg_li_m"] = depths["Oldenburg–Li index"]
        out_["oldenburg_li_per_row"] = _row_string(rows["Oldenburg–Li index"])
    return out_


def _row_string(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _doi_figure(maps, rows, cutoffs, depths, grid, survey, path: Path) -> None:
    """Draw each DOI measure as a map with its cutoff contour, and the per-row medians."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(maps)
    fig, axes = plt.subplots(
        1, n + 1, figsize=(4.5 * n + 3, 3.4), gridspec_kw={"width_ratios": [3] * n + [1.3]}
    )
    extent = (grid.x_edges[0], grid.x_edges[-1], grid.z_edges[-1], grid.z_edges[0])
    for ax, (name, values) in zip(axes[:-1], maps.items(), strict=True):
        im = ax.imshow(values, extent=extent, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.contour(grid.x_centers, grid.z_centers, values, [cutoffs[name]], colors="w")
        ax.plot(survey.electrodes[:, 0], np.zeros(len(survey.electrodes)), "kv", ms=3)
        ax.set(xlabel="distance along the ground (m)", title=f"{name} (white: {cutoffs[name]:g})")
        fig.colorbar(im, ax=ax)
    axes[0].set_ylabel("depth (m)")
    for name, values in rows.items():
        line = axes[-1].plot(values, grid.z_centers, "o-", ms=3, label=name)[0]
        axes[-1].axvline(cutoffs[name], color=line.get_color(), ls=":")
        if not isinstance(depths[name], str):
            axes[-1].axhline(depths[name], color=line.get_color(), ls="--")
    axes[-1].set(xlim=(0, 1), ylim=(grid.z_edges[-1], 0), xlabel="row median")
    axes[-1].set_title("under the electrodes", fontsize=9)
    axes[-1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _reference_path(config: dict) -> Path | None:
    """Return the reference npz (``reference_file``, relative to this folder), or None."""
    name = config["reference_file"]
    if not name:
        return None
    path = Path(name).expanduser()
    return path if path.is_absolute() else Path(__file__).resolve().parent / path


def _reference(idata, grid, survey, ratio, config: dict, out: Path) -> dict:
    """Compare the posterior with pyGIMLi's deterministic sections (``reference_file``).

    The npz is written by ``pygimli_reference.py`` (pyGIMLi's inversion of the field file,
    levelled like this study and with topography, sampled onto this grid). Compared are
    the cells under the electrodes whose posterior sd / prior sd is below ``doi_sd_ratio``
    (above the depth of investigation). Returns headline entries and draws
    ``pygimli_comparison.png``; a missing file or another grid is reported, not an error.
    """
    from bayesinv.diagnostics.reference import reference_comparison

    path = _reference_path(config)
    if path is None:
        return {}
    if not path.is_file():
        return {"pygimli": f"{path.name} not found (run pygimli_reference.py, see README)"}
    with np.load(path) as f:
        ref = {k: f[k] for k in f.files}
    if ref["log10_rho_flat"].shape != grid.shape or not np.allclose(
        ref["x_centers"], grid.x_centers
    ):
        return {"pygimli": f"{path.name} is for another grid (rerun pygimli_reference.py)"}
    post = idata["posterior"]["log_conductivity"].values.reshape(-1, *grid.shape)
    draws = -post / np.log(10.0)
    x = survey.electrodes[:, 0]
    inside = (grid.x_centers > x.min()) & (grid.x_centers < x.max())
    mask = inside[None, :] & (ratio < config["doi_sd_ratio"])
    cmp = {k: reference_comparison(draws, ref[f"log10_rho_{k}"], mask) for k in ("flat", "topo")}
    head = {
        "pygimli_version": str(ref["pygimli_version"]),
        "pygimli_chi2_levelled": float(ref["chi2_flat"]),
        "pygimli_chi2_topography": float(ref["chi2_topo"]),
        "pygimli_cells_compared": cmp["flat"]["n_cells"],
    }
    for k, name in (("flat", "levelled"), ("topo", "topography")):
        head[f"pygimli_{name}_in_90"] = cmp[k]["frac_inside"]
        head[f"pygimli_{name}_corr_log10"] = cmp[k]["corr"]
        head[f"pygimli_{name}_median_abs_z"] = cmp[k]["median_abs_z"]
    misfit = _reference_misfit(ref["log10_rho_flat"], grid, survey)
    head["pygimli_levelled_rrms_on_this_grid"] = misfit
    _reference_figure(draws, ref, cmp, grid, survey, out / "pygimli_comparison.png")
    return head


def _reference_misfit(log10_rho, grid, survey) -> float:
    """Relative rms misfit of the data for a section on this grid, by this study's operator.

    Cells the section does not cover (NaN, at the padded ends) take the value of the
    nearest covered cell of their row.
    """
    from bayesinv.operators.resistivity import from_survey

    filled = np.array(log10_rho, dtype=float)
    cols = np.arange(grid.nx)
    for row in filled:
        ok = np.isfinite(row)
        row[~ok] = row[ok][np.abs(cols[~ok, None] - cols[None, ok]).argmin(axis=1)]
    op = from_survey(grid, survey, data="apparent_resistivity")
    pred = op.forward(grid.ravel(-np.log(10.0) * filled))
    obs = survey.apparent_resistivity[survey.mask]
    return float(np.sqrt(np.mean((pred[survey.mask] / obs - 1.0) ** 2)))


def _reference_figure(draws, ref, cmp, grid, survey, path: Path) -> None:
    """Draw pyGIMLi's sections, the posterior mean and sd, and where pyGIMLi falls outside."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mean, sd = draws.mean(axis=0), draws.std(axis=0)
    values = {
        "pyGIMLi, levelled (log10 ohm m)": ref["log10_rho_flat"],
        "posterior mean (log10 ohm m)": mean,
        "pyGIMLi, with topography (log10 ohm m)": ref["log10_rho_topo"],
    }
    finite = np.concatenate([v[np.isfinite(v)] for v in values.values()])
    lim = np.quantile(finite, [0.01, 0.99])
    extent = (grid.x_edges[0], grid.x_edges[-1], grid.z_edges[-1], grid.z_edges[0])
    fig, axes = plt.subplots(2, 3, figsize=(16, 6.5), sharex=True, sharey=True)
    panels = list(values.items())
    panels.insert(3, ("posterior sd (decades)", sd))
    for k, name in (("flat", "levelled"), ("topo", "topography")):
        panels.append((f"(pyGIMLi {name} - mean) / sd", cmp[k]))
    for ax, (title, v) in zip(axes.ravel(), panels, strict=True):
        if isinstance(v, dict):
            im = ax.imshow(v["z"], extent=extent, cmap="RdBu_r", vmin=-4, vmax=4, aspect="auto")
            grey = np.where(v["compared"], np.nan, 1.0)
            ax.imshow(grey, extent=extent, cmap="Greys", vmin=0, vmax=2, alpha=0.6, aspect="auto")
            zi, xi = np.nonzero(v["outside"])
            ax.plot(grid.x_centers[xi], grid.z_centers[zi], "kx", ms=4)
            inside = f"{v['frac_inside']:.0%} of the compared cells inside"
            title += f"\nx: outside the 90 % interval ({inside})"
            label = "z"
        elif title.startswith("posterior sd"):
            im = ax.imshow(v, extent=extent, cmap="viridis", aspect="auto", vmin=0)
            label = "sd of log10 (ohm m)"
        else:
            im = ax.imshow(
                v, extent=extent, cmap="Spectral_r", vmin=lim[0], vmax=lim[1], aspect="auto"
            )
            label = "log10 (ohm m)"
        ax.plot(survey.electrodes[:, 0], np.zeros(len(survey.electrodes)), "kv", ms=3)
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, label=label)
    for ax in axes[1]:
        ax.set_xlabel("distance along the ground (m)")
    fig.suptitle(
        "grey: not compared (outside the electrodes, or posterior sd / prior sd >= the DOI cutoff)",
        fontsize=9,
        y=0.01,
        va="bottom",
    )
    for ax in axes[:, 0]:
        ax.set_ylabel("depth (m)")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
