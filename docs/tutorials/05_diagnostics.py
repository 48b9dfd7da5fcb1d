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
# # Diagnostics and calibration
#
# A posterior is only worth reporting when (1) the sampler has converged, (2) the model
# reproduces the data it was fitted to, modality by modality, and (3) the inference is
# calibrated: on problems whose answer is known it gets that answer. This tutorial goes
# through the three on small linear gravity problems, where the exact posterior is
# available in closed form.

# %%
import tempfile
from pathlib import Path

import numpy as np
import pymc as pm
from IPython.display import Image

import bayesinv
from bayesinv import Grid2D
from bayesinv.diagnostics import (
    convergence_report,
    plot_ppc,
    posterior_predictive_check,
    ppc_table,
)
from bayesinv.inference import gauss_newton_laplace
from bayesinv.model import JointInversion
from bayesinv.model.fields import IIDNormal
from bayesinv.model.modality import Modality
from bayesinv.model.noise import KnownNoise
from bayesinv.operators import Gravity2D
from bayesinv.ops import forward
from bayesinv.synthetic import Body, bodies_field, surface_line
from bayesinv.testing import check_gaussian_posterior

# plots inline in notebooks (bayesinv.diagnostics selects the Agg backend)
# %matplotlib inline

rng = np.random.default_rng(12)
out = Path(tempfile.mkdtemp(prefix="bayesinv_diag_"))

grid = Grid2D(nx=12, nz=6, dx=25.0, dz=25.0)
truth = bodies_field(grid, [Body("disk", (150.0, 60.0), (35.0, 35.0), 300.0)])
ground = Gravity2D(grid, surface_line(-25.0, 325.0, 15))
airborne = Gravity2D(grid, surface_line(-25.0, 325.0, 12, height=60.0))
m_true = grid.ravel(truth)

# %% [markdown]
# ## Two modalities, one with misreported errors
#
# Ground gravity with its stated noise (0.01 mGal), and airborne gravity whose stated
# noise (0.004 mGal) is five times too small: the data were noisier than the survey
# report says.

# %%
d_ground = ground.forward(m_true) + 0.01 * rng.standard_normal(ground.n_data)
d_air = airborne.forward(m_true) + 0.02 * rng.standard_normal(airborne.n_data)
inversion = (
    JointInversion()
    .add_field("density", grid, IIDNormal(0.0, 200.0))
    .add_modality(
        Modality("ground", ground, d_ground, KnownNoise(0.01), coords=ground.receivers[:, 0])
    )
    .add_modality(
        Modality("airborne", airborne, d_air, KnownNoise(0.004), coords=airborne.receivers[:, 0])
    )
)
model = inversion.build()

# %% [markdown]
# ## Convergence
#
# {func}`~bayesinv.diagnostics.convergence_report` checks rank-normalised split R-hat,
# bulk and tail ESS, divergences and E-BFMI against stated
# {class}`~bayesinv.diagnostics.Thresholds` and returns a verdict with the worst
# parameters. A deliberately short run fails:

# %%
short = bayesinv.sample(model, draws=60, tune=60, chains=2, random_seed=1)
report = convergence_report(short)
print(report.verdict)

# %% [markdown]
# A longer run passes (four chains, so that R-hat compares several chains):

# %%
idata = bayesinv.sample(model, draws=500, tune=500, chains=4, random_seed=2)
report = convergence_report(idata)
print(report.verdict)
report.table.head()

# %% [markdown]
# ## Posterior predictive checks, per modality
#
# {func}`~bayesinv.diagnostics.posterior_predictive_check` compares every modality's data
# with its posterior predictive distribution: standardised residuals, coverage of the
# 50% and 90% predictive bands, a tail probability. The airborne modality's residuals are
# far too large for its stated noise; the ground modality is fine.

# %%
idata = inversion.posterior_predictive(idata, random_seed=3, model=model)
checks = posterior_predictive_check(idata)
ppc_table(checks)

# %%
png = plot_ppc(
    checks["airborne"],
    out / "ppc_airborne.png",
    ylabel="g_z (mGal)",
    truth=airborne.forward(m_true),
)
Image(filename=str(png))

# %% [markdown]
# Checks at the fitted data are conservative (the data were used to fit the model), so
# a modality that fails them is certainly misfit; replacing
# {class}`~bayesinv.model.noise.KnownNoise` by {class}`~bayesinv.model.noise.ScaledNoise` lets the
# model learn a common error scale per modality instead.
#
# ## Calibration: Laplace and NUTS against the exact posterior
#
# With a linear operator, a Gaussian prior and Gaussian noise the posterior is Gaussian
# with covariance $Γ = (G^T G / σ^2 + I / τ^2)^{-1}$ and mean $Γ G^T d / σ^2$.
# Take the ground data alone, with their correct noise.

# %%
G = np.column_stack([ground.forward(e) for e in np.eye(grid.size)])
sigma, tau = 0.01, 200.0
cov = np.linalg.inv(G.T @ G / sigma**2 + np.eye(grid.size) / tau**2)
mean = cov @ G.T @ d_ground / sigma**2

with pm.Model() as ground_model:
    density = pm.Normal("density", 0.0, tau, shape=grid.size)
    pm.Normal("ground", forward(ground, density), sigma, observed=d_ground)
nuts = bayesinv.sample(ground_model, draws=500, tune=500, chains=4, random_seed=4)

# %% [markdown]
# {func}`~bayesinv.inference.gauss_newton_laplace` finds the MAP by Gauss–Newton with the
# operator's `jvp`/`vjp` and approximates the posterior by a Gaussian there: exact for a
# linear problem. Its result holds draws in a DataTree, so the same diagnostics apply.

# %%
laplace = gauss_newton_laplace(
    ground,
    d_ground,
    prior_mean=0.0,
    prior_cov=tau**2,
    noise_sd=sigma,
    random_seed=5,
    draws=500,
    chains=4,
    name="density",
)
print("Gauss-Newton iterations:", laplace.iterations, " converged:", laplace.converged)

# %%
sd = np.sqrt(np.diag(cov))
for label, tree in [("NUTS", nuts), ("Laplace", laplace.idata)]:
    draws = tree["posterior"]["density"].values.reshape(4, 500, grid.size)
    z_mean = np.abs(draws.mean(axis=(0, 1)) - mean) / sd
    ratio = draws.std(axis=(0, 1)) / sd
    print(
        f"{label:8s} max |mean error| / sd = {z_mean.max():.3f}; "
        f"sd ratio in [{ratio.min():.3f}, {ratio.max():.3f}]"
    )

# %% [markdown]
# {func}`~bayesinv.testing.check_gaussian_posterior` makes this a test: it whitens the
# draws with the exact posterior and checks means, standard deviations, correlations and
# normality against their Monte Carlo errors (bayesinv's test suite runs it for every
# sampler). Its correlation bound is a fixed $4/\sqrt{\mathrm{ESS}}$ per pair, meant for
# tens of parameters; with all 144 cells (10 296 pairs) exact draws would exceed it by
# chance, so check a block of cells instead: the marginal of a Gaussian is Gaussian, with
# the corresponding block of the mean and covariance.

# %%
block = np.arange(grid.nx * 2)  # the two shallowest rows of cells
n_div = int(nuts["sample_stats"]["diverging"].sum())
for label, tree, divergent in [("NUTS", nuts, n_div), ("Laplace", laplace.idata, 0)]:
    draws = tree["posterior"]["density"].values.reshape(4, 500, grid.size)[..., block]
    check = check_gaussian_posterior(
        draws, mean[block], cov[np.ix_(block, block)], n_divergent=divergent, raise_error=False
    )
    print(
        f"{label:8s} passed: {check.passed}  max whitened correlation {check.max_corr:.3f}, "
        f"min ESS {check.min_ess:.0f}",
        check.failures,
    )

# %% [markdown]
# Beyond single problems, {func}`~bayesinv.calibration.runner.simulation_based_calibration`
# repeats simulate-then-fit over prior draws and tests the uniformity of the ranks of the
# true values among the posterior draws.
