"""Eikonal2D: forward time per source beside scikit-fmm, gradient/forward, compiled logp+grad.

Kernels are timed on one numba thread (``numba.set_num_threads(1)``): nutpie runs chains in
threads, so per-core speed is what matters. scikit-fmm (``order=2``) solves the same node
grid with node speeds, from a point source marked by ``phi < 0`` at one node; it returns no
gradient. ``forward`` is the forward-only solve (no recipes recorded); ``forward_state``
also records the acceptance order and every node's update recipe (what the adjoint needs,
the path a compiled log-density + gradient takes).
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
        fns = {
            "ours": k.forward,
            "state": k.forward_state,
            "vjp": lambda x, k=k, dd=dd: k.vjp(x, dd),
        }
        try:
            fns["skfmm"] = _skfmm_solver(nx, nz, np.full((nz + 1, nx + 1), 0.5), (nz // 2, 0))
        except ImportError:  # the bench extra is not installed
            pass
        rates = interleaved_rates(fns, m)
        row = {
            "benchmark": "Eikonal2D forward",
            "case": f"{nx}x{nz} cells, 1 source",
            "forward_ms_per_source": 1e3 / rates["ours"],
            "forward_state_ms_per_source": 1e3 / rates["state"],
            "vjp_ms_per_source": 1e3 / rates["vjp"],
            "gradient/forward (goal <= 2)": rates["ours"] / rates["vjp"],
        }
        if "skfmm" in rates:
            row["skfmm_order2_ms"] = 1e3 / rates["skfmm"]
            row["ours/skfmm (goal <= 1.5)"] = rates["skfmm"] / rates["ours"]
            row["forward_state/skfmm"] = rates["skfmm"] / rates["state"]
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


if __name__ == "__main__":  # NUTS on the cross-hole problem: study_eikonal_crosshole.py
    for row in run(quick=False):
        print(row)
