"""Case study 10: the sign-split 1-D Poisson posterior, sampled and checked against a reference.

:math:`-(a u')' = 1` on [0, 1] with a Gaussian prior on the conductivity ``a`` itself
(128 cells, SNR 200): a posterior that slides along a thin ridge on which cells near the
stagnation point of the flux change sign. NUTS, SMC and Laplace-pCN fail on it
(``docs/samplers.md``); the component-wise pCN with ridge moves of
:mod:`bayesinv.studies.sign_split` converges. This study runs that sampler and an
independent, twice longer reference run (another seed, other starting sign patterns), and
compares the posterior mass below zero per cell, :math:`P(a_j < 0)`, within their combined
Monte Carlo standard errors.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

import numpy as np

REQUIRED = {
    "n_cells": int,
    "snr": float,
    "data_seed": int,
    "thin": int,
    "flip_lo": int,
    "flip_hi": int,
    "flip_probability": float,
    "report_thin": int,
    "max_z": float,
    "sweeps": int,
    "chains": int,
    "reference_sweeps": int,
    "reference_chains": int,
    "reference_seed": int,
    "judge": bool,
}

MIN_MASS = 0.002  # cells whose P(a < 0) exceeds this in either run are tabulated and compared


def _cpu_seconds() -> float:
    # user + system CPU time of this process, all threads (the chains run in threads)
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _run(problem, config: dict, sweeps: int, chains: int, seed: int) -> dict:
    """One run of the sampler: draws, convergence, P(a < 0) per cell with its MCSE, times."""
    import arviz as az

    from bayesinv.studies.sign_split import negative_mass, sample_sign_split

    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    draws, accept = sample_sign_split(
        problem,
        sweeps,
        random_seed=seed,
        chains=chains,
        thin=config["thin"],
        flip_cells=(config["flip_lo"], config["flip_hi"]),
        flip_probability=config["flip_probability"],
    )
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    p, mcse = negative_mass(draws)
    return {
        "draws": draws,
        "p": p,
        "mcse": mcse,
        "max_rhat": float(np.max(az.rhat(draws))),
        "min_ess_bulk": float(np.min(az.ess(draws, method="bulk"))),
        "accept": accept.mean(axis=0),
        "wall": wall,
        "cpu": cpu,
        "label": f"{chains} x {sweeps} sweeps, seed {seed}",
    }


def _figure(problem, run, ref, cells, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(8, 7), constrained_layout=True)
    x = np.arange(problem.xm.size)
    for res, name, shift, colour in ((run, "run", -0.15, "C0"), (ref, "reference", 0.15, "C1")):
        label = f"{name}: {res['label']} (±2 MCSE)"
        err = 2 * res["mcse"][cells]
        ax0.errorbar(cells + shift, res["p"][cells], yerr=err, fmt="o", color=colour, label=label)
    ax0.set_xlabel("cell j")
    ax0.set_ylabel("P(a_j < 0)")
    ax0.set_title("posterior mass below zero per cell (cells with mass > 0.002 in either run)")
    ax0.legend(fontsize=8)
    for res, name, colour in ((run, "run", "C0"), (ref, "reference", "C1")):
        flat = res["draws"].reshape(-1, problem.xm.size)
        lo, hi = np.quantile(flat, [0.05, 0.95], axis=0)
        ax1.fill_between(x, lo, hi, color=colour, alpha=0.25, label=f"{name}: 90% interval")
        ax1.plot(x, flat.mean(axis=0), color=colour, lw=1, label=f"{name}: mean")
    ax1.plot(x, problem.truth, "k--", lw=1, label="truth")
    ax1.axhline(0.0, color="grey", lw=0.5)
    ax1.set_xlabel("cell j")
    ax1.set_ylabel("conductivity a")
    ax1.legend(fontsize=8, ncol=2)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _report(problem, res, config: dict, out: Path, name: str) -> None:
    import arviz as az

    from bayesinv.diagnostics.report import report

    draws = res["draws"][:, :: config["report_thin"]]
    tree = az.from_dict({"posterior": {"a": draws}, "observed_data": {"d": problem.data}})
    report(
        tree,
        out / name,
        truth={"a": problem.truth},
        config=config | {"run": res["label"]},
        seed=config["seed"],
        units={"a": "conductivity (S/m)"},
        title=f"case study 10: sign-split posterior, {name} ({res['label']})",
    )


def run(config: dict, out: Path) -> dict:
    """Run the sampler and the reference; return the per-cell P(a < 0) table and the verdict."""
    from bayesinv.studies.sign_split import sign_split_problem

    problem = sign_split_problem(config["data_seed"], config["n_cells"], config["snr"])
    run_ = _run(problem, config, config["sweeps"], config["chains"], config["seed"])
    ref = _run(
        problem,
        config,
        config["reference_sweeps"],
        config["reference_chains"],
        config["reference_seed"],
    )
    cells = np.flatnonzero((run_["p"] > MIN_MASS) | (ref["p"] > MIN_MASS))
    z = (run_["p"] - ref["p"]) / np.sqrt(run_["mcse"] ** 2 + ref["mcse"] ** 2 + 1e-12)
    rows = [
        {
            "cell": int(j),
            "x": round(float(problem.xm[j]), 4),
            "P(a<0) run": round(float(run_["p"][j]), 4),
            "MCSE run": round(float(run_["mcse"][j]), 4),
            "P(a<0) reference": round(float(ref["p"][j]), 4),
            "MCSE reference": round(float(ref["mcse"][j]), 4),
            "z": round(float(z[j]), 2),
        }
        for j in cells
    ]
    _figure(problem, run_, ref, cells, out / "negative_mass.png")
    _report(problem, run_, config, out, "run")
    _report(problem, ref, config, out, "reference")
    max_z = float(np.max(np.abs(z[cells]))) if cells.size else 0.0
    headline = {"cells_compared": int(cells.size), "max_abs_z": round(max_z, 2)}
    for key, res in (("run", run_), ("reference", ref)):
        headline |= {
            f"{key}": res["label"],
            f"{key}_max_rhat": round(res["max_rhat"], 4),
            f"{key}_min_ess_bulk": round(res["min_ess_bulk"], 1),
            f"{key}_accept_cellwise_ridge": [round(float(v), 3) for v in res["accept"]],
            f"{key}_sampling_wall_s": round(res["wall"], 1),
            f"{key}_sampling_cpu_s": round(res["cpu"], 1),
        }
    if config["judge"]:
        ok = run_["max_rhat"] < 1.01 and ref["max_rhat"] < 1.01 and max_z <= config["max_z"]
        headline["verdict"] = (
            f"{'PASS' if ok else 'FAIL'}: R-hat {run_['max_rhat']:.4f} (run), "
            f"{ref['max_rhat']:.4f} (reference) < 1.01; max |z| {max_z:.2f} <= {config['max_z']}"
        )
    else:
        headline["verdict"] = "not judged (smoke test: the chains are far too short)"
    headline["table"] = rows
    return headline
