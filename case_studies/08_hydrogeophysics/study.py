"""Case study 08: a pumping test and a surface ERT line, linked by petrophysics.

A vertical section through an aquifer (sand, porosity 0.20) holds a gravel channel (porosity
0.35), infinite along strike. Porosity sets both properties:

- hydraulic conductivity by a Kozeny–Carman-like power law, ``K = K_0 (φ/φ_0)^b``;
- electrical conductivity by Archie's law, ``σ = σ_w φ^m``, with lognormal scatter
  (clay, salinity) about it.

Eliminating φ gives a linear relation between the logs, ``ln σ = ln σ_w + m ln φ_0 +
(m/b)(ln K − ln K_0)`` (:func:`relation_coefficients`), the petrophysical link of the
inversions (:class:`bayesinv.model.coupling.Petrophysical`, scatter as in the truth).

Three NUTS inversions of ``log_k`` (ln K, m/s):

- **pumping**: drawdowns at a few observation wells during a pumping test
  (:class:`bayesinv.operators.transient.TransientDiffusion2D`, a screened well as a line
  source; thickness 1 m along strike, i.e. a line of wells pumping per metre of strike);
- **ert**: a dipole-dipole line on the surface
  (:class:`bayesinv.operators.DCResistivity2p5D`) inverted for ``log_cond`` (ln σ, S/m), tied
  to ``log_k`` by the petrophysical link;
- **joint**: both data sets and the link.

Each is sampled by NUTS in the coordinates of the Laplace approximation at its MAP (dense
Hessian, every direction kept; :func:`_laplace_nuts`), which absorbs the strong correlation
the link makes between the whitened coefficients of ``log_k`` and ``log_cond``; the
posterior is unchanged. Rows record the gradient evaluations and CPU time of each step.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np

from bayesinv.studies.config import Key

REQUIRED = {
    "nx": int,
    "nz": int,
    "cell": float,
    "log_k_background": float,
    "porosity_background": float,
    "porosity_channel": float,
    "kc_exponent": float,
    "cementation": float,
    "log_fluid_conductivity": float,
    "petro_scatter": float,
    "specific_storage": float,
    "pumping_rate": float,
    "pumping_duration": float,
    "n_times": int,
    "n_wells": int,
    "drawdown_noise_sd": float,
    "ert_n_max": int,
    "ert_relative_noise": float,
    "ert_wavenumbers": int,
    "prior_sd": float,
    "length_scale": float,
    "coarsening": int,
    "draws": int,
    "tune": int,
    "chains": int,
    "target_accept": float,
    "adaptation": Key(str, choices=("diag", "low_rank")),
}

UNITS = {
    "log_k": "ln K (ln m/s)",
    "log_cond": "ln σ (ln S/m)",
    "pumping": "drawdown (m)",
    "ert": "apparent resistivity (Ω·m)",
}
INVERSIONS = (
    ("pumping", ("pumping",), False),
    ("ert", ("ert",), True),
    ("joint", ("pumping", "ert"), True),
)


def relation_coefficients(config: dict) -> tuple[float, float]:
    r"""Slope and intercept of ``ln σ = a ln K + c`` implied by the power law and Archie.

    Parameters
    ----------
    config : dict
        The study's settings.

    Returns
    -------
    tuple of float
        ``(a, c)`` with :math:`a = m/b` and :math:`c = \ln σ_w + m \ln φ_0 - a \ln K_0`.
    """
    m, b = config["cementation"], config["kc_exponent"]
    slope = m / b
    intercept = (
        config["log_fluid_conductivity"]
        + m * np.log(config["porosity_background"])
        - slope * config["log_k_background"]
    )
    return slope, float(intercept)


def _truth(grid, config, rng):
    c = config
    xc = 0.5 * (grid.x_edges[1:] + grid.x_edges[:-1])
    zc = 0.5 * (grid.z_edges[1:] + grid.z_edges[:-1])
    x, z = np.meshgrid(xc, zc)
    width, depth = grid.x_edges[-1] - grid.x_edges[0], grid.z_edges[-1] - grid.z_edges[0]
    # a channel lens, gently dipping: its top deepens from 0.30 to 0.40 of the depth
    top = depth * (0.30 + 0.10 * x / width)
    channel = (x > 0.25 * width) & (x < 0.80 * width) & (z > top) & (z < top + 0.30 * depth)
    phi = np.where(channel, c["porosity_channel"], c["porosity_background"])
    log_k = c["log_k_background"] + c["kc_exponent"] * np.log(phi / c["porosity_background"])
    archie = c["log_fluid_conductivity"] + c["cementation"] * np.log(phi)
    log_cond = archie + c["petro_scatter"] * rng.standard_normal(phi.shape)
    return {"porosity": phi, "log_k": log_k, "log_cond": log_cond}


def _survey(config: dict):
    """Grid, truth, operators, clean and noisy data, ERT noise sd and well positions."""
    from bayesinv import Grid2D
    from bayesinv._seeds import as_generator
    from bayesinv.operators import DCResistivity2p5D
    from bayesinv.operators.resistivity.arrays import dipole_dipole, surface_electrodes
    from bayesinv.operators.transient import PumpingSchedule, TransientDiffusion2D

    c = config
    grid = Grid2D(c["nx"], c["nz"], c["cell"], c["cell"])
    width, depth = grid.nx * grid.dx, grid.nz * grid.dz
    rng = as_generator(c["seed"], "case study 08")
    truth = _truth(grid, c, rng)
    pump_x = 0.55 * width
    screen = [[pump_x, 0.30 * depth, pump_x, 0.75 * depth]]
    well_x = np.linspace(0.12, 0.92, c["n_wells"] + 1) * width
    well_x = well_x[np.abs(well_x - pump_x) > 0.05 * width][: c["n_wells"]]
    well_z = np.resize([0.5, 0.3, 0.7], well_x.size) * depth
    wells = np.column_stack([well_x, well_z])
    duration = c["pumping_duration"]
    times = np.geomspace(duration / 60.0, duration, c["n_times"])
    pumping = TransientDiffusion2D(
        grid,
        screen,
        PumpingSchedule([duration], [c["pumping_rate"]]),
        wells,
        times,
        storage=c["specific_storage"],
        thickness=1.0,
        dt_min=duration / 500.0,
        dt_max=duration / 15.0,
        steps_per_level=2,
    )
    n_el = grid.nx + 1
    electrodes = surface_electrodes(np.linspace(0.5 * grid.dx, width - 0.5 * grid.dx, n_el))
    ert = DCResistivity2p5D(
        grid,
        electrodes,
        dipole_dipole(n_el, n_max=c["ert_n_max"]),
        n_wavenumbers=c["ert_wavenumbers"],
    )
    clean = {
        "pumping": pumping.forward(grid.ravel(truth["log_k"])),
        "ert": ert.forward(grid.ravel(truth["log_cond"])),
    }
    ert_sd = c["ert_relative_noise"] * np.abs(clean["ert"])
    data = {
        "pumping": clean["pumping"]
        + c["drawdown_noise_sd"] * rng.standard_normal(clean["pumping"].size),
        "ert": clean["ert"] + ert_sd * rng.standard_normal(clean["ert"].size),
    }
    ops = {"pumping": pumping, "ert": ert}
    return grid, truth, ops, clean, data, ert_sd, (wells, screen, electrodes)


def _model(survey, config, modalities, coupled: bool, name: str):
    from bayesinv.model import JointInversion
    from bayesinv.model.coupling import Petrophysical, linear
    from bayesinv.model.fields import MaternPrior
    from bayesinv.model.modality import Modality
    from bayesinv.model.noise import KnownNoise

    grid, _, ops, _, data, ert_sd, _ = survey
    c = config
    slope, intercept = relation_coefficients(c)
    inv = JointInversion(name)

    def prior(mean):
        return MaternPrior(
            c["prior_sd"] ** 2,
            c["length_scale"],
            1.5,
            coarsening=c["coarsening"],
            mean=mean,
        )

    inv.add_field("log_k", grid, prior(c["log_k_background"]))
    if "ert" in modalities:
        inv.add_field("log_cond", grid, prior(slope * c["log_k_background"] + intercept))
    noise = {"pumping": KnownNoise(c["drawdown_noise_sd"]), "ert": KnownNoise(ert_sd)}
    field = {"pumping": "log_k", "ert": "log_cond"}
    for m in modalities:
        inv.add_modality(Modality(m, ops[m], data[m], noise[m], field=field[m]))
    if coupled:
        relation = linear(slope, intercept)
        inv.add_coupling(Petrophysical("log_k", "log_cond", relation, c["petro_scatter"]))
    return inv.build()


def _figure(grid, truth, means, sds, geometry, path):
    from bayesinv.diagnostics import plot_field_maps

    wells, _, _ = geometry
    panels = {"truth": truth}
    panels |= {f"{label}: mean": m for label, m in means.items()}
    panels |= {f"{label}: sd": s for label, s in sds.items()}
    mean_keys = ("truth", *[f"{k}: mean" for k in means])
    sd_keys = tuple(f"{k}: sd" for k in sds)
    plot_field_maps(
        grid,
        panels,
        path,
        units=UNITS["log_k"],
        kinds=dict.fromkeys(mean_keys + sd_keys, "absolute"),
        shared=[mean_keys, sd_keys],
        receivers=wells,
    )


def _cpu_s() -> float:
    """CPU time of this process so far (all threads: nutpie's chains run in-process)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _gradients(tree) -> int:
    """Gradient evaluations of a NUTS run, warm-up included (leapfrog steps)."""
    n = int(tree["sample_stats"]["n_steps"].values.sum())
    if "warmup_sample_stats" in tree.children:
        n += int(tree["warmup_sample_stats"]["n_steps"].values.sum())
    return n


def _laplace_nuts(model, config, fields):
    """NUTS in the coordinates of the Laplace approximation at the MAP; draws and costs.

    The MAP (L-BFGS-B) and the dense Hessian (central differences of the adjoint gradient,
    every direction kept) give ``x = x_MAP + A z`` with ``A A^T = H^{-1}``
    (:func:`~bayesinv.inference.continuation`, ``"laplace"`` level); NUTS samples ``z``
    (:func:`~bayesinv.inference.sample_preconditioned`), nutpie's adaptation correcting
    what the Gaussian guess missed. The posterior is unchanged: only the coordinates
    (NUTS's mass matrix) are.
    """
    from bayesinv.inference import continuation, sample_preconditioned
    from bayesinv.inference.preconditioning import unconstrained_layout

    seed = config["seed"]
    n = sum(int(np.prod(shape)) for _, shape in unconstrained_layout(model))
    t0, c0 = time.perf_counter(), _cpu_s()
    levels = continuation(
        lambda level: model, 1, random_seed=seed, method="laplace", laplace_kwargs={"max_rank": n}
    )
    laplace = levels.final.diagnostics
    setup = (time.perf_counter() - t0, _cpu_s() - c0)
    t0, c0 = time.perf_counter(), _cpu_s()
    tree = sample_preconditioned(
        model,
        levels.final.preconditioner,
        random_seed=seed,
        var_names=[v.name for v in model.free_RVs] + list(fields),
        draws=config["draws"],
        tune=config["tune"],
        chains=config["chains"],
        target_accept=config["target_accept"],
        adaptation=config["adaptation"],
        save_warmup=True,
        progressbar=False,
    )
    costs = {
        "laplace_gradients": int(laplace["n_gradients"]) + int(laplace["n_iterations"]),
        "nuts_gradients": _gradients(tree),
        "setup_s": round(setup[0], 1),
        "sampling_s": round(time.perf_counter() - t0, 1),
        "cpu_s": round(setup[1] + _cpu_s() - c0, 1),
    }
    return tree, costs


def run(config: dict, out: Path) -> dict:
    """Run the study; return coverage, RMSE and convergence of ln K for each inversion."""
    from bayesinv.diagnostics.report import report

    survey = _survey(config)
    grid, truth, _, clean, _, _, geometry = survey
    rows, means, sds = [], {}, {}
    for label, modalities, coupled in INVERSIONS:
        model = _model(survey, config, modalities, coupled, label)
        fields = {"log_k": grid} | ({"log_cond": grid} if "ert" in modalities else {})
        tree, costs = _laplace_nuts(model, config, fields)
        print(f"case study 08: {label} sampled, {costs}", file=sys.stderr, flush=True)
        result = report(
            tree,
            out / label,
            fields=fields,
            truth={f: truth[f] for f in fields} | {m: clean[m] for m in modalities},
            model=model,
            config=config | {"inversion": label},
            seed=config["seed"],
            units=UNITS,
            title=f"case study 08: {label} inversion, pumping test and ERT",
        )
        post = result.idata["posterior"]["log_k"]
        means[label] = post.mean(("chain", "draw")).values
        sds[label] = post.std(("chain", "draw")).values
        conv, table = result.convergence, result.truth
        rows.append(
            {
                "inversion": label,
                "coverage_90": float(table.loc["log_k", "coverage_90"]),
                "rmse_log_k": float(table.loc["log_k", "rmse"]),
                "max_rhat": conv.max_rhat,
                "min_ess_bulk": conv.min_ess_bulk,
                "divergences": conv.n_divergent,
            }
            | costs
        )
    _figure(grid, truth["log_k"], means, sds, geometry, out / "maps.png")
    slope, intercept = relation_coefficients(config)
    return {
        "relation_slope": slope,
        "relation_intercept": intercept,
        "max_drawdown_m": float(clean["pumping"].max()),
        "table": rows,
    }
