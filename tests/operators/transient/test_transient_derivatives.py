"""Transient diffusion: numpy reference, exact discrete adjoint, compiled path, rejections."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from bayesinv import Grid2D
from bayesinv.operators.transient import (
    PumpingSchedule,
    RadialTransientDiffusion,
    TransientDiffusion2D,
    log_radii,
)
from bayesinv.testing import check_compiled_model, dot_test, taylor_test

GAMMA = 2.0 - np.sqrt(2.0)
SOURCES = [[8.0, 6.0, 8.0, 6.0], [3.0, 2.0, 14.0, 12.0]]  # a point and a line source


def _point_weights(op, x, z):
    """Bilinear weights on the cell centres, constant beyond the outer centres (reference)."""
    xc, zc = op.mesh.x_centers, op.mesh.z_centers
    fx = np.interp(x, xc, np.arange(xc.size, dtype=float))
    fz = np.interp(z, zc, np.arange(zc.size, dtype=float))
    w = np.zeros((zc.size, xc.size))
    ix, iz = min(int(fx), xc.size - 2), min(int(fz), zc.size - 2)
    tx, tz = fx - ix, fz - iz
    w[iz, ix], w[iz, ix + 1] = (1 - tz) * (1 - tx), (1 - tz) * tx
    w[iz + 1, ix], w[iz + 1, ix + 1] = tz * (1 - tx), tz * tx
    return w.ravel()


def _source_weights(op, start, stop):
    """A source spread along a segment: pieces <= a quarter cell, each at its midpoint."""
    h = min(np.diff(op.mesh.x_edges).min(), np.diff(op.mesh.z_edges).min())
    pieces = max(1, int(np.ceil(4 * np.hypot(*(stop - start)) / h)))
    s = (np.arange(pieces) + 0.5) / pieces
    pts = start + s[:, None] * (stop - start)
    return sum(_point_weights(op, x, z) for x, z in pts) / pieces


def _cartesian(estimate_storage, data="drawdown"):
    grid = Grid2D(nx=9, nz=7, dx=2.0, dz=2.0)
    schedule = PumpingSchedule([50.0, 50.0], [[1e-3, 0.0], [0.0, -5e-4]])
    return TransientDiffusion2D(
        grid, SOURCES, schedule, wells=[[5.0, 5.0], [13.3, 9.1]],
        times=[0.0, 3.0, 20.0, 55.0, 120.0],
        storage=None if estimate_storage else 1e-2, estimate_storage=estimate_storage,
        data=data, initial_head=np.linspace(0.0, 0.1, grid.size), dt_min=1.0, dt_max=10.0,
    )  # fmt: skip


def _model(op, rng):
    n = op.n_cells
    m = [np.log(1e-3) + 0.5 * rng.standard_normal(n)]
    if op.estimate_storage:
        m.append(np.log(1e-2) + 0.3 * rng.standard_normal(n))
    return np.concatenate(m)


def _reference_forward(op, m):
    """TR-BDF2 written out in numpy/scipy, with linear interpolation in time (reference)."""
    n = op.n_cells
    K = np.exp(m[:n])
    S = np.exp(m[n:]) if op.estimate_storage else op._log_s * 0 + np.exp(op._log_s)
    me = op.mesh
    T = 1.0 / (me.res_a / K[me.face_a] + me.res_b / K[me.face_b])
    D = sp.csr_matrix(
        (np.r_[np.ones(T.size), -np.ones(T.size)],
         (np.r_[np.arange(T.size), np.arange(T.size)], np.r_[me.face_a, me.face_b])),
        shape=(T.size, n),
    )  # fmt: skip
    A = D.T @ sp.diags(T) @ D
    M = sp.diags(S * me.volume)
    alpha, beta = 1 / (GAMMA * (2 - GAMMA)), (1 - GAMMA) ** 2 / (GAMMA * (2 - GAMMA))
    H = [op.initial_head.copy()]
    t = 0.0
    for dt in op.steps:
        rate = op.schedule.rate_at(t + 0.5 * dt)
        f = np.zeros(n)
        # forcing from the source distributions (extraction lowers the head)
        for s, src in enumerate(SOURCES):
            f -= rate[s] * _source_weights(op, np.array(src[:2]), np.array(src[2:]))
        c = GAMMA * dt / 2
        lu = splu(sp.csc_matrix(M + c * A))
        y = lu.solve((M - c * A) @ H[-1] + 2 * c * f)
        H.append(lu.solve(alpha * (M @ y) - beta * (M @ H[-1]) + c * f))
        t += dt
    H = np.array(H)
    out = []
    for w in op.wells:
        series = []
        for ti in op.times:
            hs = np.array([np.interp(ti, op.step_times, H[:, c]) for c in range(n)])
            series.append(_point_weights(op, *w) @ hs)
        out.append(series)
    head = np.array(out).ravel()
    if op.data_kind == "head":
        return head
    h0 = np.repeat([_point_weights(op, *w) @ op.initial_head for w in op.wells], op.times.size)
    return h0 - head


@pytest.mark.parametrize("estimate_storage", [False, True])
@pytest.mark.parametrize("data", ["drawdown", "head"])
def test_kernels_match_numpy_reference(estimate_storage, data):
    op = _cartesian(estimate_storage, data)
    m = _model(op, np.random.default_rng(5))
    np.testing.assert_allclose(op.forward(m), _reference_forward(op, m), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("estimate_storage", [False, True])
def test_dot_and_taylor_over_the_whole_time_stepping(estimate_storage):
    op = _cartesian(estimate_storage)
    rng = np.random.default_rng(7)
    m = _model(op, rng)
    assert dot_test(op, rng, m) <= 1e-10
    taylor_test(op, m, rng, dm=0.3 * rng.standard_normal(op.n_params), min_order=1.9)


def test_radial_dot_and_taylor_with_layers_and_a_partial_screen():
    op = RadialTransientDiffusion(
        log_radii(0.1, 500.0, 25), [0.0, 2.0, 5.0, 9.0],
        PumpingSchedule([600.0, 600.0], [2e-3, 0.0]),
        wells=[[3.0, 1.0], [12.0, 6.0], [40.0, 3.0]], times=[30.0, 300.0, 900.0, 1200.0],
        screen=(2.0, 9.0), estimate_storage=True, dt_min=2.0, dt_max=60.0,
    )  # fmt: skip
    rng = np.random.default_rng(11)
    m = np.concatenate(
        [
            np.log(1e-4) + 0.5 * rng.standard_normal(op.n_cells),
            np.log(1e-5) + 0.3 * rng.standard_normal(op.n_cells),
        ]
    )
    assert dot_test(op, rng, m) <= 1e-10
    taylor_test(op, m, rng, dm=0.3 * rng.standard_normal(op.n_params), min_order=1.9)


def test_non_physical_model_gives_nan_not_an_error():
    op = _cartesian(True)
    m = _model(op, np.random.default_rng(1))
    for bad in (800.0, -800.0):  # exp overflows to inf or underflows to 0
        mb = m.copy()
        mb[3] = bad
        assert np.all(np.isnan(op.forward(mb)))
        assert np.all(np.isnan(op.jvp(mb, np.ones(op.n_params))))
        assert np.all(np.isnan(op.vjp(mb, np.ones(op.n_data))))
    assert np.all(np.isnan(op.vjp(m, np.full(op.n_data, np.nan))))
    assert np.all(np.isfinite(op.vjp(m, np.ones(op.n_data))))  # control


def test_compiled_model_without_object_mode_and_rejects_non_physical_proposals():
    import pymc as pm

    from bayesinv.ops import ForwardOp

    op = _cartesian(False)
    check_compiled_model(op, seed=3, sigma=1e-3)
    m0 = _model(op, np.random.default_rng(2))
    with pm.Model() as model:
        m = pm.Normal("m", np.log(1e-3), 1.0, shape=op.n_params)
        pm.Normal("d", mu=ForwardOp(op)(m), sigma=1e-3, observed=op.forward(m0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", category=UserWarning)
        logp = model.compile_logp(mode="NUMBA")
        dlogp = model.compile_dlogp(mode="NUMBA")
    assert np.isfinite(logp({"m": m0}))  # control
    bad = m0.copy()
    bad[0] = 800.0
    assert not np.isfinite(logp({"m": bad}))
    assert not np.all(np.isfinite(dlogp({"m": bad})))


@pytest.mark.parametrize("every", [1, 3, 7])
def test_checkpointed_derivatives_equal_the_stored_ones(every):
    base = _cartesian(True)
    op = TransientDiffusion2D(
        base.grid, SOURCES, base.schedule, wells=base.wells, times=base.times,
        estimate_storage=True, initial_head=base.initial_head, steps=base.steps,
        checkpoint_every=every,
    )  # fmt: skip
    assert base.checkpoint_every == base.steps.size and op.checkpoint_every == every
    rng = np.random.default_rng(every)
    m = _model(op, rng)
    dm, dd = rng.standard_normal(op.n_params), rng.standard_normal(op.n_data)
    np.testing.assert_allclose(op.forward(m), base.forward(m), rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(op.jvp(m, dm), base.jvp(m, dm), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(op.vjp(m, dd), base.vjp(m, dd), rtol=1e-12, atol=1e-15)
    assert dot_test(op, rng, m) <= 1e-10


def test_kernels_are_thread_safe():
    from concurrent.futures import ThreadPoolExecutor

    op = _cartesian(True)
    rng = np.random.default_rng(4)
    models = [_model(op, rng) for _ in range(6)]
    dd = rng.standard_normal(op.n_data)
    serial = [op.vjp(m, dd) for m in models]
    with ThreadPoolExecutor(max_workers=3) as pool:
        parallel = list(pool.map(lambda m: op.vjp(m, dd), models))
    for a, b in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(a, b)
