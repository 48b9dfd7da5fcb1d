"""The elliptic benchmark of issue 17: NUTS, pCN, Laplace-pCN and delayed acceptance side by side.

The problem is :func:`bayesinv.operators.elliptic.problems.elliptic_benchmark` (unit square,
``f = 10``, ``u = 0`` on the boundary, 8x8 blocks of ``log a ~ N(0, 2^2)``, Q1 on a 32x32
mesh, 169 point observations, ``σ = 0.05``). In one run, each sampler on the same posterior:

- NUTS (``bayesinv.sample``, nutpie, default adaptation) on the PyMC model with
  ``ForwardOp(problem.operator)``;
- pCN (prior reference) and Laplace-pCN (Gauss–Newton Laplace reference) on the fine model;
- two-level delayed acceptance (MLDA), fine = the 32x32 mesh, coarse = the same physics on a
  16x16 mesh (``problem.operator_on(16)``), adaptive error model, Laplace-pCN base;
- the same with the homogenized model (``problem.homogenized_on(4, 16)``) as coarse level.

Reported per sampler: min and median bulk ESS over the 64 coefficients, ESS per second of
sampling (compilation and Laplace fits excluded, reported apart), ESS per fine-model
evaluation (NUTS: per gradient evaluation, each one compiled logp+gradient that costs about
1.2 forward solves because the factor of the forward solve is reused by the adjoint), max
R-hat, and the max over coefficients of the standardized difference of the posterior mean
to NUTS's, ``|m_s - m_NUTS| / sqrt(mcse_s^2 + mcse_NUTS^2)`` (about N(0, 1) per coefficient
when both agree, so a max over 64 of up to ~3.2 is agreement).

Usage: ``python benchmarks/bench_elliptic_samplers.py [--quick]`` (prints the table) or
``python benchmarks/run.py --only elliptic_samplers``. The modes below are mutually
exclusive; ``--help`` lists them with their options and defaults.

One configuration of NUTS alone: ``python benchmarks/bench_elliptic_samplers.py --nuts
[--laplace] [--adaptation low_rank] [--draws N] [--tune N]`` (``--laplace``: in the
coordinates of the fine level's Gauss–Newton Laplace approximation). Gradient-free samplers
run to convergence on a cheaper level of the same problem (4x4 blocks, 16x16 mesh, MLDA's
coarse level 8x8): ``python benchmarks/bench_elliptic_samplers.py --gradient-free
[--pcn-draws N] [--lpcn-draws N] [--mlda-draws N] [--seed S]``; the same on the 64-unknown
benchmark itself with ``--blocks 8 --mesh 32``. Plain pCN alone in independent runs (its
min-ESS per fine evaluation and that estimate's spread, to project a converged run):
``--pcn-repeats DRAWS --seeds 1,2``. Measured tables: ``docs/samplers.md``.

Warm-started comparison on the 64-unknown benchmark (NUTS reference saved to a file, then
pCN and Laplace-pCN by the compiled loop and MLDA, every chain started at a NUTS draw):
``python benchmarks/bench_elliptic_samplers.py --nuts-reference nuts.npz [--draws N --tune N
--seed S]`` then ``python benchmarks/bench_elliptic_samplers.py --warm-start --nuts-file
nuts.npz [--pcn-steps N] [--pcn-chains C] [--lpcn-steps N] [--lpcn-tempering TAU]
[--mlda-draws N] [--mlda-reference laplace|prior] [--mlda-subchain J] [--only
pcn,lpcn,mlda] [--save-dir DIR]`` (the second runs NUTS itself when the file does not
exist). CPU per pCN step, compiled and Python loops, against the bare forward kernel:
``--overhead [--steps N]``.

pCN against random-walk Metropolis as the coefficient is refined with the mesh (16², 32²,
64² unknowns): ``python benchmarks/bench_elliptic_samplers.py --refinement [--steps N]``.

Full-size simulation-based calibration (not part of ``run.py``: it measures calibration, not
speed): ``python benchmarks/bench_elliptic_samplers.py --sbc 200`` runs the SBC of
``tests/inference/test_mcmc_elliptic.py`` (pCN; delayed acceptance; delayed acceptance with
its second-stage correction dropped, which must fail) with 200 replicates each.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from bayesinv.inference._sample_args import ADAPTATIONS

SEED = 1


def _summary(x: np.ndarray) -> dict:
    """ESS, R-hat and the posterior mean with its MCSE, from draws ``(chains, draws, 64)``."""
    import arviz as az

    ess = np.asarray(az.ess(x, method="bulk"), dtype=float)
    mcse = np.asarray(az.mcse(x, method="mean"), dtype=float)
    return {
        "ess": ess,
        "rhat": float(np.max(np.asarray(az.rhat(x), dtype=float))),
        "mean": x.mean(axis=(0, 1)),
        "mcse": mcse,
    }


def _row(method, x, wall, fine_evals, extra=None) -> dict:
    s = _summary(x)
    row = {
        "benchmark": "elliptic_samplers",
        "case": "elliptic 8x8 blocks, Q1 32x32, 169 obs, sigma 0.05",
        "method": method,
        "draws": int(x.shape[0] * x.shape[1]),
        "min_ess": float(s["ess"].min()),
        "median_ess": float(np.median(s["ess"])),
        "max_rhat": s["rhat"],
        "wall_s": float(wall),
        "min_ess_per_s": float(s["ess"].min() / wall),
        "median_ess_per_s": float(np.median(s["ess"]) / wall),
        "fine_evals": int(fine_evals),
        "min_ess_per_1000_fine": float(1000 * s["ess"].min() / fine_evals),
        "median_ess_per_1000_fine": float(1000 * np.median(s["ess"]) / fine_evals),
    }
    row.update(extra or {})
    print({k: v for k, v in row.items()}, file=sys.stderr, flush=True)  # partial results
    row["_summary"] = s
    return row


def _laplace_preconditioner(model, laplace):
    """The Gauss–Newton Laplace approximation ``N(m_MAP, C)`` as NUTS's change of variables.

    ``x = m_MAP + A z`` with ``A = diag(s) V diag(sqrt(w)) V^T``, ``s = sqrt(diag C)`` and
    ``V diag(w) V^T`` the correlation matrix of ``C``: ``A A^T = C`` (all 64 directions).
    """
    from bayesinv.inference.preconditioning import Preconditioner, unconstrained_layout

    cov = laplace.cov()
    s = np.sqrt(np.diag(cov))
    w, v = np.linalg.eigh(cov / np.outer(s, s))
    return Preconditioner(
        laplace.map, s, v, np.sqrt(np.maximum(w, 1e-12)), unconstrained_layout(model)
    )


def _nuts(problem, draws, seed, adaptation=None, laplace=None, tune=None, chains=2):
    """NUTS on the PyMC model; with ``laplace`` in the coordinates of that approximation."""
    import pymc as pm

    import bayesinv
    from bayesinv.inference import compile_model
    from bayesinv.inference.preconditioning import precondition
    from bayesinv.ops import ForwardOp

    tune = draws if tune is None else tune
    with pm.Model() as model:
        log_a = pm.Normal("log_a", 0.0, problem.prior_sd, shape=problem.grid.size)
        pm.Normal("u", ForwardOp(problem.operator)(log_a), problem.sigma, observed=problem.data)
    t0 = time.perf_counter()
    if laplace is not None:
        model = precondition(model, _laplace_preconditioner(model, laplace))
    compiled = compile_model(model)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    tree = bayesinv.sample(
        compiled,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=2,
        random_seed=seed,
        progressbar=False,
        save_warmup=True,
        adaptation=adaptation,
    )
    wall = time.perf_counter() - t0
    stats = tree["sample_stats"]
    x = tree["posterior"]["log_a"].values
    extra = {
        "divergences": int(stats["diverging"].values.sum()),
        "setup_s": round(compile_s, 1),
        "total_wall_s": round(compile_s + wall, 1),
    }
    grads = int(stats["n_steps"].values.sum())
    if "warmup_sample_stats" in tree.children:  # the warm-up's gradients count too
        grads += int(tree["warmup_sample_stats"]["n_steps"].values.sum())
    extra["grad_evals_kept_only"] = int(stats["n_steps"].values.sum())
    how = f"adaptation={adaptation or 'diag'}" + (", Laplace-preconditioned" if laplace else "")
    method = f"NUTS (bayesinv.sample, nutpie, {how}), {chains}x{draws}+{tune}"
    row = _row(method, x, wall, grads, extra)
    row["_draws"] = x
    return row


def _targets(problem):
    from bayesinv.inference.mcmc import GaussianPriorTarget

    common = {"data": problem.data, "noise_sd": problem.sigma, "prior_sd": problem.prior_sd}
    fine = GaussianPriorTarget(forward=problem.operator, name="log_a", **common)
    mesh16 = GaussianPriorTarget(forward=problem.operator_on(16), name="log_a", **common)
    homog = GaussianPriorTarget(forward=problem.homogenized_on(4, 16), name="log_a", **common)
    return fine, mesh16, homog


def _laplace(target, seed):
    from bayesinv.inference import gauss_newton_laplace

    return gauss_newton_laplace(
        target.operator,
        target.data,
        prior_mean=target.prior_mean,
        prior_cov=target.prior_cov(),
        noise_sd=target.noise_sd,
        random_seed=seed,
        draws=1,
        chains=1,
    )


def _gradient_free(tree, method, extra=None):
    stats = tree["sample_stats"]
    evals = np.asarray(stats["likelihood_evaluations"].values)
    fine = evals.sum() if evals.ndim == 1 else evals[..., -1].sum()
    wall = float(tree.attrs["sampling_wall_time_s"])
    extra = dict(extra or {})
    extra["accept"] = round(float(stats["accept"].values.mean()), 3)
    return _row(method, tree["posterior"]["log_a"].values, wall, fine, extra)


def run(quick: bool = False) -> list[dict]:
    """All samplers on the benchmark problem, one run; rows with the comparison to NUTS."""
    from bayesinv.inference.mcmc import sample_mlda, sample_pcn
    from bayesinv.operators.elliptic.problems import elliptic_benchmark

    problem = elliptic_benchmark(SEED)
    fine, mesh16, homog = _targets(problem)
    nuts_draws = 300 if quick else 1000
    pcn_draws = 2000 if quick else 20000
    mlda_draws = 500 if quick else 4000
    common = {"chains": 2, "cores": 2, "random_seed": 7}
    rows = [_nuts(problem, nuts_draws, 7)]
    rows[0].pop("_draws")
    t0 = time.perf_counter()
    lap_fine = _laplace(fine, 1)
    lap_s = round(time.perf_counter() - t0, 1)
    lap_coarse = _laplace(mesh16, 1)
    pcn = sample_pcn(fine, draws=pcn_draws, tune=pcn_draws // 4, **common)
    rows.append(_gradient_free(pcn, f"pCN, 2x{pcn_draws}+{pcn_draws // 4}"))
    lap = sample_pcn(fine, reference=lap_fine, draws=pcn_draws, tune=pcn_draws // 4, **common)
    rows.append(
        _gradient_free(lap, f"Laplace-pCN, 2x{pcn_draws}+{pcn_draws // 4}", {"setup_s": lap_s})
    )
    mlda_args = {"draws": mlda_draws, "tune": mlda_draws // 4, "subchain_length": 10}
    for name, coarse in (("mesh 16x16", mesh16), ("homogenized 4x4 on 16x16", homog)):
        ref = lap_coarse if coarse is mesh16 else "laplace"
        tree = sample_mlda([coarse, fine], error_model=True, reference=ref, **mlda_args, **common)
        acc = np.asarray(tree["sample_stats"]["acceptance_rate"].values).mean(axis=0)
        rows.append(
            _gradient_free(
                tree,
                f"MLDA coarse={name}, J<=10, error model, Laplace-pCN base, 2x{mlda_draws}",
                {"fine_accept": round(float(acc[-1]), 3)},
            )
        )
    ref = rows[0]["_summary"]
    pcn_rate = rows[1]["min_ess_per_1000_fine"]
    for row in rows:
        s = row.pop("_summary")
        z = np.abs(s["mean"] - ref["mean"]) / np.sqrt(s["mcse"] ** 2 + ref["mcse"] ** 2)
        row["max_std_mean_diff_vs_nuts"] = float(z.max()) if row is not rows[0] else 0.0
        row["min_ess_per_fine_vs_pcn"] = row["min_ess_per_1000_fine"] / pcn_rate
    return rows


def full_sbc(n_sims: int) -> list[dict]:
    """The SBC studies of ``tests/inference/test_mcmc_elliptic.py`` with ``n_sims`` replicates."""
    import importlib.util
    from pathlib import Path

    from bayesinv.inference.mcmc import delayed_acceptance as da

    path = Path(__file__).resolve().parent.parent / "tests/inference/test_mcmc_elliptic.py"
    spec = importlib.util.spec_from_file_location("test_mcmc_elliptic", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = []
    correct = da._fine_log_ratio
    studies = (("pCN", module._sbc_pcn, True), ("delayed acceptance", module._sbc_da, True))
    studies += (
        ("delayed acceptance, correction dropped (negative control)", module._sbc_da, False),
    )
    for name, study, keep in studies:
        da._fine_log_ratio = correct if keep else (lambda fn, fo, cn, co: fn - fo)
        t0 = time.perf_counter()
        try:
            result = study(n_sims)
        finally:
            da._fine_log_ratio = correct
        rows.append(
            {
                "benchmark": "elliptic_samplers_sbc",
                "case": f"1-D elliptic, 3 layers, {n_sims} replicates",
                "method": name,
                "passed": bool(result.passed),
                "verdict": result.verdict,
                "wall_s": round(time.perf_counter() - t0, 1),
            }
        )
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def run_nuts(draws: int, tune: int, adaptation: str | None, laplace: bool) -> list[dict]:
    """NUTS alone on the benchmark problem (one configuration); with ``laplace`` preconditioned."""
    from bayesinv.operators.elliptic.problems import elliptic_benchmark

    problem = elliptic_benchmark(SEED)
    extra = {}
    lap = None
    if laplace:
        t0 = time.perf_counter()
        lap = _laplace(_targets(problem)[0], 1)
        extra["laplace_s"] = round(time.perf_counter() - t0, 1)
    row = _nuts(problem, draws, 7, adaptation=adaptation, laplace=lap, tune=tune)
    row.pop("_summary")
    row.pop("_draws")
    row.update(extra)
    return [row]


def run_gradient_free(
    pcn_draws: int,
    mlda_draws: int,
    lpcn_draws: int | None = None,
    n_blocks: int = 4,
    mesh: int = 16,
    seed: int = 7,
):
    """pCN, Laplace-pCN and MLDA on a cheaper level of the benchmark, run until they converge.

    The benchmark's physics, data layout and noise with ``n_blocks x n_blocks`` coefficient
    blocks on a ``mesh``² Q1 mesh (default 16 unknowns on 16x16); MLDA's coarse level is the
    same physics on a ``mesh/2`` mesh with the error model. Laplace-pCN and MLDA share one
    Gauss–Newton Laplace fit of the fine level (their reference; not counted). Rows as in
    :func:`run`, with the standardized difference of each mean to Laplace-pCN's.
    """
    from bayesinv.inference.mcmc import GaussianPriorTarget, sample_mlda, sample_pcn
    from bayesinv.operators.elliptic.problems import elliptic_benchmark

    problem = elliptic_benchmark(SEED, mesh=mesh, n_blocks=n_blocks)
    common = {"data": problem.data, "noise_sd": problem.sigma, "prior_sd": problem.prior_sd}
    fine = GaussianPriorTarget(forward=problem.operator, name="log_a", **common)
    coarse = GaussianPriorTarget(forward=problem.operator_on(mesh // 2), name="log_a", **common)
    t0 = time.perf_counter()
    lap = _laplace(fine, 1)
    lap_s = round(time.perf_counter() - t0, 1)
    run_args = {"chains": 2, "cores": 2, "random_seed": seed}
    case = f"elliptic {n_blocks}x{n_blocks} blocks, Q1 {mesh}x{mesh}, 169 obs, sigma 0.05"
    rows = []
    pcn = sample_pcn(fine, draws=pcn_draws, tune=pcn_draws // 4, **run_args)
    rows.append(_gradient_free(pcn, f"pCN, 2x{pcn_draws}+{pcn_draws // 4}"))
    n_l = pcn_draws if lpcn_draws is None else lpcn_draws
    lpcn = sample_pcn(fine, reference=lap, draws=n_l, tune=n_l // 4, **run_args)
    rows.append(_gradient_free(lpcn, f"Laplace-pCN, 2x{n_l}+{n_l // 4}", {"setup_s": lap_s}))
    tree = sample_mlda(
        [coarse, fine],
        draws=mlda_draws,
        tune=mlda_draws // 4,
        subchain_length=10,
        error_model=True,
        reference=lap,
        **run_args,
    )
    acc = np.asarray(tree["sample_stats"]["acceptance_rate"].values).mean(axis=0)
    rows.append(
        _gradient_free(
            tree,
            f"MLDA coarse=mesh {mesh // 2}, J<=10, error model, Laplace-pCN base, "
            f"2x{mlda_draws}+{mlda_draws // 4}",
            {"fine_accept": round(float(acc[-1]), 3)},
        )
    )
    ref = rows[1]["_summary"]
    pcn_rate = rows[0]["min_ess_per_1000_fine"]
    lpcn_rate = rows[1]["min_ess_per_1000_fine"]
    for row in rows:
        s = row.pop("_summary")
        z = np.abs(s["mean"] - ref["mean"]) / np.sqrt(s["mcse"] ** 2 + ref["mcse"] ** 2)
        row["case"] = case
        row["max_std_mean_diff_vs_laplace_pcn"] = float(z.max()) if row is not rows[1] else 0.0
        row["min_ess_per_fine_vs_pcn"] = row["min_ess_per_1000_fine"] / pcn_rate
        row["min_ess_per_fine_vs_laplace_pcn"] = row["min_ess_per_1000_fine"] / lpcn_rate
    return rows


def run_pcn_repeats(draws: int, seeds, n_blocks: int = 8, mesh: int = 32) -> list[dict]:
    """Plain pCN alone, independent runs: min-ESS per fine evaluation and its spread.

    One row per seed (2 chains of ``draws`` + ``draws // 4`` tuning steps each, prior
    reference), on the benchmark's ``n_blocks x n_blocks`` blocks and ``mesh``² Q1 mesh
    (default: the 64-unknown benchmark itself). Used to project how many fine evaluations a
    converged plain-pCN run needs when one run cannot afford it.
    """
    from bayesinv.inference.mcmc import GaussianPriorTarget, sample_pcn
    from bayesinv.operators.elliptic.problems import elliptic_benchmark

    problem = elliptic_benchmark(SEED, mesh=mesh, n_blocks=n_blocks)
    common = {"data": problem.data, "noise_sd": problem.sigma, "prior_sd": problem.prior_sd}
    fine = GaussianPriorTarget(forward=problem.operator, name="log_a", **common)
    rows = []
    for seed in seeds:
        tree = sample_pcn(fine, draws=draws, tune=draws // 4, chains=2, cores=2, random_seed=seed)
        row = _gradient_free(tree, f"pCN seed {seed}, 2x{draws}+{draws // 4}")
        row.pop("_summary")
        row["case"] = f"elliptic {n_blocks}x{n_blocks} blocks, Q1 {mesh}x{mesh}"
        rows.append(row)
    return rows


def run_refinement(steps: int = 500, meshes=(16, 32, 64), betas=(0.05, 0.1, 0.2)):
    """pCN and random-walk acceptance at fixed steps as the coefficient is refined with the mesh.

    :func:`~bayesinv.operators.elliptic.problems.refined_field_problem` (``log a`` a
    Matérn-type field on the Q1 mesh itself, ``mesh²`` unknowns, 49 observations, σ = 0.2);
    each chain starts at the truth (an exact posterior draw) and takes ``steps`` proposals
    with a fixed step β, pCN with the package's kernel, the random walk
    ``z' = z + βξ`` in the same prior-whitened coordinates with the prior ratio in its
    acceptance (the test ``test_pcn_acceptance_is_flat_under_refinement_while_random_walk_
    collapses`` runs the same at β = 0.1 and 120 steps).
    """
    import importlib.util
    from pathlib import Path

    from bayesinv.inference.mcmc import GaussianPriorTarget
    from bayesinv.operators.elliptic.problems import refined_field_problem

    path = Path(__file__).resolve().parent.parent / "tests/inference/test_mcmc_elliptic.py"
    spec = importlib.util.spec_from_file_location("test_mcmc_elliptic", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = []
    for mesh in meshes:
        problem = refined_field_problem(3, mesh, sigma=0.2)
        target = GaussianPriorTarget(
            forward=problem.forward,
            data=problem.data,
            noise_sd=problem.sigma,
            prior_sd=1.0,
            n=mesh * mesh,
        )
        row = {"benchmark": "elliptic_refinement", "mesh": f"{mesh}x{mesh}", "unknowns": mesh**2}
        t0 = time.perf_counter()
        for beta in betas:
            for kind in ("pcn", "rwm"):
                rng = np.random.default_rng(mesh)
                rate = module._acceptance(target, problem.truth, beta, steps, rng, kind)
                row[f"{kind}_accept_beta_{beta}"] = round(rate, 3)
        row["wall_s"] = round(time.perf_counter() - t0, 1)
        print(row, file=sys.stderr, flush=True)
        rows.append(row)
    return rows


def _cpu_s() -> float:
    """CPU seconds of this process so far (all threads, user + system)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def nuts_reference(path=None, draws: int = 1000, tune: int = 1000, seed: int = 7, chains: int = 2):
    """NUTS on the 64-unknown benchmark (diag adaptation, ``chains`` chains): row and draws.

    With ``path`` an ``.npz`` file: loaded when it exists (the row as it was measured),
    else run and saved there, so that the warm-started samplers of :func:`run_warm` can be
    re-run without NUTS.
    """
    import json
    from pathlib import Path

    from bayesinv.operators.elliptic.problems import elliptic_benchmark

    if path is not None and Path(path).exists():
        saved = np.load(path)
        return json.loads(str(saved["row"])), saved["draws"]
    c0 = _cpu_s()
    row = _nuts(elliptic_benchmark(SEED), draws, seed, adaptation="diag", tune=tune, chains=chains)
    row["cpu_s"] = round(_cpu_s() - c0, 1)
    x = row.pop("_draws")
    row.pop("_summary")
    if path is not None:
        np.savez(path, draws=x, row=json.dumps(row))
    return row, x


def _starts(nuts_draws, chains: int, seed: int) -> np.ndarray:
    """``chains`` NUTS draws as starting points, taken alternately from its chains at random."""
    rng = np.random.default_rng(seed)
    n_chains, n_draws = nuts_draws.shape[:2]
    picks = rng.choice(n_draws, size=chains, replace=False)
    return np.stack([nuts_draws[c % n_chains, picks[c]] for c in range(chains)])


def _iat_rows(row, x, steps_per_draw: int) -> None:
    """Integrated autocorrelation time (in steps) of the slowest coefficient, full and half."""
    import arviz as az

    n_chains, n_draws = x.shape[:2]
    for label, part in (("half", x[:, : n_draws // 2]), ("full", x)):
        ess = np.asarray(az.ess(part, method="bulk"), dtype=float)
        steps = n_chains * part.shape[1] * steps_per_draw
        row[f"iat_slowest_steps_{label}"] = round(steps / ess.min(), 0)
    row["chain_steps_per_iat"] = round(n_draws * steps_per_draw / row["iat_slowest_steps_full"], 1)


def _warm_row(tree, method, c0, ref_summary, steps_per_draw=None, extra=None, save=None):
    if save is not None:  # the draws, to compare with another reference later
        np.save(save, tree["posterior"]["log_a"].values)
    extra = dict(extra or {})
    extra["cpu_s"] = round(_cpu_s() - c0, 1)
    row = _gradient_free(tree, method, extra)
    s = row.pop("_summary")
    z = (s["mean"] - ref_summary["mean"]) / np.sqrt(s["mcse"] ** 2 + ref_summary["mcse"] ** 2)
    row["max_abs_std_mean_diff_vs_nuts"] = round(float(np.abs(z).max()), 2)
    row["rms_std_mean_diff_vs_nuts"] = round(float(np.sqrt(np.mean(z**2))), 2)
    if steps_per_draw is not None:
        _iat_rows(row, tree["posterior"]["log_a"].values, steps_per_draw)
    return row


def run_warm(
    nuts_path=None,
    pcn_steps: int = 200000,
    pcn_chains: int = 4,
    lpcn_steps: int = 50000,
    mlda_draws: int = 4000,
    seed: int = 7,
    only=("pcn", "lpcn", "mlda"),
    save_dir=None,
    mlda_reference: str = "laplace",
    mlda_subchain: int = 10,
    lpcn_tempering: float = 1.0,
) -> list[dict]:
    """NUTS reference, then pCN, Laplace-pCN and MLDA warm-started from NUTS draws.

    The 64-unknown benchmark. NUTS: :func:`nuts_reference` (2x(1000+1000), diag). Each
    gradient-free chain starts at a NUTS draw (``initial_points``), so the comparison
    measures stationary mixing, not burn-in; pCN and Laplace-pCN run the compiled loop
    (``compiled=True``), with ``steps // 20`` tuning steps, thinned to at most 20000 draws
    per chain; MLDA: coarse level the 16x16 mesh with the error model, J <=
    ``mlda_subchain``, pCN base with the fine level's Gauss–Newton fit as reference
    (``mlda_reference="laplace"``) or the prior (``"prior"``), ``mlda_draws // 4`` tuning
    steps. ESS per fine evaluation counts every evaluation, tuning included. The rows carry the
    standardized differences of the 64 posterior means to NUTS's (max and rms; about
    N(0, 1) each when they agree) and, for pCN, the integrated autocorrelation time of the
    slowest coefficient in steps from the first half and from the whole chains. Laplace-pCN's
    reference is the Gauss–Newton fit tempered by ``lpcn_tempering`` (``1``: the fit itself;
    :meth:`~bayesinv.inference.laplace.GaussianApproximation.tempered`). With ``save_dir``
    each sampler's draws are saved there (``{name}.npy``; Laplace-pCN with tempering
    ``τ < 1``: ``lpcn_t{τ}.npy``).
    """
    from pathlib import Path

    from bayesinv.inference.mcmc import sample_mlda, sample_pcn
    from bayesinv.operators.elliptic.problems import elliptic_benchmark

    nuts_row, nuts_x = nuts_reference(nuts_path)
    ref = _summary(nuts_x)
    nuts_row["min_ess_per_fine_vs_pcn"] = None
    rows = [nuts_row]
    problem = elliptic_benchmark(SEED)
    fine, mesh16, _ = _targets(problem)
    if mlda_reference not in ("laplace", "prior"):
        raise ValueError(f"mlda_reference must be 'laplace' or 'prior', got {mlda_reference!r}")
    mlda_on_laplace = mlda_reference == "laplace"
    need_lap = "lpcn" in only or ("mlda" in only and mlda_on_laplace)
    lap = _laplace(fine, 1) if need_lap else None
    tempered = lpcn_tempering != 1.0
    for name, reference, steps, chains in (
        ("pcn", "prior", pcn_steps, pcn_chains),
        ("lpcn", lap.tempered(lpcn_tempering) if "lpcn" in only else None, lpcn_steps, 2),
    ):
        if name not in only:
            continue
        thin = max(1, steps // 20000)
        c0 = _cpu_s()
        tree = sample_pcn(
            fine,
            draws=steps // thin,
            tune=steps // 20,
            thin=thin,
            chains=chains,
            cores=2,
            random_seed=seed,
            reference=reference,
            initial_points=_starts(nuts_x, chains, seed),
            compiled=True,
        )
        label = "pCN" if name == "pcn" else "Laplace-pCN"
        if name == "lpcn" and tempered:
            label, name = f"Laplace-pCN tempered {lpcn_tempering:g}", f"lpcn_t{lpcn_tempering:g}"
        method = f"{label}, warm, compiled, {chains}x({steps}+{steps // 20}), thin {thin}"
        save = None if save_dir is None else Path(save_dir) / f"{name}.npy"
        rows.append(_warm_row(tree, method, c0, ref, thin, save=save))
    if "mlda" in only:
        c0 = _cpu_s()
        tree = sample_mlda(
            [mesh16, fine],
            draws=mlda_draws,
            tune=mlda_draws // 4,
            subchain_length=mlda_subchain,
            error_model=True,
            reference=lap if mlda_on_laplace else "prior",
            chains=2,
            cores=2,
            random_seed=seed,
            initial_points=_starts(nuts_x, 2, seed),
        )
        acc = np.asarray(tree["sample_stats"]["acceptance_rate"].values).mean(axis=0)
        base = "Laplace-pCN" if mlda_on_laplace else "pCN"
        method = (
            f"MLDA, warm, coarse mesh 16x16, J<={mlda_subchain}, error model, {base} base, "
            f"2x({mlda_draws}+{mlda_draws // 4})"
        )
        name = "mlda" if mlda_on_laplace else "mlda_prior"
        save = None if save_dir is None else Path(save_dir) / f"{name}.npy"
        extra = {"fine_accept": round(float(acc[-1]), 3)}
        rows.append(_warm_row(tree, method, c0, ref, 1, extra, save=save))
    pcn = [r for r in rows if r["method"].startswith("pCN")]
    for row in rows[1:]:
        if pcn:
            row["min_ess_per_fine_vs_pcn"] = round(
                row["min_ess_per_1000_fine"] / pcn[0]["min_ess_per_1000_fine"], 2
            )
    return rows


def run_overhead(steps: int = 4000) -> list[dict]:
    """CPU per pCN step, compiled and Python loops, against the bare forward kernel (one run).

    On the 64-unknown benchmark: ``steps`` calls of ``op.numba_kernels().forward`` at
    prior draws, then one chain of ``steps`` pCN steps by the compiled loop and by the
    Python loop (``compiled=True/False``; compilation done beforehand, not counted).
    """
    from bayesinv.inference.mcmc import sample_pcn
    from bayesinv.operators.elliptic.problems import elliptic_benchmark

    problem = elliptic_benchmark(SEED)
    fine = _targets(problem)[0]
    kernel = problem.operator.numba_kernels().forward
    args = {"tune": 0, "chains": 1, "cores": 1, "random_seed": 1}
    for compiled in (True, False):
        sample_pcn(fine, draws=5, compiled=compiled, **args)  # compile
    xs = np.random.default_rng(0).normal(0.0, problem.prior_sd, (steps, problem.grid.size))
    c0 = _cpu_s()
    for x in xs:
        kernel(x)
    bare = (_cpu_s() - c0) / steps
    row = {"benchmark": "pcn_overhead", "steps": steps, "bare_kernel_cpu_ms": 1e3 * bare}
    for compiled in (True, False):
        c0 = _cpu_s()
        sample_pcn(fine, draws=steps, compiled=compiled, **args)
        per = (_cpu_s() - c0) / (steps + 1)
        name = "compiled" if compiled else "python"
        row[f"{name}_step_cpu_ms"] = 1e3 * per
        row[f"{name}_overhead_vs_kernel"] = per / bare
    return [row]


def _comma_list(convert, allowed=None):
    """Argparse type: a comma-separated list (``"1,2,3"``) as a tuple, items checked."""

    def parse(text: str) -> tuple:
        try:
            items = tuple(convert(v) for v in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a comma-separated list of {convert.__name__}"
            ) from None
        bad = [v for v in items if allowed is not None and v not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"{bad[0]!r} is not one of {', '.join(allowed)}")
        return items

    return parse


#: The command line's modes (flag, argparse arguments, help), mutually exclusive; none of
#: them: the comparison table of :func:`run`.
_MODES = (
    (
        "--nuts-reference",
        {"metavar": "FILE"},
        "NUTS reference run on the 64-unknown benchmark, saved to FILE "
        "(.npz; loaded instead when it exists)",
    ),
    ("--warm-start", {"action": "store_true"}, "pCN, Laplace-pCN and MLDA started at NUTS draws"),
    (
        "--overhead",
        {"action": "store_true"},
        "CPU per pCN step, compiled and Python loops, against the bare forward kernel",
    ),
    ("--nuts", {"action": "store_true"}, "one configuration of NUTS alone"),
    (
        "--gradient-free",
        {"action": "store_true"},
        "pCN, Laplace-pCN and MLDA run to convergence on a cheaper level "
        "(4x4 blocks, 16x16 mesh; see --blocks, --mesh)",
    ),
    (
        "--pcn-repeats",
        {"metavar": "DRAWS", "type": int},
        "plain pCN alone in independent runs (one per seed) of 2 chains x DRAWS draws",
    ),
    (
        "--refinement",
        {"action": "store_true"},
        "pCN against random-walk Metropolis as the coefficient is refined with the mesh",
    ),
    (
        "--sbc",
        {"metavar": "N", "type": int},
        "full-size simulation-based calibration with N replicates per sampler",
    ),
)

#: The options (flag, argparse arguments, help), each an option of the modes in ``_USES``.
_OPTIONS = (
    ("--quick", {"action": "store_true"}, "reduced sizes and draws"),
    ("--draws", {"metavar": "N", "type": int}, "NUTS draws per chain"),
    ("--tune", {"metavar": "N", "type": int}, "NUTS tuning steps per chain"),
    ("--chains", {"metavar": "C", "type": int}, "NUTS chains"),
    (
        "--adaptation",
        {"choices": ADAPTATIONS},  # those bayesinv.sample accepts
        "NUTS mass-matrix adaptation, by default bayesinv.sample's",
    ),
    (
        "--laplace",
        {"action": "store_true"},
        "NUTS in the coordinates of the fine level's Gauss-Newton Laplace approximation",
    ),
    (
        "--nuts-file",
        {"metavar": "FILE"},
        "NUTS reference .npz as --nuts-reference writes it, run and saved there if "
        "missing; without it NUTS runs, unsaved",
    ),
    ("--pcn-steps", {"metavar": "N", "type": int}, "pCN steps per chain"),
    ("--pcn-chains", {"metavar": "C", "type": int}, "pCN chains"),
    ("--lpcn-steps", {"metavar": "N", "type": int}, "Laplace-pCN steps per chain"),
    (
        "--lpcn-tempering",
        {"metavar": "TAU", "type": float},
        "Laplace-pCN's reference: the Gauss-Newton fit with the data's curvature times TAU "
        "in (0, 1]",
    ),
    (
        "--only",
        {"metavar": "NAMES", "type": _comma_list(str, ("pcn", "lpcn", "mlda"))},
        "samplers to run, comma-separated from pcn, lpcn, mlda",
    ),
    (
        "--save-dir",
        {"metavar": "DIR"},
        "folder for each sampler's draws, NAME.npy; without it, not saved",
    ),
    ("--pcn-draws", {"metavar": "N", "type": int}, "pCN draws per chain"),
    ("--lpcn-draws", {"metavar": "N", "type": int}, "Laplace-pCN draws per chain"),
    ("--mlda-draws", {"metavar": "N", "type": int}, "MLDA draws per chain"),
    (
        "--mlda-reference",
        {"choices": ("laplace", "prior")},
        "reference of MLDA's level-0 pCN steps: the fine level's Gauss-Newton fit or the prior",
    ),
    ("--mlda-subchain", {"metavar": "J", "type": int}, "MLDA's largest subchain length"),
    ("--blocks", {"metavar": "B", "type": int}, "B x B blocks of log a, 8 for the benchmark"),
    ("--mesh", {"metavar": "M", "type": int}, "M x M Q1 mesh, 32 for the benchmark"),
    ("--seeds", {"metavar": "S,S,...", "type": _comma_list(int)}, "seeds of the runs"),
    (
        "--steps",
        {"metavar": "N", "type": int},
        "pCN steps: timed by --overhead, per chain in --refinement",
    ),
    ("--seed", {"metavar": "S", "type": int}, "random seed"),
)

#: Per mode (its ``dest``; ``None``: no mode), the options it takes and their defaults.
_USES = {
    None: {"quick": False},
    "nuts_reference": {"draws": 1000, "tune": 1000, "seed": 7, "chains": 2},
    "warm_start": {
        "nuts_file": None,
        "pcn_steps": 200000,
        "pcn_chains": 4,
        "lpcn_steps": 50000,
        "mlda_draws": 4000,
        "seed": 7,
        "only": ("pcn", "lpcn", "mlda"),
        "save_dir": None,
        "mlda_reference": "laplace",
        "mlda_subchain": 10,
        "lpcn_tempering": 1.0,
    },
    "overhead": {"steps": 4000},
    "nuts": {"draws": 1000, "tune": 1000, "adaptation": None, "laplace": False},
    "gradient_free": {
        "pcn_draws": 100000,
        "mlda_draws": 2000,
        "lpcn_draws": 10000,
        "blocks": 4,
        "mesh": 16,
        "seed": 7,
    },
    "pcn_repeats": {"seeds": (1, 2, 3)},
    "refinement": {"steps": 500},
    "sbc": {},
}


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _flag(dest) -> str:
    return "the default run" if dest is None else "--" + dest.replace("_", "-")


def _uses_text(dest: str) -> str:
    """Which modes take the option ``dest``, with their defaults, for the help."""
    uses = {mode: opts[dest] for mode, opts in _USES.items() if dest in opts}
    shown = {m: ",".join(map(str, d)) if isinstance(d, tuple) else d for m, d in uses.items()}
    if len(set(map(str, shown.values()))) == 1:
        default = next(iter(shown.values()))
        text = f"with {', '.join(map(_flag, uses))}"
        return (
            text if default is None or isinstance(default, bool) else f"{text}; default {default}"
        )
    return "default " + "; ".join(f"{_flag(m)}: {d}" for m, d in shown.items())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Without a mode: the comparison table of all samplers (--quick: reduced). "
        "Commands and measured tables: docs/samplers.md.",
        allow_abbrev=False,
    )
    modes = parser.add_argument_group("modes (at most one)").add_mutually_exclusive_group()
    for flag, kwargs, text in _MODES:  # default None, flags too: given or not
        modes.add_argument(flag, default=None, help=text, **kwargs)
    options = parser.add_argument_group("options of the modes")
    for flag, kwargs, text in _OPTIONS:
        options.add_argument(
            flag, default=None, help=f"{text} ({_uses_text(_dest(flag))})", **kwargs
        )
    return parser


def main(argv=None) -> int:
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    from run import format_table

    parser = _parser()
    args = vars(parser.parse_args(argv))
    mode = next((_dest(flag) for flag, *_ in _MODES if args[_dest(flag)] is not None), None)
    uses = _USES[mode]
    for flag, *_ in _OPTIONS:
        if _dest(flag) not in uses and args[_dest(flag)] is not None:
            parser.error(f"{flag} is not an option of {_flag(mode)} ({_uses_text(_dest(flag))})")
    a = {dest: default if args[dest] is None else args[dest] for dest, default in uses.items()}
    if mode == "nuts_reference":
        row, _ = nuts_reference(
            args["nuts_reference"], a["draws"], a["tune"], a["seed"], a["chains"]
        )
        rows = [row]
    elif mode == "warm_start":
        rows = run_warm(
            a["nuts_file"],
            a["pcn_steps"],
            a["pcn_chains"],
            a["lpcn_steps"],
            a["mlda_draws"],
            seed=a["seed"],
            only=a["only"],
            save_dir=a["save_dir"],
            mlda_reference=a["mlda_reference"],
            mlda_subchain=a["mlda_subchain"],
            lpcn_tempering=a["lpcn_tempering"],
        )
    elif mode == "overhead":
        rows = run_overhead(a["steps"])
    elif mode == "nuts":
        rows = run_nuts(a["draws"], a["tune"], a["adaptation"], a["laplace"])
    elif mode == "gradient_free":
        rows = run_gradient_free(
            a["pcn_draws"],
            a["mlda_draws"],
            a["lpcn_draws"],
            n_blocks=a["blocks"],
            mesh=a["mesh"],
            seed=a["seed"],
        )
    elif mode == "pcn_repeats":
        rows = run_pcn_repeats(args["pcn_repeats"], list(a["seeds"]))
    elif mode == "refinement":
        rows = run_refinement(a["steps"])
    elif mode == "sbc":
        rows = full_sbc(args["sbc"])
    else:
        rows = run(quick=a["quick"])
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
