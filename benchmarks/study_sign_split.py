"""Study (open, issue 17 item 5): the sign-split 1-D Poisson posterior.

-(a u')' = 1 on [0, 1], u(0) = u(1) = 0, with the conductivity ``a`` piecewise constant on
128 cells and a Gaussian prior on ``a`` itself, ``a ~ N(1, 1)`` per cell; data: ``u`` at
the 127 interior nodes, noise sd = std(u) / 200 (SNR 200). In 1-D the flux is
``a u' = c - x`` with ``c = sum(x_i / a_i) / sum(1 / a_i)``, so where the flux vanishes
(cells near x = c ~ 0.5) the data do not see ``a`` and its posterior spans both signs,
with the singularity of ``1 / a`` between them.

Measured (2026-12-06, shared 2-core machine): ``bayesinv.sample`` (nutpie, 4 x 1000 + 1000)
gives 694 divergent transitions, max R-hat 2.09, min ESS 5; in cells 63 and 64 two chains
sit at a < 0 and two at a > 0. PyMC's SMC (``sample_smc``, IMH kernel): 2 x 1000
particles did not finish within 15 minutes on the loaded machine; 2 x 400 particles took
678 s and failed too (max R-hat 1.84 between the two runs, min ESS 3; in cell 71 one run
has all its particles at a < 0, the other all at a > 0: each population collapsed onto one
side during tempering). Converging on this posterior remains open.

Usage: ``python benchmarks/study_sign_split.py nuts`` or ``... smc DRAWS``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

N_CELLS = 128


def forward(a, lib=np):
    """Heads at the interior nodes for cell conductivities ``a`` (numpy or pytensor)."""
    h = 1.0 / N_CELLS
    x = (np.arange(N_CELLS) + 0.5) * h  # F(x) = x for f = 1, at the cell midpoints
    c = lib.sum(x / a) / lib.sum(1.0 / a)
    return lib.cumsum(h * (c - x) / a)[:-1]


def build(seed: int = 17):
    """The PyMC model and the true conductivity."""
    import pymc as pm
    import pytensor.tensor as pt

    rng = np.random.default_rng(seed)
    xm = (np.arange(N_CELLS) + 0.5) / N_CELLS
    a_true = 1.0 + 0.5 * np.sin(2 * np.pi * xm)
    u = forward(a_true)
    sigma = float(np.std(u)) / 200.0
    data = u + sigma * rng.standard_normal(u.size)
    with pm.Model() as model:
        a = pm.Normal("a", 1.0, 1.0, shape=N_CELLS)
        pm.Normal("d", forward(a, pt), sigma, observed=data)
    return model, a_true


def summary(tree) -> dict:
    """Convergence and the posterior mass below zero per cell."""
    import arviz as az

    post = tree["posterior"]["a"].values
    neg = (post < 0).mean(axis=(0, 1))
    worst = int(np.argmax(neg))
    return {
        "max_rhat": float(np.max(az.rhat(post))),
        "min_ess": float(np.min(az.ess(post))),
        "cells_with_P(a<0)>0.01": np.flatnonzero(neg > 0.01).tolist(),
        "P(a<0) per chain, worst cell": (post[..., worst] < 0).mean(axis=1).tolist(),
    }


if __name__ == "__main__":
    model, _ = build()
    t0 = time.time()
    if sys.argv[1] == "nuts":
        import bayesinv

        tree = bayesinv.sample(model, draws=1000, tune=1000, chains=4, random_seed=1)
        print("divergent", int(tree["sample_stats"]["diverging"].sum()))
    else:
        from bayesinv.inference import sample_smc

        tree = sample_smc(model, draws=int(sys.argv[2]), chains=2, random_seed=1)
    print(f"{time.time() - t0:.0f} s", summary(tree))
