"""Model-discrepancy GP: exact marginalisation vs HSGP, logp+gradient cost vs data size."""

from __future__ import annotations

import time

import numpy as np
from _common import compiled_logp_and_grad, rate

from bayesinv import Grid1D
from bayesinv.model import JointInversion
from bayesinv.model.discrepancy import Discrepancy
from bayesinv.model.fields import IIDNormal
from bayesinv.model.modality import Modality
from bayesinv.model.noise import KnownNoise
from bayesinv.operators import MatrixOperator


def model_for(n: int, method: str):
    x = np.linspace(-100.0, 100.0, n)
    shape = 50.0**2 / (x**2 + 50.0**2)
    data = shape + 0.25 * np.exp(-0.5 * ((x - 40) / 35) ** 2)
    data = data + np.random.default_rng(0).normal(0, 0.02, n)
    inv = JointInversion().add_field("theta", Grid1D(1, 1.0), IIDNormal(0.0, 2.0))
    disc = Discrepancy("matern52", method=method, lengthscale=(10.0, 200.0))
    inv.add_modality(
        Modality(
            "g", MatrixOperator(shape[:, None]), data, KnownNoise(0.02), coords=x, discrepancy=disc
        )
    )
    return inv.build()


def run(quick: bool = False) -> list[dict]:
    cases = [(100, "exact"), (500, "exact"), (500, "hsgp"), (5000, "hsgp")]
    if not quick:
        cases.append((20000, "hsgp"))
    rows = []
    for n, method in cases:
        t0 = time.perf_counter()
        model = model_for(n, method)
        fn, x = compiled_logp_and_grad(model)
        setup = time.perf_counter() - t0
        r = rate(fn, x, repeats=3)
        rows.append(
            {
                "benchmark": "Discrepancy",
                "case": f"{n} data, {method}",
                "parameters": x.size,
                "build_compile_s": setup,
                "logp_grad_ms": 1e3 / r,
                "logp_grad_per_s": r,
            }
        )
    return rows
