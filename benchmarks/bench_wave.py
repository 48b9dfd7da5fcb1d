"""Acoustic wave kernels: forward ns per node per step vs a bare stencil, gradient/forward,
and the peak memory of a gradient (101 x 101 cells, 5 shots)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numba
import numpy as np
from _common import interleaved_rates

from bayesinv import Grid2D
from bayesinv.operators.wave import AcousticWave2D, ricker, time_samples
from bayesinv.operators.wave import _acoustic_numba as K


@numba.njit(nogil=True, cache=True)
def bare_stencil(u0, u1, u2, kk, coef, nsteps):
    """The reference: 4th-order leapfrog u2 = 2 u1 - u0 + k L u1, nothing else."""
    nzh, nxh = u1.shape
    cc, cx1, cx2, cz1, cz2 = coef[0], coef[1], coef[2], coef[3], coef[4]
    for _ in range(nsteps):
        for iz in range(2, nzh - 2):
            for ix in range(2, nxh - 2):
                lap = (
                    cc * u1[iz, ix]
                    + cx1 * (u1[iz, ix - 1] + u1[iz, ix + 1])
                    + cx2 * (u1[iz, ix - 2] + u1[iz, ix + 2])
                    + cz1 * (u1[iz - 1, ix] + u1[iz + 1, ix])
                    + cz2 * (u1[iz - 2, ix] + u1[iz + 2, ix])
                )
                u2[iz, ix] = 2.0 * u1[iz, ix] - u0[iz, ix] + kk[iz, ix] * lap
        u0, u1, u2 = u1, u2, u0
    return u1


def make_operator(n: int, n_shots: int, duration: float):
    """A transmission-like survey: shots along the top, receivers along the bottom."""
    grid = Grid2D(n, n, 10.0, 10.0)
    dt = 1e-3
    t = time_samples(dt, duration)
    width = n * 10.0
    src = np.column_stack([np.linspace(0.1, 0.9, n_shots) * width, np.full(n_shots, 20.0)])
    rec = np.column_stack([np.linspace(0.05, 0.95, 41) * width, np.full(41, width - 20.0)])
    return AcousticWave2D(grid, src, rec, dt=dt, duration=duration, wavelet=ricker(10.0, t),
                          reference_velocity=2000.0)  # fmt: skip


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, threading, time
    import numpy as np
    sys.path.insert(0, {bench_dir!r})
    from bench_wave import make_operator
    small = make_operator(11, 5, 0.05)  # compile (or load) the kernels first
    m0 = np.full(small.n_params, np.log(2000.0))
    small.vjp(m0, np.ones(small.n_data))
    op = make_operator(101, 5, {duration})
    m = np.full(op.n_params, np.log(2000.0))
    dd = np.ones(op.n_data)
    op.forward(m)
    page = os.sysconf("SC_PAGE_SIZE")

    def rss():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * page

    peak, done = [rss()], []

    def poll():  # the kernels release the GIL, so this thread samples during the gradient
        while not done:
            peak.append(rss())
            time.sleep(0.002)

    before = rss()
    thread = threading.Thread(target=poll)
    thread.start()
    op.vjp(m, dd)
    done.append(1)
    thread.join()
    print(json.dumps({{"peak_kib": (max(peak) - before) / 1024,
                      "per_shot": op.gradient_memory_bytes(),
                      "nodes": op._cell.size, "nt": op.nt}}))
    """
)


def _gradient_memory(duration: float) -> dict:
    """Peak resident-memory growth (KiB) during one gradient, sampled every 2 ms from
    /proc/self/statm in a fresh process (numba's allocations are not seen by tracemalloc),
    with the storage the operator reports for one shot."""
    from pathlib import Path

    code = _MEMORY_SCRIPT.format(bench_dir=str(Path(__file__).parent), duration=duration)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[dict]:
    rows = []
    duration = 0.3 if quick else 0.8
    op = make_operator(101, 5, duration)
    m = np.full(op.n_params, np.log(2000.0))
    dd = np.random.default_rng(0).standard_normal(op.n_data)
    args = op._args()
    kk, _ = K.expand(m, op._cell, op.dt, op._factor)
    coef = op._geo[0]
    nsteps = op.nt - 1
    shape = kk.shape
    fields = [np.zeros(shape) for _ in range(3)]
    fields[1][shape[0] // 2, shape[1] // 2] = 1.0
    one_shot = make_operator(101, 1, duration)
    args1 = one_shot._args()

    rates = interleaved_rates(
        {
            "bare": lambda: bare_stencil(*fields, kk, coef, nsteps),
            "forward_1shot": lambda: K.forward_serial(m, *args1),  # what one shot runs
        }
    )
    nodes = kk.size
    ns_bare = 1e9 / rates["bare"] / (nodes * nsteps)
    ns_fwd = 1e9 / rates["forward_1shot"] / (nodes * nsteps)
    rows.append(
        {
            "benchmark": "AcousticWave2D",
            "case": f"forward, 101x101 cells + PML 20 ({shape[0]}x{shape[1]} nodes), 1 shot, "
            f"{nsteps} steps",
            "ns_per_node_step": ns_fwd,
            "bare_stencil_ns_per_node_step": ns_bare,
            "forward/bare": ns_fwd / ns_bare,
        }
    )
    # the interior update alone (no PML there) against the bare stencil on the same box
    box = op._boxes[0]
    interior = (box[1] - box[0]) * (box[3] - box[2])
    sub = [f[box[0] - 2 : box[1] + 2, box[2] - 2 : box[3] + 2].copy() for f in fields]
    ksub = kk[box[0] - 2 : box[1] + 2, box[2] - 2 : box[3] + 2].copy()
    full = np.array([2, sub[0].shape[0] - 2, 2, sub[0].shape[1] - 2])

    def interior_steps():
        a, b, c = sub
        for _ in range(nsteps):
            K.step_interior(a, b, c, ksub, coef, full)
            a, b, c = b, c, a

    rates = interleaved_rates(
        {"bare": lambda: bare_stencil(*sub, ksub, coef, nsteps), "interior": interior_steps}
    )
    rows.append(
        {
            "benchmark": "AcousticWave2D",
            "case": f"interior update only ({interior} nodes, no PML), {nsteps} steps",
            "ns_per_node_step": 1e9 / rates["interior"] / (interior * nsteps),
            "bare_stencil_ns_per_node_step": 1e9 / rates["bare"] / (interior * nsteps),
            "forward/bare": rates["bare"] / rates["interior"],
        }
    )
    rates = interleaved_rates(
        {
            "forward": lambda: K.forward(m, *args),
            "gradient": lambda: K.vjp(m, dd, *args, op.checkpoint_interval),
        },
        rounds=2,
    )
    rows.append(
        {
            "benchmark": "AcousticWave2D",
            "case": f"gradient, 101x101 cells, 5 shots, 41 receivers, {op.nt} samples",
            "forward_s": 1.0 / rates["forward"],
            "gradient_s": 1.0 / rates["gradient"],
            "gradient/forward": rates["forward"] / rates["gradient"],
        }
    )
    mem = _gradient_memory(duration)
    per_shot = mem["per_shot"]
    rows.append(
        {
            "benchmark": "AcousticWave2D",
            "case": f"gradient peak memory, 101x101 cells, 5 shots, {mem['nt']} samples",
            "measured_peak_rss_MiB": mem["peak_kib"] / 1024,
            "checkpointed_per_shot_MiB": per_shot / 2**20,
            "store_all_per_shot_MiB": 8 * mem["nodes"] * mem["nt"] / 2**20,
            "threads": numba.get_num_threads(),
        }
    )
    return rows
