"""NUTS on the 32x48 cross-hole eikonal problem (issue 15's must-show; not part of ``make bench``).

Survey: 10 sources in the left hole, 10 receivers in the right one (``crosshole_survey``,
2 m margins), 32 m x 48 m on 1 m cells (1,536 slowness cells), ``Eikonal2D(...,
parameter="log_slowness", smoothing=0.05)``. Prior: Matérn-3/2 on log-slowness (sd 0.1,
length scale 8 m, mean ln 0.5 s/km-per-m units) whose Gaussian random field lives on 2 m
cells (384 whitened coefficients, ``coarsening=2``) and is prolonged bilinearly to the
1,536 cells the solver sees. Truth drawn from the prior; picks with errors
``0.5% + 10 ms`` (known). Methods (``--method``):

- ``plain``: :func:`bayesinv.sample` (nutpie, ``--adaptation`` diag or low_rank);
- ``laplace``: MAP + dense Hessian of the fine model (``continuation(..., method=
  "laplace")``, one level), then NUTS in its coordinates
  (:func:`~bayesinv.inference.sample_preconditioned`);
- ``continuation``: coarse-to-fine, the same prior on the 16x24 grid of 2 m cells (the
  same 384 coefficients: the transfer is exact) solved first (Laplace), then the fine
  level (Laplace started from it), then NUTS as in ``laplace``.

Prints and (``--out``) writes one JSON row: wall and CPU seconds of the setup and of the
sampling (CPU over all threads; nutpie runs chains in threads, so CPU/2 is the 2-core
projection), max R-hat and min bulk/tail ESS over the 1,536 log-slowness cells,
divergences, and the 90% coverage of the true log-slowness (= of the true slowness: the
intervals are equal-tailed). Run niced, e.g.
``nice -n 10 python benchmarks/study_eikonal_crosshole.py --method laplace``.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

CELL = 1.0  # m, the 32x48 problem
NOISE_REL, NOISE_ABS = 0.005, 0.01


def _cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def build(cell, data=None, sigma=None, smoothing=0.05, coarsening=None):
    """The cross-hole model on ``cell``-m cells (returns model, operator, grid).

    ``coarsening`` defaults to ``2 / cell`` so that the prior's field always lives on 2 m
    cells (the same coefficients on every grid).
    """
    from bayesinv import Grid2D
    from bayesinv.model import JointInversion, KnownNoise, MaternPrior, Modality
    from bayesinv.operators.eikonal import Eikonal2D, crosshole_survey

    grid = Grid2D(int(32 / cell), int(48 / cell), cell, cell)
    survey = crosshole_survey(grid, 10, 10, margin=2.0)
    op = Eikonal2D(grid, *survey, parameter="log_slowness", smoothing=smoothing)
    coarse = coarsening if coarsening is not None else max(round(2.0 / cell), 1)
    prior = MaternPrior(variance=0.01, length_scale=8.0, coarsening=coarse, mean=np.log(0.5))
    if data is None:
        data = op.forward(np.full(grid.size, np.log(0.5)))
        sigma = NOISE_REL * data + NOISE_ABS
    model = (
        JointInversion()
        .add_field("log_slowness", grid, prior)
        .add_modality(Modality("traveltime", op, data, KnownNoise(sigma)))
        .build()
    )
    return model, op, grid


def synthetic(seed, smoothing=0.05):
    """Truth (log-slowness drawn from the prior), noisy data, their errors."""
    import pymc as pm

    rng = np.random.default_rng(seed)
    model, op, _ = build(CELL, smoothing=smoothing)
    truth = pm.draw(model["log_slowness"], random_seed=rng).ravel()
    clean = op.forward(truth)
    sigma = NOISE_REL * clean + NOISE_ABS
    return truth, clean + sigma * rng.standard_normal(op.n_data), sigma


def _n_steps(tree):
    n = int(tree["sample_stats"]["n_steps"].values.sum())
    if "warmup_sample_stats" in tree.children:
        n += int(tree["warmup_sample_stats"]["n_steps"].values.sum())
    return n


def _setup(method, model, seed, data, sigma, smoothing):
    """The preconditioner of ``laplace``/``continuation`` (None for ``plain``)."""
    from bayesinv.inference import continuation
    from bayesinv.inference.preconditioning import unconstrained_layout

    if method == "plain":
        return None, {}
    n = sum(int(np.prod(shape)) for _, shape in unconstrained_layout(model))
    if method == "laplace":
        levels = continuation(
            lambda level: model, 1, random_seed=seed, method="laplace",
            laplace_kwargs={"max_rank": n},
        )  # fmt: skip
    else:
        coarse = build(2.0, data, sigma, smoothing)[0]
        levels = continuation(
            lambda level: (coarse, model)[level], 2, random_seed=seed, method="laplace",
            laplace_kwargs={"max_rank": n},
        )  # fmt: skip
    info = {"levels": [{k: str(v) for k, v in r.items()} for r in levels.table()]}
    return levels.final.preconditioner, info


def run(method="laplace", draws=1000, tune=1000, chains=2, seed=15, adaptation="diag",
        smoothing=0.05, target_accept=0.8):  # fmt: skip
    """Sample the cross-hole posterior with ``method``; a dict of costs and diagnostics."""
    import arviz as az

    import bayesinv
    from bayesinv.diagnostics.truth import truth_coverage
    from bayesinv.inference import sample_preconditioned

    truth, data, sigma = synthetic(seed, smoothing)
    model = build(CELL, data, sigma, smoothing)[0]
    c0, t0 = _cpu(), time.perf_counter()
    pre, info = _setup(method, model, seed, data, sigma, smoothing)
    setup = (time.perf_counter() - t0, _cpu() - c0)
    c0, t0 = _cpu(), time.perf_counter()
    opts = dict(draws=draws, tune=tune, chains=chains, random_seed=seed, progressbar=False,
                adaptation=adaptation, target_accept=target_accept, save_warmup=True)  # fmt: skip
    if pre is None:
        tree = bayesinv.sample(model, cores=chains, **opts)
    else:
        names = [v.name for v in model.free_RVs] + ["log_slowness"]
        tree = sample_preconditioned(model, pre, var_names=names, **opts)
    sampling = (time.perf_counter() - t0, _cpu() - c0)
    summ = az.summary(tree, var_names=["log_slowness"], kind="diagnostics")
    cover = truth_coverage(tree, {"log_slowness": truth})
    out = {
        "method": method,
        "adaptation": adaptation,
        "smoothing": smoothing,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "seed": seed,
        "setup_wall_s": round(setup[0], 1),
        "setup_cpu_s": round(setup[1], 1),
        "sampling_wall_s": round(sampling[0], 1),
        "sampling_cpu_s": round(sampling[1], 1),
        "total_cpu_per_core_s": round((setup[1] + sampling[1]) / 2, 1),
        "gradients": _n_steps(tree),
        "max_rhat": round(float(summ["r_hat"].max()), 4),
        "min_ess_bulk": round(float(summ["ess_bulk"].min()), 1),
        "min_ess_tail": round(float(summ["ess_tail"].min()), 1),
        "divergences": int(tree["sample_stats"]["diverging"].sum()),
        "coverage_90": round(float(cover.loc["log_slowness", "coverage_90"]), 4),
        "rmse": round(float(cover.loc["log_slowness", "rmse"]), 5),
        "mean_sd": round(float(cover.loc["log_slowness", "mean_sd"]), 5),
        "load_1min": round(float(open("/proc/loadavg").read().split()[0]), 2),
    } | info
    out["converged"] = (
        out["max_rhat"] < 1.01 and out["min_ess_bulk"] >= 400 and out["divergences"] == 0
    )
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", choices=("plain", "laplace", "continuation"), default="laplace")
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--adaptation", choices=("diag", "low_rank"), default="diag")
    p.add_argument("--target-accept", type=float, default=0.8)
    p.add_argument("--threads", type=int, default=1, help="numba threads per chain")
    p.add_argument("--out", help="append the JSON row to this file")
    a = p.parse_args(argv)
    import numba

    numba.set_num_threads(a.threads)
    row = run(a.method, a.draws, a.tune, a.chains, a.seed, a.adaptation,
              target_accept=a.target_accept)  # fmt: skip
    print(json.dumps(row), flush=True)
    if a.out:
        with open(a.out, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
