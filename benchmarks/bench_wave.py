"""Acoustic wave kernels: forward ns per node per step vs a bare stencil, gradient/forward,
the peak memory of a gradient (101 x 101 cells, 5 shots), gradient throughput when two
chains call the kernels at once (shot-threaded kernels against their serial twins), and a
compiled model's logp + gradient against its kernels, with and without a BLAS limit."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading

import numba
import numpy as np
from _common import interleaved_rates

from bayesinv import Grid2D
from bayesinv.operators.wave import AcousticWave2D, _base, ricker, time_samples
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


@numba.njit(nogil=True, cache=True)
def bare_stencil_flat(u0, u1, u2, kk, coef, nsteps):
    """The same bare stencil written as the kernels are (unsigned flat row sweeps, which
    LLVM vectorises): the faster, stricter reference."""
    nzh, nxh = u1.shape
    c = (coef[0], coef[1], coef[2], coef[3], coef[4])
    one, two, w, ww = np.uint64(1), np.uint64(2), np.uint64(nxh), np.uint64(2 * nxh)
    n = np.uint64(nxh - 4)
    for _ in range(nsteps):
        a0, a1, a2, fk = u0.reshape(-1), u1.reshape(-1), u2.reshape(-1), kk.reshape(-1)
        for iz in range(2, nzh - 2):
            row = np.uint64(iz * nxh + 2)
            for j in range(n):
                q = row + j
                lap = (
                    c[0] * a1[q]
                    + c[1] * (a1[q - one] + a1[q + one])
                    + c[2] * (a1[q - two] + a1[q + two])
                    + c[3] * (a1[q - w] + a1[q + w])
                    + c[4] * (a1[q - ww] + a1[q + ww])
                )
                a2[q] = 2.0 * a1[q] - a0[q] + fk[q] * lap
        u0, u1, u2 = u1, u2, u0
    return u1


@numba.njit(nogil=True, cache=True)
def interior_only(u0, u1, u2, kk, coef, box, nsteps):
    """The forward's interior update alone (``step_interior`` on the interior box)."""
    for _ in range(nsteps):
        K.step_interior(u0, u1, u2, kk, coef, box)
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


def _gradient_row(rates, case):
    """Gradient alone (both passes) and, as in a compiled log density and gradient, the
    forward keeping its checkpoints (``forward_state``) then the gradient from them
    (``vjp_state``, no first pass), each over the plain forward."""
    fwd = 1.0 / rates["forward"]
    return {
        "benchmark": "AcousticWave2D",
        "case": "gradient, " + case,
        "forward_s": fwd,
        "gradient_s": 1.0 / rates["gradient"],
        "gradient/forward": rates["forward"] / rates["gradient"],
        "gradient_from_state/forward": rates["forward"] / rates["vjp_state"],
        "forward_state/forward": rates["forward"] / rates["forward_state"],
        "(forward_state+vjp_state)/forward": (
            1.0 / rates["forward_state"] + 1.0 / rates["vjp_state"]
        )
        / fwd,
    }


def _history(op) -> str:
    """Say where the boundary history is kept (gradient alone; forward state)."""
    kept = ["kept" if op._plan(state)[1] else "not kept" for state in (False, True)]
    budget = f"{_base.HISTORY_BYTES / 2**20:g} MiB budget"
    return f"boundary history ({budget}): gradient {kept[0]}, forward state {kept[1]}"


def _logp_gradient(m, dd, args, plan, fs=K.forward_state, vs=K.vjp_state):
    """What a compiled model's logp + gradient runs: the forward keeping its checkpoints,
    then the gradient from them (``fs``, ``vs``: threaded kernels or their serial twins)."""
    _, state = fs(m, *args, *plan)
    return vs(m, state, dd, *args, *plan)


def _concurrent_row(n: int, duration: float, callers: int = 2) -> dict:
    """Logp+gradient throughput (forward keeping checkpoints, then the gradient from them,
    as in a compiled model) of a 5-shot operator when ``callers`` Python threads call it at
    once, as nutpie's chains do: the shot-threaded kernels (``prange`` over shots, each call
    starting its own team of numba threads) against their serial twins (one thread per
    call), and one caller alone for each; interleaved, best of 3 rounds."""
    op = make_operator(n, 5, duration)
    m = np.full(op.n_params, np.log(2000.0))
    dd = np.random.default_rng(1).standard_normal(op.n_data)
    args, plan = op._args(), op._plan(state=True)
    kernels = {
        "threaded": (K.forward_state, K.vjp_state),
        "serial": (K.forward_state_serial, K.vjp_state_serial),
    }

    def together(fs, vs):
        def go():
            work = (m, dd, args, plan, fs, vs)
            threads = [threading.Thread(target=_logp_gradient, args=work) for _ in range(callers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        return go

    fns = {}
    for name, (fs, vs) in kernels.items():
        fns[f"{name}_1"] = lambda fs=fs, vs=vs: _logp_gradient(m, dd, args, plan, fs, vs)
        fns[f"{name}_{callers}"] = together(fs, vs)
    rates = interleaved_rates(fns)
    per_s = {k: r * (callers if k.endswith(f"_{callers}") else 1) for k, r in rates.items()}
    return {
        "benchmark": "AcousticWave2D",
        "case": f"logp+gradient throughput, {n}x{n} cells, 5 shots, {op.nt} samples, "
        f"{numba.get_num_threads()} numba threads",
        "threaded_1_caller_per_s": per_s["threaded_1"],
        "serial_1_caller_per_s": per_s["serial_1"],
        f"threaded_{callers}_callers_per_s": per_s[f"threaded_{callers}"],
        f"serial_{callers}_callers_per_s": per_s[f"serial_{callers}"],
        f"serial/threaded, {callers} callers": per_s[f"serial_{callers}"]
        / per_s[f"threaded_{callers}"],
        "serial/threaded, 1 caller": per_s["serial_1"] / per_s["threaded_1"],
    }


def _graph_rows(n: int, duration: float, n_coef: int = 256) -> list[dict]:
    """Compiled logp + gradient of a small model around the kernels against the kernels.

    ``m = m0 + B θ`` (``B`` dense, ``n_coef`` columns, as a wavelet field), the 5-shot
    operator's ``ForwardOp``, a dense filter per trace, Gaussian noise; PyTensor's numba
    mode. Interleaved with the kernels it calls (forward keeping checkpoints, gradient from
    them), once with BLAS's own threads and once limited to one (as ``bayesinv.sample``
    does while sampling)."""
    import pymc as pm
    import pytensor.tensor as pt
    from threadpoolctl import threadpool_limits

    from bayesinv.ops import ForwardOp

    op = make_operator(n, 5, duration)
    rng = np.random.default_rng(2)
    B = 0.01 * rng.standard_normal((op.n_params, n_coef))
    m0 = np.log(2000.0)
    nr, nt = op.n_sources * op.n_receivers, op.nt
    mat = rng.standard_normal((nt, nt)) / np.sqrt(nt)
    with pm.Model() as model:
        theta = pm.Normal("theta", 0.0, 1.0, shape=n_coef)
        traces = ForwardOp(op)(m0 + pt.dot(pt.constant(B), theta)).reshape((nr, nt))
        obs = rng.standard_normal((nr, nt))
        pm.Normal("d", pt.dot(traces, pt.constant(mat).T), 1.0, observed=obs)
    logp_grad = model.logp_dlogp_function(ravel_inputs=True, mode="NUMBA")
    logp_grad.set_extra_values({})
    x = rng.standard_normal(n_coef)
    m = m0 + B @ x
    dd = rng.standard_normal(op.n_data)
    args, plan = op._args(), op._plan(state=True)

    rows = []
    for blas in (None, 1):
        with threadpool_limits(limits=blas, user_api="blas"):
            rates = interleaved_rates(
                {
                    "kernels": lambda: _logp_gradient(m, dd, args, plan),
                    "compiled": lambda: logp_grad(x),
                }
            )
        rows.append(
            {
                "benchmark": "AcousticWave2D",
                "case": f"compiled logp+gradient (m = m0 + B θ, {n_coef} coefficients), "
                f"{n}x{n} cells, 5 shots, {nt} samples, BLAS threads "
                + ("default" if blas is None else str(blas)),
                "kernels_ms": 1e3 / rates["kernels"],
                "compiled_ms": 1e3 / rates["compiled"],
                "compiled/kernels": rates["kernels"] / rates["compiled"],
            }
        )
    return rows


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

    box = op._boxes[0]
    interior = int((box[1] - box[0]) * (box[3] - box[2]))
    rates = interleaved_rates(
        {
            "bare": lambda: bare_stencil(*fields, kk, coef, nsteps),
            "bare_flat": lambda: bare_stencil_flat(*fields, kk, coef, nsteps),
            "interior": lambda: interior_only(*fields, kk, coef, box, nsteps),
            "forward_1shot": lambda: K.forward_serial(m, *args1),  # what one shot runs
        }
    )
    nodes = kk.size
    per_node = {k: 1e9 / r / (nodes * nsteps) for k, r in rates.items()}
    ns_int = 1e9 / rates["interior"] / (interior * nsteps)
    pml_nodes = nodes - interior  # PML boxes, including the 2 nodes beyond the layer
    case = (
        f"101x101 cells + PML {op.pad} ({shape[0]}x{shape[1]} nodes, {interior} interior = "
        f"{interior / nodes:.0%}), {nsteps} steps"
    )
    rows.append(
        {
            "benchmark": "AcousticWave2D",
            "case": "forward, 1 shot, whole grid: " + case,
            "ns_per_node_step": per_node["forward_1shot"],
            "bare_stencil_ns_per_node_step": per_node["bare"],
            "bare_flat_ns_per_node_step": per_node["bare_flat"],
            "forward/bare": rates["bare"] / rates["forward_1shot"],
            "forward/bare_flat": rates["bare_flat"] / rates["forward_1shot"],
        }
    )
    # per interior node: the interior loop alone; and the PML's cost per PML node
    t_fwd, t_int = 1.0 / rates["forward_1shot"], 1.0 / rates["interior"]
    rows.append(
        {
            "benchmark": "AcousticWave2D",
            "case": "interior update only (the bare stencil of the forward) and the rest: " + case,
            "ns_per_node_step": ns_int,
            "bare_stencil_ns_per_node_step": per_node["bare"],
            "bare_flat_ns_per_node_step": per_node["bare_flat"],
            "forward/bare": ns_int / per_node["bare"],
            "forward/bare_flat": ns_int / per_node["bare_flat"],
            "forward_ns_per_interior_node_step": 1e9 * t_fwd / (interior * nsteps),
            "pml_ns_per_pml_node_step": 1e9 * (t_fwd - t_int) / (pml_nodes * nsteps),
        }
    )
    _, state = K.forward_state(m, *args, *op._plan(True))
    rates = interleaved_rates(
        {
            "forward": lambda: K.forward(m, *args),
            "gradient": lambda: K.vjp(m, dd, *args, *op._plan(False)),
            "forward_state": lambda: K.forward_state(m, *args, *op._plan(True)),
            "vjp_state": lambda: K.vjp_state(m, state, dd, *args, *op._plan(True)),
        },
        rounds=8,  # best of many: single calls vary by +-20% on a shared virtual machine
    )
    rows.append(
        _gradient_row(
            rates, f"101x101 cells, 5 shots, 41 receivers, {op.nt} samples, " + _history(op)
        )
    )
    dd1 = dd[: one_shot.n_data]
    _, state1 = K.forward_state_serial(m, *args1, *one_shot._plan(True))
    rates = interleaved_rates(
        {
            "forward": lambda: K.forward_serial(m, *args1),
            "gradient": lambda: K.vjp_serial(m, dd1, *args1, *one_shot._plan(False)),
            "forward_state": lambda: K.forward_state_serial(m, *args1, *one_shot._plan(True)),
            "vjp_state": lambda: K.vjp_state_serial(m, state1, dd1, *args1, *one_shot._plan(True)),
        },
        rounds=8,
    )
    rows.append(
        _gradient_row(
            rates, f"101x101 cells, 1 shot (serial kernels), {op.nt} samples, " + _history(one_shot)
        )
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
    rows.append(_concurrent_row(64, duration))
    rows.extend(_graph_rows(64, duration))
    return rows
