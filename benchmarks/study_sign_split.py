"""The sign-split 1-D Poisson posterior (issue 17 item 5): the failures, reproduced.

The problem and the sampler that converges on it live in :mod:`bayesinv.studies.sign_split`;
the study with its reference run is ``case_studies/10_sign_split``
(``python -m bayesinv.cli run case_studies/10_sign_split --size full``). This script keeps
the runs of the samplers that fail (measured numbers: ``docs/samplers.md``) and a single run
of the converging sampler:

    python benchmarks/study_sign_split.py nuts              # NUTS (bayesinv.sample) fails
    python benchmarks/study_sign_split.py smc DRAWS         # PyMC SMC fails
    python benchmarks/study_sign_split.py mwg SWEEPS [SEED] # component-wise pCN + ridge moves
"""

from __future__ import annotations

import sys
import time

import numpy as np


def summary(post: np.ndarray) -> dict:
    """Convergence and the posterior mass below zero per cell, from draws ``(chains, draws, n)``."""
    import arviz as az

    from bayesinv.studies.sign_split import negative_mass

    neg, mcse = negative_mass(post)
    cells = np.flatnonzero(neg > 0.002)
    return {
        "max_rhat": float(np.max(az.rhat(post))),
        "min_ess": float(np.min(az.ess(post))),
        "cells_with_P(a<0)>0.002": cells.tolist(),
        "P(a<0)": np.round(neg[cells], 4).tolist(),
        "mcse": np.round(mcse[cells], 4).tolist(),
    }


if __name__ == "__main__":
    from bayesinv.studies.sign_split import sample_sign_split, sign_split_model, sign_split_problem

    t0 = time.time()
    problem = sign_split_problem()
    if sys.argv[1] == "mwg":
        seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
        post, acc = sample_sign_split(problem, int(sys.argv[2]), random_seed=seed)
        print(f"{time.time() - t0:.0f} s wall; acceptance (pCN, ridge) per chain {acc.tolist()}")
        print(summary(post))
    elif sys.argv[1] == "nuts":
        import bayesinv

        tree = bayesinv.sample(
            sign_split_model(problem), draws=1000, tune=1000, chains=4, random_seed=1
        )
        print("divergent", int(tree["sample_stats"]["diverging"].sum()))
        print(f"{time.time() - t0:.0f} s", summary(tree["posterior"]["a"].values))
    else:
        from bayesinv.inference import sample_smc

        model = sign_split_model(problem)
        tree = sample_smc(model, draws=int(sys.argv[2]), chains=2, random_seed=1)
        print(f"{time.time() - t0:.0f} s", summary(tree["posterior"]["a"].values))
