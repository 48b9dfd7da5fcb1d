"""Eikonal2D(smoothing=c): the smooth update — smoothness in model space, exact adjoint,
accuracy (first order), compiled path, bad input."""

import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.operators.eikonal import Eikonal2D, crosshole_survey
from bayesinv.operators.eikonal._kernels_numba import eikonal_forward, eikonal_jvp, eikonal_vjp
from bayesinv.testing import check_compiled_model, dot_test, taylor_test

C = 0.05


def distances(src, rec):
    return np.hypot(rec[None, :, 0] - src[:, None, 0], rec[None, :, 1] - src[:, None, 1])


def gradient_exact(src, rec, v0, g):
    """v = v0 + g z: T = arccosh(1 + g² r² / (2 v_s v_r)) / g."""
    vs, vr = v0 + g * src[:, 1], v0 + g * rec[:, 1]
    return np.arccosh(1.0 + g**2 * distances(src, rec) ** 2 / (2.0 * vs[:, None] * vr)) / g


def line_case():
    grid = Grid2D(nx=12, nz=16, dx=2.0, dz=2.0)
    survey = crosshole_survey(grid, 4, 5, margin=2.0)
    zc, xc = np.meshgrid(grid.z_centers, grid.x_centers, indexing="ij")
    m0 = 0.5 * (1 + 0.1 * np.sin(xc / 5.0 + 1) * np.cos(zc / 7.0)).ravel()
    dm = 0.05 * np.random.default_rng(0).standard_normal(grid.size)
    return grid, survey, m0, dm


def curvature(op, m0, dm, n):
    """max |d²T/dt²| along m0 + t dm, t in [0, 1], from second differences with step 1/n."""
    t = np.linspace(0.0, 1.0, n + 1)
    times = np.array([op.forward(m0 + ti * dm) for ti in t])
    return np.abs(times[2:] - 2 * times[1:-1] + times[:-2]).max() * n**2


def test_times_are_smooth_along_a_line_in_model_space():
    # a bounded second derivative gives the same max |Δ²T|/Δt² at every step; a kink makes
    # it double, and a jump quadruple, each time the step halves
    grid, survey, m0, dm = line_case()
    smooth = Eikonal2D(grid, *survey, smoothing=C)
    a, b = curvature(smooth, m0, dm, 100), curvature(smooth, m0, dm, 200)
    assert b <= 1.2 * a and a < 50.0, (a, b)
    # negative control: the non-smooth updates (first and second order) jump on this line
    for old in (Eikonal2D(grid, *survey, second_order=False), Eikonal2D(grid, *survey)):
        a, b = curvature(old, m0, dm, 100), curvature(old, m0, dm, 200)
        assert b >= 3.0 * a, (a, b)


@pytest.fixture(scope="module")
def smooth_case():
    grid = Grid2D(nx=12, nz=10, dx=1.0, dz=1.0)
    survey = crosshole_survey(grid, 3, 4, margin=1.0)
    zc, xc = np.meshgrid(grid.z_centers, grid.x_centers, indexing="ij")
    m = 0.5 * (1 + 0.2 * np.sin(xc / 3.0) * np.cos(zc / 4.0)).ravel()
    return Eikonal2D(grid, survey.sources, survey.receivers, smoothing=C), m


def test_dot_and_taylor_anywhere(smooth_case):
    # no need to avoid ties: rough models and a homogeneous one (every candidate ties)
    op, m = smooth_case
    rng = np.random.default_rng(3)
    for model in (m, m * np.exp(0.3 * rng.standard_normal(m.size)), np.full(m.size, 0.5)):
        assert dot_test(op, rng, model) <= 1e-10
        dm = 1e-3 * model * rng.standard_normal(m.size)
        result = taylor_test(op, model, rng, dm, steps=2.0 ** -np.arange(0, 8), min_order=1.9)
        assert float(result) >= 1.9


def test_accuracy_first_order():
    # measured at C = 0.05: homogeneous 0.39% (48 cells) / 0.42% (96), v0 + g z 0.58% at
    # 100 x 50 cells; the smoothing makes times slightly late (the smooth minimum is >= min)
    grid = Grid2D(nx=48, nz=32, dx=1.0, dz=1.0)  # sources inside, on an edge, at a corner
    src = np.array([[10.3, 7.7], [0.0, 0.0], [48.0, 12.5]])
    rng = np.random.default_rng(1)
    edge = [[10.6, 7.9], [0.4, 0.0], [48.0, 13.0], [0.0, 32.0], [48.0, 32.0]]
    rec = np.vstack([np.column_stack([rng.uniform(0, 48, 30), rng.uniform(0, 32, 30)]), edge])
    exact = 0.5 * distances(src, rec).ravel()
    t = Eikonal2D(grid, src, rec, smoothing=C).forward(np.full(grid.size, 0.5))
    assert np.abs(t / exact - 1).max() <= 5e-3
    v0, g = 1000.0, 1.0
    src = np.array([[100.0, 0.0], [0.0, 300.0]])
    rec = np.column_stack([np.r_[np.linspace(400, 1000, 7), np.full(6, 1000.0)],
                           np.r_[np.zeros(7), np.linspace(0, 500, 6)]])  # fmt: skip
    exact = gradient_exact(src, rec, v0, g).ravel()
    grid = Grid2D(nx=100, nz=50, dx=10.0, dz=10.0)
    row = np.log((v0 + g * grid.z_edges[1:]) / (v0 + g * grid.z_edges[:-1])) / (g * grid.dz)
    t = Eikonal2D(grid, src, rec, smoothing=C).forward(np.repeat(row, grid.nx))
    assert np.abs(t / exact - 1).max() <= 1e-2


def test_two_layers_head_wave_first_order():
    # first order (like second_order=False): head wave within 1%, crossover within 3 cells
    s1, s2, h = 1.0 / 1000.0, 1.0 / 2000.0, 100.0
    grid = Grid2D(nx=100, nz=20, dx=10.0, dz=10.0)
    slow = np.repeat(np.where(grid.z_centers < h, s1, s2), grid.nx)
    x = grid.x_edges[1:]
    t = Eikonal2D(grid, [[0.0, 0.0]], np.column_stack([x, 0 * x]), smoothing=C).forward(slow)
    direct = s1 * x
    head = s2 * x + 2 * h * np.sqrt(s1**2 - s2**2)
    crossover = 2 * h * np.sqrt((s1 + s2) / (s1 - s2))
    assert np.max(np.abs(t[x < crossover] / direct[x < crossover] - 1)) <= 1e-2
    assert np.max(np.abs(t[x > crossover] / head[x > crossover] - 1)) <= 1e-2
    first_head = x[np.argmax(t < direct * (1 - 1e-9))]
    assert abs(first_head - crossover) <= 3 * grid.dx


def test_compiled_model_and_nan_for_bad_slowness(smooth_case):
    op, m = smooth_case
    log_op = Eikonal2D(op.grid, op.sources, op.receivers, parameter="log_slowness", smoothing=C)
    check_compiled_model(log_op, seed=5, sigma=0.05)
    args = op._args()
    mb = m.copy()
    mb[7] = -0.1
    assert np.all(np.isnan(eikonal_forward(mb, *args, 2)))
    assert np.all(np.isnan(eikonal_vjp(mb, np.ones(op.n_data), *args, 2)))
    assert np.all(np.isnan(eikonal_jvp(mb, np.ones(op.n_params), *args, 2)))


def test_smoothing_arguments():
    grid = Grid2D(nx=4, nz=4, dx=1.0, dz=1.0)
    with pytest.raises(ValueError, match="Eikonal2D: smoothing must be"):
        Eikonal2D(grid, [[0.0, 0.0]], [[1.0, 1.0]], smoothing=0.0)
    with pytest.raises(ValueError, match="Eikonal2D: second_order=True cannot be combined"):
        Eikonal2D(grid, [[0.0, 0.0]], [[1.0, 1.0]], smoothing=0.05, second_order=True)
    op = Eikonal2D(grid, [[0.0, 0.0]], [[1.0, 1.0]], smoothing=0.05)
    assert op.second_order is False and op.smoothing == 0.05
