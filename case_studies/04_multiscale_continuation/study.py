"""Case study 04: cold-start NUTS against coarse-to-fine continuation, at several resolutions.

The same linear problem (surface gravity over two bodies, Haar-wavelet Besov prior on the
density contrast) is solved on square grids of increasing size. For each size:

- *cold*: nutpie NUTS on the full model from PyMC's default (jittered) start, with the
  standard warm-up;
- *continuation*: Laplace approximations of the model restricted to wavelet levels
  ``0..ℓ`` for ``ℓ = 0..L-1`` (:func:`bayesinv.inference.continuation`, ``"laplace"``
  levels evaluated on the one compiled full model), each started from and preconditioned
  by the level before; then nutpie NUTS on the full model rewritten in the coordinates of
  the last coarse level's mass-matrix guess, zero-padded (unit scale for the finest
  coefficients), with a short warm-up;
- *finest Laplace* (ablation, ``ablation = true``): the same NUTS run, but with the guess
  from a Laplace approximation of the full model alone — no coarse levels.

For each run the draws are scanned in prefixes of ``check_every`` draws per chain to find
the first prefix at which every latent coefficient has R-hat < ``rhat_max`` and bulk ESS >=
``ess_min``. Its wall time is the compile time (plus the Laplace levels) plus the sampling
time in proportion to the leapfrog steps taken up to that draw (warm-up included), from
nutpie's per-draw ``n_steps``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

REQUIRED = {
    "resolutions": list,
    "extent": float,
    "n_receivers": int,
    "noise_sd": float,
    "smoothness": float,
    "scale": float,
    "coarsest": int,
    "draws": int,
    "draws_cold": int,
    "tune_cold": int,
    "tune_continuation": int,
    "ablation": bool,
    "chains": int,
    "check_every": int,
    "rhat_max": float,
    "ess_min": float,
    "report_draws": int,
}

FIELD = "density"
LATENT = f"{FIELD}_raw"


def _problem(n: int, config: dict, rng: np.random.Generator):
    from bayesinv import Grid2D
    from bayesinv.multiscale import WaveletField
    from bayesinv.operators import Gravity2D
    from bayesinv.synthetic import Body, bodies_field, surface_line

    cell = config["extent"] / n
    grid = Grid2D(n, n, cell, cell)
    ext = config["extent"]
    truth = bodies_field(
        grid,
        [
            Body("rectangle", (0.3 * ext, 0.3 * ext), (0.2 * ext, 0.15 * ext), 300.0),
            Body("disk", (0.7 * ext, 0.4 * ext), (0.1 * ext, 0.1 * ext), -200.0),
        ],
    )
    receivers = surface_line(0.0, ext, config["n_receivers"])
    op = Gravity2D(grid, receivers)
    clean = op.forward(grid.ravel(truth))
    data = clean + rng.normal(0.0, config["noise_sd"], clean.size)
    levels = int(np.log2(n // config["coarsest"]))
    wavelet = WaveletField(grid, "haar", levels=levels)
    return grid, truth, receivers, op, clean, data, wavelet


def _builder(grid, op, data, wavelet, config):
    import pymc as pm

    from bayesinv.model.priors import besov_prior
    from bayesinv.ops import ForwardOp

    def build(level=None):
        with pm.Model() as model:
            m = besov_prior(
                FIELD,
                wavelet,
                s=config["smoothness"],
                p=2,
                scale=config["scale"],
                max_level=level,
                dims=(f"{FIELD}_z", f"{FIELD}_x"),
            )
            pm.Normal(
                "gravity",
                ForwardOp(op)(m),
                config["noise_sd"],
                observed=data,
            )
        return model

    return build


def _compile(model, observed_from=None):
    from bayesinv.inference.sampling import compile_model

    # only the coefficients are stored while sampling (the criterion is on them); the field
    # is computed from them afterwards, untimed, for every method alike (see _with_field).
    # observed_from: the original model when sampling a preconditioned one
    return compile_model(model, var_names=[LATENT], observed_from=observed_from)


def _nuts(model, config, draws, tune, seed, observed_from=None):
    from bayesinv.inference import sample

    t0 = time.perf_counter()
    compiled = _compile(model, observed_from)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    tree = sample(
        compiled,
        draws=draws,
        tune=tune,
        chains=config["chains"],
        random_seed=seed,
        save_warmup=True,
        progressbar=False,
    )
    sample_s = time.perf_counter() - t0
    return tree, compile_s, sample_s


def _preconditioned(full, preconditioner):
    from bayesinv.inference.preconditioning import precondition, unconstrained_layout

    return precondition(full, preconditioner.transfer(unconstrained_layout(full)))


def _laplace_then_nuts(build, config, seed, coarse_levels=None):
    """Laplace guess, then NUTS on the full model in its coordinates; timings included.

    With ``coarse_levels`` the guess is the continuation over levels ``0..coarse_levels-1``
    (evaluated on the full model); without, a Laplace approximation of the full model alone.
    """
    from bayesinv.inference import continuation

    t0 = time.perf_counter()
    full = build()
    if coarse_levels is None:
        levels = continuation(lambda level: full, 1, random_seed=seed, method="laplace")
    else:
        levels = continuation(build, coarse_levels, random_seed=seed, method="laplace", nested=full)
    pmodel = _preconditioned(full, levels.final.preconditioner)
    levels_s = time.perf_counter() - t0
    tree, compile_s, sample_s = _nuts(
        pmodel, config, config["draws"], config["tune_continuation"], seed, observed_from=full
    )
    return levels, (tree, levels_s, compile_s, sample_s, full)


def _warm_up(build):
    """Compile once untimed what every method compiles, so none pays numba's first compile."""
    from bayesinv.inference import continuation

    full = build()
    _compile(full)
    levels = continuation(build, 1, random_seed=0, method="laplace", nested=full)
    _compile(_preconditioned(full, levels.final.preconditioner))


def threshold_draws(tree, config) -> tuple[int | None, float, float, float]:
    """First draw count (per chain) with R-hat < rhat_max and bulk ESS >= ess_min everywhere.

    Prefixes are checked at multiples of ``5 * check_every`` draws first; the first that
    passes is then refined to the first multiple of ``check_every`` after the last failing
    coarse prefix that passes. This is the first passing multiple of ``check_every`` whenever
    passing is monotone in the draw count (it is up to sampling noise), at about a fifth of
    the cost of checking every multiple (each check ranks and transforms every coefficient).

    Returns ``(draws or None, fraction of leapfrog steps used by then, max R-hat, min bulk
    ESS of the full run)``.
    """
    import arviz as az

    x = np.asarray(tree["posterior"][LATENT].values)
    x = x.reshape(x.shape[0], x.shape[1], -1)
    warm = np.asarray(tree["warmup_sample_stats"]["n_steps"].values, dtype=float)
    steps = np.asarray(tree["sample_stats"]["n_steps"].values, dtype=float)
    total = warm.sum() + steps.sum()
    step = config["check_every"]
    coarse = 5 * step

    def passes(k):
        part = x[:, :k]
        return (
            float(np.max(np.asarray(az.rhat(part)))) < config["rhat_max"]
            and float(np.min(np.asarray(az.ess(part, method="bulk")))) >= config["ess_min"]
        )

    n = x.shape[1]
    candidates = list(range(coarse, n + 1, coarse))
    if not candidates or candidates[-1] != n // step * step:
        candidates.append(n // step * step)
    found, fraction, previous = None, np.nan, 0
    for k in candidates:
        if passes(k):
            found = next((j for j in range(previous + step, k, step) if passes(j)), k)
            fraction = (warm.sum() + steps[:, :found].sum()) / total
            break
        previous = k
    rhat = float(np.max(np.asarray(az.rhat(x))))
    ess = float(np.min(np.asarray(az.ess(x, method="bulk"))))
    return found, float(fraction), rhat, ess


def _with_field(tree, model, keep: int):
    """Thin to about ``keep`` draws, keep the coefficients, add the field computed from them."""
    import pymc as pm

    draws = tree["posterior"].sizes["draw"]
    step = max(1, int(np.ceil(draws * tree["posterior"].sizes["chain"] / keep)))
    out = tree.copy()
    for group in ("warmup_posterior", "warmup_sample_stats"):
        if group in out.children:
            out = out.drop_nodes(group)
    posterior = tree["posterior"].to_dataset()[[LATENT]].isel(draw=slice(None, None, step))
    out["posterior"] = pm.compute_deterministics(
        posterior, model=model, var_names=[FIELD], extend_dataset=True, progressbar=False
    )
    out["sample_stats"] = tree["sample_stats"].isel(draw=slice(None, None, step))
    return out


def _figure(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bayesinv.io import atomic_path

    sizes = sorted({r["grid"] for r in rows}, key=lambda s: int(s.split("x")[0]))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    methods = [
        m for m in ("cold", "continuation", "finest_laplace") if any(r["method"] == m for r in rows)
    ]
    width = 0.8 / len(methods)
    for j, method in enumerate(methods):
        t = [
            next(r["time_to_threshold_s"] for r in rows if r["grid"] == s and r["method"] == method)
            for s in sizes
        ]
        ess = [
            next(r["ess_per_s"] for r in rows if r["grid"] == s and r["method"] == method)
            for s in sizes
        ]
        xs = np.arange(len(sizes)) + (j - (len(methods) - 1) / 2) * width
        t_plot = [np.nan if v is None else v for v in t]
        axes[0].bar(xs, t_plot, width, label=method)
        for xi, v in zip(xs, t, strict=True):
            if v is None:
                axes[0].text(
                    xi, 0, "not\nreached", ha="center", va="bottom", fontsize=8, clip_on=True
                )
        axes[1].bar(xs, ess, width, label=method)
    for ax, title in zip(
        axes,
        (
            "wall time to R-hat < 1.01 and bulk ESS >= 400 (s)",
            "min bulk ESS per second of sampling",
        ),
        strict=True,
    ):
        ax.set_xticks(np.arange(len(sizes)), sizes)
        ax.set_xlim(-0.6, len(sizes) - 0.4)  # keep room for runs that never converged
        ax.set_xlabel("grid")
        ax.set_title(title, fontsize=10)
        ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def run(config: dict, out: Path) -> dict:
    """Run the study; return the per-resolution table and the continuation ratios."""
    from bayesinv._seeds import as_generator, child_seeds
    from bayesinv.diagnostics.report import report

    resolutions = [int(n) for n in config["resolutions"]]
    # child 0 draws the data of every resolution; child 1 + i seeds the runs of resolution i
    data_seed, *run_seeds = child_seeds(config["seed"], 1 + len(resolutions), "case study 04")
    rng = as_generator(data_seed, "case study 04")
    for n in resolutions:
        if n % config["coarsest"] or (n // config["coarsest"]) & (n // config["coarsest"] - 1):
            raise ValueError(
                f"case study 04: resolution {n} must be coarsest ({config['coarsest']}) "
                "times a power of two"
            )
    rows, headline = [], {}
    for n, seed in zip(resolutions, run_seeds, strict=True):
        grid, truth, receivers, op, clean, data, wavelet = _problem(n, config, rng)
        build = _builder(grid, op, data, wavelet, config)
        label = f"{n}x{n}"
        results = {}

        # compile once untimed, so that no method pays for numba's first compilation
        _warm_up(build)
        model = build()
        tree, compile_s, sample_s = _nuts(
            model, config, config["draws_cold"], config["tune_cold"], seed
        )
        results["cold"] = (tree, 0.0, compile_s, sample_s, model)

        levels, results["continuation"] = _laplace_then_nuts(
            build, config, seed, coarse_levels=wavelet.levels
        )
        if config["ablation"]:
            _, results["finest_laplace"] = _laplace_then_nuts(build, config, seed)

        times = {}
        thinned = {}
        for method, (tree, levels_s, compile_s, sample_s, model) in results.items():
            k, fraction, rhat, ess = threshold_draws(tree, config)
            t_reach = None if k is None else levels_s + compile_s + fraction * sample_s
            times[method] = t_reach
            thinned[method] = _with_field(tree, model, config["report_draws"])
            mean = thinned[method]["posterior"][FIELD].mean(("chain", "draw")).values
            rows.append(
                {
                    "grid": label,
                    "method": method,
                    "n_params": wavelet.n_params,
                    "laplace_s": round(levels_s, 2),
                    "compile_s": round(compile_s, 2),
                    "sampling_s": round(sample_s, 2),
                    "max_rhat": rhat,
                    "min_ess_bulk": ess,
                    "ess_per_s": ess / sample_s,
                    "steps_per_draw": float(tree["sample_stats"]["n_steps"].mean()),
                    "draws_to_threshold": k,
                    "time_to_threshold_s": None if t_reach is None else round(t_reach, 2),
                    "rmse": float(np.sqrt(np.mean((mean - truth) ** 2))),
                }
            )
        for method in results:
            if method == "cold":
                continue
            key = f"ratio_cold_over_{method}_{label}"
            if times["cold"] is not None and times[method] is not None:
                headline[key] = round(times["cold"] / times[method], 2)
            else:
                headline[key] = "threshold not reached"
        headline[f"laplace_levels_{label}"] = "; ".join(
            f"level {r['level']}: {r['n_free']} coeffs, rank {r['rank']}, {r['seconds']:.2f} s"
            for r in levels.table()
        )
        report(
            thinned["continuation"],
            out / label,
            fields={FIELD: grid},
            truth={FIELD: truth, "gravity": clean},
            model=results["continuation"][-1],
            config=config,
            seed=seed,
            units={FIELD: "density contrast (kg/m³)", "gravity": "g_z (mGal)"},
            receivers=receivers,
            title=f"case study 04: continuation run on {label} (thinned draws)",
        )
    _figure(rows, out / "continuation.png")
    headline["table"] = rows
    return headline
