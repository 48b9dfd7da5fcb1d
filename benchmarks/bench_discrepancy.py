"""Model-discrepancy GP: logp+gradient cost vs data size, and sampling before/after.

Cost rows: exact marginalisation (dense ``Σ + K``), HSGP with sampled weights and HSGP
integrated out (Woodbury, ``method="lowrank"``) against the number of data.

Sampling rows (issue 20): a 2-D gravity line with an unmodelled regional trend (irregular
station spacing, learned η and ℓ) and case study 03's model, sampled with nutpie without a
discrepancy, with the 0.2 discrepancy ("before": half-normal η, log-normal ℓ, and the
tutorial's HSGP recipe) and with the current one ("after": inverse-gamma priors from the
survey geometry and the noise level, GP integrated out), and the marginalized model
(``JointInversion.build(marginalize=True)``: field and GP integrated out, NUTS on η and ℓ
only, then the field and δ drawn from their exact conditionals by ``recover_marginals``; its
wall time includes the recovery). Wall time (build, compile, sample) is reported as a ratio
to the no-discrepancy model sampled in the same run. ``python bench_discrepancy.py --only
marginalized after`` runs a subset of the variants.

Coverage study (issue 20, ``--coverage 50``): truth coverage at 90% of the density over
replicate data sets with a regional the physics lacks (drawn from :data:`REGIONAL_SD`), for
no GP (the negative control), the GP, and the GP with the projection guard.
"""

from __future__ import annotations

import time

import numpy as np
from _common import compiled_logp_and_grad, rate

from bayesinv import Grid1D, Grid2D
from bayesinv.model import JointInversion
from bayesinv.model.discrepancy import Discrepancy
from bayesinv.model.fields import IIDNormal, MaternPrior
from bayesinv.model.modality import Modality
from bayesinv.model.noise import KnownNoise
from bayesinv.operators import Gravity2D, MatrixOperator

NOISE = 0.01  # mGal


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


def cost_rows(quick: bool) -> list[dict]:
    cases = [(100, "exact"), (500, "exact"), (500, "hsgp"), (500, "lowrank"), (5000, "hsgp")]
    cases.append((5000, "lowrank"))
    if not quick:
        cases += [(20000, "hsgp"), (20000, "lowrank")]
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


def gravity_line(n_stations: int, seed: int = 1):
    """A gravity line over two bodies plus a quadratic regional the model does not contain."""
    from bayesinv.synthetic import gravity_survey

    grid = Grid2D(16, 8, 50.0, 50.0)
    rng = np.random.default_rng(seed)
    width = grid.nx * grid.dx
    x = np.sort(rng.uniform(0.02 * width, 0.98 * width, n_stations))  # irregular spacing
    receivers = np.column_stack([x, np.zeros(n_stations)])
    truth = gravity_survey(np.random.default_rng(seed), grid, 4, NOISE).truth
    op = Gravity2D(grid, receivers)
    t = x / width
    regional = 0.15 + 0.3 * t + 0.1 * t**2
    data = op.forward(truth.ravel()) + regional + rng.normal(0.0, NOISE, n_stations)
    return grid, op, receivers, data


def line_inversion(n_stations: int, disc) -> JointInversion:
    """The gravity line's joint inversion (Matérn field prior, known noise, ``disc``)."""
    grid, op, receivers, data = gravity_line(n_stations)
    inv = JointInversion().add_field(
        "density", grid, MaternPrior(200.0**2, 100.0, 1.5, coarsening=2)
    )
    inv.add_modality(
        Modality("gravity", op, data, KnownNoise(NOISE), coords=receivers, discrepancy=disc)
    )
    return inv


def line_model(n_stations: int, disc):
    return line_inversion(n_stations, disc).build()


def study03_model(disc, quick: bool, build: bool = True):
    """Case study 03's model at its quick (or full) size, with the given discrepancy."""
    import importlib.util
    import tomllib
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "case_studies" / "03_model_discrepancy"
    spec = importlib.util.spec_from_file_location("study03", folder / "study.py")
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    raw = tomllib.loads((folder / "config.toml").read_text())
    config = raw["common"] | raw["quick" if quick else "full"]
    grid, survey, regional = study._survey(config)
    return study._model(grid, survey, survey.data + regional, config, disc or False, build=build)


#: nutpie's low-rank mass-matrix adaptation (learns the GP/field correlations)
LOW_RANK = {"nuts": {"adaptation": "low_rank"}}

#: the variants compared: label -> (Discrepancy or None, extra sample() arguments); a label
#: starting with "marginalized" samples ``build(marginalize=True)`` and times the recovery too
VARIANTS = {
    "no GP": (None, {}),
    "before: exact, 0.2 priors": (Discrepancy("matern52", priors="legacy"), {}),
    "before: tutorial HSGP recipe": (
        Discrepancy("expquad", lengthscale=(400.0, 4000.0), method="hsgp", priors="legacy"),
        {},
    ),
    "after: geometry priors": (Discrepancy("matern52"), {}),
    "after: geometry priors + low-rank adaptation": (Discrepancy("matern52"), LOW_RANK),
    "no GP + low-rank adaptation": (None, LOW_RANK),
    "marginalized: field and GP integrated out": (Discrepancy("matern52"), {}),
}


def _sample_row(label: str, inv, draws: int, seed: int, **kwargs) -> dict:
    import arviz as az

    from bayesinv.diagnostics import convergence_report
    from bayesinv.inference import sample

    marginal = label.startswith("marginalized")
    t0 = time.perf_counter()
    model = inv.build(marginalize=marginal)
    tree = sample(
        model, draws=draws, tune=draws, chains=4, random_seed=seed, progressbar=False, **kwargs
    )
    if marginal:  # the field and δ drawn from their exact conditionals, timed too
        tree = inv.recover_marginals(tree, random_seed=seed)
    wall = time.perf_counter() - t0
    conv = convergence_report(tree)
    row = {
        "variant": label,
        "wall_s": round(wall, 1),
        "divergences": conv.n_divergent,
        "max_rhat": conv.max_rhat,
        "min_ess_bulk": conv.min_ess_bulk,
    }
    ess = az.ess(tree, method="bulk")
    ess = ess["posterior"] if "posterior" in getattr(ess, "children", {}) else ess
    for short, var in (("eta", "amplitude"), ("ell", "lengthscale")):
        name = f"gravity_discrepancy_{var}"
        row[f"ess_{short}"] = float(ess[name].values) if name in ess else ""
    return row


def sampling_rows(quick: bool, only: tuple = ()) -> list[dict]:
    """Sampling before/after table; wall time (build, compile, sample, recover) vs no GP.

    ``only``: label prefixes of the variants to run (the first, "no GP", always runs).
    """
    draws = 500 if quick else 1000
    problems = [
        ("gravity line, 33 stations", lambda d: line_inversion(33, d)),
        ("case study 03 (quick size)", lambda d: study03_model(d, quick=True, build=False)),
    ]
    if not quick:
        problems.append(("gravity line, 80 stations", lambda d: line_inversion(80, d)))
    rows = []
    for problem, inversion in problems:
        base = None
        for label, (disc, kwargs) in VARIANTS.items():
            if only and label != "no GP" and not label.startswith(tuple(only)):
                continue
            row = {"benchmark": "Discrepancy sampling", "case": problem}
            row |= _sample_row(label, inversion(disc), draws, seed=3, **kwargs)
            base = base or row["wall_s"]
            row["wall_vs_no_gp"] = round(row["wall_s"] / base, 2)
            rows.append(row)
    return rows


def run(quick: bool = False) -> list[dict]:
    return cost_rows(quick) + sampling_rows(quick)


def coregional_replicate(seed: int, n: int = 15, amp: float = 0.3, ell: float = 30.0):
    """One data set of the cross-modal study: a shared error seen with opposite signs.

    ``d_1 = θ s + e + ε_1``, ``d_2 = -θ s - e + ε_2`` with ``θ = 1``, ``s`` a Gaussian
    anomaly, the shared systematic error ``e ~ GP(0, amp² Matérn-5/2(ell))`` (the stated
    misspecification distribution) and noise 0.05; the cross-correlation of the errors is -1.
    """
    from bayesinv.model.discrepancy.posterior import kernel_matrix

    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 100.0, n)
    s = np.exp(-0.5 * ((x - 50.0) / 25.0) ** 2)
    e = rng.multivariate_normal(
        np.zeros(n), kernel_matrix("matern52", x, amp, ell), method="cholesky"
    )
    return x, s, s + e + rng.normal(0, 0.05, n), -s - e + rng.normal(0, 0.05, n)


def coregional_fit(x, s, d1, d2, joint: bool):
    """Empirical-Bayes fit: MAP of every parameter, θ's interval from its exact conditional.

    Returns ``(θ̂, sd(θ | hyperparameters, d), ρ̂)`` (ρ̂: learned cross-correlation, or NaN).
    The weights start at a positive correlation (``a = (0.1, 0.1)``; ``a = 0`` is a
    stationary point), so a negative ρ̂ is learned, not given.
    """
    from pymc.blocking import DictToArrayBijection
    from scipy import optimize

    from bayesinv.model.discrepancy.coregional import CrossModalDiscrepancy

    inv = JointInversion().add_field("theta", Grid1D(1, 1.0), IIDNormal(0.0, 3.0))
    disc = None if joint else Discrepancy(method="exact")
    for name, sign, d in (("grav", 1.0, d1), ("mag", -1.0, d2)):
        op = MatrixOperator(sign * s[:, None])
        inv.add_modality(Modality(name, op, d, KnownNoise(0.05), coords=x, discrepancy=disc))
    if joint:
        inv.add_discrepancy(CrossModalDiscrepancy(("grav", "mag")))
    model = inv.build()
    start = {k: np.asarray(v) for k, v in model.initial_point().items()}
    if joint:
        start["grav_mag_coregional_weights"] = np.array([[0.1, 0.1]])
    packed = DictToArrayBijection.map(start)
    logp, dlogp = model.compile_logp(), model.compile_dlogp()

    def unpack(z):
        return DictToArrayBijection.rmap(packed._replace(data=z))

    res = optimize.minimize(
        lambda z: -logp(unpack(z)), packed.data, jac=lambda z: -dlogp(unpack(z)), method="BFGS"
    )
    point, h = unpack(res.x), 0.02
    vals = []
    for k in (-1, 0, 1):  # logp is quadratic in θ = 3 z given the rest
        q = dict(point)
        q["theta_z_score"] = point["theta_z_score"] + k * h / 3.0
        vals.append(logp(q))
    sd = 1.0 / np.sqrt(-(vals[0] - 2 * vals[1] + vals[2]) / h**2)
    rho = np.nan
    if joint:
        a = point["grav_mag_coregional_weights"][0]
        rho = float(np.sign(a[0] * a[1]))
    return float(3.0 * point["theta_z_score"][0]), float(sd), rho


def coregional_study(n_rep: int, seed: int = 0) -> list[dict]:
    """Coverage of θ at 90% and sign recovery over ``n_rep`` replicate data sets."""
    rows = []
    for label, joint in (("independent GPs", False), ("coregionalized", True)):
        hits, signs = [], []
        for r in range(n_rep):
            th, sd, rho = coregional_fit(*coregional_replicate(seed + r), joint)
            hits.append(abs(th - 1.0) <= 1.645 * sd)
            signs.append(rho < 0)
        rows.append(
            {
                "benchmark": "Discrepancy cross-modal study",
                "case": label,
                "replicates": n_rep,
                "coverage_90": float(np.mean(hits)),
                "negative_rho_recovered": float(np.mean(signs)) if joint else float("nan"),
            }
        )
    return rows


#: the stated misspecification distribution of the coverage study: a regional trend
#: ``a + b t + c t²`` (t = x / line length, in mGal) with independent normal coefficients
REGIONAL_SD = (0.5, 1.0, 0.5)

#: coverage-study variants: label -> Discrepancy (None: no GP, the negative control)
COVERAGE_VARIANTS = {
    "no GP (negative control)": None,
    "GP": Discrepancy("matern52"),
    "GP + guard": Discrepancy("matern52", guard="projection"),
}


def coverage_data(seed: int, n_stations: int = 33):
    """One replicate: a truth drawn from the field prior, a regional from REGIONAL_SD, noise."""
    from bayesinv.model.discrepancy.marginal import field_map

    grid, op, receivers, _ = gravity_line(n_stations)
    field = line_inversion(n_stations, None).fields["density"]
    fmap = field_map(field)
    rng = np.random.default_rng(seed)
    truth = fmap.mean + fmap.basis @ rng.standard_normal(fmap.basis.shape[1])
    t = receivers[:, 0] / (grid.nx * grid.dx)
    a, b, c = rng.normal(0.0, REGIONAL_SD)
    data = op.forward(truth) + a + b * t + c * t**2 + rng.normal(0.0, NOISE, n_stations)
    return grid, op, receivers, data, truth


def hyper_posterior(model, n_grid: int, n_draws: int, rng):
    """Draws of the marginal model's (positive) hyperparameters by quadrature on a grid.

    The marginal log density (PyMC's, on the log-transformed values) is evaluated on an
    ``n_grid``-point grid per parameter spanning its prior's 0.1%-99.9% quantiles; draws are
    grid points resampled by their posterior weight and jittered uniformly within a cell.
    """
    import xarray as xr
    from scipy import stats

    names = [rv.name for rv in model.free_RVs]
    if not names:  # nothing left to sample: the posterior is the exact conditional
        return xr.DataTree.from_dict(
            {"posterior": xr.Dataset(coords={"chain": [0], "draw": np.arange(n_draws)})}
        )
    axes = []
    for rv in model.free_RVs:  # inverse-gamma priors (η, ℓ)
        alpha, beta = (float(v.eval()) for v in rv.owner.inputs[-2:])
        lo, hi = stats.invgamma(alpha, scale=beta).ppf([1e-3, 1 - 1e-3])
        axes.append(np.linspace(np.log(lo), np.log(hi), n_grid))
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(names))
    logp = model.compile_logp()
    keys = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    lp = np.array([logp(dict(zip(keys, row, strict=True))) for row in mesh])
    w = np.exp(lp - lp.max())
    pick = rng.choice(mesh.shape[0], size=n_draws, p=w / w.sum())
    steps = np.array([ax[1] - ax[0] for ax in axes])
    draws = mesh[pick] + steps * rng.uniform(-0.5, 0.5, (n_draws, len(names)))
    post = {n: (("chain", "draw"), np.exp(draws[None, :, i])) for i, n in enumerate(names)}
    return xr.DataTree.from_dict({"posterior": xr.Dataset(post)})


def coverage_replicate(seed: int, disc, n_grid: int = 20, n_draws: int = 200) -> float:
    """Truth coverage of the density at 90% in one replicate (marginalized model)."""
    grid, op, receivers, data, truth = coverage_data(seed)
    inv = JointInversion().add_field(
        "density", grid, MaternPrior(200.0**2, 100.0, 1.5, coarsening=2)
    )
    inv.add_modality(
        Modality("gravity", op, data, KnownNoise(NOISE), coords=receivers, discrepancy=disc)
    )
    rng = np.random.default_rng([seed, 1])
    tree = hyper_posterior(inv.build(marginalize=True), n_grid, n_draws, rng)
    tree = inv.recover_marginals(tree, random_seed=np.random.SeedSequence([seed, 2]))
    draws = tree["posterior"]["density"].values.reshape(n_draws, -1)
    lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
    return float(np.mean((truth >= lo) & (truth <= hi)))


def coverage_study(n_rep: int, seed: int = 100, log=None) -> list[dict]:
    """Coverage at 90% over ``n_rep`` replicates with a misspecified regional (issue 20).

    The variants are interleaved per replicate; ``log`` (a file) gets one line per replicate.
    """
    cov = {label: [] for label in COVERAGE_VARIANTS}
    wall = dict.fromkeys(COVERAGE_VARIANTS, 0.0)
    for r in range(n_rep):
        for label, disc in COVERAGE_VARIANTS.items():
            t0 = time.perf_counter()
            cov[label].append(coverage_replicate(seed + r, disc))
            wall[label] += time.perf_counter() - t0
        if log is not None:
            print(seed + r, *(round(v[-1], 4) for v in cov.values()), file=log, flush=True)
    rows = []
    for label, values in cov.items():
        c = np.array(values)
        rows.append(
            {
                "benchmark": "Discrepancy coverage study",
                "case": label,
                "replicates": n_rep,
                "coverage_90_mean": round(float(c.mean()), 3),
                "coverage_90_q10": round(float(np.quantile(c, 0.1)), 3),
                "coverage_90_q90": round(float(np.quantile(c, 0.9)), 3),
                "wall_s": round(wall[label], 1),
            }
        )
    return rows


if __name__ == "__main__":  # the sampling table alone: python benchmarks/bench_discrepancy.py
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from run import format_table

    # cross-modal study: python benchmarks/bench_discrepancy.py --coregional-study 50
    # coverage study (marginalized model): python benchmarks/bench_discrepancy.py --coverage 50
    if "--coverage" in sys.argv:
        n_rep = int(sys.argv[sys.argv.index("--coverage") + 1])
        print(format_table(coverage_study(n_rep, log=sys.stderr)), flush=True)
    elif "--coregional-study" in sys.argv:
        n_rep = int(sys.argv[sys.argv.index("--coregional-study") + 1])
        print(format_table(coregional_study(n_rep)), flush=True)
    else:  # --only "marginalized" "after" ...: a subset of the variants
        only = sys.argv[sys.argv.index("--only") + 1 :] if "--only" in sys.argv else ()
        print(format_table(sampling_rows("--full" not in sys.argv, tuple(only))), flush=True)
