"""2.5-D DC resistivity: where the time goes, and the old implementation side by side.

Per size (16x8, 32x16, 64x32, 128x64 cells; electrodes every 2 cells on cell edges, at most
48; dipole-dipole n <= 6 plus Wenner) one row with, all measured in this run:

- ``fs_ms``: the factorisations and multi-right-hand-side solves alone (``solve_fields``:
  assembly, one sparse Cholesky per wavenumber, all sources in one call, prange over
  wavenumbers) — the floor of one forward;
- ``storage``, ``nnz_L``, ``factor_mflops``: the factor the operator picked
  (``SparseCholesky``: envelope after reverse Cuthill–McKee, or supernodal after nested
  dissection of the node grid, whichever needs fewer multiply-adds), its nonzeros and
  multiply-adds per factorisation; ``envelope_nnz``, ``envelope_mflops`` and
  ``fs_envelope_ms`` the same for the envelope factor on the same system (the ordering
  before this change), ``nd_gain`` = ``fs_envelope_ms / fs_ms``;
- ``forward_ms``: the numba forward kernel (``kernels.forward(m)``), ``fwd_over_fs`` its
  ratio to ``fs_ms`` (goal <= 1.5);
- ``state_fwd_plus_grad_ms``: what a compiled log-density-and-gradient does (``bayesinv.ops``):
  ``kernels.forward_state(m)`` then ``kernels.vjp_state(m, state, dd)`` — one factorisation
  per wavenumber, the gradient from the kept fields (``state_over_fs``);
- ``fwd_plus_grad_ms``: the plain kernel pair ``kernels.forward(m)`` then
  ``kernels.vjp(m, dd)`` (the vjp kernel factorises again, so ``grad_over_fs`` is about 2 +
  contraction cost), used when the state would be too large (``_solve.STATE_LIMIT``);
- ``prev_defaults_state_ms``: the same compiled pair as ``state_fwd_plus_grad_ms`` with the
  defaults before the speed work (11 wavenumbers, 10 padding cells growing by 1.3; the plain
  pair, ``prev_defaults_path``, where its fields exceed ``_solve.STATE_LIMIT``), and
  ``speedup_from_defaults`` the ratio of the two (same accuracy tests pass with both);
- ``python_fwd_plus_grad_ms``: the Python API ``forward(m)`` then ``vjp(m, dd)``, whose
  per-model cache reuses the factorised fields (``python_over_fs``);
- ``old_*``: the replaced cell-centred finite-volume operator (SciPy SuperLU per
  wavenumber, Python assembly; ``_resistivity_reference.py``) on the same survey, and the
  speed-up of the compiled forward + gradient (``speedup_compiled``: state path; also
  ``speedup_fwd_plus_grad``: plain pair) over the old forward + gradient (goal >= 5).

Timings are CPU times of this process (``time.process_time``; everything runs in the
calling thread: BLAS on one thread, set by ``run.py``, numba loops compiled serially), the
minimum over repeats at fresh random models (no cache hits). CPU time, not wall time: on
the shared 2-core machine (load ~10) wall times of a 100-ms call are inflated 3-5x by
preemption while a 3-ms call often runs in one slice, which made wall-time ratios
meaningless.

``convergence`` rows: a 1-m conductive surface layer under part of the line and a resistive
outcrop between two electrodes (12 electrodes 4 m apart, 1-m cells, on cell edges or
centres): apparent-resistivity error (p95, max) and correlation of J^T v (all cells, top
row) of ``refinement`` 1 and 2 against ``refinement=4``, and of the old operator against
the same ``refinement=4`` solution.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from _resistivity_reference import ReferenceFVResistivity

from bayesinv import Grid2D
from bayesinv.operators._supernodal_numba import SUPERNODAL, SparseCholesky
from bayesinv.operators.resistivity._solve import solve_fields
from bayesinv.operators.resistivity.arrays import dipole_dipole, surface_electrodes, wenner
from bayesinv.operators.resistivity.operator import DCResistivity2p5D


def _best(fn, models, repeats):
    times = []
    for i in range(repeats):
        m = models[i % len(models)]
        t0 = time.process_time()
        fn(m)
        times.append(time.process_time() - t0)
    return 1e3 * min(times)


def _case(nx, nz, repeats, rng):
    grid = Grid2D(nx=nx, nz=nz, dx=1.0, dz=1.0)
    n_el = min(nx // 2, 48)
    x = 1.0 + 2.0 * np.arange(n_el) * (nx - 2) / (2 * (n_el - 1))
    x = np.round(x)  # on cell edges
    abmn = np.vstack([dipole_dipole(n_el, n_max=6), wenner(n_el)])
    el = surface_electrodes(x)
    op = DCResistivity2p5D(grid, el, abmn)
    prev = DCResistivity2p5D(grid, el, abmn, n_wavenumbers=11, padding=10, padding_factor=1.3)
    old = ReferenceFVResistivity(grid, el, abmn)
    k = op.numba_kernels()
    kp = prev.numba_kernels()
    s = op._solver
    dd = rng.standard_normal(op.n_data)
    models = [np.log(0.01) + 0.5 * rng.standard_normal(grid.size) for _ in range(repeats + 1)]
    m0 = models[-1]
    k.forward(m0), k.vjp(m0, dd), op.forward(m0), op.vjp(m0, dd), old.forward(m0)  # warm-up

    def fs(m):
        solve_fields(m, s.cell, s.B, *s._args(), s.coef, s.n_factor)

    rows_, cols_ = np.repeat(s.enodes, 4, axis=1).ravel(), np.tile(s.enodes, (1, 4)).ravel()
    env = SparseCholesky(rows_, cols_, op.mesh.n_nodes, method="envelope")

    def fs_envelope(m):
        solve_fields(m, s.cell, s.B, env.arrays, s.nodes, s.coef, env.size)

    fs_envelope(m0)

    def grad(m):
        k.forward(m)
        k.vjp(m, dd)

    def state_grad(m, kernels=k):
        if kernels.forward_state is None:  # fields above _solve.STATE_LIMIT: plain pair
            kernels.forward(m)
            kernels.vjp(m, dd)
            return
        _, state = kernels.forward_state(m)
        kernels.vjp_state(m, state, dd)

    def python_grad(m):
        op._cache.clear()
        op.forward(m)
        op.vjp(m, dd)

    def old_grad(m):
        old._cache.clear()
        old.forward(m)
        old.vjp(m, dd)

    state_grad(m0), state_grad(m0, kp)  # warm-up
    t_fs = _best(fs, models, repeats)
    t_fs_env = _best(fs_envelope, models, repeats)
    t_fwd = _best(k.forward, models, repeats)
    t_grad = _best(grad, models, repeats)
    t_state = _best(state_grad, models, repeats)
    t_prev = _best(lambda m: state_grad(m, kp), models, repeats)
    t_py = _best(python_grad, models, repeats)
    t_old_fwd = _best(lambda m: (old._cache.clear(), old.forward(m)), models, repeats)
    t_old_grad = _best(old_grad, models, repeats)
    return {
        "benchmark": "resistivity",
        "case": f"{nx}x{nz} cells, {n_el} el., dd+wenner",
        "n_nodes": op.mesh.n_nodes,
        "n_data": op.n_data,
        "n_wavenumbers": op.wavenumbers.size,
        "storage": "supernodal" if s.cholesky.kind == SUPERNODAL else "envelope",
        "nnz_L": s.cholesky.nnz_l,
        "factor_mflops": s.cholesky.flops / 1e6,
        "envelope_nnz": env.nnz_l,
        "envelope_mflops": env.flops / 1e6,
        "fs_envelope_ms": t_fs_env,
        "fs_ms": t_fs,
        "nd_gain": t_fs_env / t_fs,
        "forward_ms": t_fwd,
        "state_fwd_plus_grad_ms": t_state,
        "state_path": "plain" if k.forward_state is None else "state",
        "fwd_plus_grad_ms": t_grad,
        "fwd_over_fs": t_fwd / t_fs,
        "state_over_fs": t_state / t_fs,
        "grad_over_fs": t_grad / t_fs,
        "python_fwd_plus_grad_ms": t_py,
        "python_over_fs": t_py / t_fs,
        "old_forward_ms": t_old_fwd,
        "old_fwd_plus_grad_ms": t_old_grad,
        "speedup_compiled": t_old_grad / t_state,
        "speedup_fwd_plus_grad": t_old_grad / t_grad,
        "prev_defaults_nodes": prev.mesh.n_nodes,
        "prev_defaults_state_ms": t_prev,
        "prev_defaults_path": "plain" if kp.forward_state is None else "state",
        "speedup_from_defaults": t_prev / t_state,
        "speedup_python_fwd_plus_grad": t_old_grad / t_py,
        "repeats": repeats,
    }


def _convergence_rows() -> list[dict]:
    grid = Grid2D(nx=56, nz=12, dx=1.0, dz=1.0)
    x, z = grid.cell_centers.T
    base = np.full(grid.size, np.log(1 / 100.0))
    models = {
        "thin conductive layer": np.where((z < 1) & (x > 18) & (x < 38), np.log(1 / 5.0), base),
        "resistive outcrop": np.where((z < 2) & (x > 25) & (x < 27), np.log(1 / 5000.0), base),
    }
    abmn = np.vstack([dipole_dipole(12, n_max=4), wenner(12)])
    top = z < 1.0
    rng = np.random.default_rng(3)
    rows = []
    for position, shift in (("edges", 0.0), ("centres", 0.5)):
        el = surface_electrodes(6.0 + 4.0 * np.arange(12) + shift)
        ops = {f"refinement={r}": DCResistivity2p5D(grid, el, abmn, refinement=r) for r in (1, 2)}
        ops["old FV"] = ReferenceFVResistivity(grid, el, abmn)
        ref = DCResistivity2p5D(grid, el, abmn, refinement=4)
        for name, m in models.items():
            v = rng.standard_normal(abmn.shape[0])
            d_ref = ref.forward(m)
            g_ref = ref.vjp(m, v / d_ref)
            for label, op in ops.items():
                d = op.forward(m)
                g = op.vjp(m, v / d)
                err = np.abs(d / d_ref - 1)
                rows.append(
                    {
                        "benchmark": "resistivity",
                        "case": f"convergence: {name}, electrodes on cell {position}",
                        "solution": label,
                        "rho_a_err_p95_pct": 100 * np.percentile(err, 95),
                        "rho_a_err_max_pct": 100 * err.max(),
                        "jtv_corr": np.corrcoef(g, g_ref)[0, 1],
                        "jtv_corr_top_row": np.corrcoef(g[top], g_ref[top])[0, 1],
                        "top_row_scale": np.sum(g[top] * g_ref[top]) / np.sum(g_ref[top] ** 2),
                    }
                )
    return rows


def run(quick: bool) -> list[dict]:
    """Rows for 16x8 and 32x16 cells (quick) or up to 128x64 (full), and convergence rows."""
    rng = np.random.default_rng(5)
    sizes = [(16, 8), (32, 16)] if quick else [(16, 8), (32, 16), (64, 32), (128, 64)]
    rows = []
    for nx, nz in sizes:
        repeats = 3 if (quick or nx >= 128) else 7
        rows.append(_case(nx, nz, repeats, rng))
        print(rows[-1], file=sys.stderr, flush=True)  # progress: a long run shows each size
    return rows + _convergence_rows()


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    from run import module_main

    sys.exit(module_main(run, __doc__))
