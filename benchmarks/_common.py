"""Timing helpers shared by the benchmark modules."""

from __future__ import annotations

import time

import numpy as np


def rate(fn, *args, min_time: float = 0.2, repeats: int = 5) -> float:
    """Best-of-``repeats`` calls per second of ``fn(*args)`` (after a warm-up call)."""
    fn(*args)
    n = 1
    while True:  # find a loop count that takes at least min_time
        t0 = time.perf_counter()
        for _ in range(n):
            fn(*args)
        dt = time.perf_counter() - t0
        if dt >= min_time:
            break
        n *= 2
    best = dt / n
    for _ in range(repeats - 1):
        t0 = time.perf_counter()
        for _ in range(n):
            fn(*args)
        best = min(best, (time.perf_counter() - t0) / n)
    return 1.0 / best


def compiled_logp_and_grad(model):
    """The numba function nutpie calls for logp + gradient, and a random point for it.

    Returns ``(fn, x)`` where ``fn(x) -> (logp, grad)`` is the jitted PyTensor graph that
    ``nutpie.compile_pymc_model`` wraps in a C callback (no PyTensor Python overhead),
    compiled as :func:`bayesinv.sample` compiles it (:func:`bayesinv.inference.compile_model`).
    """
    from bayesinv.inference.sampling import compile_model

    compiled = compile_model(model).nutpie
    if compiled.logp_func.get_shared():
        raise RuntimeError("benchmark models must not use shared variables")
    x = np.random.default_rng(0).standard_normal(compiled.n_dim)
    return compiled.logp_func.vm.jit_fn, x


def kernel_pair(kernels, n_data: int):
    """A callable running one raw forward + adjoint evaluation of ``NumbaKernels``."""
    rng = np.random.default_rng(1)
    dd = rng.standard_normal(n_data)

    def pair(m):
        kernels.forward(m)
        kernels.vjp(m, dd)

    return pair


def interleaved_rates(fns: dict, *args, rounds: int = 3) -> dict:
    """Best rate of each ``fns[name](*args)`` over ``rounds`` interleaved measurements.

    Interleaving makes the ratio between two callables robust to drifts in machine load.
    """
    best = dict.fromkeys(fns, 0.0)
    for _ in range(rounds):
        for name, fn in fns.items():
            best[name] = max(best[name], rate(fn, *args, repeats=3))
    return best
