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

Coverage study (issue 20, ``--coverage 50``): truth coverage at 90% of the density, RMSE of
its posterior mean and interval width over replicate data sets with a regional the physics
lacks (drawn from :data:`REGIONAL_SD`), for no GP (the negative control), the GP, the GP with
the projection guard and with the scaled (S-GaSP) guard at three λ (:class:`CoveragePlan`:
the package's marginalized model factored once on a hyperparameter grid).

Cross-modal study (``--coregional-study 50``): one systematic error shared by two
modalities with opposite signs; θ's coverage at 90% with independent GPs and with the
coregionalized discrepancy, and how often the sign of the cross-correlation is recovered
(:class:`CoregionalGrid`: θ and the GPs integrated out exactly, hyperparameters on a grid).

``python bench_discrepancy.py --full --problem "80 stations" --only marginalized`` runs the
80-station rows of the sampling table.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from dataclasses import dataclass

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


def _cpu() -> float:
    """CPU time (user + system) of this process and its children, in seconds."""
    import resource

    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _sample_row(label: str, inv, draws: int, seed: int, **kwargs) -> dict:
    import arviz as az

    from bayesinv.diagnostics import convergence_report
    from bayesinv.inference import sample

    marginal = label.startswith("marginalized")
    t0, c0 = time.perf_counter(), _cpu()
    model = inv.build(marginalize=marginal)
    tree = sample(
        model, draws=draws, tune=draws, chains=4, random_seed=seed, progressbar=False, **kwargs
    )
    if marginal:  # the field and δ drawn from their exact conditionals, timed too
        tree = inv.recover_marginals(tree, random_seed=seed)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    conv = convergence_report(tree)
    row = {
        "variant": label,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
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


def sampling_rows(quick: bool, only: tuple = (), problem: str = "") -> list[dict]:
    """Sampling before/after table; wall time (build, compile, sample, recover) vs no GP.

    ``only``: label prefixes of the variants to run (the first, "no GP", always runs);
    ``problem``: run only the problems whose name contains it.
    """
    draws = 500 if quick else 1000
    problems = [
        ("gravity line, 33 stations", lambda d: line_inversion(33, d)),
        ("case study 03 (quick size)", lambda d: study03_model(d, quick=True, build=False)),
    ]
    if not quick:
        problems.append(("gravity line, 80 stations", lambda d: line_inversion(80, d)))
    rows = []
    for name, inversion in problems:
        if problem not in name:
            continue
        base = None
        for label, (disc, kwargs) in VARIANTS.items():
            if only and label != "no GP" and not label.startswith(tuple(only)):
                continue
            row = {"benchmark": "Discrepancy sampling", "case": name}
            row |= _sample_row(label, inversion(disc), draws, seed=3, **kwargs)
            base = base or row["wall_s"]
            row["wall_vs_no_gp"] = round(row["wall_s"] / base, 2)
            rows.append(row)
    return rows


def run(quick: bool = False) -> list[dict]:
    return cost_rows(quick) + sampling_rows(quick)


def coregional_replicate(seed: int, n=15, amp=0.3, ell=30.0, shared_sign: float = -1.0):
    """One data set of the cross-modal study: a shared error seen with opposite signs.

    ``d_1 = θ s + e + ε_1``, ``d_2 = -θ s - e + ε_2`` with ``θ = 1``, ``s`` a Gaussian
    anomaly, the shared systematic error ``e ~ GP(0, amp² Matérn-5/2(ell))`` (the stated
    misspecification distribution) and noise 0.05; the cross-correlation of the errors is -1
    (``shared_sign=1``: ``d_2 = -θ s + e + ε_2``, correlation +1, the negative control).
    """
    from bayesinv.model.discrepancy.posterior import kernel_matrix

    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 100.0, n)
    s = np.exp(-0.5 * ((x - 50.0) / 25.0) ** 2)
    e = rng.multivariate_normal(
        np.zeros(n), kernel_matrix("matern52", x, amp, ell), method="cholesky"
    )
    return x, s, s + e + rng.normal(0, 0.05, n), -s + shared_sign * e + rng.normal(0, 0.05, n)


def coregional_inversion(x, s, d1, d2, joint: bool) -> JointInversion:
    """The cross-modal study's inversion: independent GPs, or one coregionalized GP."""
    from bayesinv.model.discrepancy.coregional import CrossModalDiscrepancy

    inv = JointInversion().add_field("theta", Grid1D(1, 1.0), IIDNormal(0.0, 3.0))
    disc = None if joint else Discrepancy(method="exact")
    for name, sign, d in (("grav", 1.0, d1), ("mag", -1.0, d2)):
        op = MatrixOperator(sign * s[:, None])
        inv.add_modality(Modality(name, op, d, KnownNoise(0.05), coords=x, discrepancy=disc))
    if joint:
        inv.add_discrepancy(CrossModalDiscrepancy(("grav", "mag")))
    return inv


@dataclass
class CoregionalGrid:
    r"""One variant of the cross-modal study on a fixed hyperparameter grid, built once.

    θ and every discrepancy are integrated out exactly: with ``g`` the stacked operator
    column (θ's prior N(0, 3²)) and :math:`C' = Σ + D(φ)` the noise plus discrepancy
    covariance at hyperparameters φ (the package's marginalized model, compiled once),

    .. math::

        \log p(d \mid φ) = -\tfrac12\big[\log|C'| + \log(1 + 9p) + t - 9q^2/(1 + 9p)
        + N\log 2π\big], \quad θ \mid d, φ \sim N\big(q/(1/9 + p), 1/(1/9 + p)\big),

    :math:`p = g^TC'^{-1}g`, :math:`q = g^TC'^{-1}d`, :math:`t = d^TC'^{-1}d`. Independent
    GPs: ``C'`` is block-diagonal, so the four scalars add over the modalities and the 4-D
    (η, ℓ per modality) grid is an outer sum of two 2-D grids. Coregionalized (one latent):
    :math:`D = \mathrm{diag}(a_{k(i)})\, R(ℓ)\, \mathrm{diag}(a_{k(i)})` on a (ℓ, a₁ > 0, a₂)
    grid (the density is even in ``a``).
    """

    joint: bool
    g: np.ndarray
    sizes: tuple
    ell: np.ndarray
    ell_prior: tuple
    eta: np.ndarray = None  # independent GPs
    kernels: np.ndarray = None  # (n_eta, n_ell, N, N) block-diagonal D; or (n_ell, N, N) R(ℓ)


def _marginal_pieces(inv):
    import pymc as pm
    import pytensor

    from bayesinv.model.discrepancy.marginal import add_marginal

    with pm.Model() as model:
        plan = add_marginal(inv, model)
    rvs = {rv.name: rv for rv in model.free_RVs}
    fn = pytensor.function(list(rvs.values()), plan.disc, on_unused_input="ignore")
    return plan, rvs, fn


def coregional_grid(joint: bool, n_ell: int = 20, n_eta: int = 24) -> CoregionalGrid:
    """Build a variant's grid from the package's marginalized model (replicate 0's layout)."""
    from scipy import stats

    x, s, d1, d2 = coregional_replicate(0)
    plan, rvs, fn = _marginal_pieces(coregional_inversion(x, s, d1, d2, joint))
    g = plan.design[:, 0] / 3.0
    ell_rv = rvs["grav_discrepancy_lengthscale" if not joint else "grav_mag_coregional_lengthscale"]
    alpha, beta = (float(np.ravel(v.eval())[0]) for v in ell_rv.owner.inputs[-2:])
    ell = np.exp(np.linspace(*np.log(stats.invgamma(alpha, scale=beta).ppf([1e-3, 0.999])), n_ell))
    if joint:
        names = list(rvs)  # lengthscale, weights
        kern = np.stack([fn(*(([e], [[1.0, 1.0]])[names.index(n)] for n in names)) for e in ell])
        return CoregionalGrid(True, g, (x.size, x.size), ell, (alpha, beta), kernels=kern)
    eta = np.exp(np.linspace(np.log(0.3 * 0.05), np.log(5.0), n_eta))
    order = [("eta", "ell")[n.endswith("lengthscale")] for n in rvs]
    kern = np.stack([[fn(*({"eta": e, "ell": ll}[o] for o in order)) for ll in ell] for e in eta])
    return CoregionalGrid(False, g, (x.size, x.size), ell, (alpha, beta), eta, kern)


def _scalars(cov, g, d):
    """log|C|, gᵀC⁻¹g, gᵀC⁻¹d, dᵀC⁻¹d for a stack of covariances."""
    chol = np.linalg.cholesky(cov)
    rhs = np.broadcast_to(np.stack([g, d], -1), (*cov.shape[:-2], g.size, 2))
    w = np.linalg.solve(chol, rhs)
    logdet = 2.0 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
    return (
        logdet,
        (w[..., 0] ** 2).sum(-1),
        (w[..., 0] * w[..., 1]).sum(-1),
        (w[..., 1] ** 2).sum(-1),
    )


def coregional_posterior(cg: CoregionalGrid, d1, d2, n_w: int = 36):
    """Grid weights and θ's conditional mean and sd per grid point; P(ρ < 0 | d).

    Returns ``(log posterior, θ means, θ sds, P(ρ < 0))`` (arrays over the grid; ρ is NaN
    for independent GPs) and, for the check against PyMC, the grid's values.
    """
    from scipy import stats

    from bayesinv.model.discrepancy._priors import invgamma_from_tails

    d = np.concatenate([d1, d2])
    n1 = cg.sizes[0]
    noise = 0.05**2 * np.eye(d.size)
    lp_ell = stats.invgamma(cg.ell_prior[0], scale=cg.ell_prior[1]).logpdf(cg.ell) + np.log(cg.ell)
    if cg.joint:
        scale = [2.0 * float(np.std(v)) for v in (d1, d2)]
        top = 3.0 * max(scale)
        w1, w2 = np.linspace(top / n_w, top, n_w), np.linspace(-top, top, 2 * n_w)
        a = np.stack(np.meshgrid(w1, w2, indexing="ij"), -1).reshape(-1, 2)
        av = np.repeat(a, cg.sizes, axis=1)  # (W, N)
        parts = []
        for k in cg.kernels:
            parts.append(_scalars(noise + av[:, :, None] * k * av[:, None, :], cg.g, d))
        logdet, p, q, t = (np.stack([pt[i] for pt in parts]) for i in range(4))  # (L, W)
        prior = (
            lp_ell[:, None]
            + stats.norm(0, scale[0]).logpdf(a[:, 0])
            + stats.norm(0, scale[1]).logpdf(a[:, 1])
        )
        values = (cg.ell, a)
    else:
        blocks = []
        for sl, dk in ((slice(0, n1), d1), (slice(n1, None), d2)):
            cov = cg.kernels[..., sl, sl] + noise[sl, sl]
            sc = _scalars(cov, cg.g[sl], d[sl])  # each (E, L)
            ab = invgamma_from_tails(*Discrepancy().amplitude_range(float(np.std(dk)), 0.05))
            lp_eta = stats.invgamma(ab[0], scale=ab[1]).logpdf(cg.eta) + np.log(cg.eta)
            blocks.append((*(v.ravel() for v in sc), (lp_eta[:, None] + lp_ell[None, :]).ravel()))
        (l1, p1, q1, t1, r1), (l2, p2, q2, t2, r2) = blocks
        logdet, p = l1[:, None] + l2[None, :], p1[:, None] + p2[None, :]
        q, t = q1[:, None] + q2[None, :], t1[:, None] + t2[None, :]
        prior = r1[:, None] + r2[None, :]
        values = (cg.eta, cg.ell)
    loglik = -0.5 * (
        logdet + np.log1p(9 * p) + t - 9 * q**2 / (1 + 9 * p) + d.size * np.log(2 * np.pi)
    )
    lp = loglik + prior
    prec = 1.0 / 9.0 + p
    p_neg = np.nan
    if cg.joint:
        w = np.exp(lp - lp.max())
        p_neg = float(w[:, a[:, 0] * a[:, 1] < 0].sum() / w.sum())
    return lp, q / prec, 1.0 / np.sqrt(prec), p_neg, values


def mixture_interval(lp, means, sds, level=0.9):
    """Central interval of the mixture Σ w_j N(means_j, sds_j²), w ∝ exp(lp)."""
    from scipy import optimize, stats

    w = np.exp(lp - lp.max()).ravel()
    keep = w > 1e-12 * w.max()
    w, mu, sd = w[keep] / w[keep].sum(), means.ravel()[keep], sds.ravel()[keep]

    def cdf(v):
        return float(np.sum(w * stats.norm.cdf((v - mu) / sd)))

    lo_b, hi_b = (mu - 10 * sd).min(), (mu + 10 * sd).max()
    tail = (1.0 - level) / 2.0
    return tuple(
        optimize.brentq(lambda v, a=a: cdf(v) - a, lo_b, hi_b, xtol=1e-10) for a in (tail, 1 - tail)
    )


def coregional_fit(x, s, d1, d2, joint: bool, grid: CoregionalGrid | None = None):
    """θ's 90% interval and P(ρ < 0 | d) in one replicate, exactly marginalized (grid).

    Returns ``(low, high, P(ρ < 0))`` (NaN for independent GPs).
    """
    cg = grid or coregional_grid(joint)
    lp, means, sds, p_neg, _ = coregional_posterior(cg, d1, d2)
    lo, hi = mixture_interval(lp, means, sds)
    return lo, hi, p_neg


def check_coregional_grid(cg: CoregionalGrid) -> float:
    """Largest |grid log density - PyMC's| at a few grid points of replicate 0 (should be ~0)."""
    x, s, d1, d2 = coregional_replicate(0)
    model = coregional_inversion(x, s, d1, d2, cg.joint).build(marginalize=True)
    logp = model.compile_logp()
    lp, *_, values = coregional_posterior(cg, d1, d2)
    names = {rv.name: model.rvs_to_values[rv].name for rv in model.free_RVs}
    worst = 0.0
    n_l, n_w = lp.shape
    for idx in [(n_l // 4, n_w // 7), (n_l // 2, n_w // 2), (n_l - 2, 3 * n_w // 4)]:
        if cg.joint:
            ell, a = values[0][idx[0]], values[1][idx[1]]
            point = {
                names["grav_mag_coregional_lengthscale"]: np.log([ell]),
                names["grav_mag_coregional_weights"]: a[None, :],
            }
        else:
            n_ell = cg.ell.size
            (e1, l1), (e2, l2) = (divmod(i, n_ell) for i in idx)
            point = {}
            for mod, e, ll in (("grav", e1, l1), ("mag", e2, l2)):
                point[names[f"{mod}_discrepancy_amplitude"]] = np.log(cg.eta[e])
                point[names[f"{mod}_discrepancy_lengthscale"]] = np.log(cg.ell[ll])
        worst = max(worst, abs(float(logp(point)) - float(lp[idx])))
    return worst


def coregional_study(n_rep: int, seed: int = 0, log=None) -> list[dict]:
    """Coverage of θ at 90% and sign recovery over ``n_rep`` replicate data sets.

    Sign recovered: the posterior probability of a negative cross-correlation exceeds 1/2.
    """
    rows = []
    for label, joint in (("independent GPs", False), ("coregionalized", True)):
        hits, signs, widths = [], [], []
        t0 = time.perf_counter()
        cg = coregional_grid(joint)
        gap = check_coregional_grid(cg)
        if gap > 1e-6:
            raise RuntimeError(f"coregional_study: grid density differs from PyMC's by {gap}")
        for r in range(n_rep):
            lo, hi, p_neg = coregional_fit(*coregional_replicate(seed + r), joint, cg)
            hits.append(lo <= 1.0 <= hi)
            widths.append(hi - lo)
            signs.append(p_neg > 0.5)
            if log is not None:
                print(label, seed + r, round(lo, 3), round(hi, 3), p_neg, file=log, flush=True)
        rows.append(
            {
                "benchmark": "Discrepancy cross-modal study",
                "case": label,
                "replicates": n_rep,
                "coverage_90": float(np.mean(hits)),
                "negative_rho_recovered": float(np.mean(signs)) if joint else float("nan"),
                "theta_width_90": round(float(np.mean(widths)), 3),
                "wall_s": round(time.perf_counter() - t0, 1),
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
    "GP + projection guard": Discrepancy("matern52", guard="projection"),
    "GP + scaled guard (S-GaSP)": Discrepancy("matern52", guard="scaled"),
    "GP + scaled guard, λ = n": Discrepancy("matern52", guard="scaled", guard_scale=33.0),
    "GP + scaled guard, λ = 10 n": Discrepancy("matern52", guard="scaled", guard_scale=330.0),
}


@functools.cache
def _line_prior(n_stations: int):
    """The line's geometry, operator and the field prior's affine map (built once)."""
    from bayesinv.model.discrepancy.marginal import field_map

    grid, op, receivers, _ = gravity_line(n_stations)
    return grid, op, receivers, field_map(line_inversion(n_stations, None).fields["density"])


def coverage_data(seed: int, n_stations: int = 33):
    """One replicate: a truth drawn from the field prior, a regional from REGIONAL_SD, noise."""
    grid, op, receivers, fmap = _line_prior(n_stations)
    rng = np.random.default_rng(seed)
    truth = fmap.mean + fmap.basis @ rng.standard_normal(fmap.basis.shape[1])
    t = receivers[:, 0] / (grid.nx * grid.dx)
    a, b, c = rng.normal(0.0, REGIONAL_SD)
    data = op.forward(truth) + a + b * t + c * t**2 + rng.normal(0.0, NOISE, n_stations)
    return grid, op, receivers, data, truth


def coverage_inversion(seed: int, disc):
    """The replicate's joint inversion (Matérn field prior, known noise, ``disc``), truth."""
    grid, op, receivers, data, truth = coverage_data(seed)
    inv = JointInversion().add_field(
        "density", grid, MaternPrior(200.0**2, 100.0, 1.5, coarsening=2)
    )
    inv.add_modality(
        Modality("gravity", op, data, KnownNoise(NOISE), coords=receivers, discrepancy=disc)
    )
    return inv, truth


@dataclass
class CoveragePlan:
    """One variant's marginal Gaussian on a fixed (log η, log ℓ) grid, built once.

    Everything but the data is the same in every replicate (stations, field prior, η and ℓ
    at the grid points), so the covariances :math:`C_j = A A^T + Σ + D(θ_j)` of the package's
    marginalized model (:func:`~bayesinv.model.discrepancy.marginal.add_marginal`, compiled
    once) are factored once; a replicate then costs one triangular solve per grid point.
    """

    disc: object
    mean: np.ndarray
    design: np.ndarray
    noise: np.ndarray
    discs: np.ndarray  # (J, n, n) discrepancy covariance at each grid point
    chols: np.ndarray  # (J, n, n) Cholesky factors of C_j
    logdets: np.ndarray
    theta: np.ndarray  # (J, 2) η, ℓ (empty without a GP)
    ell_prior: tuple
    fmap: object


def coverage_plan(disc, n_grid: int = 32) -> CoveragePlan:
    """Factor a variant's marginal covariances on its grid; check them against PyMC's logp."""
    import pymc as pm
    import pytensor
    from scipy import stats

    from bayesinv.model.discrepancy.marginal import add_marginal

    inv, _ = coverage_inversion(0, disc)
    with pm.Model() as model:
        plan = add_marginal(inv, model)
    rvs = list(model.free_RVs)
    fn = pytensor.function(rvs, [plan.mean, plan.noise, plan.disc], on_unused_input="ignore")
    if rvs:  # η: a range wide enough for every replicate's prior; ℓ: its prior's range
        alpha, beta = (float(v.eval()) for v in rvs[1].owner.inputs[-2:])
        ell = np.exp(
            np.linspace(*np.log(stats.invgamma(alpha, scale=beta).ppf([1e-3, 0.999])), n_grid)
        )
        eta = np.exp(np.linspace(np.log(0.3 * NOISE), np.log(30.0), int(1.5 * n_grid)))
        theta = np.stack(np.meshgrid(eta, ell, indexing="ij"), -1).reshape(-1, 2)
    else:
        theta, alpha, beta = np.empty((1, 0)), 0.0, 0.0
    out = [fn(*row) for row in theta]
    mean, noise = out[0][0], out[0][1]
    discs = np.stack([o[2] for o in out])
    chols = np.linalg.cholesky(plan.design @ plan.design.T + noise + discs)
    logdets = 2.0 * np.log(np.diagonal(chols, axis1=1, axis2=2)).sum(axis=1)
    cp = CoveragePlan(
        disc,
        mean,
        plan.design,
        noise,
        discs,
        chols,
        logdets,
        theta,
        (alpha, beta),
        plan.fields["density"],
    )
    # the grid's density is PyMC's: compare at one grid point of replicate 0
    model = inv.build(marginalize=True)
    j = theta.shape[0] // 3
    point = {
        model.rvs_to_values[rv].name: np.log(theta[j, k]) for k, rv in enumerate(model.free_RVs)
    }
    ref = model.compile_logp()(point)
    got = _grid_logpost(cp, inv.modalities["gravity"].data)[j]
    if not np.isclose(got, ref, rtol=1e-8, atol=1e-8):
        raise RuntimeError(f"coverage_plan: grid log density {got} != PyMC's {ref}")
    return cp


def _grid_logpost(cp: CoveragePlan, data) -> np.ndarray:
    """Log posterior (up to a constant) of the grid points, in PyMC's log coordinates."""
    from scipy import stats

    from bayesinv.model.discrepancy._priors import invgamma_from_tails

    r = data - cp.mean
    w = np.linalg.solve(cp.chols, np.broadcast_to(r, (cp.chols.shape[0], r.size))[..., None])
    lp = -0.5 * (np.sum(w[..., 0] ** 2, axis=1) + cp.logdets + r.size * np.log(2 * np.pi))
    if cp.theta.shape[1]:
        a_eta = invgamma_from_tails(*cp.disc.amplitude_range(float(np.std(data)) or 1.0, NOISE))
        eta, ell = cp.theta.T
        lp = lp + stats.invgamma(a_eta[0], scale=a_eta[1]).logpdf(eta) + np.log(eta)
        lp = lp + stats.invgamma(cp.ell_prior[0], scale=cp.ell_prior[1]).logpdf(ell) + np.log(ell)
    return lp


def coverage_replicate(seed: int, plan: CoveragePlan, n_draws: int = 200, full=False):
    """Truth coverage of the density at 90% in one replicate (marginalized model, grid).

    Hyperparameter draws: grid points resampled by posterior weight; the field then from its
    exact conditional given each (Matheron's rule, ``marginal.conditional_draw``). With
    ``full``: ``(coverage, RMSE of the posterior mean, mean 90% interval width)``.
    """
    from bayesinv.model.discrepancy.marginal import conditional_draw

    _, _, _, data, truth = coverage_data(seed)
    rng = np.random.default_rng([seed, 1])
    lp = _grid_logpost(plan, data)
    w = np.exp(lp - lp.max())
    pick = rng.choice(w.size, size=n_draws, p=w / w.sum())
    draws = np.empty((n_draws, truth.size))
    for i, j in enumerate(pick):
        z, _ = conditional_draw(data - plan.mean, plan.design, plan.noise, plan.discs[j], rng)
        draws[i] = plan.fmap.mean + plan.fmap.basis @ z
    lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
    cover = float(np.mean((truth >= lo) & (truth <= hi)))
    if not full:
        return cover
    rmse = float(np.sqrt(np.mean((draws.mean(axis=0) - truth) ** 2)))
    return cover, rmse, float(np.mean(hi - lo))


def coverage_study(n_rep: int, seed: int = 100, log=None) -> list[dict]:
    """Coverage at 90% over ``n_rep`` replicates with a misspecified regional (issue 20).

    The variants are interleaved per replicate; ``log`` (a file) gets one line per replicate.
    """
    cov = {label: [] for label in COVERAGE_VARIANTS}
    wall = dict.fromkeys(COVERAGE_VARIANTS, 0.0)
    plans = {}
    for label, disc in COVERAGE_VARIANTS.items():
        t0 = time.perf_counter()
        plans[label] = coverage_plan(disc)
        wall[label] += time.perf_counter() - t0
    for r in range(n_rep):
        for label in COVERAGE_VARIANTS:
            t0 = time.perf_counter()
            cov[label].append(coverage_replicate(seed + r, plans[label], full=True))
            wall[label] += time.perf_counter() - t0
        if log is not None:
            print(seed + r, *(np.round(v[-1], 4) for v in cov.values()), file=log, flush=True)
    rows = []
    for label, values in cov.items():
        c, rmse, width = np.array(values).T
        rows.append(
            {
                "benchmark": "Discrepancy coverage study",
                "case": label,
                "replicates": n_rep,
                "coverage_90_mean": round(float(c.mean()), 3),
                "coverage_90_q10": round(float(np.quantile(c, 0.1)), 3),
                "coverage_90_q90": round(float(np.quantile(c, 0.9)), 3),
                "rmse_kg_m3": round(float(rmse.mean()), 1),
                "width_90_kg_m3": round(float(width.mean()), 1),
                "wall_s": round(wall[label], 1),
            }
        )
    return rows


def main(argv=None) -> int:
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    from run import format_table

    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Without --coverage or --coregional-study: the sampling table (quick sizes "
        "unless --full), optionally a subset by --problem and --only.",
        allow_abbrev=False,
    )
    studies = parser.add_mutually_exclusive_group()
    studies.add_argument(
        "--coverage",
        type=int,
        metavar="N",
        help="coverage study (marginalized model) over N replicates instead of the table",
    )
    studies.add_argument(
        "--coregional-study",
        type=int,
        metavar="N",
        help="cross-modal (coregionalized) study over N replicates instead of the table",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="sampling table at full size: 1000 draws and the 80-station line "
        "(default: quick, 500 draws)",
    )
    parser.add_argument(
        "--problem",
        default="",
        metavar="TEXT",
        help="run only the problems whose name contains TEXT (default: all)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=(),
        metavar="NAME",
        help='run only the variants whose label starts with a NAME, besides "no GP" '
        f"(default: all; labels: {', '.join(map(repr, VARIANTS))})",
    )
    args = parser.parse_args(argv)
    if args.coverage is not None or args.coregional_study is not None:
        table = (("--full", args.full), ("--problem", args.problem), ("--only", args.only))
        for flag, value in table:
            if value:
                parser.error(f"{flag} is an option of the sampling table, not of the studies")
    for name in args.only:
        if not any(label.startswith(name) for label in VARIANTS):
            parser.error(f"--only: no variant label starts with {name!r}")
    if args.coverage is not None:
        rows = coverage_study(args.coverage, log=sys.stderr)
    elif args.coregional_study is not None:
        rows = coregional_study(args.coregional_study, log=sys.stderr)
    else:
        rows = sampling_rows(not args.full, tuple(args.only), args.problem)
    print(format_table(rows), flush=True)
    return 0


if __name__ == "__main__":  # the sampling table alone: python benchmarks/bench_discrepancy.py
    sys.exit(main())
