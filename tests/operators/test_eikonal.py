"""Eikonal2D: analytic media, exact discrete adjoint, compiled path, bad input."""

import numba
import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.operators import ForwardOperator
from bayesinv.operators.eikonal import Eikonal2D, crosshole_survey, refraction_survey
from bayesinv.operators.eikonal._kernels_numba import eikonal_forward, eikonal_jvp, eikonal_vjp
from bayesinv.testing import check_compiled_model, dot_test, taylor_test


def distances(src, rec):
    src, rec = np.asarray(src), np.asarray(rec)
    return np.hypot(rec[None, :, 0] - src[:, None, 0], rec[None, :, 1] - src[:, None, 1])


def homogeneous_case(n):
    """A 1.5:1 section on n x (2n/3) cells with sources inside, on an edge and a corner."""
    grid = Grid2D(nx=n, nz=2 * n // 3, dx=48.0 / n, dz=48.0 / n)
    src = np.array([[10.3, 7.7], [0.0, 0.0], [48.0, 12.5], [23.9, 32.0]])
    rng = np.random.default_rng(1)
    rec = np.vstack(
        [
            np.column_stack([rng.uniform(0, 48, 30), rng.uniform(0, 32, 30)]),
            [[10.6, 7.9], [10.3, 8.2], [0.4, 0.0], [48.0, 13.0], [0.0, 32.0], [48.0, 0.0]],
            [[30.0, 0.0], [0.0, 20.0], [48.0, 32.0], [23.9, 31.7]],
        ]
    )
    return grid, src, rec


def test_homogeneous_medium_and_refinement():
    errors = []
    for n in (48, 96):
        grid, src, rec = homogeneous_case(n)
        op = Eikonal2D(grid, src, rec)
        exact = 0.5 * distances(src, rec).ravel()
        err = np.abs(op.forward(np.full(grid.size, 0.5)) - exact) / exact
        assert err.max() <= 1e-3, (n, err.max(), np.argmax(err))
        errors.append(err.max())
    assert errors[1] < errors[0]


def test_coincident_source_and_receiver_is_zero_with_zero_gradient():
    grid = Grid2D(nx=10, nz=8, dx=1.0, dz=1.0)
    op = Eikonal2D(grid, [[3.3, 2.2]], [[3.3, 2.2], [9.0, 7.0]])
    m = np.random.default_rng(2).uniform(0.4, 0.6, grid.size)
    assert op.forward(m)[0] == 0.0
    assert np.all(op.vjp(m, np.array([1.0, 0.0])) == 0.0)


def gradient_exact(src, rec, v0, g):
    r = distances(src, rec)
    vs = v0 + g * np.asarray(src)[:, 1]
    vr = v0 + g * np.asarray(rec)[:, 1]
    return np.arccosh(1.0 + g**2 * r**2 / (2.0 * vs[:, None] * vr[None, :])) / g


def test_constant_velocity_gradient():
    v0, g = 1000.0, 1.0  # v = v0 + g z, 1000 to 1500 m/s
    src = np.array([[100.0, 0.0], [0.0, 300.0], [500.0, 250.0]])
    rec = np.column_stack(
        [
            np.r_[np.linspace(400, 1000, 7), np.full(11, 1000.0)],
            np.r_[np.zeros(7), np.linspace(0, 500, 11)],
        ]
    )
    exact = gradient_exact(src, rec, v0, g).ravel()
    errors = []
    for n in (50, 100):
        grid = Grid2D(nx=n, nz=n // 2, dx=1000.0 / n, dz=1000.0 / n)
        top, bottom = grid.z_edges[:-1], grid.z_edges[1:]
        row = np.log((v0 + g * bottom) / (v0 + g * top)) / (g * grid.dz)  # cell mean of 1/v
        op = Eikonal2D(grid, src, rec)
        err = np.abs(op.forward(np.repeat(row, grid.nx)) - exact) / exact
        errors.append(err.max())
    assert errors[1] <= 5e-3, errors
    assert errors[1] < errors[0]


def test_two_layers_direct_then_head_wave():
    s1, s2, h = 1.0 / 1000.0, 1.0 / 2000.0, 100.0  # faster lower layer below z = h
    grid = Grid2D(nx=100, nz=20, dx=10.0, dz=10.0)
    slow = np.repeat(np.where(grid.z_centers < h, s1, s2), grid.nx)
    x = grid.x_edges[1:]
    op = Eikonal2D(grid, [[0.0, 0.0]], np.column_stack([x, np.zeros_like(x)]))
    t = op.forward(slow)
    direct = s1 * x
    head = s2 * x + 2 * h * np.sqrt(s1**2 - s2**2)
    crossover = 2 * h * np.sqrt((s1 + s2) / (s1 - s2))
    before, after = x < crossover, x > crossover
    assert np.max(np.abs(t[before] / direct[before] - 1)) <= 5e-3
    assert np.max(np.abs(t[after] / head[after] - 1)) <= 5e-3
    first_head = x[np.argmax(t < direct * (1 - 1e-9))]
    assert abs(first_head - crossover) <= grid.dx


def refracted_exact(src, rec, s1, s2, h):
    """Fermat: slow straight leg to (x, h) on the interface, fast straight leg below it."""
    x = np.linspace(min(src[0], rec[0]), max(src[0], rec[0]), 200001)
    t = s1 * np.hypot(x - src[0], h - src[1]) + s2 * np.hypot(rec[0] - x, rec[1] - h)
    return t.min()


def test_source_near_a_fast_layer_is_not_too_fast():
    # a source 2.5 m above a faster half-space (inside near_radius): the factored one-axis
    # updates must not give a wave crossing the interface the fast cell's slowness (that made
    # arrivals up to 5% early); what remains is the first-order refraction error, late
    s1, s2, h = 0.5, 0.4, 24.0
    src = np.array([[0.0, 21.5]])
    rec = np.column_stack([[2.0, 4.0, 8.0, 16.0, 32.0, 32.0], [26.0, 30.0, 26.0, 27.0, 26.5, 40.0]])
    exact = np.array([refracted_exact(src[0], r, s1, s2, h) for r in rec])
    errors = []
    for n in (1, 2):
        grid = Grid2D(nx=32 * n, nz=48 * n, dx=1.0 / n, dz=1.0 / n)
        slow = np.repeat(np.where(grid.z_centers < h, s1, s2), grid.nx)
        err = Eikonal2D(grid, src, rec).forward(slow) / exact - 1
        assert err.min() >= -1e-3, (n, err)
        errors.append(np.abs(err).max())
    assert errors[0] <= 3e-2 and errors[1] <= 0.6 * errors[0], errors


@pytest.fixture
def smooth_case():
    grid = Grid2D(nx=12, nz=10, dx=1.0, dz=1.0)
    survey = crosshole_survey(grid, 3, 4, margin=1.0)
    zc, xc = np.meshgrid(grid.z_centers, grid.x_centers, indexing="ij")
    m = 0.5 * (1 + 0.2 * np.sin(xc / 3.0) * np.cos(zc / 4.0)).ravel()
    return Eikonal2D(grid, survey.sources, survey.receivers), m


def test_dot_test(smooth_case):
    op, m = smooth_case
    rng = np.random.default_rng(3)
    assert dot_test(op, rng, m) <= 1e-10
    rough = m * np.exp(0.3 * rng.standard_normal(m.size))
    assert dot_test(op, rng, rough) <= 1e-10


def test_taylor_order_two(smooth_case):
    op, m = smooth_case
    rng = np.random.default_rng(4)
    dm = 1e-3 * m * rng.standard_normal(m.size)
    result = taylor_test(op, m, rng, dm, steps=2.0 ** -np.arange(0, 10), min_order=1.9)
    assert float(result) >= 1.9


def test_taylor_detects_a_wrong_derivative(smooth_case):
    # negative control: a jvp scaled by 1.01 must fail the order-2 check
    op, m = smooth_case

    class Wrong(ForwardOperator):
        n_params, n_data, linear = op.n_params, op.n_data, False

        def _forward(self, x):
            return op.forward(x)

        def _jvp(self, x, dx):
            return 1.01 * op.jvp(x, dx)

    rng = np.random.default_rng(4)
    dm = 1e-3 * m * rng.standard_normal(m.size)
    with pytest.raises(AssertionError):
        taylor_test(Wrong(), m, rng, dm, steps=2.0 ** -np.arange(0, 10), min_order=1.9)


def test_log_slowness_parameter(smooth_case):
    op, m = smooth_case
    log_op = Eikonal2D(op.grid, op.sources, op.receivers, parameter="log_slowness")
    rng = np.random.default_rng(7)
    np.testing.assert_allclose(log_op.forward(np.log(m)), op.forward(m), rtol=1e-14)
    dd = rng.standard_normal(op.n_data)
    np.testing.assert_allclose(log_op.vjp(np.log(m), dd), m * op.vjp(m, dd), rtol=1e-12)
    assert dot_test(log_op, rng, np.log(m)) <= 1e-10
    dm = 1e-3 * rng.standard_normal(m.size)
    assert float(taylor_test(log_op, np.log(m), rng, dm, steps=2.0 ** -np.arange(10))) >= 1.9
    with pytest.raises(ValueError, match=r"exp\(m\) \(slowness\).*index 3"):
        log_op.forward(np.r_[np.log(m[:3]), 1e4, np.log(m[4:])])


@pytest.fixture(scope="module")
def log_op():
    # one instance, so its numba closures compile once for the tests below
    grid = Grid2D(nx=12, nz=10, dx=1.0, dz=1.0)
    survey = crosshole_survey(grid, 3, 4, margin=1.0)
    return Eikonal2D(grid, survey.sources, survey.receivers, parameter="log_slowness")


def test_compiled_model_no_object_mode(log_op):
    check_compiled_model(log_op, seed=5, sigma=0.05)


def test_kernels_return_nan_for_bad_slowness(smooth_case, log_op):
    op, m = smooth_case
    args = op._args()
    for bad in (0.0, -0.1, np.nan, np.inf):
        mb = m.copy()
        mb[7] = bad
        assert np.all(np.isnan(eikonal_forward(mb, *args, True)))
        assert np.all(np.isnan(eikonal_vjp(mb, np.ones(op.n_data), *args, True)))
        assert np.all(np.isnan(eikonal_jvp(mb, np.ones(op.n_params), *args, True)))
    # the compiled model's kernels: exp overflows for a wild proposal -> NaN, never a crash
    k = log_op.numba_kernels()
    mb = np.log(m)
    mb[2] = 800.0
    assert np.all(np.isnan(k.forward(mb)))
    assert np.all(np.isnan(k.vjp(mb, np.ones(op.n_data))))
    assert np.all(np.isnan(k.jvp(mb, np.ones(op.n_params))))


@pytest.mark.parametrize("smoothing", [None, 0.05])
def test_state_kernels_match_forward_and_vjp(smooth_case, smoothing):
    # forward_state/vjp_state (one march per logp + gradient) against forward and vjp
    op0, m = smooth_case
    op = Eikonal2D(op0.grid, op0.sources, op0.receivers, smoothing=smoothing)
    k = op.numba_kernels()
    rng = np.random.default_rng(8)
    dd = rng.standard_normal(op.n_data)
    for model in (m, m * np.exp(0.3 * rng.standard_normal(m.size))):
        d, state = k.forward_state(model)
        assert state.shape == (op.n_state,) and op.n_state > 0
        np.testing.assert_array_equal(d, op.forward(model))
        np.testing.assert_allclose(k.vjp_state(model, state, dd), op.vjp(model, dd),
                                   rtol=1e-13, atol=1e-13)  # fmt: skip
    mb = m.copy()
    mb[5] = -1.0
    d, state = k.forward_state(mb)
    assert np.all(np.isnan(d)) and np.all(np.isnan(k.vjp_state(mb, state, dd)))


def test_kernels_give_the_same_bits_when_first_compiled_from_a_fast_math_caller(smooth_case):
    # numba hands a caller's fastmath flags to a callee that sets none (and caches the
    # result): the operator's fresh closures, first compiled from a fast-math caller, must
    # still give forward's bits (bayesinv._numba.njit; tests/test_numba_fastmath.py)
    op0, m = smooth_case
    op = Eikonal2D(op0.grid, op0.sources, op0.receivers)
    forward_state = op.numba_kernels().forward_state

    @numba.njit(fastmath={"contract", "reassoc"})
    def caller(model):
        return forward_state(model)[0]

    np.testing.assert_array_equal(caller(m), op.forward(m))
    np.testing.assert_array_equal(forward_state(m)[0], op.forward(m))


def test_python_api_rejects_bad_slowness(smooth_case):
    op, m = smooth_case
    mb = m.copy()
    mb[7] = -0.1
    with pytest.raises(ValueError, match=r"Eikonal2D: m \(slowness\).*index 7"):
        op.forward(mb)
    mb[7] = np.nan
    with pytest.raises(ValueError, match=r"Eikonal2D: m .*index 7"):
        op.vjp(mb, np.ones(op.n_data))


def test_bad_geometry_errors():
    grid = Grid2D(nx=4, nz=4, dx=1.0, dz=1.0)
    with pytest.raises(ValueError, match=r"Eikonal2D: receivers \[1\] lie outside"):
        Eikonal2D(grid, [[0.0, 0.0]], [[1.0, 1.0], [4.5, 1.0]])
    with pytest.raises(ValueError, match=r"Eikonal2D: sources \[0\] lie outside"):
        Eikonal2D(grid, [[0.0, -0.1]], [[1.0, 1.0]])
    with pytest.raises(ValueError, match="Eikonal2D: sources must have shape"):
        Eikonal2D(grid, np.zeros((0, 2)), [[1.0, 1.0]])
    with pytest.raises(ValueError, match=r"Eikonal2D: receivers has non-finite.*\[0\]"):
        Eikonal2D(grid, [[0.0, 0.0]], [[np.nan, 1.0]])
    with pytest.raises(TypeError, match="Eikonal2D: grid"):
        Eikonal2D("grid", [[0.0, 0.0]], [[1.0, 1.0]])


def test_surveys_and_determinism():
    grid = Grid2D(nx=16, nz=8, dx=2.0, dz=2.0)
    survey = refraction_survey(grid, 3, 9)
    assert np.all(survey.sources[:, 1] == 0.0) and survey.receivers[-1, 0] == 32.0
    op = Eikonal2D(grid, *survey)
    m = np.random.default_rng(6).uniform(0.3, 0.6, grid.size)
    np.testing.assert_array_equal(op.forward(m), op.forward(m.copy()))
    fields = op.time_fields(m)
    assert fields.shape == (3, 9, 17)
    # a receiver on a node reads the node's time
    np.testing.assert_allclose(op.forward(m).reshape(3, 9)[:, 4], fields[:, 0, 8], rtol=1e-12)
