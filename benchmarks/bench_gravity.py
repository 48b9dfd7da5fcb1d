"""Gravity2D: compiled logp+gradient inside a PyMC model vs the raw numba kernel pair."""

from __future__ import annotations

import numpy as np
import pymc as pm
from _common import compiled_logp_and_grad, interleaved_rates, kernel_pair, rate

from bayesinv import Grid2D
from bayesinv.operators import Gravity2D
from bayesinv.ops import forward
from bayesinv.synthetic import gravity_survey

SIZES = [(32, 16, 50), (64, 32, 100), (128, 64, 200)]


def run(quick: bool = False) -> list[dict]:
    rows = []
    for nx, nz, nr in SIZES[:2] if quick else SIZES:
        grid = Grid2D(nx, nz, 10.0, 10.0)
        survey = gravity_survey(np.random.default_rng(0), grid, nr)
        op = Gravity2D(grid, survey.receivers)
        kernels = op.numba_kernels()
        m = np.random.default_rng(2).standard_normal(grid.size)
        dd = np.random.default_rng(3).standard_normal(nr)
        fwd_rate = rate(kernels.forward, m)
        vjp_rate = rate(kernels.vjp, m, dd)
        with pm.Model() as model:  # the plainest model: iid prior, Gaussian likelihood
            rho = pm.Normal("rho", 0.0, 200.0, shape=grid.size)
            pm.Normal("d", forward(op, rho), 0.02, observed=survey.data)
        fn, x = compiled_logp_and_grad(model)
        # the model's parameter vector x has the field's length, so both take x
        rates = interleaved_rates({"raw": kernel_pair(kernels, nr), "compiled": fn}, x)
        raw_pair, compiled = rates["raw"], rates["compiled"]
        rows.append(
            {
                "benchmark": "Gravity2D",
                "case": f"{nx}x{nz} cells, {nr} receivers",
                "forward_us": 1e6 / fwd_rate,
                "vjp_us": 1e6 / vjp_rate,
                "vjp/forward": fwd_rate / vjp_rate,
                "raw_pair_per_s": raw_pair,
                "compiled_logp_grad_per_s": compiled,
                "compiled/raw": compiled / raw_pair,
            }
        )
    return rows
