"""Linear physics: raw numba kernels vs the compiled PyMC logp + gradient that nutpie calls.

For Magnetics2D (dense) and StraightRayTomography (sparse CSR) at two sizes each:

- ``raw_forward_us`` / ``raw_adjoint_us``: one call of the operator's numba ``forward`` /
  ``vjp`` kernel, timed in an njit loop (no Python call overhead);
- ``raw_pair_per_s``: forward + adjoint pairs per second (``d = F m``, ``g = F^T (d - d_obs)``,
  the operator work in one logp + gradient), same njit loop;
- ``compiled_per_s``: logp + gradient evaluations per second of a PyMC model (Normal prior on
  the field, Normal likelihood around ``ForwardOp(op)(m)``) compiled by
  ``nutpie.compile_pymc_model``; the C callback nutpie's sampler calls
  (``compiled_logp_func``) is called in an njit loop, so no Python overhead is timed.
  (``CompiledPyMCModel.benchmark_logp`` would be the obvious tool, but in nutpie 0.16.11 it
  fails: the Rust model has no ``benchmark_logp``);
- ``prior_only_us``: one logp + gradient of the same model without the likelihood (prior
  only), compiled and timed the same way: the part of the compiled cost that is not the
  operator (elementwise prior terms and nutpie's wrapper: finiteness check, copies);
- ``ratio``: ``compiled_per_s / raw_pair_per_s`` (goal >= 0.9), measured in the same run with
  raw and compiled chunks interleaved; every number is the best of many short chunks
  (about 4 ms each, 101 per number, 15 with ``--quick``), which is robust to other
  processes sharing the machine (they only ever slow a chunk down).
"""

from __future__ import annotations

import time

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

from bayesinv import Grid2D
from bayesinv.operators.magnetics import Magnetics2D
from bayesinv.operators.traveltime import StraightRayTomography

CASES = [
    ("Magnetics2D", 32, 16, 100),
    ("Magnetics2D", 64, 32, 100),
    ("StraightRayTomography", 32, 16, 200),
    ("StraightRayTomography", 64, 32, 200),
]


@intrinsic
def _double_ptr(typingctx, addr):
    sig = types.CPointer(types.float64)(addr)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.float64)))

    return sig, codegen


@intrinsic
def _void_ptr(typingctx, addr):
    sig = types.voidptr(addr)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.voidptr))

    return sig, codegen


@numba.njit
def _loop_forward(f, m, n):
    acc = 0.0
    for _ in range(n):
        acc += f(m)[0]
    return acc


@numba.njit
def _loop_adjoint(g, m, dd, n):
    acc = 0.0
    for _ in range(n):
        acc += g(m, dd)[0]
    return acc


@numba.njit
def _loop_pair(f, g, m, d_obs, n):
    acc = 0.0
    for _ in range(n):
        r = f(m) - d_obs
        acc += g(m, r)[0]
    return acc


def _compiled_loop(cfunc):
    fn = cfunc.ctypes

    @numba.njit
    def loop(x, out, logp, user_data, n):
        status = 0
        for _ in range(n):
            status += fn(
                np.uint64(x.shape[0]),
                _double_ptr(x.ctypes.data),
                _double_ptr(out.ctypes.data),
                _double_ptr(logp.ctypes.data),
                _void_ptr(user_data),
            )
        return status

    return loop


def make_operator(kind: str, nx: int, nz: int, n: int, rng: np.random.Generator):
    """The operator of one benchmark case (10 m cells, grid top at z = 0)."""
    grid = Grid2D(nx=nx, nz=nz, dx=10.0, dz=10.0)
    width, depth = nx * grid.dx, nz * grid.dz
    if kind == "Magnetics2D":
        x = np.linspace(-0.25 * width, 1.25 * width, n)
        rx = np.column_stack([x, np.full(n, -1.0)])  # 1 m sensor height
        return Magnetics2D(grid, rx, inclination=60.0, declination=10.0, intensity=50000.0)
    # cross-hole plus surface geometry: sources in the left borehole, receivers in the right
    # borehole and on the surface
    src = np.column_stack([np.zeros(n), rng.uniform(0.0, depth, n)])
    on_surface = rng.random(n) < 0.3
    rec = np.where(
        on_surface[:, None],
        np.column_stack([rng.uniform(0.0, width, n), np.zeros(n)]),
        np.column_stack([np.full(n, width), rng.uniform(0.0, depth, n)]),
    )
    return StraightRayTomography(grid, src, rec, strict=True)


def _model(op, m_true, d_obs, sigma, likelihood=True):
    import pymc as pm

    from bayesinv.ops import ForwardOp

    scale = float(np.std(m_true)) or 1.0
    with pm.Model() as model:
        m = pm.Normal("m", float(np.mean(m_true)), scale, shape=op.n_params)
        if likelihood:
            pm.Normal("d", mu=ForwardOp(op)(m), sigma=sigma, observed=d_obs)
    return model


def _timed(fn, n: int) -> float:
    t0 = time.perf_counter()
    fn(n)
    return (time.perf_counter() - t0) / n


def _calibrate(fn, target_s: float) -> int:
    fn(1)  # compile
    n = 4
    while True:
        t = _timed(fn, n) * n
        if t > 0.2 * target_s or n > 1e7:
            return max(int(n * target_s / max(t, 1e-9)), 1)
        n *= 4


def run(quick: bool) -> list[dict]:
    """Benchmark rows, one per case."""
    from bayesinv.inference.sampling import compile_model

    rng = np.random.default_rng(20261121)
    # many short interleaved chunks, best of each: these machines are shared and noisy, and
    # interference only ever slows a chunk down
    target = 0.004
    repeats = 15 if quick else 101
    rows = []
    for kind, nx, nz, n in CASES:
        op = make_operator(kind, nx, nz, n, rng)
        k = op.numba_kernels()
        if kind == "Magnetics2D":
            m_true = rng.uniform(0.0, 0.02, op.n_params)
        else:
            m_true = rng.uniform(1 / 3000.0, 1 / 1500.0, op.n_params)
        d_clean = op.forward(m_true)
        sigma = 0.02 * float(np.std(d_clean))
        d_obs = d_clean + sigma * rng.standard_normal(op.n_data)
        m = m_true * (1.0 + 0.1 * rng.standard_normal(op.n_params))

        compiled = compile_model(_model(op, m_true, d_obs, sigma)).nutpie
        loop = _compiled_loop(compiled.compiled_logp_func)
        prior = compile_model(_model(op, m_true, d_obs, sigma, likelihood=False)).nutpie
        prior_loop = _compiled_loop(prior.compiled_logp_func)
        prior_grad = np.empty_like(m)
        prior_user_data = prior.user_data.ctypes.data
        x = np.ascontiguousarray(m)
        grad = np.empty_like(x)
        logp = np.empty(())
        user_data = compiled.user_data.ctypes.data

        def fwd(n_, m=m, f=k.forward):
            return _loop_forward(f, m, n_)

        def adj(n_, m=m, g=k.vjp, dd=d_obs):
            return _loop_adjoint(g, m, dd, n_)

        def pair(n_, m=m, f=k.forward, g=k.vjp, dd=d_obs):
            return _loop_pair(f, g, m, dd, n_)

        def comp(n_, x=x, grad=grad, logp=logp, ud=user_data, loop=loop):
            status = loop(x, grad, logp, ud, n_)
            if status != 0:
                raise RuntimeError(f"compiled logp returned status {status}")

        def prior_only(n_, x=x, grad=prior_grad, logp=logp, ud=prior_user_data, loop=prior_loop):
            loop(x, grad, logp, ud, n_)

        fns = {"fwd": fwd, "adj": adj, "pair": pair, "comp": comp, "prior": prior_only}
        counts = {key: _calibrate(fn, target) for key, fn in fns.items()}
        best = dict.fromkeys(fns, np.inf)
        for _ in range(repeats):  # interleaved, best of the repeats
            for key, fn in fns.items():
                best[key] = min(best[key], _timed(fn, counts[key]))
        # the compiled gradient is the operator's: check it once
        comp(1)
        g_ref = -(m - np.mean(m_true)) / float(np.std(m_true)) ** 2
        g_ref += op.vjp(m, d_obs - op.forward(m)) / sigma**2
        grad_err = float(np.max(np.abs(grad - g_ref)) / np.max(np.abs(g_ref)))
        nnz = getattr(op, "nnz", op.n_params * op.n_data)
        rows.append(
            {
                "benchmark": "linear_physics",
                "case": f"{kind} {nx}x{nz}, {op.n_data} data",
                "n_params": op.n_params,
                "n_data": op.n_data,
                "nnz": int(nnz),
                "raw_forward_us": best["fwd"] * 1e6,
                "raw_adjoint_us": best["adj"] * 1e6,
                "raw_pair_per_s": 1.0 / best["pair"],
                "compiled_per_s": 1.0 / best["comp"],
                "prior_only_us": best["prior"] * 1e6,
                "ratio": best["pair"] / best["comp"],
                "grad_rel_err": grad_err,
            }
        )
    return rows


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    from run import module_main

    sys.exit(module_main(run, __doc__))
