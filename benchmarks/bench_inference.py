"""Inference on the demo problem (linear-Gaussian, so the exact posterior is known).

NUTS (nutpie) against the Gauss-Newton Laplace approximation, exact and low rank: wall time
(sampling or solve, compilation excluded for NUTS) and the error of the posterior mean and
covariance against the closed form, all measured in the same run.
"""

from __future__ import annotations

import time

import numpy as np

from bayesinv._seeds import as_generator
from bayesinv.grid import Grid2D
from bayesinv.inference import compile_model, gauss_newton_laplace, sample
from bayesinv.model import JointInversion
from bayesinv.model.fields import IIDNormal
from bayesinv.model.modality import Modality
from bayesinv.model.noise import KnownNoise
from bayesinv.operators import Gravity2D
from bayesinv.studies.demo import DemoConfig
from bayesinv.synthetic import gravity_survey


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def run(quick: bool = False) -> list[dict]:
    # the gravity-only problem of the former demo (the demo itself is now case study 01)
    # prior_sd pinned: the demo's own default changed (200 -> 120) with study 01's priors
    cfg = DemoConfig(nx=32, nz=16, cell=25.0, draws=1000, tune=1000, prior_sd=200.0)
    grid = Grid2D(cfg.nx, cfg.nz, cfg.cell, cfg.cell)
    survey = gravity_survey(as_generator(cfg.seed, "bench"), grid, cfg.n_receivers, cfg.noise_sd)
    op = Gravity2D(grid, survey.receivers)
    G = np.column_stack([op.forward(e) for e in np.eye(grid.size)])
    precision = G.T @ G / cfg.noise_sd**2 + np.eye(grid.size) / cfg.prior_sd**2
    cov = np.linalg.inv(precision)
    mean = cov @ G.T @ survey.data / cfg.noise_sd**2
    case = f"demo {cfg.nx}x{cfg.nz}, {cfg.n_receivers} data"
    rows = []

    draws = 200 if quick else cfg.draws
    # the model whose exact posterior is (mean, cov) above: iid normal prior, known noise
    inv = JointInversion().add_field("density", grid, IIDNormal(0.0, cfg.prior_sd))
    inv.add_modality(Modality("gravity", op, survey.data, KnownNoise(cfg.noise_sd)))
    compiled = compile_model(inv.build())  # compiled once, untimed
    t0 = time.perf_counter()
    idata = sample(
        compiled, draws=draws, tune=draws, chains=cfg.chains, random_seed=1, progressbar=False
    )
    t_nuts = time.perf_counter() - t0
    x = idata["posterior"]["density"].values.reshape(-1, grid.size)
    rows.append(
        {
            "benchmark": "inference",
            "case": case,
            "method": f"NUTS nutpie {cfg.chains}x{draws}+{draws}",
            "wall_s": t_nuts,
            "mean_rel_err": _rel(x.mean(axis=0), mean),
            "cov_rel_err": _rel(np.cov(x, rowvar=False), cov),
        }
    )
    for rank in (None, 10, 20, 30):
        t0 = time.perf_counter()
        res = gauss_newton_laplace(
            op,
            survey.data,
            prior_mean=0.0,
            prior_cov=cfg.prior_sd**2,
            noise_sd=cfg.noise_sd,
            rank=rank,
            random_seed=2,
            draws=250,
            chains=4,
        )
        wall = time.perf_counter() - t0
        rows.append(
            {
                "benchmark": "inference",
                "case": case,
                "method": f"Gauss-Newton Laplace, rank {'exact' if rank is None else rank}",
                "wall_s": wall,
                "mean_rel_err": _rel(res.map, mean),
                "cov_rel_err": _rel(res.cov(), cov),
                "operator_calls": res.operator_calls["jvp"] + res.operator_calls["vjp"],
            }
        )
    # Monte Carlo baseline: the same statistics from as many independent exact draws as NUTS
    # kept (the exact Laplace result is the exact posterior here)
    exact = gauss_newton_laplace(
        op,
        survey.data,
        prior_mean=0.0,
        prior_cov=cfg.prior_sd**2,
        noise_sd=cfg.noise_sd,
        random_seed=3,
        draws=1,
        chains=1,
    )
    iid = exact.sample(x.shape[0], as_generator(4, "bench"))
    rows.insert(
        1,
        {
            "benchmark": "inference",
            "case": case,
            "method": f"{x.shape[0]} independent exact draws (MC baseline)",
            "mean_rel_err": _rel(iid.mean(axis=0), mean),
            "cov_rel_err": _rel(np.cov(iid, rowvar=False), cov),
        },
    )
    for row in rows[2:]:
        row["speedup_vs_nuts"] = t_nuts / row["wall_s"]
    return rows
