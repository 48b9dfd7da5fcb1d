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
# # Priors and multiscale parameterizations
#
# The prior says which fields are plausible before seeing data, and on a grid it also
# says *at which scales* a field may vary. bayesinv's field priors are built so that they
# mean the same thing at any resolution (discretisation invariance):
#
# - {func}`~bayesinv.model.priors.besov_prior`: a wavelet series $m = Wθ$ with level-dependent
#   coefficient scales; `p=2` is Gaussian, `p=1` (Laplace coefficients) favours blocky,
#   edge-preserving fields;
# - {func}`~bayesinv.model.priors.matern_prior`: a Gaussian random field with Matérn covariance,
#   usually on a coarse grid prolonged to the fine one
#   ({class}`~bayesinv.multiscale.Prolongation`).
#
# This tutorial shows the wavelet levels, draws from these priors, and a coarse-to-fine
# {func}`~bayesinv.inference.continuation` on a small gravity problem.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pymc as pm

from bayesinv import Grid2D
from bayesinv.inference import continuation
from bayesinv.model.priors import besov_level_scales, besov_prior, matern_prior
from bayesinv.multiscale import Prolongation, WaveletField
from bayesinv.operators import Gravity2D
from bayesinv.ops import forward
from bayesinv.synthetic import gravity_survey

# plots inline in notebooks (bayesinv.diagnostics selects the Agg backend)
# %matplotlib inline


def show(grid, fields, titles, cmap="RdBu_r", symmetric=True):
    """Plot fields of shape (nz, nx) side by side, z positive down."""
    fig, axes = plt.subplots(1, len(fields), figsize=(3.2 * len(fields), 1.9), squeeze=False)
    for ax, field, title in zip(axes[0], fields, titles, strict=True):
        vmax = np.abs(field).max() if symmetric else None
        ax.imshow(
            field,
            cmap=cmap,
            extent=grid.extent,
            aspect="auto",
            vmin=-vmax if symmetric else None,
            vmax=vmax,
        )
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.tight_layout()


# %% [markdown]
# ## Wavelet levels
#
# {class}`~bayesinv.multiscale.WaveletField` is the orthonormal synthesis $m = Wθ$ (an
# exact adjoint, like every operator). The coefficients are ordered from the coarsest
# approximation (level 0) to the finest details; `level_slices()` gives the blocks.

# %%
grid = Grid2D(nx=64, nz=32, dx=10.0, dz=10.0)
W = WaveletField(grid, "haar", levels=3)
print(W)
print("coarse block:", W.coarse_shape)
print("coefficients up to each level:", [W.n_coefficients(j) for j in range(W.levels + 1)])

# %% [markdown]
# One basis function per level: a unit coefficient in the middle of each level's first
# block. Level $j \ge 1$ describes features about $2^{L-j+1}$ cells across.

# %%
fields, titles = [], []
for j, block in enumerate(W.level_slices()):
    theta = np.zeros(W.n_params)
    theta[block.start + (block.stop - block.start) // 6] = 1.0
    fields.append(W.forward(theta).reshape(grid.shape))
    titles.append(f"level {j}")
show(grid, fields, titles)

# %% [markdown]
# ## Besov priors
#
# The standard deviation of the level-$j$ coefficients is
# $κ\,γ_j$ with $γ_j$ from the smoothness `s` and `p`
# ({func}`~bayesinv.model.priors.besov_level_scales`): finer levels get geometrically smaller
# scales, so refining the grid only adds small-scale detail.

# %%
for s in (1.0, 2.0):
    gamma = besov_level_scales(W, s=s, p=2)
    print(f"s = {s}: gamma per level", [f"{gamma[b][0]:.3g}" for b in W.level_slices()])

# %% [markdown]
# Prior draws: `besov_prior` adds the coefficients and the deterministic field to the
# current model and returns the flat field, so `pm.draw` samples it directly.

# %%
draws, titles = [], []
for p, s, wavelet in [(2, 2.0, "haar"), (2, 2.0, "db4"), (1, 3.0, "haar")]:
    with pm.Model():
        m = besov_prior("m", WaveletField(grid, wavelet, levels=3), s=s, p=p)
        draws.append(pm.draw(m, random_seed=1).reshape(grid.shape))
    titles.append(f"Besov p={p}, s={s}, {wavelet}")
show(grid, draws, titles)

# %% [markdown]
# ## Matérn priors on a coarse grid
#
# A Matérn field with a given length scale is smooth below that scale, so it can live on
# a coarse grid and be prolonged (bilinearly) to the fine grid: far fewer unknowns, the
# same prior.

# %%
coarse = Grid2D(nx=16, nz=8, dx=40.0, dz=40.0)
P = Prolongation(coarse, grid, "bilinear")
draws, titles = [], []
for nu, ell in [(0.5, 100.0), (1.5, 100.0), (2.5, 200.0)]:
    with pm.Model():
        m = matern_prior("m", P, variance=1.0, length_scale=ell, nu=nu)
        draws.append(pm.draw(m, random_seed=2).reshape(grid.shape))
    titles.append(f"Matérn ν={nu}, ℓ={ell:g} m")
show(grid, draws, titles)

# %% [markdown]
# The gallery on the {doc}`concepts page <../concepts>` shows more draws of each prior at
# full resolution.
#
# ## Coarse-to-fine continuation
#
# With a wavelet prior, the model restricted to levels $0..ℓ$ (`max_level=ℓ`) is a
# coarse version of the same problem whose coefficients are a prefix of the finer one's.
# {func}`~bayesinv.inference.continuation` solves the levels in turn, starting each from
# the previous estimate padded with zeros, which is cheap and gives the fine level a
# good start (for MAP, or for a short NUTS run with `method="nuts"`).
#
# The problem: the demo's gravity survey on a 32 x 16 grid, a Besov `p=2` prior on a
# Haar basis with three levels.

# %%
rng = np.random.default_rng(3)
ggrid = Grid2D(nx=32, nz=16, dx=25.0, dz=25.0)
survey = gravity_survey(rng, ggrid, n_receivers=32, noise_sd=0.02)
op = Gravity2D(ggrid, survey.receivers)
Wg = WaveletField(ggrid, "haar", levels=3)


def build(level):
    """The model restricted to wavelet levels 0..level."""
    with pm.Model() as model:
        density = besov_prior("density", Wg, s=2.0, p=2, scale=300.0, max_level=level)
        pm.Normal("gravity", forward(op, density), survey.noise_sd, observed=survey.data)
    return model


result = continuation(build, Wg.levels + 1, random_seed=4, method="map")
for row in result.table():
    print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()})

# %%
maps = [survey.truth]
titles = ["truth"]
gamma = besov_level_scales(Wg, s=2.0, p=2)
for r in result.levels:
    # the field at the MAP: θ = κ γ ξ on the kept levels, then the synthesis m = W θ
    k = Wg.n_coefficients(r.level)
    theta = np.zeros(Wg.n_params)
    theta[:k] = 300.0 * gamma[:k] * r.point["density_raw"]
    maps.append(Wg.forward(theta).reshape(ggrid.shape))
    titles.append(f"MAP, levels 0..{r.level} ({r.n_free} unknowns)")
show(ggrid, maps[:3], titles[:3])
show(ggrid, maps[3:], titles[3:])

# %% [markdown]
# Each level adds detail at half the previous scale; the MAP of the full model is the
# smooth, shallow-biased image typical of gravity data.
#
# For the uncertainty, let the coarse levels hand the sampler a *mass-matrix guess* too.
# With `method="laplace"` each level also computes its Hessian, i.e. the posterior
# covariance along the few directions the data inform (here a few dozen combinations of
# coarse coefficients, pinned down thousands of times more tightly than the prior), and
# starts its optimiser in the coordinates of the previous level's guess. A final
# `"nuts"` level samples the finest model rewritten in those coordinates
# ({func}`~bayesinv.inference.precondition`), which for NUTS is the same as using the guess
# as its mass matrix. `nested=True` says that each level is the finest model with the
# missing coefficients at zero, so one compiled model serves every level.

# %%
result = continuation(
    build,
    Wg.levels + 1,
    random_seed=4,
    method=["laplace"] * Wg.levels + ["nuts"],
    nested=True,
    sample_kwargs={"draws": 500, "tune": 200, "chains": 4},
)
for row in result.table():
    keep = ("level", "n_free", "method", "rank", "seconds", "max_rhat", "min_ess_bulk")
    print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items() if k in keep})
steps = result.final.result["sample_stats"]["n_steps"].mean().item()
print(f"leapfrog steps per draw on the finest level: {steps:.0f}")

# %% [markdown]
# Case study 04 measures what this buys against a cold start on grids up to 64 x 64.
