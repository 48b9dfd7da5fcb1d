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
# # Getting started: a gravity inversion
#
# This tutorial inverts one data set, surface gravity over a 2-D section, for the density
# contrast in every cell, and looks at the posterior: maps of its mean and spread, the fit
# to the data, and the report bayesinv writes for a result. It runs at small settings
# (a 16 x 8 grid and a few hundred draws) so that it executes in seconds; the flagship
# demo (`make demo`) is the same problem at full size.
#
# The chain is $m \mapsto d = F m + ε$: the unknown field $m$ (kg/m³, one value per cell,
# $z$ positive down), the linear gravity operator $F$ (mGal, positive down) and Gaussian
# noise $ε$ of known standard deviation.

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pymc as pm
from IPython.display import Image

import bayesinv
from bayesinv import Grid2D
from bayesinv.diagnostics import field_summaries, plot_field_maps
from bayesinv.diagnostics.report import report
from bayesinv.operators import Gravity2D
from bayesinv.ops import forward
from bayesinv.synthetic import gravity_survey
from bayesinv.testing import dot_test

# plots inline in notebooks (bayesinv.diagnostics selects the Agg backend)
# %matplotlib inline

rng = np.random.default_rng(2026)

# %% [markdown]
# ## A synthetic survey
#
# {func}`~bayesinv.synthetic.gravity_survey` makes a seeded truth (a dense block and a
# light disk), receivers along the surface and noisy data. The grid is 16 x 8 cells of
# 50 m, so the section is 800 m wide and 400 m deep.

# %%
grid = Grid2D(nx=16, nz=8, dx=50.0, dz=50.0)
survey = gravity_survey(rng, grid, n_receivers=24, noise_sd=0.02)
print(grid)
print("receivers:", survey.receivers.shape, " data:", survey.data.shape)

# %%
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3))
im = ax0.imshow(survey.truth, cmap="RdBu_r", aspect="auto", extent=grid.extent)
ax0.set_title("true density contrast (kg/m³)")
ax0.set_xlabel("x (m)")
ax0.set_ylabel("z (m, down)")
fig.colorbar(im, ax=ax0)
ax1.plot(survey.receivers[:, 0], survey.clean, "k-", label="noise-free")
ax1.plot(survey.receivers[:, 0], survey.data, "o", ms=4, label="data")
ax1.set_xlabel("x (m)")
ax1.set_ylabel("g_z (mGal)")
ax1.legend()
fig.tight_layout()

# %% [markdown]
# ## The forward operator
#
# {class}`~bayesinv.operators.Gravity2D` maps the flat field (C order, `iz * nx + ix`) to
# the vertical attraction at the receivers. It is linear, has numba kernels for its
# forward map and its adjoint, and an exact adjoint (the dot test passes to round-off).

# %%
op = Gravity2D(grid, survey.receivers)
print(op.n_params, "cells ->", op.n_data, "data; linear:", op.linear)

print("dot test relative error:", dot_test(op, rng))

# %% [markdown]
# ## The model
#
# An ordinary PyMC model: a Gaussian prior on every cell (200 kg/m³ standard deviation)
# and a Gaussian likelihood. {func}`bayesinv.ops.forward` wraps the operator as a PyTensor
# Op whose gradient is the adjoint, so the model compiles to numba end to end and nutpie
# samples it at kernel speed. Naming the dims after the field (`density_z`, `density_x`)
# keeps the posterior on the grid.

# %%
coords = {**grid.coords("density"), "gravity_obs": survey.receivers[:, 0]}
with pm.Model(coords=coords) as model:
    density = pm.Normal("density", 0.0, 200.0, dims=("density_z", "density_x"))
    pm.Normal(
        "gravity",
        forward(op, density.ravel()),
        survey.noise_sd,
        observed=survey.data,
        dims="gravity_obs",
    )
model

# %% [markdown]
# ## Sampling
#
# {func}`bayesinv.sample` runs NUTS (nutpie by default) with an explicit seed and returns
# an ArviZ DataTree. Four chains of 1000 draws take a few seconds on this small problem;
# fewer draws leave R-hat of some poorly constrained deep cells above 1.01, which the
# report below would flag.

# %%
idata = bayesinv.sample(model, draws=1000, tune=1000, chains=4, random_seed=1)
idata

# %% [markdown]
# ## Maps of the posterior
#
# The posterior mean is smooth and shallow-biased, as always with potential-field data:
# gravity alone cannot tell a small shallow body from a large deep one. The posterior
# standard deviation grows with depth: the data say little about deep cells, and the
# posterior returns to the prior there.

# %%
out = Path(tempfile.mkdtemp(prefix="bayesinv_tutorial_"))
summary = field_summaries(idata, "density", grid, truth=survey.truth)
print(list(summary))
# a density contrast is drawn on a diverging scale centred on 0, the standard deviation
# on a sequential one; truth and mean share one scale and one colour bar
png = plot_field_maps(
    grid,
    {k: summary[k] for k in ("truth", "posterior mean", "posterior sd")},
    out / "maps.png",
    units="density contrast (kg/m³)",
    kinds={"truth": "contrast", "posterior mean": "contrast", "posterior sd": "absolute"},
    shared=[("truth", "posterior mean")],
    receivers=survey.receivers,
)
Image(filename=str(png))

# %% [markdown]
# ## The report
#
# {func}`bayesinv.diagnostics.report.report` writes everything a result needs to be judged to a
# folder: the DataTree with provenance, a convergence verdict, posterior predictive checks
# and PSIS-LOO per modality, coverage of the truth when one is known, field maps and an
# `index.html`. Given the model it first adds the posterior predictive and prior draws.

# %%
result = report(
    idata,
    out / "report",
    fields={"density": grid},
    truth={"density": survey.truth, "gravity": survey.clean},
    model=model,
    seed=1,
    units={"density": "density contrast (kg/m³)", "gravity": "g_z (mGal)"},
    receivers=survey.receivers,
    title="getting started",
)
print(result.convergence.verdict)
print(sorted(result.files))

# %%
result.truth

# %%
result.ppc

# %% [markdown]
# The data-fit figure of the report: data, the 50% and 90% posterior predictive bands,
# and standardised residuals.

# %%
ppc_png = [f for f in result.files if "gravity" in f and f.endswith(".png")]
print(ppc_png)
Image(filename=str(out / "report" / ppc_png[0]))
