"""Multiscale parameterizations: numba wavelet transforms vs PyWavelets, prolongation.

Rows report the median time per call of the operator's numba kernels (as called from a
compiled model) and of a reference in the same process, and their ratio.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pywt

from bayesinv import Grid2D
from bayesinv.multiscale import Prolongation, WaveletField


def _median_time(fn, repeats: int) -> float:
    fn()  # warm up (and compile)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def run(quick: bool) -> list[dict]:
    rng = np.random.default_rng(0)
    repeats = 5 if quick else 30
    sizes = [64] if quick else [64, 256]
    rows = []
    for n in sizes:
        grid = Grid2D(nx=n, nz=n, dx=1.0, dz=1.0)
        m = rng.standard_normal(grid.size)
        for wavelet in ("haar", "db4"):
            W = WaveletField(grid, wavelet, levels=5)
            k = W.numba_kernels()
            field = grid.unravel(m)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                coeffs = pywt.wavedec2(field, wavelet, mode="periodization", level=5)
                t_ref_a = _median_time(
                    lambda f=field, w=wavelet: pywt.wavedec2(f, w, mode="periodization", level=5),
                    repeats,
                )
                t_ref_s = _median_time(
                    lambda c=coeffs, w=wavelet: pywt.waverec2(c, w, mode="periodization"), repeats
                )
            t_a = _median_time(lambda k=k, m=m: k.vjp(m, m), repeats)
            t_s = _median_time(lambda k=k, m=m: k.forward(m), repeats)
            rows.append(
                {
                    "benchmark": "multiscale",
                    "case": f"wavelet {wavelet} {n}x{n} L=5",
                    "analysis_s": t_a,
                    "pywt_analysis_s": t_ref_a,
                    "analysis_vs_pywt": t_a / t_ref_a,
                    "synthesis_s": t_s,
                    "pywt_synthesis_s": t_ref_s,
                    "synthesis_vs_pywt": t_s / t_ref_s,
                }
            )
        coarse = Grid2D(nx=n // 2, nz=n // 2, dx=2.0, dz=2.0)
        theta = rng.standard_normal(coarse.size)
        for kind in ("constant", "bilinear"):
            P = Prolongation(coarse, grid, kind)
            k = P.numba_kernels()
            t_f = _median_time(lambda k=k, t=theta: k.forward(t), repeats)
            t_a = _median_time(lambda k=k, t=theta, m=m: k.vjp(t, m), repeats)
            c2 = coarse.unravel(theta)
            t_ref = _median_time(lambda c2=c2: np.kron(c2, np.ones((2, 2))).ravel(), repeats)
            rows.append(
                {
                    "benchmark": "multiscale",
                    "case": f"prolongation {kind} {n // 2}^2->{n}^2",
                    "forward_s": t_f,
                    "restriction_s": t_a,
                    "numpy_kron_s": t_ref,
                    "forward_vs_kron": t_f / t_ref,
                }
            )
    return rows
