"""Case study 07: cycle skipping in 1-D waveform inversion, and frequency continuation.

A layered velocity profile (log-velocity in ``n_blocks`` blocks, Gaussian prior) is inverted
from the traces of one surface shot recorded at the surface, at mid-depth and at the bottom
(:class:`~bayesinv.operators.wave.AcousticWave1D`). Every seed draws its own noise and its own
homogeneous starting model, ``start_min``–``start_max`` (log units) slower or faster than the
prior centre. Per seed:

- *single-band MAP*: L-BFGS-B on the full-band likelihood from the starting model (a
  ``"laplace"`` level of :func:`~bayesinv.inference.continuation.continuation`);
- *single-band NUTS*: NUTS on the full band, started at (and preconditioned by) that MAP;
- *continuation*: a MAP (Laplace) per low-pass band ``(0, f_k)``, low to high, each started
  at the band before's, then NUTS on the full band (bands from
  :func:`~bayesinv.inference.continuation.bands.band_levels`: filtered, whitened traces);
- *continuation + SMC*: SMC from the prior on the first band, then a MAP (Laplace) per band
  from its best particle, the first band again first.

A run is in the true basin when the RMS error of its log-velocity profile (the MAP, or the
posterior mean for NUTS) is below ``threshold``; coverage is the share of blocks whose true
log-velocity lies in the 90% central credible interval.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from bayesinv.studies.cycle_skipping import SINGLE_BAND_KEYS

REQUIRED = {
    "nz": int,
    "dz": float,
    "dt": float,
    "duration": float,
    "f0": float,
    "pad": int,
    "velocities": list,
    "n_blocks": int,
    "v_ref": float,
    "prior_sd": float,
    "noise_frac": float,
    "f_start": float,
    "f_stop": float,
    "n_bands": int,
    "start_min": float,
    "start_max": float,
    "n_seeds": int,
    "nuts_seeds": int,
    "threshold": float,
    "chains": int,
    "draws": int,
    "tune": int,
    "smc_draws": int,
    "smc_chains": int,
    "ess_min": float,
    "rhat_max": float,
}
OPTIONAL = dict(SINGLE_BAND_KEYS)  # the single-band NUTS's own lengths (seed_runs)


def _problem(cfg):
    """Grid, operator, true log-velocity per cell and the block map (cells x blocks)."""
    from bayesinv import Grid1D
    from bayesinv.operators.wave import AcousticWave1D, ricker, time_samples

    nz, nb, vel = cfg["nz"], cfg["n_blocks"], np.asarray(cfg["velocities"], dtype=float)
    if nz % nb or nb % vel.size:
        raise ValueError(
            f"case study 07: nz ({nz}) must be a multiple of n_blocks ({nb}), and n_blocks a "
            f"multiple of the number of layers ({vel.size})"
        )
    grid = Grid1D(nz, cfg["dz"])
    depth = nz * cfg["dz"]
    t = time_samples(cfg["dt"], cfg["duration"])
    receivers = [cfg["dz"], depth / 2, depth - cfg["dz"] / 2]
    op = AcousticWave1D(grid, [cfg["dz"]], receivers, dt=cfg["dt"], duration=cfg["duration"],
                        wavelet=ricker(cfg["f0"], t), pad=cfg["pad"],
                        reference_velocity=float(vel.max()))  # fmt: skip
    truth = np.repeat(np.log(vel), nz // vel.size)
    blocks = np.kron(np.eye(nb), np.ones((nz // nb, 1)))
    return grid, op, truth, blocks


def _field(truth, blocks, cfg):
    """``log v = log v_ref + prior_sd θ`` per block, prolonged to the cells by ``blocks``."""
    from bayesinv.studies.cycle_skipping import LinearField

    nb, sd, m0 = blocks.shape[1], cfg["prior_sd"], np.log(cfg["v_ref"])
    truth_blocks = truth[:: cfg["nz"] // nb]
    return LinearField(m0, sd * blocks, m0, sd * np.eye(nb), (nb,) * cfg["n_bands"], truth_blocks)


def _start_u(cfg):
    """Homogeneous start ``log(v_start / v_ref) = ±U(start_min, start_max)``."""
    return lambda rng: rng.choice([-1.0, 1.0]) * rng.uniform(cfg["start_min"], cfg["start_max"])


def _figures(first, all_rows, field, blocks, grid, cfg, out):
    """Trace fits per band, mean and sd per band, and the basin map over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bayesinv.studies.cycle_skipping import METHODS
    from bayesinv.studies.cycle_skipping_figures import basin_map, save_figure, trace_fits

    labels = ["receiver 0", "receiver 1", "receiver 2"]
    trace_fits(first, field, [0, 1, 2], labels, out / "trace_fits.png")
    cont = first["runs"][METHODS[2]][0]
    z = grid.z_edges
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), sharey=True)
    axes[0].step(np.exp(blocks @ field.truth), z[:-1], "k", where="post", lw=2, label="truth")
    for k, level in enumerate(cont):
        theta = level.point["theta"]
        cov = level.preconditioner.covariance() if level.preconditioner is not None else None
        sd = np.sqrt(np.diag(cov)) * cfg["prior_sd"] if cov is not None else np.zeros_like(theta)
        label = "NUTS (full band)" if level.method == "nuts" else f"band {k}"
        axes[0].step(np.exp(blocks @ field.cells(theta)), z[:-1], where="post", label=label)
        axes[1].step(blocks @ sd, z[:-1], where="post", label=label)
    axes[0].invert_yaxis()
    axes[0].set_xlabel("velocity (m/s): MAP per band, posterior mean")
    axes[1].set_xlabel("sd of log-velocity: Laplace per band, NUTS")
    axes[0].set_ylabel("depth (m)")
    axes[0].legend(fontsize=7)
    save_figure(fig, out / "mean_sd_per_band.png")
    basin_map(all_rows, out / "basin_map.png")


def run(config: dict, out: Path) -> dict:
    """Run every seed and method; write the figures and one report; return the table."""
    from bayesinv._seeds import child_seeds
    from bayesinv.diagnostics.report import report
    from bayesinv.inference.continuation.bands import lowpass_bands
    from bayesinv.io import atomic_path
    from bayesinv.studies.cycle_skipping import METHODS, rows, seed_runs, summary, verdict
    from bayesinv.studies.seed_store import run_seeds, split_sampled, work_folder

    t0 = time.perf_counter()
    grid, op, truth, blocks = _problem(config)
    field = _field(truth, blocks, config)
    bands = lowpass_bands(config["f_start"], config["f_stop"], config["n_bands"])
    seeds = child_seeds(config["seed"], config["n_seeds"], "case study 07")
    if not 1 <= config["nuts_seeds"] <= config["n_seeds"]:
        raise ValueError("case study 07: nuts_seeds must be in 1..n_seeds")

    def one(i, seed):
        result = seed_runs(op, field, bands, config, seed, i < config["nuts_seeds"],
                           _start_u(config), work_folder(out / "seeds", i))  # fmt: skip
        return rows(i, result, field, config["threshold"]), result

    settings, per_seed = split_sampled(config)
    all_rows, first = run_seeds(out / "seeds", settings, seeds, one, per_seed=per_seed)
    _figures(first, all_rows, field, blocks, grid, config, out)
    report(
        first["runs"][METHODS[2]][1],
        out / "continuation_seed0",
        model=first["model"],  # the full band's: PPC and LOO of the traces
        config=config,
        seed=config["seed"],
        title="case study 07: continuation, then NUTS on the full band (seed 0)",
    )
    table = summary(all_rows)
    with atomic_path(out / "per_seed.json") as tmp:
        Path(tmp).write_text(json.dumps(all_rows, indent=1, default=float))
    headline = {
        "table": table,
        "threshold_rms_log_velocity": config["threshold"],
        "study_wall_time_s": round(time.perf_counter() - t0, 1),
    }
    check = verdict(table, config["n_seeds"], config["rhat_max"], config["ess_min"])
    if check is not None:
        headline["verdict_cycle_skipping"] = check
    return headline
