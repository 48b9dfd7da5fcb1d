"""Case study 02: gravity and DC resistivity linked by petrophysics and homogenization.

Three fields: the fine log-conductivity ``logcond`` (seen by ERT), its coarse version
``logcond_coarse`` (each coarse cell ≈ the geometric mean of the fine cells it holds:
:class:`bayesinv.model.coupling.Homogenization`) and the coarse density contrast ``density``
(seen by gravity), tied to ``logcond_coarse`` by a linear petrophysical relation
(:class:`bayesinv.model.coupling.Petrophysical`). The *separate* inversion has the same fields and
data without the two links; the *joint* one has both.

Both posteriors are approximated by **MAP + Laplace**: the MAP by L-BFGS
(:func:`bayesinv.inference.find_map`), the covariance by the inverse of the negative Hessian
of the log density at the MAP in the model's latent (whitened) coordinates, built by central
differences of the exact adjoint gradient (:func:`bayesinv.inference.laplace`, the one
Laplace of bayesinv). With ``nuts = true`` each posterior is also sampled by **NUTS**
(nutpie, the ERT operator's numba kernels inside the compiled log density), and the rows
compare the Laplace intervals with the NUTS posterior (``nuts`` is on at both sizes; CI's
smoke test turns it off). The fine log-conductivity has a Matérn-3/2 prior
(``logcond_length_scale``): with independent cells the full size had curved ridges NUTS
could not cross (``weak_directions.py``, README). The draws of either method go through
the same report.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

REQUIRED = {
    "nx": int,
    "nz": int,
    "cell": float,
    "n_receivers": int,
    "gravity_noise_sd": float,
    "ert_n_max": int,
    "ert_relative_noise": float,
    "ert_wavenumbers": int,
    "background_logcond": float,
    "petro_slope": float,
    "petro_scatter": float,
    "homog_scatter": float,
    "texture": float,
    "density_prior_sd": float,
    "logcond_prior_sd": float,
    "logcond_length_scale": float,
    "laplace_draws": int,
    "hessian_step": float,
    "nuts": bool,
    "draws": int,
    "tune": int,
    "chains": int,
    "target_accept": float,
    "adaptation": str,
}

UNITS = {
    "density": "density contrast (kg/m³)",
    "logcond": "log conductivity (log S/m)",
    "logcond_coarse": "log conductivity (log S/m)",
    "gravity": "g_z (mGal)",
    "ert": "apparent resistivity (Ω·m)",
}
FIELDS = ("density", "logcond", "logcond_coarse")


def _survey(config: dict):
    from bayesinv import Grid2D
    from bayesinv._seeds import as_generator
    from bayesinv.multiscale import Prolongation, coarsen
    from bayesinv.operators import DCResistivity2p5D, Gravity2D
    from bayesinv.operators.resistivity.arrays import dipole_dipole, surface_electrodes
    from bayesinv.synthetic import Body, bodies_field, surface_line

    c = config
    fine = Grid2D(c["nx"], c["nz"], c["cell"], c["cell"])
    coarse = coarsen(fine, 2)
    width, depth = fine.nx * fine.dx, fine.nz * fine.dz
    density = bodies_field(
        coarse,
        [
            Body("rectangle", (0.3 * width, 0.375 * depth), (0.25 * width, 0.5 * depth), 300.0),
            Body("rectangle", (0.75 * width, 0.25 * depth), (0.125 * width, 0.25 * depth), -200.0),
        ],
        subsamples=8,
    )
    up = Prolongation(coarse, fine, kind="constant")
    density_fine = fine.unravel(up.forward(coarse.ravel(density)))
    # fine layering inside the dense body: +-texture in alternate rows, zero mean per 2x2 block
    rows = np.where(np.arange(fine.nz) % 2 == 0, 1.0, -1.0)[:, None]
    texture = c["texture"] * rows * (density_fine > 0) * (density_fine / density_fine.max())
    logcond = c["background_logcond"] + c["petro_slope"] * density_fine + texture
    logcond_coarse = logcond.reshape(coarse.nz, 2, coarse.nx, 2).mean(axis=(1, 3))
    truth = {"density": density, "logcond": logcond, "logcond_coarse": logcond_coarse}

    receivers = surface_line(0.0, width, c["n_receivers"])
    gravity = Gravity2D(coarse, receivers)
    n_el = fine.nx + 1
    electrodes = surface_electrodes(np.linspace(0.5 * fine.dx, width - 0.5 * fine.dx, n_el))
    ert = DCResistivity2p5D(
        fine,
        electrodes,
        dipole_dipole(n_el, n_max=c["ert_n_max"]),
        n_wavenumbers=c["ert_wavenumbers"],
    )
    rng = as_generator(c["seed"], "case study 02")
    clean = {
        "gravity": gravity.forward(coarse.ravel(density)),
        "ert": ert.forward(fine.ravel(logcond)),
    }
    ert_sd = c["ert_relative_noise"] * np.abs(clean["ert"])
    data = {
        "gravity": clean["gravity"] + rng.normal(0.0, c["gravity_noise_sd"], clean["gravity"].size),
        "ert": clean["ert"] + ert_sd * rng.standard_normal(clean["ert"].size),
    }
    return fine, coarse, truth, (gravity, receivers), (ert, electrodes, ert_sd), clean, data


def _model(survey, config, coupled: bool):
    from bayesinv.model import JointInversion
    from bayesinv.model.coupling import Homogenization, Petrophysical, linear
    from bayesinv.model.fields import IIDNormal, MaternPrior
    from bayesinv.model.modality import Modality
    from bayesinv.model.noise import KnownNoise

    fine, coarse, _, (gravity, receivers), (ert, _, ert_sd), _, data = survey
    c = config
    inv = JointInversion("joint" if coupled else "separate")
    inv.add_field("density", coarse, IIDNormal(0.0, c["density_prior_sd"]))
    # fine log-conductivity: Matérn-3/2 (independent cells at 25 m left curved ridges at the
    # top of the conductive block that NUTS could not cross at full size: README)
    fine_prior = MaternPrior(
        variance=c["logcond_prior_sd"] ** 2,
        length_scale=c["logcond_length_scale"],
        nu=1.5,
        mean=c["background_logcond"],
    )
    inv.add_field("logcond", fine, fine_prior)
    inv.add_field(
        "logcond_coarse", coarse, IIDNormal(c["background_logcond"], c["logcond_prior_sd"])
    )
    inv.add_modality(
        Modality(
            "gravity",
            gravity,
            data["gravity"],
            KnownNoise(c["gravity_noise_sd"]),
            field="density",
            coords=receivers,
        )
    )
    inv.add_modality(Modality("ert", ert, data["ert"], KnownNoise(ert_sd), field="logcond"))
    if coupled:
        inv.add_coupling(
            Homogenization("logcond", "logcond_coarse", "geometric", c["homog_scatter"])
        )
        relation = linear(c["petro_slope"], c["background_logcond"])
        inv.add_coupling(Petrophysical("density", "logcond_coarse", relation, c["petro_scatter"]))
    return inv.build()


def _nuts(model, gaussian, survey, config, label, seed, out, laplace_sd):
    """Sample one inversion with NUTS in the coordinates of its Laplace approximation.

    ``x = m_MAP + A z`` with ``A A^T`` the Laplace covariance (all directions, the Hessian
    being dense here): the posterior of ``z`` is close to a standard normal wherever the
    Laplace approximation is good, so NUTS starts with the right scales and correlations
    and nutpie's own adaptation (``config["adaptation"]``) corrects what it missed. The
    posterior of the fields is unchanged (:func:`bayesinv.inference.sample_preconditioned`).
    Rows per field, with the Laplace/NUTS sd ratio.
    """
    from bayesinv.diagnostics.report import report
    from bayesinv.inference import Preconditioner, sample_preconditioned
    from bayesinv.inference.preconditioning import unconstrained_layout

    fine, coarse, truth, (_, receivers), *_, clean, _ = survey
    g = gaussian
    pre = Preconditioner(g.mean, g.scale, g.basis, g.factors, unconstrained_layout(model))
    t0 = time.perf_counter()
    tree = sample_preconditioned(
        model,
        pre,
        draws=config["draws"],
        tune=config["tune"],
        chains=config["chains"],
        random_seed=seed,
        target_accept=config["target_accept"],
        adaptation=config["adaptation"],
        progressbar=False,
    )
    wall = time.perf_counter() - t0
    result = report(
        tree,
        out / f"{label}_nuts",
        fields={"density": coarse, "logcond": fine, "logcond_coarse": coarse},
        truth={**truth, **clean},
        model=model,
        config=config | {"inversion": label, "method": "NUTS"},
        seed=config["seed"],
        units=UNITS,
        receivers=receivers,
        title=f"case study 02: {label} inversion (NUTS), gravity + ERT",
    )
    post, conv = result.idata["posterior"], result.convergence
    rows = []
    for f in FIELDS:
        sd = post[f].std(("chain", "draw")).values
        rows.append(
            {
                "inversion": label,
                "method": "NUTS",
                "field": f,
                "rmse": float(result.truth.loc[f, "rmse"]),
                "coverage_90": float(result.truth.loc[f, "coverage_90"]),
                "mean_sd": float(result.truth.loc[f, "mean_sd"]),
                "laplace_sd_over_nuts_sd": float(np.mean(laplace_sd[f] / sd)),
                "sampling_s": round(wall, 1),
                "max_rhat": conv.max_rhat,
                "min_ess_bulk": conv.min_ess_bulk,
                "min_ess_tail": conv.min_ess_tail,
                "divergences": conv.n_divergent,
            }
        )
    return rows


def run(config: dict, out: Path) -> dict:
    """Run the study; return coverage and RMSE of each field, separate and joint."""
    from bayesinv._seeds import child_seeds
    from bayesinv.diagnostics import plot_field_maps
    from bayesinv.diagnostics.report import report
    from bayesinv.inference import find_map, laplace

    survey = _survey(config)
    fine, coarse, truth, (_, receivers), *_, clean, _ = survey
    seeds = child_seeds(config["seed"], 2, "case study 02")
    rows, means, sds = [], {}, {}
    for (label, coupled), seed in zip((("separate", False), ("joint", True)), seeds, strict=True):
        model = _model(survey, config, coupled)
        t0 = time.perf_counter()
        estimate = find_map(model, random_seed=config["seed"])
        map_s = time.perf_counter() - t0
        point = {v.name: estimate[v.name] for v in model.value_vars}
        # dense Hessian by central differences of the gradient, compiled in PyTensor's
        # default mode (mode=None): ~400 gradients are cheaper than a numba compilation
        approx = laplace(
            model,
            point,
            draws=config["laplace_draws"] // 4,
            chains=4,
            random_seed=seed,
            step=config["hessian_step"],
            mode=None,
        )
        laplace_s = approx.info["laplace_s"]
        lam_min = approx.info["min_eig"]
        tree = approx.idata
        result = report(
            tree,
            out / label,
            fields={"density": coarse, "logcond": fine, "logcond_coarse": coarse},
            truth={**truth, **clean},
            model=model,
            config=config | {"inversion": label, "method": "MAP + Laplace"},
            seed=config["seed"],
            units=UNITS,
            receivers=receivers,
            title=f"case study 02: {label} inversion (MAP + Laplace), gravity + ERT",
        )
        post = result.idata["posterior"]
        means[label] = {f: post[f].mean(("chain", "draw")).values for f in FIELDS}
        sds[label] = {f: post[f].std(("chain", "draw")).values for f in FIELDS}
        for f in FIELDS:
            rows.append(
                {
                    "inversion": label,
                    "method": "Laplace",
                    "field": f,
                    "rmse": float(result.truth.loc[f, "rmse"]),
                    "coverage_90": float(result.truth.loc[f, "coverage_90"]),
                    "mean_sd": float(result.truth.loc[f, "mean_sd"]),
                    "map_s": round(map_s, 1),
                    "laplace_s": round(laplace_s, 1),
                    "min_hessian_eig": lam_min,
                }
            )
        if config["nuts"]:
            rows += _nuts(model, approx.gaussian, survey, config, label, seed, out, sds[label])
    for f, grid, name in (
        ("density", coarse, "maps.png"),
        ("logcond", fine, "maps_logcond.png"),
    ):
        plot_field_maps(
            grid,
            {
                "truth": truth[f],
                "separate: mean": means["separate"][f],
                "joint: mean": means["joint"][f],
                "separate: sd": sds["separate"][f],
                "joint: sd": sds["joint"][f],
            },
            out / name,
            units=UNITS[f],
            kinds={
                **dict.fromkeys(
                    ("truth", "separate: mean", "joint: mean"),
                    "contrast" if f == "density" else "absolute",
                ),
                "separate: sd": "absolute",
                "joint: sd": "absolute",
            },
            shared=[("truth", "separate: mean", "joint: mean"), ("separate: sd", "joint: sd")],
        )
    method = "MAP + Laplace (finite-difference Hessian of the exact gradient)"
    return {
        "method": method + (" and NUTS (nutpie)" if config["nuts"] else ""),
        "table": rows,
    }
