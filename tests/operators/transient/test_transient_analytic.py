"""Transient diffusion against closed-form solutions: Theis, erfc, order 2 in time, stiffness."""

import numpy as np
import scipy.sparse as sp
from scipy.linalg import expm
from scipy.sparse.linalg import splu
from scipy.special import erfc, exp1

from bayesinv import Grid2D
from bayesinv.operators.transient import (
    PumpingSchedule,
    RadialTransientDiffusion,
    TransientDiffusion2D,
    log_radii,
)


def test_radial_matches_theis_within_one_percent():
    Q, K, b, Ss = 0.01, 1e-4, 10.0, 1e-5  # m3/s, m/s, m, 1/m
    r_edges = log_radii(0.1, 20000.0, 120)
    rc = np.sqrt(r_edges[1:] * r_edges[:-1])
    radii = np.array([rc[40], 25.0, 60.0])  # on a cell centre, between centres, farther
    # two layers: the well is screened over the whole thickness, flow stays radial
    op = RadialTransientDiffusion(
        r_edges, [0.0, 4.0, 10.0], PumpingSchedule([86400.0], [Q]),
        wells=np.column_stack([radii, [2.0, 7.0, 5.0]]), times=np.geomspace(60.0, 86400.0, 12),
        storage=Ss, dt_min=1.0, dt_max=2000.0,
    )  # fmt: skip
    assert op.times[0] > op.step_times[5]  # observations after the first few steps
    s = op.forward(op.parameters(K)).reshape(radii.size, -1)
    T, S = K * b, Ss * b
    u = radii[:, None] ** 2 * S / (4.0 * T * op.times[None, :])
    theis = Q / (4.0 * np.pi * T) * exp1(u)
    # u <= 1.5 at the first time: the leading edge u >> 1 needs finer radial cells (the
    # error there is spatial and shrinks with refinement), not smaller steps
    assert u.max() < 1.6
    np.testing.assert_allclose(s, theis, rtol=0.01)
    assert op.step_sizes.size < 20  # one factorisation per distinct step size: few of them


def test_theis_wrong_storage_is_detected():
    # negative control: the same comparison with a storage off by 20% fails
    Q, K, b, Ss = 0.01, 1e-4, 10.0, 1e-5
    op = RadialTransientDiffusion(
        log_radii(0.1, 20000.0, 120), [0.0, b], PumpingSchedule([86400.0], [Q]),
        wells=[[30.0, 5.0]], times=[600.0, 3600.0], storage=1.2 * Ss, dt_min=1.0, dt_max=2000.0,
    )  # fmt: skip
    s = op.forward(op.parameters(K))
    theis = Q / (4 * np.pi * K * b) * exp1(30.0**2 * Ss * b / (4 * K * b * op.times))
    assert np.max(np.abs(s / theis - 1.0)) > 0.01


def test_plan_view_point_well_matches_theis_until_the_boundary_is_felt():
    # TransientDiffusion2D in plan view: rate (m3/s), thickness b and storage in their units
    Q, K, b, Ss = 2e-3, 1e-4, 10.0, 1e-5
    grid = Grid2D(nx=81, nz=81, dx=5.0, dz=5.0, x0=-202.5, z0=-202.5)
    wells = np.array([[25.0, 0.0], [0.0, -50.0], [35.0, 35.0]])
    times = np.r_[np.geomspace(100.0, 700.0, 6), 3000.0]
    op = TransientDiffusion2D(
        grid, [[0.0, 0.0]], PumpingSchedule([3000.0], [Q]), wells, times, storage=Ss,
        thickness=b, dt_min=1.0, dt_max=50.0,
    )  # fmt: skip
    s = op.forward(op.parameters(K)).reshape(3, -1)
    r = np.hypot(wells[:, 0], wells[:, 1])
    theis = Q / (4 * np.pi * K * b) * exp1(r[:, None] ** 2 * Ss / (4 * K * times[None, :]))
    np.testing.assert_allclose(s[:, :-1], theis[:, :-1], rtol=0.01)
    # control: by 3000 s the no-flow boundary 200 m away raises the drawdown above Theis
    assert np.all(s[:, -1] > 1.02 * theis[:, -1])


def test_step_diffusion_matches_erfc_within_one_percent():
    grid = Grid2D(nx=800, nz=1, dx=0.1, dz=1.0, x0=-40.0)
    D, S = 2.0, 1e-3  # diffusivity K/S (m2/s) and storage (1/m)
    x = np.array([-3.0, -1.0, 0.0, 0.5, 1.0, 2.0, 4.0, 6.0])
    times = np.array([1.0, 2.0, 5.0, 10.0])
    op = TransientDiffusion2D(
        grid, None, None, wells=np.column_stack([x, np.full(x.size, 0.5)]), times=times,
        storage=S, initial_head=(grid.x_centers < 0.0).astype(float), data="head",
        dt_min=0.005, dt_max=0.2,
    )  # fmt: skip
    h = op.forward(op.parameters(D * S)).reshape(x.size, -1)
    exact = 0.5 * erfc(x[:, None] / (2.0 * np.sqrt(D * times[None, :])))
    big = exact > 0.01
    np.testing.assert_allclose(h[big], exact[big], rtol=0.01)
    np.testing.assert_allclose(h, exact, atol=1e-3)


def _exact_semidiscrete(op, m, wells, forcing, t_nodes):
    """Exact solution of M h' = -A h + f (piecewise-constant f) by matrix exponentials."""
    mass, A = op.matrices(m)
    n = mass.size
    Z = np.zeros((n + 1, n + 1))
    Z[:n, :n] = -A.toarray() / mass[:, None]
    h, t, out = np.zeros(n), 0.0, []
    for t_next, f in zip(t_nodes, forcing, strict=True):
        Z[:n, n] = f / mass
        h = (expm(Z * (t_next - t)) @ np.r_[h, 1.0])[:n]
        out.append(h)
        t = t_next
    from bayesinv.operators.transient._mesh import point_weights

    cells, w = point_weights(op.mesh, np.asarray(wells, float))
    return np.array([(hh[cells] * w).sum(-1) for hh in out]).T.ravel()


def test_time_convergence_is_second_order():
    grid = Grid2D(nx=30, nz=1, dx=1.0, dz=1.0)
    K = np.exp(np.random.default_rng(0).normal(0.0, 1.0, grid.size))
    schedule = PumpingSchedule([4.0, 4.0], [0.3, -0.1])
    wells = [[7.3, 0.5], [20.0, 0.5]]
    errors = []
    for N in (8, 16, 32):
        op = TransientDiffusion2D(
            grid, [[12.0, 0.5]], schedule, wells=wells, times=[2.0, 4.0, 6.0, 8.0],
            storage=1.0, data="head", steps=np.full(N, 8.0 / N),
        )  # fmt: skip
        m = op.parameters(K)
        b = np.zeros(grid.size)
        b[[11, 12]] = 0.5  # the source at x = 12 lies between the centres 11.5 and 12.5
        f = [-0.3 * b, -0.3 * b, 0.1 * b, 0.1 * b]
        exact = _exact_semidiscrete(op, m, wells, f, [2.0, 4.0, 6.0, 8.0])
        errors.append(np.max(np.abs(op.forward(m) - exact)))
    order = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(order > 1.9), (errors, order)
    assert errors[-1] < 1e-3 * np.max(np.abs(exact))


def _stiff_problem(steps):
    grid = Grid2D(nx=100, nz=1, dx=1.0, dz=1.0)
    x = grid.x_centers
    K = np.where(x < 50.0, 1.0, 1e-6)  # contrast 1e6
    h0 = np.where(x < 25.0, 1.0, 0.0)
    op = TransientDiffusion2D(
        grid, None, None, wells=[[10.0, 0.5]], times=[np.sum(steps)], storage=1.0,
        initial_head=h0, data="head", steps=steps,
    )  # fmt: skip
    return op, op.parameters(K), h0


def _crank_nicolson(op, m, h0, dt, n_steps):
    mass, A = op.matrices(m)
    lhs = splu(sp.csc_matrix(sp.diags(mass) + 0.5 * dt * A))
    rhs = sp.diags(mass) - 0.5 * dt * A
    H = [h0]
    for _ in range(n_steps):
        H.append(lhs.solve(rhs @ H[-1]))
    return np.array(H)


def test_stiff_steps_stay_bounded_and_monotone_while_crank_nicolson_oscillates():
    op, m, h0 = _stiff_problem([1.0])
    dt = 1e3 * op.explicit_step_limit(m)
    n_steps = 30
    op, m, h0 = _stiff_problem(np.full(n_steps, dt))
    _, H = op.states(m)
    # the exact (semi-discrete) solution stays in [0, 1] and non-increasing in x
    mass, A = op.matrices(m)
    exact = expm(-(A.toarray() / mass[:, None]) * dt * 3) @ h0
    assert np.all(np.diff(exact) <= 1e-12) and exact.min() >= -1e-12 and exact.max() <= 1 + 1e-12
    # TR-BDF2 (L-stable): bounded at every step; the stiff modes excited by the jump are
    # damped within a few steps (a second-order method cannot be monotone for every step
    # size, Bolley & Crouzeix 1978: the overshoot is small and transient)
    assert H.min() >= -1e-12 and H.max() <= 1.0 + 1e-12
    rise = np.max(np.diff(H, axis=1), axis=1)[1:]  # largest increase along x, steps 1..N
    assert np.all(rise <= 0.02 * 0.25 ** np.arange(n_steps))  # decays geometrically
    assert np.all(rise[10:] <= 1e-10)
    # Crank-Nicolson (A-stable, not L-stable) on the same steps: stiff modes flip sign every
    # step and persist — large non-monotone wiggles until the end
    cn = _crank_nicolson(op, m, h0, dt, n_steps)
    rise_cn = np.max(np.diff(cn, axis=1), axis=1)
    assert rise_cn[1] > 0.5 and rise_cn[-1] > 0.1
