"""Transient diffusion: forward and gradient time vs number of time steps and cells, memory.

A pumping test on an ``n x n`` plan-view grid (one pumping well, four observation wells,
20 observation times), graded time steps (``steps_per_level`` sets their number). Timings
are of the numba kernels that compiled models call, each at a fresh random model, as the CPU
time of the calling thread (the kernels are serial; unlike wall time this does not count the
time other processes take on a shared machine), the best of ``repeats``:

- ``forward_ms``: ``forward(m)`` (factorisations + forward march + observation);
- ``gradient_ms``: ``vjp(m, dd)`` at a new ``m`` — a gradient on its own: its own
  factorisations and forward march (states kept), then the backward adjoint sweep. Goal:
  ``<= 2.5x`` forward;
- ``logp_grad_over_forward``: ``(forward_state + vjp_state) / forward``, what one
  log-density-and-gradient evaluation of a compiled PyMC model costs: the forward hands its
  factors and kept states to the gradient, which runs the backward sweep only (and marches
  every segment but the last again when checkpointing). Goal: ``<= 1.5x``.
  ``plain_logp_grad_over_forward`` is ``(forward + vjp) / forward``, the cost without the
  state (before issue 19's state hand-over);
- ``gradient_memory_mb``: bytes of the arrays the gradient keeps: states (all of them,
  ``8 (2N + 1) n``, or checkpoints and one segment) and one envelope Cholesky factor per
  distinct step size. ``handed_state_mb`` is the state handed from the forward to the gradient
  (factors + kept states). The last row keeps checkpoints every ``sqrt(N/2)`` steps (one more
  forward march in the gradient, much less memory).
"""

from __future__ import annotations

import time

import numpy as np

from bayesinv import Grid2D
from bayesinv.operators.transient import PumpingSchedule, TransientDiffusion2D
from bayesinv.operators.transient import _kernels_numba as kernels


def _operator(n, steps_per_level, checkpoint_every=None):
    grid = Grid2D(nx=n, nz=n, dx=200.0 / n, dz=200.0 / n, x0=-100.0, z0=-100.0)
    wells = [[10.0, 0.0], [0.0, 25.0], [-40.0, -5.0], [30.0, 30.0]]
    return TransientDiffusion2D(
        grid, [[0.0, 0.0]], PumpingSchedule([3600.0, 3600.0], [1e-3, 0.0]), wells,
        np.geomspace(60.0, 7200.0, 20), storage=1e-4, thickness=10.0, dt_min=5.0,
        dt_max=600.0, steps_per_level=steps_per_level, checkpoint_every=checkpoint_every,
    )  # fmt: skip


def _interleaved(k, models, dd):
    """Best forward, vjp and state-path times, measured alternately at each model."""
    t_fwd, t_grad, t_state = [], [], []
    for m in models:
        t0 = time.thread_time()
        k.forward(m)
        t1 = time.thread_time()
        k.vjp(m + 1e-3, dd)  # a new model: nothing to reuse from the forward
        t2 = time.thread_time()
        _, state = k.forward_state(m)
        k.vjp_state(m, state, dd)
        t3 = time.thread_time()
        t_fwd.append(t1 - t0)
        t_grad.append(t2 - t1)
        t_state.append(t3 - t2)
    return min(t_fwd), min(t_grad), min(t_state)


def _state_bytes(op):
    """Bytes of states the gradient keeps (see ``_kernels_numba``)."""
    n_steps, every = op.steps.size, op.checkpoint_every
    if every >= n_steps:
        return 8 * op.n_cells * (2 * n_steps + 1)
    return 8 * op.n_cells * (-(-n_steps // every) + 2 * every + 1)


def _case(n, steps_per_level, repeats, rng, checkpointed=False):
    op = _operator(n, steps_per_level)
    if checkpointed:  # segments of about sqrt(N / 2) steps
        op = _operator(n, steps_per_level, max(1, round(float(np.sqrt(op.steps.size / 2)))))
    k = op.numba_kernels()
    dd = rng.standard_normal(op.n_data)
    models = [np.log(1e-4) + 0.5 * rng.standard_normal(op.n_params) for _ in range(repeats)]
    for _ in range(3):  # compile, and let the allocator settle (glibc's mmap threshold)
        k.forward(models[0])
        k.vjp(models[0], dd)
        k.vjp_state(models[0], k.forward_state(models[0])[1], dd)
    fwd, grad, logp_grad = _interleaved(k, models, dd)
    L = kernels.prepare(models[0], op._data())[4]
    return {
        "benchmark": "transient",
        "case": f"{n}x{n} cells, {op.steps.size} steps"
        + (f", checkpoints every {op.checkpoint_every}" if checkpointed else ""),
        "n_cells": op.n_cells,
        "n_steps": op.steps.size,
        "n_factorisations": op.step_sizes.size,
        "forward_ms": 1e3 * fwd,
        "gradient_ms": 1e3 * grad,
        "gradient_over_forward": grad / fwd,
        "logp_grad_over_forward": logp_grad / fwd,
        "plain_logp_grad_over_forward": (fwd + grad) / fwd,
        "forward_us_per_step_cell": 1e6 * fwd / (op.steps.size * op.n_cells),
        "states_mb": _state_bytes(op) / 2**20,
        "factors_mb": L.nbytes / 2**20,
        "gradient_memory_mb": (_state_bytes(op) + L.nbytes) / 2**20,
        "handed_state_mb": 8 * op.n_state / 2**20,
        "repeats": repeats,
    }


def run(quick: bool) -> list[dict]:
    """Rows over grid sizes (cells) and steps per level (time steps)."""
    rng = np.random.default_rng(19)
    sizes = [16, 32] if quick else [16, 32, 64]
    levels = [2, 8] if quick else [2, 4, 8, 16]
    repeats = 7 if quick else 5
    rows = [_case(n, spl, repeats, rng) for n in sizes for spl in levels]
    rows.append(_case(sizes[-1], levels[-1], repeats, rng, checkpointed=True))
    return rows


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    from run import module_main

    sys.exit(module_main(run, __doc__))
