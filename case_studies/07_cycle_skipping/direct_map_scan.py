"""Case study 07, MAP methods only, without PyMC: a fast check of the basin fractions.

Same problem, seeds, noise and starting models as ``study.py``; the single-band MAP and the
continuation MAPs (one per band, each started at the band before's) are found by L-BFGS-B
on the negative log posterior written out directly with the band operators' forward and
vjp, so no model is compiled (the study compiles one PyMC model per level, which dominates
its wall time on a loaded machine). Usage::

    python case_studies/07_cycle_skipping/direct_map_scan.py full
"""

import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from bayesinv._seeds import as_generator, child_seeds
from bayesinv.inference.continuation.bands import band_levels, lowpass_bands
from bayesinv.studies.runner import check_config, load_config, load_study

HERE = Path(__file__).resolve().parent


def _fit(level, theta0, blocks, cfg, study):
    """MAP of one band: 0.5 |W F (f(m) - d)|^2 / sd^2 + 0.5 |theta|^2 by L-BFGS-B."""
    sd = level.noise_sd

    def objective(theta):
        m = study._profile(theta, blocks, cfg)
        try:
            r = level.operator.forward(m) - level.data
        except ValueError:  # beyond the CFL limit: rejected, as NaN is while sampling
            return np.inf, np.zeros_like(theta)
        grad_m = level.operator.vjp(m, r) / sd**2
        return 0.5 * r @ r / sd**2 + 0.5 * theta @ theta, cfg[
            "prior_sd"
        ] * blocks.T @ grad_m + theta

    options = {"maxiter": 5000, "gtol": 1e-9, "ftol": 1e-14}
    return minimize(objective, theta0, jac=True, method="L-BFGS-B", options=options).x


def main(size):
    """Print each seed's errors and the basin fractions at size ``size``."""
    study = load_study(HERE)
    cfg = check_config(load_config(HERE, size), study.REQUIRED, "07")
    _, op, truth, blocks = study._problem(cfg)
    bands = lowpass_bands(cfg["f_start"], cfg["f_stop"], cfg["n_bands"])
    rows = []
    for i, seed in enumerate(child_seeds(cfg["seed"], cfg["n_seeds"], "case study 07")):
        data_seed = child_seeds(seed, 4, "case study 07 seed")[0]  # as study._seed_runs
        rng = as_generator(data_seed, "case study 07")
        clean = op.forward(truth)
        sd = cfg["noise_frac"] * float(np.abs(clean).max())
        observed = clean + rng.normal(0.0, sd, clean.size)
        u = rng.choice([-1.0, 1.0]) * rng.uniform(cfg["start_min"], cfg["start_max"])
        start = np.full(blocks.shape[1], u / cfg["prior_sd"])
        levels = band_levels(op, observed, sd, bands, n_traces=3, nt=op.nt, dt=op.dt)
        t0 = time.perf_counter()
        single = study._error(_fit(levels[-1], start, blocks, cfg, study), truth, blocks, cfg)
        t1 = time.perf_counter()
        theta = start
        for level in levels:
            theta = _fit(level, theta, blocks, cfg, study)
        cont = study._error(theta, truth, blocks, cfg)
        t2 = time.perf_counter()
        rows.append((single, cont))
        print(f"seed {i}: start {u:+.3f}  full-band MAP error {single:.4f} ({t1 - t0:.1f} s)  "
              f"continuation error {cont:.4f} ({t2 - t1:.1f} s)", flush=True)  # fmt: skip
    thr, n = cfg["threshold"], len(rows)
    ok_single, ok_cont = sum(a < thr for a, _ in rows), sum(b < thr for _, b in rows)
    print(f"true basin (RMS log-velocity error < {thr}): full-band MAP {ok_single}/{n}, "
          f"continuation {ok_cont}/{n}")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "quick")
