"""Acoustic wave operators and the band-pass filter: adjoints, derivatives, compiled path,
rejected proposals, checkpointing and bad input."""

import numpy as np
import pytest

from bayesinv import Grid1D, Grid2D
from bayesinv.operators.wave import AcousticWave1D, AcousticWave2D, BandPass, ricker, time_samples
from bayesinv.testing import check_compiled_model, dot_test, taylor_test

DT, T = 1e-3, 0.1


@pytest.fixture(scope="module")
def wave2d():
    grid = Grid2D(12, 10, 10.0, 10.0)
    src = [[55.0, 33.0], [20.0, 20.0]]
    rec = [[20.0, 10.0], [100.0, 90.0], [33.3, 71.2]]
    w = ricker(30.0, time_samples(DT, T))
    return AcousticWave2D(grid, src, rec, dt=DT, duration=T, wavelet=w, pad=5,
                          checkpoint_interval=7, reference_velocity=2000.0)  # fmt: skip


@pytest.fixture(scope="module")
def wave1d():
    t = time_samples(DT, 0.2)
    return AcousticWave1D(Grid1D(40, 5.0), [12.0, 50.0], [3.0, 100.0, 150.0], dt=DT,
                          duration=0.2, wavelet=ricker(20.0, t), pad=10,
                          reference_velocity=1500.0)  # fmt: skip


@pytest.fixture(scope="module")
def small():
    """A tiny operator whose compiled closures are built once for the compiled-path tests;
    velocities exp(N(0, 1)) m/s are far below its CFL limit (612 m/s)."""
    grid = Grid2D(6, 5, 10.0, 10.0)
    t = time_samples(0.01, 0.3)
    return AcousticWave2D(grid, [[25.0, 25.0]], [[5.0, 5.0], [55.0, 45.0]], dt=0.01,
                          duration=0.3, wavelet=ricker(2.0, t), pad=3)  # fmt: skip


def _point(op, v, rng):
    return np.log(v) + 0.1 * rng.standard_normal(op.n_params)


@pytest.mark.parametrize("which", ["wave1d", "wave2d"])
def test_dot_and_taylor(which, request, rng):
    op = request.getfixturevalue(which)
    m = _point(op, 2000.0 if which == "wave2d" else 1500.0, rng)
    assert dot_test(op, rng, m) <= 1e-10
    taylor_test(op, m, rng, dm=0.1 * rng.standard_normal(op.n_params))


def test_filtered_wave_dot_and_taylor(wave2d, rng):
    filt = BandPass(wave2d.n_sources * wave2d.n_receivers, wave2d.nt, DT, (5.0, 60.0))
    op = filt @ wave2d
    m = _point(wave2d, 2000.0, rng)
    assert dot_test(filt, rng) <= 1e-10
    assert dot_test(op, rng, m) <= 1e-10
    taylor_test(op, m, rng, dm=0.1 * rng.standard_normal(op.n_params))


def test_gradient_does_not_depend_on_checkpoint_interval(wave2d, rng):
    m = _point(wave2d, 2000.0, rng)
    dd = rng.standard_normal(wave2d.n_data)
    ref = wave2d.vjp(m, dd)
    for ck in (1, 3, wave2d.nt):
        op = AcousticWave2D(wave2d.grid, wave2d.sources, wave2d.receivers, dt=DT, duration=T,
                            wavelet=wave2d.wavelet, pad=5, checkpoint_interval=ck,
                            reference_velocity=2000.0)  # fmt: skip
        np.testing.assert_allclose(op.vjp(m, dd), ref, rtol=1e-12, atol=1e-14 * abs(ref).max())
        assert op.gradient_memory_bytes() > 0


# serial (1 shot) and threaded kernels; wave1d's first source spreads onto PML-box nodes
@pytest.mark.parametrize("which", ["small", "wave2d", "wave1d"])
def test_boundary_history_gives_the_same_gradient_bit_for_bit(which, request, monkeypatch, rng):
    """With the boundary history over every step (the interior stepped again, the PML read
    back), over the last segments only, and without it (every segment recomputed in full),
    the gradient and the state's gradient agree exactly: the recomputed wavefields are the
    forward's bit for bit."""
    from bayesinv.operators.wave import _base

    op = request.getfixturevalue(which)
    m = _point(op, 0.5 * op.max_velocity, rng)
    dd = rng.standard_normal(op.n_data)
    ck, nsteps = op.checkpoint_interval, op.nt - 1
    assert op._plan(state=False) == op._plan(state=True) == (ck, nsteps)  # small: it fits
    full = op.vjp(m, dd)
    k = op.numba_kernels()
    np.testing.assert_array_equal(k.vjp_state(m, k.forward_state(m)[1], dd), full)
    block = 8 * (op._shot_state_size(nsteps) + (ck + 2) * op._cell.size)
    monkeypatch.setattr(_base, "HISTORY_BYTES", block)  # control: exactly at the limit
    assert op._plan(state=False)[1] == nsteps
    monkeypatch.setattr(_base, "HISTORY_BYTES", block - 8)  # the last whole segments only
    rows = op._plan(state=False)[1]
    assert 0 < rows < nsteps and (nsteps - rows) % ck == 0
    np.testing.assert_array_equal(op.vjp(m, dd), full)
    monkeypatch.setattr(_base, "HISTORY_BYTES", 0)
    assert op._plan(state=False) == op._plan(state=True) == (ck, 0)
    assert op.gradient_memory_bytes() == 8 * (op._shot_state_size(0) + (ck + 10) * op._cell.size)
    np.testing.assert_array_equal(op.vjp(m, dd), full)
    op2 = type(op).__new__(type(op))
    op2.__dict__.update(op.__dict__)  # the same operator, its compiled kernels built again
    op2.__dict__.pop("_numba_kernels_cache", None)
    k2 = op2.numba_kernels()
    assert op2.n_state == op.n_state - op.n_sources * nsteps * op._n_outside()
    np.testing.assert_array_equal(k2.vjp_state(m, k2.forward_state(m)[1], dd), full)


def test_numba_kernels_match_python_api(small, rng):
    k = small.numba_kernels()
    m = rng.standard_normal(small.n_params)
    dm, dd = rng.standard_normal(small.n_params), rng.standard_normal(small.n_data)
    np.testing.assert_array_equal(k.forward(m), small.forward(m))
    np.testing.assert_array_equal(k.jvp(m, dm), small.jvp(m, dm))
    np.testing.assert_array_equal(k.vjp(m, dd), small.vjp(m, dd))


def test_a_state_over_the_memory_limit_is_not_handed_over(monkeypatch, rng):
    from bayesinv.operators import base

    grid = Grid2D(6, 5, 10.0, 10.0)
    t = time_samples(0.01, 0.3)
    args = (grid, [[25.0, 25.0]], [[5.0, 5.0]])
    kw = {"dt": 0.01, "duration": 0.3, "wavelet": ricker(2.0, t), "pad": 3}
    size = AcousticWave2D(*args, **kw).forward_state_size
    monkeypatch.setattr(base, "FORWARD_STATE_BYTES", 8 * size)  # control: exactly at the limit
    assert AcousticWave2D(*args, **kw).numba_kernels().forward_state is not None
    monkeypatch.setattr(base, "FORWARD_STATE_BYTES", 8 * size - 8)
    op = AcousticWave2D(*args, **kw)
    k = op.numba_kernels()
    assert k.forward_state is None and op.n_state == 0
    m = np.log(100.0) + 0.1 * rng.standard_normal(op.n_params)
    dd = rng.standard_normal(op.n_data)
    np.testing.assert_array_equal(k.vjp(m, dd), op.vjp(m, dd))  # the gradient recomputes


@pytest.mark.parametrize("which", ["small", "wave2d"])  # serial (1 shot) and threaded kernels
def test_forward_state_gives_the_forward_and_the_gradient(which, request, rng):
    op = request.getfixturevalue(which)
    k = op.numba_kernels()
    assert op.n_state == op.forward_state_size > 0
    m = _point(op, 0.5 * op.max_velocity, rng)
    dd = rng.standard_normal(op.n_data)
    d, state = k.forward_state(m)
    assert state.shape == (op.n_state,)
    np.testing.assert_array_equal(d, op.forward(m))
    ref = op.vjp(m, dd)
    np.testing.assert_allclose(k.vjp_state(m, state, dd), ref, rtol=0, atol=1e-13 * abs(ref).max())
    # negative control: the state of another model gives another gradient
    _, other = k.forward_state(m + 0.05)
    assert not np.allclose(k.vjp_state(m, other, dd), ref, rtol=1e-3)
    bad = np.full(op.n_params, np.log(op.max_velocity * 1.01))
    assert np.all(np.isnan(k.forward_state(bad)[0]))
    assert np.all(np.isnan(k.vjp_state(bad, state, dd)))


def test_compiled_model_without_object_mode(small):
    # the composition covers the wave kernels, the filter's and the receivers
    check_compiled_model(BandPass(2, small.nt, 0.01, (0.5, 10.0)) @ small, seed=4)


def test_cfl_violation_raises_in_python_and_is_nan_in_kernels(small):
    m = np.full(small.n_params, np.log(small.max_velocity * 1.01))
    with pytest.raises(ValueError, match=r"AcousticWave2D: velocity up to .*sqrt\(3\)/2"):
        small.forward(m)
    with pytest.raises(ValueError, match="largest stable velocity"):
        small.vjp(m, np.zeros(small.n_data))
    k = small.numba_kernels()
    assert np.all(np.isnan(k.forward(m)))
    assert np.all(np.isnan(k.jvp(m, m)))
    assert np.all(np.isnan(k.vjp(m, np.ones(small.n_data))))
    # negative control: just below the limit everything is finite
    ok = np.full(small.n_params, np.log(small.max_velocity * 0.99))
    assert np.all(np.isfinite(k.forward(ok)))


def test_unstable_velocity_is_a_rejected_proposal_in_pymc(small):
    import pymc as pm

    from bayesinv.ops import ForwardOp

    op = small
    with pm.Model() as model:
        m = pm.Normal("m", 0.0, 1.0, shape=op.n_params)
        pm.Normal("d", mu=ForwardOp(op)(m), sigma=1.0, observed=np.zeros(op.n_data))
    logp = model.compile_logp(mode="NUMBA")
    assert np.isfinite(logp({"m": np.zeros(op.n_params)}))
    assert not np.isfinite(logp({"m": np.full(op.n_params, np.log(2 * op.max_velocity))}))


def test_bandpass_response_and_consistent_wavelet_filtering():
    dt, t = 1e-3, time_samples(1e-3, 1.0)
    f = BandPass(1, t.size, dt, (5.0, 20.0))
    h = f.frequency_response([1.0, 10.0, 15.0, 40.0, 100.0])
    assert np.all(np.abs(h[1:3] - 1) < 0.01) and np.all(np.abs(h[[0, 3, 4]]) < 0.01), h
    np.testing.assert_array_equal(f.taps, f.taps[::-1])  # zero phase
    # a filtered sinusoid keeps its phase (zero phase) and amplitude H(f)
    x = np.sin(2 * np.pi * 12.0 * t)
    y = f.forward(x)
    mid = slice(300, 700)
    np.testing.assert_allclose(y[mid], f.frequency_response(12.0) * x[mid], atol=2e-3)


def test_filtering_data_equals_filtering_the_wavelet(wave1d):
    # linear time invariance: filter(wave(w)) == wave(filter(w)) away from the trace ends
    filt = BandPass(1, wave1d.nt, DT, (0.0, 25.0), numtaps=41)
    w = wave1d.wavelet[0]
    op_w = AcousticWave1D(wave1d.grid, [50.0], [100.0], dt=DT, duration=0.2, wavelet=w, pad=10,
                          reference_velocity=1500.0)  # fmt: skip
    op_fw = AcousticWave1D(wave1d.grid, [50.0], [100.0], dt=DT, duration=0.2, pad=10,
                           wavelet=filt.filter_wavelet(w), reference_velocity=1500.0)  # fmt: skip
    m = np.full(wave1d.n_params, np.log(1500.0))
    a, b = filt.forward(op_w.forward(m)), op_fw.forward(m)
    inner = slice(20, wave1d.nt - 20)
    # up to the Ricker wavelet's part before t = 0 (1e-8 of its peak), which is cut
    np.testing.assert_allclose(a[inner], b[inner], atol=1e-6 * np.abs(b).max())
    assert np.abs(a - op_w.forward(m)).max() > 0.01 * np.abs(a).max()  # the filter acts


def test_bad_input():
    grid = Grid2D(10, 10, 10.0, 10.0)
    t = time_samples(DT, T)
    w = ricker(20.0, t)
    kw = {"dt": DT, "duration": T, "wavelet": w}
    with pytest.raises(ValueError, match=r"AcousticWave2D: source 1 at \(x, z\) = .* outside"):
        AcousticWave2D(grid, [[50.0, 50.0], [150.0, 50.0]], [[5.0, 5.0]], **kw)
    with pytest.raises(ValueError, match=r"AcousticWave2D: receiver 0 .* outside"):
        AcousticWave2D(grid, [[50.0, 50.0]], [[5.0, -1.0]], **kw)
    with pytest.raises(ValueError, match="AcousticWave2D: dt must be a finite number > 0"):
        AcousticWave2D(grid, [[50.0, 50.0]], [[5.0, 5.0]], dt=0.0, duration=T, wavelet=w)
    with pytest.raises(ValueError, match="AcousticWave2D: duration must be a finite number > 0"):
        AcousticWave2D(grid, [[50.0, 50.0]], [[5.0, 5.0]], dt=DT, duration=-1.0, wavelet=w)
    bad = w.copy()
    bad[7] = np.nan
    with pytest.raises(ValueError, match=r"AcousticWave2D: wavelet has NaN .*\(0, 7\)"):
        AcousticWave2D(grid, [[50.0, 50.0]], [[5.0, 5.0]], dt=DT, duration=T, wavelet=bad)
    with pytest.raises(ValueError, match=r"wavelet must have shape \(101,\)"):
        AcousticWave2D(grid, [[50.0, 50.0]], [[5.0, 5.0]], dt=DT, duration=T, wavelet=w[:-1])
    with pytest.raises(ValueError, match=r"AcousticWave1D: receivers\[1\] = 60.0 lies outside"):
        AcousticWave1D(Grid1D(10, 5.0), [5.0], [1.0, 60.0], **kw)
    with pytest.raises(TypeError, match="AcousticWave1D: grid must be a Grid1D"):
        AcousticWave1D(grid, [5.0], [1.0], **kw)
    with pytest.raises(ValueError, match=r"BandPass: band must satisfy .* Nyquist .* 500 Hz"):
        BandPass(1, 100, DT, (10.0, 600.0))
    with pytest.raises(ValueError, match="BandPass: band must satisfy"):
        BandPass(1, 100, DT, (30.0, 20.0))
    with pytest.raises(ValueError, match="BandPass: numtaps must be odd"):
        BandPass(1, 100, DT, (10.0, 20.0), numtaps=10)


def numpy_forward(op, m):
    """Plain numpy time stepping of the documented scheme (PML terms everywhere)."""
    cell = op._cell
    kk = np.zeros(cell.shape)
    kk[cell >= 0] = np.exp(2 * m[cell[cell >= 0]]) * op.dt**2
    # the PML coefficients from the damping profiles, as in Grote and Sim's scheme
    hz, hx = op._prof[0][0][:, None], op._prof[1][0][None, :]
    zz, zx = 2 * hz / op.dt, 2 * hx / op.dt  # the damping zeta on each axis
    dt = op.dt
    A = 1.0 / (1.0 + 0.5 * dt * (zx + zz))
    B = 1.0 - 0.5 * dt * (zx + zz)
    C = dt * dt * zx * zz
    ax = (1.0 - 0.5 * dt * zx) / (1.0 + 0.5 * dt * zx)
    bx = dt * (zz - zx) / (1.0 + 0.5 * dt * zx)
    az = (1.0 - 0.5 * dt * zz) / (1.0 + 0.5 * dt * zz)
    bz = dt * (zx - zz) / (1.0 + 0.5 * dt * zz)
    cc, cx1, cx2, cz1, cz2 = op._geo[0]
    x1, x2, z1, z2 = op._geo[1]
    inner = (slice(2, -2), slice(2, -2))

    def shifted(u, dz, dx):
        return u[2 + dz : u.shape[0] - 2 + dz, 2 + dx : u.shape[1] - 2 + dx]

    def apply(u, f):
        out = np.zeros_like(u)
        out[inner] = f(lambda dz, dx: shifted(u, dz, dx))
        return out

    def lap(s):
        return (cc * s(0, 0) + cx1 * (s(0, -1) + s(0, 1)) + cx2 * (s(0, -2) + s(0, 2))
                + cz1 * (s(-1, 0) + s(1, 0)) + cz2 * (s(-2, 0) + s(2, 0)))  # fmt: skip

    def dx(s):
        return x1 * (s(0, 1) - s(0, -1)) + x2 * (s(0, 2) - s(0, -2))

    def dz(s):
        return z1 * (s(1, 0) - s(-1, 0)) + z2 * (s(2, 0) - s(-2, 0))

    out = np.zeros((op.n_sources, op.n_receivers, op.nt))
    for s in range(op.n_sources):
        q = np.zeros(cell.shape)
        (i, j), w = op._src_i[s], op._src_w[s]
        q[i : i + 4, j : j + 4] += w
        u0, u1 = np.zeros(cell.shape), np.zeros(cell.shape)
        px, pz = np.zeros(cell.shape), np.zeros(cell.shape)
        for n in range(op.nt):
            for r, ((i, j), w) in enumerate(zip(op._rec_i, op._rec_w, strict=True)):
                out[s, r, n] = np.sum(w * u1[i : i + 4, j : j + 4])
            g = apply(u1, lap) + apply(px, dx) + apply(pz, dz) + op.wavelet[s, n] * q
            u2 = A * ((2 - C) * u1 - B * u0 + kk * g)
            px, pz = ax * px + bx * apply(u2, dx), az * pz + bz * apply(u2, dz)
            u0, u1 = u1, u2
    return out.ravel()


@pytest.mark.parametrize("which", ["wave1d", "wave2d"])
def test_numba_forward_matches_numpy_reference(which, request, rng):
    op = request.getfixturevalue(which)
    m = _point(op, 2000.0 if which == "wave2d" else 1500.0, rng)
    ref = numpy_forward(op, m)
    np.testing.assert_allclose(op.forward(m), ref, rtol=0, atol=1e-12 * np.abs(ref).max())
