"""2.5-D DC resistivity: where the time goes, and the old implementation side by side.

Per size (16x8, 32x16, 64x32, 128x64 cells; electrodes every 2 cells on cell edges, at most
48; dipole-dipole n <= 6 plus Wenner) one row with, all measured in this run:

- ``fs_ms``: the factorisations and multi-right-hand-side solves alone (``solve_fields``:
  assembly, one envelope Cholesky per wavenumber, all sources in one call, prange over
  wavenumbers) — the floor of one forward;
- ``forward_ms`` / ``fwd_plus_grad_ms``: the numba kernels the compiled model calls
  (``kernels.forward(m)``; ``kernels.forward(m)`` then ``kernels.vjp(m, dd)``, each at a
  fresh model). The vjp kernel factorises again (kernels keep no state), so
  ``grad_over_fs`` is about 2 + contraction cost;
- ``python_fwd_plus_grad_ms``: the Python API ``forward(m)`` then ``vjp(m, dd)``, whose
  per-model cache reuses the factorised fields (``python_over_fs``);
- ``old_*``: the replaced cell-centred finite-volume operator (SciPy SuperLU per
  wavenumber, Python assembly; ``_resistivity_reference.py``) on the same survey, and the
  speed-up of the compiled forward + gradient over the old forward + gradient.

Timings are minima over repeats at fresh random models (no cache hits), BLAS on one thread
(set by ``run.py``), numba on its default threads.
"""

from __future__ import annotations

import time

import numpy as np
from _resistivity_reference import ReferenceFVResistivity

from bayesinv import Grid2D
from bayesinv.operators.resistivity._solve import solve_fields
from bayesinv.operators.resistivity.arrays import dipole_dipole, surface_electrodes, wenner
from bayesinv.operators.resistivity.operator import DCResistivity2p5D


def _best(fn, models, repeats):
    times = []
    for i in range(repeats):
        m = models[i % len(models)]
        t0 = time.perf_counter()
        fn(m)
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


def _case(nx, nz, repeats, rng):
    grid = Grid2D(nx=nx, nz=nz, dx=1.0, dz=1.0)
    n_el = min(nx // 2, 48)
    x = 1.0 + 2.0 * np.arange(n_el) * (nx - 2) / (2 * (n_el - 1))
    x = np.round(x)  # on cell edges
    abmn = np.vstack([dipole_dipole(n_el, n_max=6), wenner(n_el)])
    el = surface_electrodes(x)
    op = DCResistivity2p5D(grid, el, abmn)
    old = ReferenceFVResistivity(grid, el, abmn)
    k = op.numba_kernels()
    s = op._solver
    dd = rng.standard_normal(op.n_data)
    models = [np.log(0.01) + 0.5 * rng.standard_normal(grid.size) for _ in range(repeats + 1)]
    m0 = models[-1]
    k.forward(m0), k.vjp(m0, dd), op.forward(m0), op.vjp(m0, dd), old.forward(m0)  # warm-up

    def fs(m):
        solve_fields(m, s.cell, s.B, *s._args(), s.coef, s.n_factor)

    def grad(m):
        k.forward(m)
        k.vjp(m, dd)

    def python_grad(m):
        op._cache.clear()
        op.forward(m)
        op.vjp(m, dd)

    def old_grad(m):
        old._cache.clear()
        old.forward(m)
        old.vjp(m, dd)

    t_fs = _best(fs, models, repeats)
    t_fwd = _best(k.forward, models, repeats)
    t_grad = _best(grad, models, repeats)
    t_py = _best(python_grad, models, repeats)
    t_old_fwd = _best(lambda m: (old._cache.clear(), old.forward(m)), models, repeats)
    t_old_grad = _best(old_grad, models, repeats)
    return {
        "benchmark": "resistivity",
        "case": f"{nx}x{nz} cells, {n_el} el., dd+wenner",
        "n_nodes": op.mesh.n_nodes,
        "n_data": op.n_data,
        "n_wavenumbers": op.wavenumbers.size,
        "fs_ms": t_fs,
        "forward_ms": t_fwd,
        "fwd_plus_grad_ms": t_grad,
        "fwd_over_fs": t_fwd / t_fs,
        "grad_over_fs": t_grad / t_fs,
        "python_fwd_plus_grad_ms": t_py,
        "python_over_fs": t_py / t_fs,
        "old_forward_ms": t_old_fwd,
        "old_fwd_plus_grad_ms": t_old_grad,
        "speedup_fwd_plus_grad": t_old_grad / t_grad,
        "speedup_python_fwd_plus_grad": t_old_grad / t_py,
        "repeats": repeats,
    }


def run(quick: bool) -> list[dict]:
    """Rows for 16x8 and 32x16 cells (quick) or up to 128x64 (full)."""
    rng = np.random.default_rng(5)
    sizes = [(16, 8), (32, 16)] if quick else [(16, 8), (32, 16), (64, 32), (128, 64)]
    rows = []
    for nx, nz in sizes:
        repeats = 3 if (quick or nx >= 128) else 7
        rows.append(_case(nx, nz, repeats, rng))
    return rows


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    from run import format_table

    print(format_table(run(quick="--quick" in sys.argv)))
