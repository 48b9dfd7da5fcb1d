"""Acoustic wave operators against analytic solutions: Green's functions, reflection,
absorbing boundaries and convergence orders (space 4, time 2)."""

import numpy as np
import pytest
from scipy.special import hankel2

from bayesinv import Grid1D, Grid2D
from bayesinv.operators.wave import AcousticWave1D, AcousticWave2D, ricker, time_samples
from bayesinv.operators.wave import _acoustic_numba as K
from bayesinv.operators.wave._layout import stencil

V, F0 = 2000.0, 10.0  # m/s, Hz: 8 points per wavelength at 2.5 F0 with 10 m cells


def green2d(w, dt, r, v):
    """Wavelet convolved with the 2-D Green's function, H(t - r/v) / (2 pi sqrt(t^2 - r^2/v^2)).

    In the frequency domain (numpy's e^{+i w t} synthesis) the Green's function of
    (1/v^2) u_tt - lap u = delta is (-i/4) H0^(2)(w r / v).
    """
    nfft = 8 * w.size
    om = 2 * np.pi * np.fft.rfftfreq(nfft, dt)
    g = np.zeros(om.size, dtype=complex)
    g[1:] = -0.25j * hankel2(0, om[1:] * r / v)
    return np.fft.irfft(np.fft.rfft(w, nfft) * g, nfft)[: w.size]


def green1d(t, dist, v, f0):
    """(v/2) times the integral of the Ricker wavelet, tau exp(-pi^2 f0^2 tau^2), delayed."""
    tau = t - dist / v - 1.5 / f0
    return 0.5 * v * tau * np.exp(-((np.pi * f0 * tau) ** 2))


def amplitude_phase_errors(num, ref, dt, f0):
    """Relative peak-amplitude error and largest phase error (rad) over [0.5 f0, 2 f0]."""
    amp = abs(np.abs(num).max() / np.abs(ref).max() - 1.0)
    f = np.fft.rfftfreq(4 * num.size, dt)
    band = (f >= 0.5 * f0) & (f <= 2.0 * f0)
    ratio = np.fft.rfft(num, 4 * num.size)[band] / np.fft.rfft(ref, 4 * num.size)[band]
    return amp, np.abs(np.angle(ratio)).max()


def test_2d_homogeneous_matches_hankel_green_function():
    dt, T = 1e-3, 0.45
    t = time_samples(dt, T)
    w = ricker(F0, t)
    grid = Grid2D(61, 61, 10.0, 10.0)
    src = [[305.0, 305.0]]
    # on and off the nodes (cell centres are at 5 + 10 i), several directions
    rec = np.array([[505.0, 305.0], [305.0 + 141.42, 305.0 + 141.42], [123.4, 250.6]])
    op = AcousticWave2D(grid, src, rec, dt=dt, duration=T, wavelet=w, reference_velocity=V)
    d = op.traces(op.forward(np.full(op.n_params, np.log(V))))[0]
    for i, (x, z) in enumerate(rec):
        ref = green2d(w, dt, np.hypot(x - 305.0, z - 305.0), V)
        amp, phase = amplitude_phase_errors(d[i], ref, dt, F0)
        assert amp < 0.02, (i, amp)
        assert phase < 0.02, (i, phase)


def test_1d_homogeneous_matches_green_function():
    dt, T, v, f0 = 1e-3, 0.5, 1500.0, 15.0  # 5 m layers: 8 points per wavelength at 2.5 f0
    t = time_samples(dt, T)
    grid = Grid1D(120, 5.0)
    # off the source node: at the source node itself the 4th-order stencil meets the kink
    # of the Green's function and the phase is 0.08 rad off at 2 f0 (amplitude still 0.2%)
    rec = np.array([110.0, 251.3, 302.5])  # up to 2 wavelengths (at f0) from the source
    op = AcousticWave1D(grid, [102.5], rec, dt=dt, duration=T, wavelet=ricker(f0, t),
                        reference_velocity=v)  # fmt: skip
    d = op.traces(op.forward(np.full(op.n_params, np.log(v))))[0]
    for i, z in enumerate(rec):
        amp, phase = amplitude_phase_errors(d[i], green1d(t, abs(z - 102.5), v, f0), dt, f0)
        assert amp < 0.02, (i, amp)
        assert phase < 0.02, (i, phase)


def test_flat_interface_reflection_coefficient():
    v1, v2, f0, dt, T = 1500.0, 2500.0, 15.0, 5e-4, 0.5
    t = time_samples(dt, T)
    grid = Grid1D(200, 2.5)  # interface at 300 m (a cell boundary), source 200 m above it
    v = np.where(grid.z_centers < 300.0, v1, v2)
    op = AcousticWave1D(grid, [100.0], [100.0], dt=dt, duration=T, wavelet=ricker(f0, t),
                        reference_velocity=v2)  # fmt: skip
    d = op.forward(np.log(v))
    t_refl = 2 * 200.0 / v1
    direct = d[t < t_refl / 2]  # the pulse is 0.12 s long, centred on 1.5 / f0 = 0.1 s
    reflected = d[t > t_refl]
    r_expected = (v2 - v1) / (v2 + v1)
    # peak-to-peak ratio (the pulse is odd: its two lobes are equal) with the sign of the
    # strongest cross-correlation (the reflection keeps the pulse's shape)
    cc = np.correlate(reflected, direct, "full")
    sign = np.sign(cc[np.abs(cc).argmax()])
    r_measured = sign * np.ptp(reflected) / np.ptp(direct)
    assert abs(r_measured - r_expected) < 0.02 * r_expected, r_measured


def _record(op, v, receiver_window=None):
    return op.traces(op.forward(np.full(op.n_params, np.log(v))))[0]


def test_pml_reflects_less_than_one_percent_2d():
    dt, T = 1e-3, 0.7
    t = time_samples(dt, T)
    w = ricker(F0, t)
    src = [[405.0, 405.0]]
    rec = [[705.0, 405.0], [705.0, 705.0], [405.0, 50.0]]  # 100 m or less from the PML

    def run(n, x0):
        grid = Grid2D(n, n, 10.0, 10.0, x0, x0)
        op = AcousticWave2D(grid, src, rec, dt=dt, duration=T, wavelet=w, reference_velocity=V)
        return _record(op, V)

    small, big = run(81, 0.0), run(221, -700.0)  # the big one has no reflection before T
    for i in range(len(rec)):
        assert np.abs(small[i] - big[i]).max() < 0.01 * np.abs(big[i]).max(), i


def test_pml_reflects_less_than_one_percent_1d():
    dt, T = 1e-3, 0.8
    t = time_samples(dt, T)

    def run(nz, z0):
        op = AcousticWave1D(Grid1D(nz, 10.0, z0), [100.0], [100.0, 300.0], dt=dt, duration=T,
                            wavelet=ricker(F0, t), reference_velocity=V)  # fmt: skip
        return _record(op, V)

    small, big = run(40, 0.0), run(600, -3000.0)
    for i in range(2):
        assert np.abs(small[i] - big[i]).max() < 0.01 * np.abs(big[i]).max(), i


def test_time_convergence_order_two():
    # self-convergence on a fixed grid: the spatial error is the same for every dt
    T, f0, v = 0.3, 15.0, 1500.0
    grid = Grid1D(400, 5.0, -1000.0)  # no wave reaches the PML before T
    traces = []
    for dt in (2e-3, 1e-3, 5e-4):
        t = time_samples(dt, T)
        op = AcousticWave1D(grid, [0.0], [150.0], dt=dt, duration=T, wavelet=ricker(f0, t),
                            reference_velocity=v)  # fmt: skip
        step = round(2e-3 / dt)
        traces.append(op.forward(np.full(op.n_params, np.log(v)))[::step])
    e1 = np.linalg.norm(traces[0] - traces[1])
    e2 = np.linalg.norm(traces[1] - traces[2])
    assert np.log2(e1 / e2) == pytest.approx(2.0, abs=0.1)


def _manufactured_error(h):
    """Max error at T of the stepping kernel for u = S(x, z) (1 + t + t^2 + t^3).

    The leapfrog difference is exact for cubics in t, so only the space error remains;
    v varies smoothly, S is a Gaussian (zero to round-off at the grid edge).
    """
    L, sigma, T = 1.0, 0.12, 0.2
    n = round(2 * L / h) + 1
    x = np.linspace(-L, L, n)
    X, Z = np.meshgrid(x, x)
    S = np.exp(-(X**2 + 2 * Z**2) / sigma**2)
    lapS = S * ((4 * X**2 - 2 * sigma**2) + (16 * Z**2 - 4 * sigma**2)) / sigma**4
    v = 1.0 + 0.3 * np.sin(2 * X + Z)
    dt = 0.25 * h
    nt = round(T / dt)

    def poly(tt):
        return 1 + tt + tt**2 + tt**3

    def halo(a):
        out = np.zeros((n + 4, n + 4))
        out[2:-2, 2:-2] = a
        return out

    kk = halo(v**2 * dt**2)
    u0, u1, u2 = halo(S * poly(-dt)), halo(S * poly(0.0)), np.zeros((n + 4, n + 4))
    coef = stencil(h, h)
    for k in range(nt):
        tk = k * dt
        q = S * (2 + 6 * tk) / v**2 - lapS * poly(tk)  # u_tt / v^2 - lap u
        K.step_interior(u0, u1, u2, kk, coef, np.array([2, n + 2, 2, n + 2]))
        u2[2:-2, 2:-2] += kk[2:-2, 2:-2] * q
        u0, u1, u2 = u1, u2, u0
    return np.abs(u1[2:-2, 2:-2] - S * poly(nt * dt)).max()


def test_space_convergence_order_four():
    errors = [_manufactured_error(h) for h in (0.04, 0.02, 0.01)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 3.8) and np.all(orders < 4.3), orders
