"""Eikonal2D: forward time per source beside scikit-fmm, gradient/forward, compiled logp+grad.

Kernels are timed on one numba thread (``numba.set_num_threads(1)``): nutpie runs chains in
threads, so per-core speed is what matters. scikit-fmm (``order=2``) solves the same node
grid with node speeds, from a point source marked by ``phi < 0`` at one node; it returns no
gradient.
"""

from __future__ import annotations

import numba
import numpy as np
import pymc as pm
import pytensor.tensor as pt
from _common import compiled_logp_and_grad, interleaved_rates, kernel_pair, rate

from bayesinv import Grid2D
from bayesinv.operators.eikonal import Eikonal2D, crosshole_survey
from bayesinv.ops import forward

SIZES = [(48, 32), (128, 128), (256, 256)]


def _skfmm_solver(nx, nz, slow_nodes, src_node):
    import skfmm

    phi = np.ones((nz + 1, nx + 1))
    phi[src_node] = -1.0
    speed = 1.0 / slow_nodes

    def solve(_m):
        return skfmm.travel_time(phi, speed, dx=1.0, order=2)

    return solve


def _forward_rows(quick):
    rows = []
    for nx, nz in SIZES[:2] if quick else SIZES:
        grid = Grid2D(nx, nz, 1.0, 1.0)
        rng = np.random.default_rng(0)
        m = 0.5 * np.exp(0.1 * rng.standard_normal(grid.size))
        rec = np.column_stack([np.full(10, float(nx)), np.linspace(0, nz, 10)])
        op = Eikonal2D(grid, [[0.0, nz // 2]], rec)
        k = op.numba_kernels()
        dd = rng.standard_normal(op.n_data)
        fns = {"ours": k.forward, "vjp": lambda x, k=k, dd=dd: k.vjp(x, dd)}
        try:
            fns["skfmm"] = _skfmm_solver(nx, nz, np.full((nz + 1, nx + 1), 0.5), (nz // 2, 0))
        except ImportError:  # the bench extra is not installed
            pass
        rates = interleaved_rates(fns, m)
        row = {
            "benchmark": "Eikonal2D forward",
            "case": f"{nx}x{nz} cells, 1 source",
            "forward_ms_per_source": 1e3 / rates["ours"],
            "vjp_ms_per_source": 1e3 / rates["vjp"],
            "gradient/forward (goal <= 2)": rates["ours"] / rates["vjp"],
        }
        if "skfmm" in rates:
            row["skfmm_order2_ms"] = 1e3 / rates["skfmm"]
            row["ours/skfmm (goal <= 1.5)"] = rates["skfmm"] / rates["ours"]
        rows.append(row)
    return rows


def _compiled_row(smoothing=None):
    grid = Grid2D(32, 48, 1.0, 1.0)  # 32 cells wide between the holes, 48 deep
    survey = crosshole_survey(grid, 10, 10, margin=2.0)
    op = Eikonal2D(grid, *survey, smoothing=smoothing)
    rng = np.random.default_rng(1)
    truth = 0.5 * np.exp(0.1 * rng.standard_normal(grid.size))
    data = op.forward(truth) + 1e-3 * rng.standard_normal(op.n_data)
    with pm.Model() as model:
        z = pm.Normal("z", 0.0, 1.0, shape=grid.size)
        slowness = 0.5 * pt.exp(0.1 * z)
        pm.Normal("t", forward(op, slowness), 1e-3, observed=data)
    fn, x = compiled_logp_and_grad(model)
    kernels = op.numba_kernels()
    s = 0.5 * np.exp(0.1 * x)
    raw = rate(kernel_pair(kernels, op.n_data), s)
    compiled = rate(fn, x)
    return {
        "benchmark": "Eikonal2D compiled model"
        + ("" if smoothing is None else f" (smoothing={smoothing})"),
        "case": "cross-hole 32x48 cells, 10 sources x 10 receivers, 1 thread",
        "compiled_logp_grad_per_s (goal >= 70)": compiled,
        "raw_pair_per_s": raw,
        "compiled/raw": compiled / raw,
    }


def run(quick: bool = False) -> list[dict]:
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        rows = _forward_rows(quick)
        rows.append(_compiled_row())
        rows.append(_compiled_row(smoothing=0.05))
    finally:
        numba.set_num_threads(threads)
    return rows


def nuts_crosshole(
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    seed: int = 15,
    smoothing: float | None = 0.05,
    coarsening: int = 2,
    cell: float = 1.0,
):
    """NUTS on the 32x48 cross-hole problem (not part of ``make bench``).

    ``cell`` (m) sets the grid: 1 m is the 32x48 problem of the issue, 2 m the 16x24 one.
    Log-slowness with a Matérn prior (sd 0.1, length scale 8 m, on a ``coarsening`` times
    coarser grid), truth drawn from the prior, 10 x 10 picks with 0.5% + 10 ms errors,
    operator ``Eikonal2D(..., smoothing=smoothing)`` (``None``: the non-smooth first/second
    order update). Returns and prints wall time, CPU time (all threads; the claim "on 2
    cores" is CPU / 2), max R-hat, min bulk ESS, divergences and the 90% truth coverage.
    Run: ``python benchmarks/bench_eikonal.py --nuts [draws tune chains seed]``.
    """
    import resource
    import time

    import arviz as az

    import bayesinv
    from bayesinv.diagnostics.truth import truth_coverage
    from bayesinv.model import JointInversion, KnownNoise, MaternPrior, Modality

    grid = Grid2D(int(32 / cell), int(48 / cell), cell, cell)  # 32 m x 48 m
    survey = crosshole_survey(grid, 10, 10, margin=2.0)
    op = Eikonal2D(grid, *survey, parameter="log_slowness", smoothing=smoothing)
    prior = MaternPrior(variance=0.01, length_scale=8.0, coarsening=coarsening, mean=np.log(0.5))
    rng = np.random.default_rng(seed)

    def build(data, sigma):
        return (
            JointInversion()
            .add_field("log_slowness", grid, prior)
            .add_modality(Modality("traveltime", op, data, KnownNoise(sigma)))
            .build()
        )

    t_guess = op.forward(np.full(grid.size, np.log(0.5)))
    sigma = 0.005 * t_guess + 0.01
    model = build(t_guess, sigma)
    truth = pm.draw(model["log_slowness"], random_seed=rng).ravel()
    data = op.forward(truth) + sigma * rng.standard_normal(op.n_data)
    model = build(data, sigma)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    idata = bayesinv.sample(
        model, draws=draws, tune=tune, chains=chains, cores=chains, random_seed=seed,
        progressbar=False,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    summary = az.summary(idata, var_names=["log_slowness"], kind="diagnostics")
    cover = truth_coverage(idata, {"log_slowness": truth})
    out = {
        "grid": f"{grid.nx}x{grid.nz}",
        "smoothing": smoothing,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "cpu_per_core_s (cpu/2)": round(cpu / 2, 1),
        "max_rhat": float(summary["r_hat"].max()),
        "min_ess_bulk": float(summary["ess_bulk"].min()),
        "divergences": int(idata["sample_stats"]["diverging"].sum()),
        "coverage_90": float(cover.loc["log_slowness", "coverage_90"]),
    }
    print(out, flush=True)
    return out


if __name__ == "__main__":
    import sys

    if "--nuts" in sys.argv:
        extra = [int(a) for a in sys.argv[sys.argv.index("--nuts") + 1 :] if a.isdigit()]
        cell = 2.0 if "--coarse" in sys.argv else 1.0
        smoothing = None if "--non-smooth" in sys.argv else 0.05
        nuts_crosshole(*extra, smoothing=smoothing, coarsening=int(2 / cell), cell=cell)
    else:
        for row in run(quick=False):
            print(row)
