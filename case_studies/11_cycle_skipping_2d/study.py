"""Case study 11: cycle skipping in 2-D transmission waveform inversion.

A disc ``anomaly`` faster than the homogeneous background ``v_bg`` in the middle of a square
(:class:`~bayesinv.operators.wave.AcousticWave2D`, ``nx x nx`` cells) is inverted from
the traces of ``n_sources`` shots on the left edge recorded by ``n_receivers`` receivers on
the right edge (transmission). The unknown is log-velocity on a coarse ``n_coarse x n_coarse``
grid (constant prolongation to the wave grid) written in Haar wavelets,
``log v = log v_bg + W S θ``, ``θ ~ N(0, I)``; band ``k`` keeps the wavelet levels
``0..ℓ_k`` (``4^ℓ_k`` coefficients, ``ℓ_k = band_levels[k]``). Every seed draws its own
noise and its own homogeneous starting model ``log(v_start / v_bg) ~ U(-start_max,
start_max)``. The four methods, the table and the trace and basin figures are those of
:mod:`bayesinv.studies.cycle_skipping` (shared with the 1-D study 07). A run is in the
true basin when the RMS log-velocity error over the coarse cells is below ``threshold``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from bayesinv.studies.config import Key
from bayesinv.studies.cycle_skipping import SINGLE_BAND_KEYS

REQUIRED = {
    "nx": int,
    "dx": float,
    "n_coarse": int,
    "dt": float,
    "duration": float,
    "f0": float,
    "pad": int,
    "v_bg": float,
    "anomaly": float,
    "radius": float,
    "n_sources": int,
    "n_receivers": int,
    "prior_sd": float,
    "level_decay": float,
    "noise_frac": float,
    "f_start": float,
    "f_stop": float,
    "n_bands": int,
    "band_levels": list,
    "start_max": float,
    "n_seeds": int,
    "nuts_seeds": int,
    "threshold": float,
    "chains": int,
    "draws": int,
    "tune": int,
    "smc_draws": int,
    "smc_chains": int,
    "hessian_dense_max": int,
    "ess_min": float,
    "rhat_max": float,
}
OPTIONAL = {
    # NUTS mass-matrix adaptation (bayesinv.sample's adaptation); unset: bayesinv's default
    "nuts_adaptation": Key(str, default=None, choices=("diag", "low_rank")),
    # the single-band NUTS's own draws and tuning steps per chain; unset: draws, tune
    **SINGLE_BAND_KEYS,
    # L-BFGS-B ftol of the Laplace levels' MAP; unset: the level solver's default (1e-14)
    "map_ftol": Key(float, default=None, low=0.0, low_open=True),
}


def _operator(cfg):
    """Return the grid and ``AcousticWave2D``: sources on the left edge, receivers on the right."""
    from bayesinv import Grid2D
    from bayesinv.operators.wave import AcousticWave2D, ricker, time_samples

    n, h = cfg["nx"], cfg["dx"]
    grid = Grid2D(nx=n, nz=n, dx=h, dz=h)
    side = n * h
    src = [[1.5 * h, side * (k + 0.5) / cfg["n_sources"]] for k in range(cfg["n_sources"])]
    rec = [[side - 1.5 * h, side * (k + 0.5) / cfg["n_receivers"]]
           for k in range(cfg["n_receivers"])]  # fmt: skip
    t = time_samples(cfg["dt"], cfg["duration"])
    op = AcousticWave2D(grid, src, rec, dt=cfg["dt"], duration=cfg["duration"],
                        wavelet=ricker(cfg["f0"], t), pad=cfg["pad"],
                        reference_velocity=cfg["v_bg"])  # fmt: skip
    return grid, op


def _field(cfg):
    """Return the Haar parameterisation (coarse grid prolonged to the wave grid) and the truth."""
    from bayesinv import Grid2D
    from bayesinv.multiscale import Prolongation, WaveletField
    from bayesinv.studies.cycle_skipping import LinearField

    n, nc = cfg["nx"], cfg["n_coarse"]
    if n % nc or nc & (nc - 1):
        raise ValueError(f"case study 11: n_coarse ({nc}) must be a power of 2 dividing nx ({n})")
    h = cfg["dx"] * n / nc
    coarse = Grid2D(nx=nc, nz=nc, dx=h, dz=h)
    levels = int(np.log2(nc))
    wav = WaveletField(coarse, "haar", levels)
    j = np.asarray(wav.level_of_coefficient)
    width = 2.0 ** (levels - np.maximum(j, 1) + 1)  # cells spanned by a level-j function
    scale = cfg["prior_sd"] * width / np.where(j == 0, 1.0, np.sqrt(3.0))
    scale *= cfg["level_decay"] ** np.maximum(j - 1, 0)
    synth = np.stack([wav.forward(e) for e in np.eye(wav.n_params)], axis=1)
    C = synth * scale
    prolong = Prolongation(coarse, Grid2D(nx=n, nz=n, dx=cfg["dx"], dz=cfg["dx"]))
    B = np.stack([prolong.forward(c) for c in C.T], axis=1)
    zc, xc = np.meshgrid((np.arange(nc) + 0.5) * h, (np.arange(nc) + 0.5) * h, indexing="ij")
    inside = np.hypot(xc - nc * h / 2, zc - nc * h / 2) < cfg["radius"]
    m0 = float(np.log(cfg["v_bg"]))
    truth = m0 + np.log1p(cfg["anomaly"]) * inside.ravel()
    sizes = tuple(wav.n_coefficients(level) for level in _band_levels(cfg, levels))
    return LinearField(m0, B, m0, C, sizes, truth), coarse


def _band_levels(cfg, levels):
    """Wavelet levels ``0..ℓ_k`` of each band (``4^ℓ_k`` coefficients), checked."""
    given = cfg["band_levels"]
    if len(given) != cfg["n_bands"] or any(not isinstance(v, int) for v in given):
        raise ValueError(f"case study 11: band_levels must hold n_bands ({cfg['n_bands']}) "
                         f"integers, got {given!r}")  # fmt: skip
    if any(not 1 <= v <= levels for v in given) or sorted(given) != list(given):
        raise ValueError(f"case study 11: band_levels must be non-decreasing in 1..{levels} "
                         f"(log2 n_coarse), got {given!r}")  # fmt: skip
    return given


def _start_u(cfg):
    """Homogeneous start ``log(v_start / v_bg) ~ U(-start_max, start_max)``."""
    return lambda rng: rng.uniform(-cfg["start_max"], cfg["start_max"])


def _images(first, field, coarse, cfg, path):
    """Continuation of seed 0: MAP (or posterior mean) and sd of log-velocity per band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bayesinv.studies.cycle_skipping import METHODS
    from bayesinv.studies.cycle_skipping_figures import save_figure

    cont = first["runs"][METHODS[2]][0]
    nc, ext = cfg["n_coarse"], [0, coarse.nx * coarse.dx, coarse.nz * coarse.dz, 0]
    fig, axes = plt.subplots(2, len(cont) + 1, figsize=(2.6 * (len(cont) + 1), 5.2))
    show = {"extent": ext, "cmap": "viridis"}
    v = np.exp(field.truth)
    axes[0, 0].imshow(v.reshape(nc, nc), vmin=v.min(), vmax=v.max(), **show)
    axes[0, 0].set_title("truth (m/s)", fontsize=8)
    axes[1, 0].axis("off")
    for k, level in enumerate(cont):
        theta = level.point["theta"]
        pre = level.preconditioner
        if pre is not None:  # the Laplace (or NUTS draws') covariance of the coefficients
            cov = pre.covariance()
            sd = np.sqrt(np.einsum("ij,jk,ik->i", field.C[:, : theta.size], cov,
                                   field.C[:, : theta.size]))  # fmt: skip
        else:
            sd = np.zeros(field.truth.size)
        name = "NUTS mean" if level.method == "nuts" else f"band {k} MAP"
        axes[0, k + 1].imshow(np.exp(field.cells(theta)).reshape(nc, nc), vmin=v.min(),
                              vmax=v.max(), **show)  # fmt: skip
        axes[0, k + 1].set_title(f"{name} (m/s)", fontsize=8)
        im = axes[1, k + 1].imshow(sd.reshape(nc, nc), **show)
        axes[1, k + 1].set_title(f"{name}: sd of log v", fontsize=8)
        fig.colorbar(im, ax=axes[1, k + 1], shrink=0.7)
    for ax in axes.ravel():
        ax.tick_params(labelsize=6)
    save_figure(fig, path)


def _seed_plan(config):
    """Each seed's seed, the settings every seed's rows depend on, and the per-seed ones.

    What :func:`~bayesinv.studies.seed_store.run_seeds` tags a seed's rows with (also what
    the rows kept in ``recorded_seeds/`` are checked against).
    """
    from bayesinv._seeds import child_seeds
    from bayesinv.studies.seed_store import split_sampled

    seeds = child_seeds(config["seed"], config["n_seeds"], "case study 11")
    return (seeds, *split_sampled(config))


def run(config: dict, out: Path) -> dict:
    """Run every seed and method; write the figures and one report; return the table."""
    from bayesinv.diagnostics.report import report
    from bayesinv.inference.continuation.bands import lowpass_bands
    from bayesinv.io import atomic_path
    from bayesinv.studies import cycle_skipping as cs
    from bayesinv.studies import cycle_skipping_figures as csf
    from bayesinv.studies.seed_store import run_seeds, work_folder

    t0 = time.perf_counter()
    _, op = _operator(config)
    field, coarse = _field(config)
    bands = lowpass_bands(config["f_start"], config["f_stop"], config["n_bands"])
    cfg = config | {"hessian": {"dense_max": config["hessian_dense_max"]}}
    seeds, settings, per_seed = _seed_plan(config)
    if not 0 <= config["nuts_seeds"] <= config["n_seeds"]:
        raise ValueError("case study 11: nuts_seeds must be in 0..n_seeds")

    def one(i, seed):
        result = cs.seed_runs(op, field, bands, cfg, seed, i < config["nuts_seeds"],
                              _start_u(config), work_folder(out / "seeds", i))  # fmt: skip
        return cs.rows(i, result, field, config["threshold"]), result

    all_rows, first = run_seeds(out / "seeds", settings, seeds, one, per_seed=per_seed)
    nr = config["n_receivers"]
    picks = [nr // 2, (config["n_sources"] // 2) * nr + nr // 2]  # straight through the disc
    csf.trace_fits(first, field, picks, ["shot 0, middle receiver", "middle shot and receiver"],
                   out / "trace_fits.png")  # fmt: skip
    _images(first, field, coarse, config, out / "mean_sd_per_band.png")
    csf.basin_map(all_rows, out / "basin_map.png")
    if config["nuts_seeds"]:
        report(first["runs"][cs.METHODS[2]][1], out / "continuation_seed0",
               model=first["model"], config=config, seed=config["seed"],
               title="case study 11: continuation, then full-band NUTS (seed 0)")  # fmt: skip
    table = cs.summary(all_rows)
    with atomic_path(out / "per_seed.json") as tmp:
        Path(tmp).write_text(json.dumps(all_rows, indent=1, default=float))
    headline = {
        "table": table,
        "threshold_rms_log_velocity": config["threshold"],
        "n_coefficients_per_band": list(field.sizes),
        "study_wall_time_s": round(time.perf_counter() - t0, 1),
    }
    check = cs.verdict(table, config["n_seeds"], config["rhat_max"], config["ess_min"])
    if check is not None:
        headline["verdict_cycle_skipping"] = check
    return headline
