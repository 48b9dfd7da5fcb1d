"""2.5-D DC resistivity: forward time vs gradient time (forward + vjp at the same new model).

In a PyMC log-density-and-gradient evaluation, the forward and the adjoint come at the same
model, so the gradient costs "forward then vjp at the same m". The factorisations and fields
of the forward are cached and reused by the vjp; the goal is gradient <= 2x forward.

Each timing is the minimum over repeats, each at a fresh random model (no cache hit for the
forward). Rows are measured with BLAS limited to one thread (what a multi-chain sampler
should use; on a loaded machine multithreaded BLAS slows the skinny products down) and, for
comparison, with the library's default number of threads.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from bayesinv import Grid2D
from bayesinv.operators.resistivity.arrays import dipole_dipole, surface_electrodes
from bayesinv.operators.resistivity.operator import DCResistivity2p5D

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl ships with scipy's usual stacks
    threadpool_limits = None


def _blas(threads):
    if threads is None or threadpool_limits is None:
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def _case(nx, nz, n_electrodes, repeats, threads, rng):
    grid = Grid2D(nx=nx, nz=nz, dx=1.0, dz=1.0)
    x = np.linspace(2.0, nx - 2.0, n_electrodes)
    op = DCResistivity2p5D(grid, surface_electrodes(x), dipole_dipole(n_electrodes, n_max=6))
    dd = rng.standard_normal(op.n_data)

    def model():
        return np.log(0.01) + 0.5 * rng.standard_normal(grid.size)

    t_fwd, t_grad, t_vjp = [], [], []
    with _blas(threads):
        op.forward(model())  # warm-up
        for _ in range(repeats):
            m = model()
            t0 = time.perf_counter()
            op.forward(m)
            t_fwd.append(time.perf_counter() - t0)
            m = model()
            t0 = time.perf_counter()
            op.forward(m)
            t1 = time.perf_counter()
            op.vjp(m, dd)
            t2 = time.perf_counter()
            t_grad.append(t2 - t0)
            t_vjp.append(t2 - t1)
    fwd, grad = min(t_fwd), min(t_grad)
    return {
        "benchmark": "resistivity",
        "case": f"{nx}x{nz} cells, {n_electrodes} el. dipole-dipole",
        "blas_threads": "1" if threads == 1 else "default",
        "n_unknowns": op.mesh.size,
        "n_data": op.n_data,
        "n_wavenumbers": op.wavenumbers.size,
        "forward_ms": 1e3 * fwd,
        "forward_plus_vjp_ms": 1e3 * grad,
        "vjp_cached_ms": 1e3 * min(t_vjp),
        "gradient_over_forward": grad / fwd,
        # less sensitive to machine noise: the vjp's extra cost relative to one forward
        "vjp_over_forward": min(t_vjp) / fwd,
        "repeats": repeats,
    }


def run(quick: bool) -> list[dict]:
    """Benchmark rows for 32x16, 64x32 and 128x64 cells (quick: the two smaller ones)."""
    rng = np.random.default_rng(5)
    sizes = [(32, 16), (64, 32)] if quick else [(32, 16), (64, 32), (128, 64)]
    repeats = 3 if quick else 7
    rows = []
    for threads in (1, None):
        for nx, nz in sizes:
            rows.append(_case(nx, nz, 32 if nx > 32 else 24, repeats, threads, rng))
    return rows


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    from run import format_table

    print(format_table(run(quick="--quick" in sys.argv)))
