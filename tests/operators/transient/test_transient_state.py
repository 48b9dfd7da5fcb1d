"""Transient diffusion: the forward hands its factors and states to the compiled gradient."""

import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.operators import NumbaKernels
from bayesinv.operators.transient import (
    PumpingSchedule,
    RadialTransientDiffusion,
    TransientDiffusion2D,
    log_radii,
)
from bayesinv.operators.transient import _kernels_numba as kk
from bayesinv.operators.transient import _stepping_numba as st


def _cartesian(**kw):
    grid = Grid2D(nx=8, nz=6, dx=2.0, dz=2.0)
    return TransientDiffusion2D(
        grid, [[7.0, 5.0]], PumpingSchedule([40.0, 40.0], [1e-3, 0.0]),
        wells=[[4.0, 4.0], [11.0, 8.0]], times=[5.0, 30.0, 70.0, 100.0],
        estimate_storage=True, dt_min=1.0, dt_max=10.0, **kw,
    )  # fmt: skip


def _radial(**kw):
    return RadialTransientDiffusion(
        log_radii(0.1, 300.0, 15), [0.0, 3.0, 6.0], PumpingSchedule([300.0], [1e-3]),
        wells=[[2.0, 1.0], [20.0, 4.0]], times=[10.0, 100.0, 300.0], storage=1e-5,
        dt_min=2.0, dt_max=40.0, **kw,
    )  # fmt: skip


def _model(op, rng):
    m = np.log(1e-3) + 0.5 * rng.standard_normal(op.n_params)
    if op.estimate_storage:
        m[op.n_cells :] = np.log(1e-2) + 0.3 * rng.standard_normal(op.n_cells)
    return m


class _NanVjp(TransientDiffusion2D):
    """The plain numba vjp returns NaN: a finite compiled gradient came through the state."""

    def _build_numba_kernels(self):
        k = super()._build_numba_kernels()
        n = self.n_params
        import numba

        @numba.njit
        def vjp(m, dd):
            return np.full(n, np.nan)

        return NumbaKernels(k.forward, k.jvp, vjp, k.forward_state, k.vjp_state)


@pytest.mark.parametrize(
    "make", [_cartesian, _radial, lambda: _cartesian(checkpoint_every=3)],
    ids=["cartesian", "radial", "checkpointed"],
)  # fmt: skip
def test_state_kernels_equal_the_plain_ones(make):
    # the module-level kernels the closures call (compiled once, cached on disk)
    op = make()
    data = op._data()
    rng = np.random.default_rng(3)
    m, dd = _model(op, rng), rng.standard_normal(op.n_data)
    d, state = kk.forward_state_kernel(m, data)
    assert op.n_state == state.size == op.forward_state_size
    np.testing.assert_allclose(d, kk.forward_kernel(m, data), rtol=1e-14, atol=1e-18)
    # reference: a vjp that factorises and marches again (the pre-state algorithm)
    _, K, T, mass, L = kk.prepare(m, data)
    faces, n_steps, every = data[2][:2], op.steps.size, op.checkpoint_every
    carry = (np.zeros(op.n_cells), np.zeros(op.n_cells), np.zeros(1))
    grads = (np.zeros(T.size), np.zeros(op.n_cells))
    _, H = kk.simulate(m, data)  # every state, stages again one step at a time
    Y = np.array([_stage(data, T, mass, L, s, H[s]) for s in range(n_steps)])
    for s0 in range(every * ((n_steps - 1) // every), -1, -every):
        s1 = min(s0 + every, n_steps)
        st.adjoint_segment(dd, s0, s1, L, data[4], data[3], T, mass, faces, H[s0 : s1 + 1],
                           Y[s0:s1], data[9], data[8], carry, grads)  # fmt: skip
    ra, rb = data[2][2:4]
    expected = st.gradient_from(*grads, T, K, mass, faces, ra, rb, op.n_params)
    np.testing.assert_allclose(kk.vjp_state_kernel(m, state, dd, data), expected, rtol=1e-12)
    np.testing.assert_allclose(kk.vjp_kernel(m, dd, data), expected, rtol=1e-12)
    # the state is really used: a state from another model gives another gradient
    _, other = kk.forward_state_kernel(m + 0.3, data)
    assert not np.allclose(kk.vjp_state_kernel(m, other, dd, data), expected, rtol=1e-6)


def _stage(data, T, mass, L, s, h):
    """The TR-BDF2 stage value of step ``s`` from ``h`` (one step of the march)."""
    _, Y = st.march_segment(h, s, s + 1, L, data[4], data[3], data[5], data[6], T, mass,
                            data[2][:2], data[8])  # fmt: skip
    return Y[0]


def test_state_of_a_rejected_model_gives_nan():
    op = _cartesian()
    data = op._data()
    m = _model(op, np.random.default_rng(1))
    bad = m.copy()
    bad[2] = 800.0
    d, state = kk.forward_state_kernel(bad, data)
    assert np.all(np.isnan(d)) and np.isnan(state[0])
    assert np.all(np.isnan(kk.vjp_state_kernel(bad, state, np.ones(op.n_data), data)))
    _, good = kk.forward_state_kernel(m, data)  # control
    assert np.all(np.isfinite(kk.vjp_state_kernel(m, good, np.ones(op.n_data), data)))
    assert np.all(np.isnan(kk.vjp_state_kernel(m, good, np.full(op.n_data, np.nan), data)))


def test_a_state_over_the_memory_limit_is_not_handed_over(monkeypatch):
    from bayesinv.operators import base

    assert _cartesian().n_state > 0  # control
    monkeypatch.setattr(base, "FORWARD_STATE_BYTES", 8 * _cartesian().forward_state_size - 8)
    op = _cartesian()
    assert op.numba_kernels().forward_state is None and op.n_state == 0


def test_compiled_gradient_comes_through_the_forward_state():
    import pymc as pm

    from bayesinv.ops import ForwardOp

    grid = Grid2D(nx=8, nz=6, dx=2.0, dz=2.0)
    op = _NanVjp(
        grid, [[7.0, 5.0]], PumpingSchedule([40.0, 40.0], [1e-3, 0.0]),
        wells=[[4.0, 4.0], [11.0, 8.0]], times=[5.0, 30.0, 70.0, 100.0],
        estimate_storage=True, dt_min=1.0, dt_max=10.0,
    )  # fmt: skip
    rng = np.random.default_rng(8)
    mu, sigma = _model(op, rng), 1e-3
    obs = op.forward(mu) + sigma * rng.standard_normal(op.n_data)
    with pm.Model() as model:
        m = pm.Normal("m", mu, 1.0, shape=op.n_params)
        pm.Normal("d", mu=ForwardOp(op)(m), sigma=sigma, observed=obs)
    fn = model.logp_dlogp_function(ravel_inputs=True, mode="NUMBA")
    fn.set_extra_values({})
    x = mu + 0.1 * rng.standard_normal(op.n_params)
    _, grad = fn(x)
    # analytic: -(x - mu) + J^T (obs - F(x)) / sigma^2, J^T from the Python path
    expected = -(x - mu) + op.vjp(x, (obs - op.forward(x)) / sigma**2)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, expected, rtol=1e-8, atol=1e-8 * np.abs(expected).max())
