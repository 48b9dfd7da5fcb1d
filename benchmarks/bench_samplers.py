"""Samplers side by side: NUTS mass-matrix adaptations, and pCN / delayed acceptance.

Part 1 (NUTS): nutpie's ``diag`` (the diagonal mass matrix of ``bayesinv.sample``'s former
default) against ``low_rank`` (diagonal plus low-rank corrections from the draws and
gradients) on the package's benchmark problems, each adaptation sampling the same compiled
model with the same seeds in the same run. Reported: min bulk ESS over all parameters,
sampling wall time (compilation excluded), min-ESS per second and per gradient evaluation,
divergences, max R-hat, and the ratio low_rank / diag of min-ESS per second.

Part 2 (gradient-free): pCN, Laplace-preconditioned pCN and multilevel delayed acceptance
(with a pCN or a Laplace-pCN base) on a nonlinear exp-blur, ``F(x) = G exp(x)``, whose
coarse level averages the coefficient over pairs of cells: min ESS per fine-model
evaluation and per second, max R-hat, and the distance of each posterior mean to
Laplace-pCN's.

Usage: ``python benchmarks/run.py --only samplers`` or ``python benchmarks/bench_samplers.py``
(prints the table).
"""

from __future__ import annotations

import time

import numpy as np

from bayesinv._seeds import as_generator

ADAPTATIONS = ("diag", "low_rank")


def _blur(n: int, width: float, n_data: int | None = None) -> np.ndarray:
    """Gaussian blur of a signal on ``n`` nodes of [0, 1], observed at ``n_data`` points."""
    n_data = n if n_data is None else n_data
    s = (np.arange(n) + 0.5) / n
    t = (np.arange(n_data) + 0.5) / n_data
    return np.exp(-0.5 * ((t[:, None] - s[None, :]) / width) ** 2) / (
        n * width * np.sqrt(2 * np.pi)
    )


def _deconvolution(n=128, hierarchical=False, seed=11):
    import pymc as pm

    from bayesinv.operators import MatrixOperator
    from bayesinv.ops import forward

    rng = as_generator(seed, "bench_samplers")
    G = _blur(n, 0.03)
    truth = np.cumsum(rng.normal(0.0, 0.3, n))
    clean = G @ truth
    sigma = float(np.std(clean)) / 200.0  # SNR 200, as the problem
    data = clean + sigma * rng.standard_normal(n)
    op = MatrixOperator(G)
    with pm.Model() as model:
        if hierarchical:
            scale = pm.HalfNormal("scale", 3.0)
            m = pm.Normal("m", 0.0, scale, shape=n)
        else:
            m = pm.Normal("m", 0.0, 3.0, shape=n)
        pm.Normal("d", forward(op, m), sigma, observed=data)
    label = f"deconvolution {n}, SNR 200" + (", hierarchical prior scale" if hierarchical else "")
    return label, model


def _gravity():
    from bayesinv.grid import Grid2D
    from bayesinv.model import JointInversion
    from bayesinv.model.fields import IIDNormal
    from bayesinv.model.modality import Modality
    from bayesinv.model.noise import KnownNoise
    from bayesinv.operators import Gravity2D
    from bayesinv.studies.demo import DemoConfig
    from bayesinv.synthetic import gravity_survey

    # bench_inference's problem (the former demo's gravity-only posterior)
    cfg = DemoConfig(nx=32, nz=16, cell=25.0, prior_sd=200.0)
    grid = Grid2D(cfg.nx, cfg.nz, cfg.cell, cfg.cell)
    survey = gravity_survey(as_generator(cfg.seed, "bench"), grid, cfg.n_receivers, cfg.noise_sd)
    op = Gravity2D(grid, survey.receivers)
    inv = JointInversion().add_field("density", grid, IIDNormal(0.0, cfg.prior_sd))
    inv.add_modality(Modality("gravity", op, survey.data, KnownNoise(cfg.noise_sd)))
    return f"gravity {cfg.nx}x{cfg.nz} (bench_inference)", inv.build()


def _tomography():
    import importlib.util
    from pathlib import Path

    import pymc as pm

    from bayesinv.ops import ForwardOp

    path = Path(__file__).with_name("bench_linear_physics.py")
    spec = importlib.util.spec_from_file_location("bench_linear_physics", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = as_generator(5, "bench_samplers")
    op = module.make_operator("StraightRayTomography", 16, 8, 100, rng)
    m_true = rng.uniform(1 / 3000.0, 1 / 1500.0, op.n_params)
    clean = op.forward(m_true)
    sigma = 0.02 * float(np.std(clean))
    data = clean + sigma * rng.standard_normal(op.n_data)
    mean, sd = float(np.mean(m_true)), float(np.std(m_true))
    with pm.Model() as model:
        # slowness in units of its prior sd (~1e-4 s/m): nutpie's start jitter of O(1) in
        # s/m would put the chains 1e4 prior sds away
        z = pm.Normal("z", 0.0, 1.0, shape=op.n_params)
        pm.Normal("d", mu=ForwardOp(op)(mean + sd * z), sigma=sigma, observed=data)
    return "straight-ray tomography 16x8, 100 rays", model


def _nuts_rows(label, model, draws, seeds) -> list[dict]:
    import arviz as az

    from bayesinv.inference import compile_model, sample

    compiled = compile_model(model)  # once, untimed, shared by both adaptations
    rows = {a: [] for a in ADAPTATIONS}
    for seed in seeds:  # interleaved, so both see the same machine load
        for adaptation in ADAPTATIONS:
            t0 = time.perf_counter()
            tree = sample(
                compiled,
                draws=draws,
                tune=draws,
                chains=2,
                cores=2,
                random_seed=seed,
                progressbar=False,
                nuts={"adaptation": adaptation},
            )
            wall = time.perf_counter() - t0
            post = tree["posterior"].to_dataset()
            ess = float(az.ess(post, method="bulk").to_array().min())
            rhat = float(az.rhat(post).to_array().max())
            stats = tree["sample_stats"]
            steps = int(stats["n_steps"].values.sum())
            rows[adaptation].append(
                {
                    "wall_s": wall,
                    "min_ess": ess,
                    "max_rhat": rhat,
                    "divergences": int(stats["diverging"].values.sum()),
                    "grad_evals": steps,
                }
            )
    out = []
    per_s = {}
    for adaptation in ADAPTATIONS:
        r = rows[adaptation]
        wall = sum(x["wall_s"] for x in r)
        ess = sum(x["min_ess"] for x in r)
        per_s[adaptation] = ess / wall
        out.append(
            {
                "benchmark": "samplers",
                "case": label,
                "method": f"NUTS nutpie adaptation={adaptation}, 2x{draws}+{draws}, "
                f"{len(seeds)} seeds",
                "min_ess": ess / len(r),
                "wall_s": wall / len(r),
                "min_ess_per_s": ess / wall,
                "min_ess_per_grad": ess / sum(x["grad_evals"] for x in r),
                "max_rhat": max(x["max_rhat"] for x in r),
                "divergences": sum(x["divergences"] for x in r),
            }
        )
    out[-1]["low_rank_over_diag_ess_per_s"] = per_s["low_rank"] / per_s["diag"]
    return out


def nuts_adaptation(quick: bool = False) -> list[dict]:
    """Rows of part 1: each problem under each adaptation."""
    draws = 300 if quick else 1000
    seeds = (1,) if quick else (1, 2)
    rows = []
    problems = [
        lambda: _deconvolution(128),
        lambda: _deconvolution(128, hierarchical=True),
        _tomography,
        _gravity,
    ]
    for make in problems:
        label, model = make()
        rows += _nuts_rows(label, model, draws, seeds)
    return rows


class _ExpBlur:
    """``F(x) = G exp(x)``: a blurred positive coefficient, nonlinear in its log ``x``."""

    @staticmethod
    def operator(G):
        from bayesinv.operators.base import ForwardOperator

        class ExpBlur(ForwardOperator):
            object_mode_reason = "benchmark operator, sampled from Python only"

            def __init__(self):
                self.n_params, self.n_data, self.linear = G.shape[1], G.shape[0], False

            def _forward(self, m):
                return G @ np.exp(m)

            def _jvp(self, m, dm):
                return G @ (np.exp(m) * dm)

            def _vjp(self, m, dd):
                return np.exp(m) * (G.T @ dd)

        return ExpBlur()


def _gradient_free_problem(n=32, seed=3):
    """Fine and coarse (coefficient averaged over pairs of cells) levels of an exp-blur."""
    from bayesinv.inference.mcmc import GaussianPriorTarget

    rng = as_generator(seed, "bench_samplers")
    t = (np.arange(n) + 0.5) / n
    prior_cov = np.exp(-np.abs(t[:, None] - t[None, :]) / 0.3)
    G = _blur(n, 0.05, 20)
    truth = np.linalg.cholesky(prior_cov) @ rng.standard_normal(n)
    clean = G @ np.exp(truth)
    sigma = float(np.std(clean)) / 10.0
    data = clean + sigma * rng.standard_normal(G.shape[0])
    avg = np.kron(np.eye(n // 2), np.full((2, 2), 0.5))  # average over pairs, prolonged
    op = _ExpBlur.operator(G)
    common = {"data": data, "noise_sd": sigma, "prior_mean": 0.0, "prior_cov": prior_cov}
    fine = GaussianPriorTarget(forward=op, **common)
    coarse = GaussianPriorTarget(forward=lambda x: G @ (avg @ np.exp(x)), **common)
    return fine, coarse


def _row(label, method, tree, fine_evals):
    import arviz as az

    x = tree["posterior"]["m"].values
    ess = float(np.min(az.ess(x, method="bulk")))
    wall = float(tree.attrs["sampling_wall_time_s"])
    return {
        "benchmark": "samplers",
        "case": label,
        "method": method,
        "min_ess": ess,
        "wall_s": wall,
        "min_ess_per_s": ess / wall,
        "fine_evals": int(fine_evals),
        "min_ess_per_1000_fine_evals": 1000 * ess / fine_evals,
        "max_rhat": float(np.max(az.rhat(x))),
        "post_mean_rms_vs_laplace_pcn": np.nan,
    }


def gradient_free(quick: bool = False) -> list[dict]:
    """Rows of part 2: pCN, Laplace-pCN and two-level delayed acceptance, one problem."""
    from bayesinv.inference.mcmc import sample_mlda, sample_pcn

    fine, coarse = _gradient_free_problem()
    label = f"exp-blur {fine.n} params, {fine.data.size} data, SNR 10"
    draws = 1000 if quick else 5000
    common = {"chains": 2, "cores": 2, "random_seed": 7}
    from bayesinv.inference import gauss_newton_laplace

    # one Laplace fit of the fine level (Gauss-Newton, counted apart: a few dozen operator
    # calls) is the reference Gaussian of Laplace-pCN and of MLDA's level-0 steps
    laplace = gauss_newton_laplace(
        fine.operator,
        fine.data,
        prior_mean=fine.prior_mean,
        prior_cov=fine.prior_cov(),
        noise_sd=fine.noise_sd,
        random_seed=1,
        draws=1,
        chains=1,
    )
    pcn = sample_pcn(fine, draws=draws, tune=draws // 2, **common)
    lap = sample_pcn(fine, reference=laplace, draws=draws, tune=draws // 2, **common)
    mlda_draws = draws // 4
    mlda_args = {"draws": mlda_draws, "tune": mlda_draws // 2, "subchain_length": 10}
    mlda = sample_mlda([coarse, fine], error_model=True, **mlda_args, **common)
    mlda_lap = sample_mlda(
        [coarse, fine], error_model=True, reference=laplace, **mlda_args, **common
    )
    trees = (pcn, lap, mlda, mlda_lap)
    methods = (
        f"pCN 2x{draws}+{draws // 2}",
        f"Laplace-pCN 2x{draws}+{draws // 2}",
        f"MLDA 2 levels, J<=10, error model, pCN base, 2x{mlda_draws}",
        f"MLDA 2 levels, J<=10, error model, Laplace-pCN base, 2x{mlda_draws}",
    )
    rows = []
    for method, tree in zip(methods, trees, strict=True):
        evals = np.atleast_2d(tree["sample_stats"]["likelihood_evaluations"].values.T).T
        rows.append(_row(label, method, tree, evals[..., -1].sum()))
    ref = lap["posterior"]["m"].values.mean(axis=(0, 1))
    for row, tree in zip(rows, trees, strict=True):
        mean = tree["posterior"]["m"].values.mean(axis=(0, 1))
        row["post_mean_rms_vs_laplace_pcn"] = float(np.sqrt(np.mean((mean - ref) ** 2)))
    base = rows[0]["min_ess_per_1000_fine_evals"]
    for row in rows:
        row["ess_per_fine_eval_vs_pcn"] = row["min_ess_per_1000_fine_evals"] / base
    return rows


def run(quick: bool = False) -> list[dict]:
    """All rows: NUTS adaptations (part 1), then the gradient-free samplers (part 2)."""
    return nuts_adaptation(quick) + gradient_free(quick)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    from run import module_main

    sys.exit(module_main(run, __doc__))
