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
# # Writing your own operator
#
# Every map in bayesinv's forward chain is a
# {class}`~bayesinv.operators.ForwardOperator`: it knows its sizes (`n_params`,
# `n_data`), whether it is `linear`, and implements three methods on validated float64
# vectors,
#
# - `_forward(m)`: the prediction $d = F(m)$,
# - `_jvp(m, dm)`: the Jacobian-vector product $J(m)\,δm$ (linearised prediction),
# - `_vjp(m, dd)`: the vector-Jacobian product $J(m)^T δd$ (the adjoint, which gives the
#   gradient of the log-likelihood).
#
# For the compiled path (nutpie, PyTensor's numba backend) the operator also returns numba
# kernels for the same three maps. This tutorial writes a small nonlinear operator, checks
# it with the three tests bayesinv gives you ({func}`~bayesinv.testing.dot_test`,
# {func}`~bayesinv.testing.taylor_test`, {func}`~bayesinv.testing.check_compiled_model`),
# shows what a wrong adjoint looks like, and inverts synthetic data with it.
#
# ## The physics: vertical travel times
#
# A zero-offset vertical seismic profile: a source at the surface, receivers down a
# borehole at the bottom of layers $k_i$ of a {class}`~bayesinv.Grid1D`. The unknown is
# the log-velocity $m_j = \log v_j$ of each layer (m/s), which keeps velocities positive.
# The first-arrival time at receiver $i$ is
#
# $$ t_i = \sum_{j \le k_i} Δz\, e^{-m_j}, $$
#
# so the Jacobian is $J_{ij} = -Δz\, e^{-m_j}$ for $j \le k_i$ and zero otherwise, and
# $(J^T δt)_j = -Δz\, e^{-m_j} \sum_{i : k_i \ge j} δt_i$.

# %%
import numba
import numpy as np
import pymc as pm

import bayesinv
from bayesinv import Grid1D
from bayesinv.operators import ForwardOperator, NumbaKernels
from bayesinv.ops import forward
from bayesinv.testing import check_compiled_model, dot_test, taylor_test

# plots inline in notebooks (bayesinv.diagnostics selects the Agg backend)
# %matplotlib inline


def _kernels(bottom, dz):
    """Numba closures over the operator's data (read-only, so thread-safe)."""

    @numba.njit(cache=False)
    def fwd(m):
        slowness_dz = dz * np.exp(-m)
        cumulative = np.cumsum(slowness_dz)
        return cumulative[bottom]

    @numba.njit(cache=False)
    def jvp(m, dm):
        cumulative = np.cumsum(-dz * np.exp(-m) * dm)
        return cumulative[bottom]

    @numba.njit(cache=False)
    def vjp(m, dd):
        acc = np.zeros(m.size)
        for i in range(bottom.size):
            acc[bottom[i]] += dd[i]
        # suffix sum: every receiver at or below layer j contributes to j
        out = np.empty(m.size)
        running = 0.0
        for j in range(m.size - 1, -1, -1):
            running += acc[j]
            out[j] = -dz * np.exp(-m[j]) * running
        return out

    return fwd, jvp, vjp


class VerticalTravelTime(ForwardOperator):
    r"""First-arrival times of a zero-offset VSP from layer log-velocities.

    Parameters
    ----------
    grid : Grid1D
        Layers (depth positive down).
    receiver_layers : array_like of int
        Index of the layer at whose bottom each receiver sits.

    Notes
    -----
    :math:`t_i = \sum_{j \le k_i} Δz\, e^{-m_j}` with :math:`m = \log v` (v in m/s).
    """

    linear = False

    def __init__(self, grid, receiver_layers):
        bottom = np.asarray(receiver_layers, dtype=np.int64)
        if bottom.ndim != 1 or bottom.size == 0:
            raise ValueError("VerticalTravelTime: receiver_layers must be a non-empty 1-D array")
        if bottom.min() < 0 or bottom.max() >= grid.nz:
            raise ValueError(f"VerticalTravelTime: receiver_layers must be in [0, {grid.nz})")
        self.grid, self.bottom = grid, bottom
        self.n_params, self.n_data = grid.nz, bottom.size

    # numpy versions: the reference the numba kernels are tested against
    def _forward(self, m):
        return np.cumsum(self.grid.dz * np.exp(-m))[self.bottom]

    def _jvp(self, m, dm):
        return np.cumsum(-self.grid.dz * np.exp(-m) * dm)[self.bottom]

    def _vjp(self, m, dd):
        acc = np.bincount(self.bottom, weights=dd, minlength=self.n_params)
        return -self.grid.dz * np.exp(-m) * np.cumsum(acc[::-1])[::-1]

    def _build_numba_kernels(self):
        return NumbaKernels(*_kernels(self.bottom, self.grid.dz))


# %%
grid = Grid1D(nz=30, dz=10.0)
receivers = np.arange(2, 30, 3)  # every third layer bottom, from 30 m down
op = VerticalTravelTime(grid, receivers)
op

# %% [markdown]
# The public methods validate their inputs, so bad input fails with a message naming the
# operator and the argument, never silently:

# %%
try:
    op.forward(np.zeros(29))
except ValueError as err:
    print(err)

# %% [markdown]
# ## Check 1: the dot test (adjoint)
#
# For random $m$, $δm$, $δd$ the adjoint identity $⟨J δm, δd⟩ = ⟨δm, J^T δd⟩$ must hold to
# round-off. {func}`~bayesinv.testing.dot_test` returns the relative mismatch and raises
# when it exceeds `tol` (1e-10).

# %%
rng = np.random.default_rng(7)
m_ref = np.log(np.linspace(1500.0, 3500.0, grid.nz))
print("dot test:", dot_test(op, rng, m=m_ref))

# %% [markdown]
# ## Check 2: the Taylor test (derivative)
#
# The remainder $\|F(m + h δm) - F(m) - h J δm\|$ must shrink like $h^2$; a wrong
# Jacobian shrinks like $h$. {func}`~bayesinv.testing.taylor_test` fits the order
# (infinite for linear operators) and raises below `min_order`.

# %%
result = taylor_test(op, m_ref, rng)
print("Taylor order:", round(result.order, 3))
print("steps:     ", result.steps)
print("remainder0:", result.remainder0)
print("remainder1:", result.remainder1)

# %% [markdown]
# ## Check 3: inside a compiled model
#
# {func}`~bayesinv.testing.check_compiled_model` builds a small PyMC model with the
# operator, compiles its log density and gradient with PyTensor's numba backend (the one
# nutpie uses), and checks that no "object mode" fallback happens, that the compiled values
# match the numpy methods to 1e-9 and that the Op's gradient passes PyTensor's
# `verify_grad`. It raises an `AssertionError` on any failure.

# %%
check_compiled_model(op, seed=3, sigma=1e-3)
print("compiled model: ok")

# %% [markdown]
# ## What a bug looks like
#
# An adjoint that forgets the suffix sum (a common slip) passes a casual look but not the
# dot test; with `raise_error=False` the test returns the error instead of raising.


# %%
class BrokenAdjoint(VerticalTravelTime):
    def _vjp(self, m, dd):
        acc = np.bincount(self.bottom, weights=dd, minlength=self.n_params)
        return -self.grid.dz * np.exp(-m) * acc  # missing the sum over deeper receivers

    def _build_numba_kernels(self):
        return None


broken = BrokenAdjoint(grid, receivers)
print("dot test of the broken adjoint:", dot_test(broken, rng, m=m_ref, raise_error=False))

# %% [markdown]
# ## Inverting with it
#
# A smooth velocity increase with a fast layer, times with 0.5 ms noise, a Gaussian
# random-walk prior on the log-velocity, sampled with nutpie through the operator's numba
# kernels.

# %%
depth = grid.z_centers
v_true = 1600.0 + 60.0 * depth / 10.0 + 800.0 * ((depth > 120) & (depth < 170))
m_true = np.log(v_true)
sigma = 5e-4
t_obs = op.forward(m_true) + sigma * rng.standard_normal(op.n_data)

with pm.Model(coords={"layer": depth}) as model:
    step = pm.HalfNormal("step", 0.1)
    m = pm.GaussianRandomWalk(
        "log_velocity",
        mu=0.0,
        sigma=step,
        init_dist=pm.Normal.dist(np.log(2000.0), 0.5),
        dims="layer",
    )
    pm.Normal("times", forward(op, m), sigma, observed=t_obs)

idata = bayesinv.sample(model, draws=400, tune=400, chains=2, random_seed=11)

# %%
import matplotlib.pyplot as plt

v = np.exp(idata["posterior"]["log_velocity"].stack(s=("chain", "draw")).values)
lo, mid, hi = np.percentile(v, [5, 50, 95], axis=1)
fig, ax = plt.subplots(figsize=(4, 5))
ax.fill_betweenx(depth, lo, hi, alpha=0.3, label="90% interval")
ax.plot(mid, depth, label="posterior median")
ax.plot(v_true, depth, "k--", label="truth")
ax.plot(
    np.full(receivers.size, v_true.min() - 200), grid.z_edges[receivers + 1], "v", label="receivers"
)
ax.invert_yaxis()
ax.set_xlabel("velocity (m/s)")
ax.set_ylabel("depth (m)")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# Below the deepest receiver (280 m) the data say nothing, and the interval opens up to
# the prior's spread. Between receivers the data constrain only the average slowness of
# each interval, so sharp steps are smoothed out.
