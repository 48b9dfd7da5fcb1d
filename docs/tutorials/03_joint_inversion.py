# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Joint inversion: gravity and travel times
#
# Two data sets observe two properties of the same section: surface gravity sees the
# density contrast, cross-hole travel times see the slowness. A
# {class}`~bayesinv.model.JointInversion` declares the two **fields**, one
# {class}`~bayesinv.model.modality.Modality` per data set (operator, data, noise model), and a
# **coupling** between the fields: here the cross-gradient, which favours models whose
# density and slowness change in the same places, without assuming any relation between
# their values.
#
# The gravity data also carry a smooth regional trend that the 2-D section does not
# explain (a deep source outside the grid). Rather than let that trend leak into the
# density, the gravity modality gets a **model discrepancy**: a Gaussian process
# $δ(x)$ over the receiver positions, learned with the rest
# (Kennedy & O'Hagan 2001), so that $d = F(m) + δ + ε$.

# %%
import tempfile
from pathlib import Path

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image

import bayesinv
from bayesinv import Grid2D
from bayesinv.diagnostics import convergence_report, field_summaries, plot_field_maps
from bayesinv.model import JointInversion
from bayesinv.model.coupling import CrossGradient
from bayesinv.model.discrepancy import Discrepancy
from bayesinv.model.fields import IIDNormal
from bayesinv.model.modality import Modality
from bayesinv.model.noise import KnownNoise
from bayesinv.operators import Gravity2D, StraightRayTomography
from bayesinv.synthetic import Body, bodies_field, surface_line

# plots inline in notebooks (bayesinv.diagnostics selects the Agg backend)
# %matplotlib inline

rng = np.random.default_rng(42)
out = Path(tempfile.mkdtemp(prefix="bayesinv_joint_"))

# %% [markdown]
# ## Truth and data
#
# One body, dense (+500 kg/m³) and slow (slowness +1e-4 s/m over a background of
# 4e-4 s/m, i.e. 2500 m/s), in a 400 m x 200 m section of 16 x 8 cells.

# %%
grid = Grid2D(nx=16, nz=8, dx=25.0, dz=25.0)
body = [Body("rectangle", center=(230.0, 110.0), size=(90.0, 70.0), value=1.0)]
shape = bodies_field(grid, body)
density_true = 500.0 * shape
slowness_true = 4e-4 + 1e-4 * shape

# gravity: 20 surface stations, 0.005 mGal noise, plus a linear regional trend
stations = surface_line(-50.0, 450.0, 20)
gravity = Gravity2D(grid, stations)
trend = 0.02 + 1e-4 * (stations[:, 0] - 200.0)
g_clean = gravity.forward(grid.ravel(density_true))
g_obs = g_clean + trend + 0.005 * rng.standard_normal(gravity.n_data)

# travel times: sources down the left edge, receivers down the right edge, all pairs
depths = np.linspace(12.5, 187.5, 8)
src = np.array([[0.0, z] for z in depths for _ in depths])
rec = np.array([[400.0, z] for _ in depths for z in depths])
tomo = StraightRayTomography(grid, src, rec)
t_obs = tomo.forward(grid.ravel(slowness_true)) + 2e-4 * rng.standard_normal(tomo.n_data)
print(f"{gravity.n_data} gravity data, {tomo.n_data} travel times")

# %%
fig, ax = plt.subplots(figsize=(6, 2.5))
ax.plot(stations[:, 0], g_obs, "o", ms=4, label="observed")
ax.plot(stations[:, 0], g_clean, "k-", label="physics of the section")
ax.plot(stations[:, 0], trend, "C3--", label="regional trend (unmodelled)")
ax.set_xlabel("x (m)")
ax.set_ylabel("g_z (mGal)")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## The joint model
#
# Each field gets an independent normal prior (non-centred). The cross-gradient weight
# is dimensionless because the fields are divided by their typical magnitudes
# (`scales`). The discrepancy uses the Hilbert-space GP approximation (`method="hsgp"`),
# which keeps the likelihood pointwise and stores the estimated trend as
# `gravity_discrepancy`.
#
# The discrepancy must not be able to explain what the physics explains, or the two are
# confounded: a GP with short length scales would absorb the body's anomaly (a few
# hundred metres wide) and leave the density at its prior. Its length-scale prior
# therefore covers only scales longer than the section (400 m to 4 km), where a 2-D
# section of this size cannot produce an anomaly.

# %%
inversion = (
    JointInversion("gravity_and_traveltime")
    .add_field("density", grid, IIDNormal(0.0, 200.0))
    .add_field("slowness", grid, IIDNormal(4e-4, 1e-4))
    .add_modality(
        Modality(
            "gravity",
            gravity,
            g_obs,
            KnownNoise(0.005),
            field="density",
            coords=stations[:, 0],
            discrepancy=Discrepancy("expquad", lengthscale=(400.0, 4000.0), method="hsgp"),
        )
    )
    .add_modality(Modality("traveltime", tomo, t_obs, KnownNoise(2e-4), field="slowness"))
    .add_coupling(CrossGradient("density", "slowness", weight=2000.0, scales=(200.0, 1e-4)))
)
model = inversion.build()
print(sorted(model.named_vars))

# %% [markdown]
# ## Sampling
#
# Two chains of a few hundred draws keep this tutorial quick, and they are not enough:
# the convergence report fails (R-hat, ESS, and a few divergences in the funnel between
# the discrepancy's hyperparameters and its basis weights). A real study would run four
# longer chains, possibly with fixed discrepancy hyperparameters, and pass the report
# before reading the maps (see {doc}`05_diagnostics`).

# %%
idata = bayesinv.sample(model, draws=300, tune=400, chains=2, random_seed=5, target_accept=0.9)
print(convergence_report(idata).verdict)
az.summary(idata, var_names=["gravity_discrepancy_amplitude", "gravity_discrepancy_lengthscale"])

# %% [markdown]
# ## The fields
#
# Travel times locate the slow body laterally and in depth (the rays cross it). Gravity
# is blind to depth, and its posterior mean is the usual smooth, shallow-biased image.
# The cross-gradient asks the two fields to change *in the same places*, not by related
# amounts: a density that hardly varies satisfies it trivially, so it cannot move the
# density image much here. It matters most when both data sets resolve structure and
# disagree on where it is; to transfer magnitudes use a
# {class}`~bayesinv.model.coupling.Petrophysical` link instead (see {doc}`../concepts`).

# %%
maps = {}
for name, truth, background, size in [
    ("density", density_true, 0.0, 500.0),
    ("slowness", slowness_true, 4e-4, 1e-4),
]:
    s = field_summaries(idata, name, grid, truth=truth)
    maps[f"{name}: truth"] = (s["truth"] - background) / size
    maps[f"{name}: posterior mean"] = (s["posterior mean"] - background) / size
png = plot_field_maps(
    grid,
    maps,
    out / "fields.png",
    units="anomaly / true anomaly",
    kinds="contrast",
    shared=[tuple(maps)],
)
Image(filename=str(png))

# %% [markdown]
# ## The discrepancy
#
# The GP picks up the regional trend; a constant offset trades off with the mean density
# of the section, so it is less well determined than the slope.

# %%
delta = idata["posterior"]["gravity_discrepancy"].stack(s=("chain", "draw")).values
lo, mean, hi = np.percentile(delta, 5, axis=1), delta.mean(axis=1), np.percentile(delta, 95, axis=1)
fig, ax = plt.subplots(figsize=(6, 2.5))
ax.fill_between(stations[:, 0], lo, hi, alpha=0.3, label="discrepancy, 90% interval")
ax.plot(stations[:, 0], mean, label="discrepancy, posterior mean")
ax.plot(stations[:, 0], trend, "k--", label="true trend")
ax.set_xlabel("x (m)")
ax.set_ylabel("mGal")
ax.legend(fontsize=8)
fig.tight_layout()
