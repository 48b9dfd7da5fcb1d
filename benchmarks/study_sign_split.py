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

import argparse
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    modes = parser.add_subparsers(dest="mode", required=True, metavar="{nuts,smc,mwg}")
    modes.add_parser("nuts", help="NUTS (bayesinv.sample, 4 chains x 1000+1000): fails")
    smc = modes.add_parser("smc", help="PyMC SMC (2 chains): fails")
    smc.add_argument("draws", type=int, metavar="DRAWS", help="SMC draws (particles) per chain")
    mwg = modes.add_parser("mwg", help="component-wise pCN + ridge moves: converges")
    mwg.add_argument("sweeps", type=int, metavar="SWEEPS", help="sweeps per chain (4 chains)")
    mwg.add_argument(
        "seed", type=int, nargs="?", default=1, metavar="SEED", help="random seed (default 1)"
    )
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)

    from bayesinv.studies.sign_split import sample_sign_split, sign_split_model, sign_split_problem

    t0 = time.time()
    problem = sign_split_problem()
    if args.mode == "mwg":
        post, acc = sample_sign_split(problem, args.sweeps, random_seed=args.seed)
        print(f"{time.time() - t0:.0f} s wall; acceptance (pCN, ridge) per chain {acc.tolist()}")
        print(summary(post))
    elif args.mode == "nuts":
        import bayesinv

        tree = bayesinv.sample(
            sign_split_model(problem), draws=1000, tune=1000, chains=4, random_seed=1
        )
        print("divergent", int(tree["sample_stats"]["diverging"].sum()))
        print(f"{time.time() - t0:.0f} s", summary(tree["posterior"]["a"].values))
    else:
        from bayesinv.inference import sample_smc

        model = sign_split_model(problem)
        tree = sample_smc(model, draws=args.draws, chains=2, random_seed=1)
        print(f"{time.time() - t0:.0f} s", summary(tree["posterior"]["a"].values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
