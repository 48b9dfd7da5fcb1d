"""Elliptic2D: forward and forward+gradient time vs the factorisation and solve alone.

The issue-17 benchmark problem (unit square, f = 10, u = 0 on the boundary, 8 x 8 blocks of
log a, 169 observations on a 13 x 13 grid) on Q1 meshes of 32^2, 64^2 and 128^2 elements.
Columns:

- ``factor_solve_ms``: the shared envelope Cholesky alone (factorisation of an assembled
  matrix plus one solve), the floor of any forward model that factorises;
- ``forward_ms``: coefficients, assembly, factorisation, solve, observation (one kernel);
- ``forward_plus_vjp_ms``: ``forward`` then ``vjp`` at the same model, what a PyMC
  log-density-and-gradient evaluation calls (the vjp kernel factorises again: the two are
  separate kernels without shared state);
- ``logp_grad_ms``: the compiled PyMC log density and gradient of the benchmark posterior as
  nutpie calls it (32^2 only);
- ``scipy_splu_ms``: SciPy's SuperLU factorisation and solve of the same matrix, for context.

Ratios are within one run. Timings are best-of-repeats of the numba kernels as the compiled
model calls them.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from _common import compiled_logp_and_grad, rate
from scipy.sparse.linalg import splu

from bayesinv.operators.elliptic import _q1_numba, elliptic_benchmark
from bayesinv.operators.elliptic._solver import spd_factor, spd_solve


def _assembled(op, m):
    """Listed-entry values of A_ff at m, the right-hand side, and the same matrix in CSC."""
    el_nodes, el_cell, Kx, Kz, pos, free_id, n_free, _, load = op._mesh
    a = np.exp(m)
    values = _q1_numba.assemble(a, a, el_nodes, el_cell, Kx, Kz, pos, op._solver[-1])
    fid = free_id[el_nodes]
    rows = np.broadcast_to(fid[:, :, None], pos.shape)[pos >= 0]
    cols = np.broadcast_to(fid[:, None, :], pos.shape)[pos >= 0]
    order = pos[pos >= 0]
    A = sp.csc_matrix((values[np.argsort(order)], (rows, cols)), shape=(n_free, n_free))
    return values, load[free_id >= 0].copy(), A


def _logp_grad_rate(problem):
    import pymc as pm

    from bayesinv.ops import ForwardOp

    with pm.Model() as model:
        log_a = pm.Normal("log_a", 0.0, problem.prior_sd, shape=problem.grid.size)
        mu = ForwardOp(problem.operator)(log_a)
        pm.Normal("u", mu=mu, sigma=problem.sigma, observed=problem.data)
    fn, x = compiled_logp_and_grad(model)
    return rate(fn, x)


def _case(mesh, with_logp):
    problem = elliptic_benchmark(17, mesh=mesh)
    op = problem.operator
    k = op.numba_kernels()
    m = problem.truth
    dd = np.random.default_rng(1).standard_normal(op.n_data)
    values, rhs, A = _assembled(op, m)
    solver = op._solver

    def factor_solve():
        _, L = spd_factor(solver, values)
        b = rhs.copy()
        spd_solve(solver, L, b)

    def grad():
        k.forward(m)
        k.vjp(m, dd)

    def superlu():
        splu(A, permc_spec="MMD_AT_PLUS_A").solve(rhs)

    t_fs = 1.0 / rate(factor_solve)
    t_fwd = 1.0 / rate(k.forward, m)
    t_grad = 1.0 / rate(grad)
    row = {
        "benchmark": "elliptic",
        "case": f"Q1 {mesh}x{mesh}, 8x8 blocks, 169 obs",
        "n_unknowns": int(rhs.size),
        "factor_storage": int(solver[-2]),
        "factor_solve_ms": 1e3 * t_fs,
        "forward_ms": 1e3 * t_fwd,
        "forward_plus_vjp_ms": 1e3 * t_grad,
        "forward_over_factor_solve": t_fwd / t_fs,
        "gradient_over_factor_solve": t_grad / t_fs,
        "gradient_over_forward": t_grad / t_fwd,
        "scipy_splu_ms": 1e3 / rate(superlu),
    }
    if with_logp:
        row["logp_grad_ms"] = 1e3 / _logp_grad_rate(problem)
    return row


def run(quick: bool) -> list[dict]:
    """Rows for Q1 meshes of 32^2 and 64^2 (quick) and 128^2 elements."""
    meshes = (32, 64) if quick else (32, 64, 128)
    return [_case(n, with_logp=(n == 32)) for n in meshes]


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    from run import module_main

    sys.exit(module_main(run, __doc__))
