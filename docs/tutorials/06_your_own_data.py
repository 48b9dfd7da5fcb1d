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
# # Your own data: a gravity line from a CSV file to a posterior
#
# Field data come as files: here a gravity line as a CSV file, with stations in UTM
# eastings, elevations, Bouguer values in mGal, a standard error per station and one
# blank reading. This tutorial reads it with {mod}`bayesinv.formats`, builds the inversion
# with an unknown base level ({class}`~bayesinv.model.offsets.Offset`) and a regional slope
# ({class}`~bayesinv.model.offsets.LinearTrend`), learns a scale factor on the stated
# errors, and looks at the posterior, its depth of investigation and the data fit. Then it
# does the same without code, with `bayesinv init` and `bayesinv invert`.
#
# The model is $d_i = (F m)_i + c + b\,(x_i - \bar x) + ε_i$, $ε_i \sim N(0, (s\,e_i)^2)$:
# the density contrast $m$ (kg/m³, one value per cell), the gravity operator $F$ (mGal,
# positive down), the base level $c$ (the values are tied to an arbitrary base station),
# the regional slope $b$ (mGal/m), the stated errors $e_i$ and their unknown scale $s$.

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image

from bayesinv import Grid2D
from bayesinv.cli import main
from bayesinv.diagnostics import plot_field_maps
from bayesinv.diagnostics.report import report
from bayesinv.formats import read_potential_columns
from bayesinv.inference import sample
from bayesinv.model import IIDNormal, JointInversion, LinearTrend, Modality, Offset
from bayesinv.model.noise import ScaledNoise
from bayesinv.operators import Gravity2D

# %matplotlib inline
work = Path(tempfile.mkdtemp(prefix="bayesinv_own_data_"))

# %% [markdown]
# ## The file
#
# We write the file a field crew might send (made here from a known section, so that we
# can check the answer): 21 stations 25 m apart at UTM eastings near 512 km, ground
# elevations, values with a base level of +0.8 mGal and a regional slope of 1 mGal/km,
# errors of 0.02 mGal, and station 8 with no reading.

# %%
rng = np.random.default_rng(6)
east = 512_000.0 + 25.0 * np.arange(21)
elevation = 240.0 + 2.0 * np.sin(np.arange(21) / 4.0)
truth_grid = Grid2D(40, 10, 15.0, 10.0, x0=east[0] - 50.0, z0=-elevation.min())
truth = np.zeros(truth_grid.shape)
truth[2:5, 18:24] = 400.0  # a dense block 20-50 m below the ground, kg/m^3
stations = np.column_stack([east, -elevation])
clean = Gravity2D(truth_grid, stations).forward(truth.ravel())
values = clean + 0.8 + 1e-3 * (east - east.mean()) + 0.02 * rng.standard_normal(21)
rows = ["station,x[m],elevation[m],gz[mGal],sd[mGal]"]
for i in range(21):
    reading = "" if i == 8 else f"{values[i]:.4f}"
    rows.append(f"{i + 1},{east[i]:.1f},{elevation[i]:.2f},{reading},0.02")
csv = work / "line3.csv"
csv.write_text("\n".join(rows) + "\n")
print("\n".join(rows[:5]))

# %% [markdown]
# ## Reading it
#
# {func}`~bayesinv.formats.read_potential_columns` maps the header to positions, values and
# errors (units in brackets are checked: `gz[uGal]` would be converted, an unknown unit is an
# error). Here the eastings are in a column `x`; a file with other names reads with
# `mapping={"x": "easting", ...}`. Elevations become depths, `z = -elevation`. The blank
# reading is kept as NaN, masked and reported, never dropped.

# %%
survey = read_potential_columns(csv, "gravity")
print(survey.report)
print("masked stations:", survey.missing)

# %% [markdown]
# ## The inversion
#
# The grid covers the stations with 50 m on each side and reaches 150 m down, its top at
# the lowest station (a station must not be inside a cell). The prior on the density
# contrast is an independent normal of sd 200 kg/m³ per cell; the data terms are added
# with `add_offset`.

# %%
x = survey.receivers[:, 0]
grid = Grid2D(24, 8, (np.ptp(x) + 100.0) / 24, 150.0 / 8, x0=x.min() - 50.0,
              z0=survey.receivers[:, 1].max())  # fmt: skip
inv = (
    JointInversion()
    .add_field("density", grid, IIDNormal(0.0, 200.0))
    .add_modality(
        Modality(
            "gravity",
            Gravity2D(grid, survey.receivers),
            np.nan_to_num(survey.values),  # masked readings are not used
            ScaledNoise(np.nan_to_num(survey.error, nan=1.0)),
            coords=survey.receivers,
            mask=survey.mask,
        )
    )
    .add_offset("gravity", Offset(sd=2.0))  # unknown base level, mGal
    .add_offset("gravity", LinearTrend(sd=5e-3))  # regional slope, mGal/m
)
model = inv.build()
idata = sample(model, draws=300, tune=300, chains=2, random_seed=6, progressbar=False)

# %% [markdown]
# The base level, the slope and the noise scale are learned with the field (the truth:
# 0.8 mGal, 0.001 mGal/m, 1):

# %%
post = idata["posterior"]
for name in ("gravity_offset", "gravity_trend", "gravity_sigma"):
    v = post[name].values.ravel()
    print(f"{name}: mean {v.mean():.4g}, 90% interval {np.quantile(v, 0.05):.4g} .. "
          f"{np.quantile(v, 0.95):.4g}")  # fmt: skip

# %% [markdown]
# ## Posterior maps and depth of investigation
#
# The posterior sd divided by the prior sd says where the data constrain the section:
# near 0 they do, near 1 the posterior is the prior (gravity alone cannot tell depth well,
# so the ratio stays high at depth).

# %%
dens = post["density"].values.reshape(-1, *grid.shape)
plot_field_maps(
    grid,
    {
        "posterior mean": dens.mean(axis=0),
        "posterior sd / prior sd": dens.std(axis=0) / 200.0,
    },
    work / "maps.png",
    units={"posterior mean": "kg/m³", "posterior sd / prior sd": "ratio"},
    kinds={"posterior mean": "contrast", "posterior sd / prior sd": "absolute"},
    receivers=survey.receivers,
)
Image(str(work / "maps.png"))

# %% [markdown]
# ## Data fit against station position

# %%
result = report(idata, work / "api_report", fields={"density": grid}, model=model, seed=6,
                units={"density": "kg/m³", "gravity": "g_z (mGal)"},
                receivers=survey.receivers)  # fmt: skip
pp = result.idata["posterior_predictive"]["gravity"].values.reshape(-1, survey.mask.sum())
fig, ax = plt.subplots(figsize=(7, 3))
used = survey.mask
ax.errorbar(x[used], survey.values[used], yerr=survey.error[used], fmt="o", ms=3,
            label="data ± stated error")  # fmt: skip
ax.fill_between(x[used], *np.quantile(pp, [0.05, 0.95], axis=0), alpha=0.3,
                label="90% posterior predictive")  # fmt: skip
ax.set(xlabel="easting (m)", ylabel="g_z (mGal)")
ax.legend()
result.ppc

# %% [markdown]
# ## The same without code: `bayesinv init` and `bayesinv invert`
#
# `bayesinv init` reads the file once and writes a commented configuration (it sees the
# `sd` column and the need for a base level); we shrink it to tutorial size and add the
# regional slope. Its grid comes from the data extent (`[grid] padding`, `depth`). Its
# `[prior]` table chooses a smooth Matérn field (`kind = "matern"`, a length scale of an
# eighth of the line) instead of the independent cells used above; `kind = "iid"` and
# `kind = "besov"` are the other choices (keys on the "file formats" page). In a shell:
# `bayesinv init line3.csv --out line3.toml`, edit, `bayesinv invert line3.toml`.

# %%
config = work / "line3.toml"
main(["init", str(csv), "--out", str(config)])
text = config.read_text()
print(text)

# %%
for old, new in [("nx = 40", "nx = 24"), ("nz = 15", "nz = 8"),
                 ("draws = 1000", "draws = 300"), ("tune = 1000", "tune = 300"),
                 ("chains = 4", "chains = 2"), ("offset_sd = 1.0", "offset_sd = 2.0"),
                 ("trend_sd = 0.0", "trend_sd = 0.005")]:  # fmt: skip
    text = text.replace(old, new)
config.write_text(text)
status = main(["invert", str(config), "--out", str(work / "invert")])
print("exit status", status, "(0: converged, 1: the convergence verdict failed)")
Image(str(work / "invert" / "doi_density.png"))

# %% [markdown]
# The report page (`invert/index.html`) holds the posterior maps with the stations drawn,
# the data fit per station, the posterior predictive check and the convergence verdict;
# `posterior.nc` holds the draws. When the residuals against station position still show
# structure that a base level and a slope cannot take, the discrepancy GP of case study 03
# is the next step; for an ERT file (`.ohm`, Res2DInv) the same two commands apply, see
# case study 06 and the "file formats" page.
