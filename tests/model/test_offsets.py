"""Base-level offsets and linear trends: exact log posterior of a linear gravity problem."""

import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.model import IIDNormal, JointInversion, KnownNoise, LinearTrend, Modality, Offset
from bayesinv.operators import Gravity2D

SIGMA, RHO_SD, C_SD, B_SD = 0.002, 100.0, 1.0, 0.01


@pytest.fixture(scope="module")
def problem():
    """Two survey lines over one section, a known offset per line and a known trend."""
    rng = np.random.default_rng(18)
    grid = Grid2D(nx=6, nz=3, dx=10.0, dz=10.0)
    x = np.linspace(-20.0, 80.0, 12)
    rx = np.vstack(
        [np.column_stack([x, np.full(12, -1.0)]), np.column_stack([x, np.full(12, -6.0)])]
    )
    line = np.repeat([1, 2], 12)
    op = Gravity2D(grid, rx)
    G = np.column_stack([op.forward(e) for e in np.eye(grid.size)])
    z_true = rng.standard_normal(grid.size)
    c_true, b_true = np.array([0.8, -0.5]), np.array([0.004])
    E = np.eye(2)[line - 1]
    X = (rx[:, 0] - rx[:, 0].mean())[:, None]
    d = G @ (RHO_SD * z_true) + E @ c_true + X @ b_true + SIGMA * rng.standard_normal(24)
    d[5] = np.nan  # a missing reading, masked
    mask = np.isfinite(d)
    return dict(
        grid=grid,
        rx=rx,
        line=line,
        op=op,
        G=G,
        E=E,
        X=X,
        d=d,
        mask=mask,
        c_true=c_true,
        b_true=b_true,
    )


def _model(p, offset=True, trend=True, groups=True):
    inv = JointInversion().add_field("density", p["grid"], IIDNormal(0.0, RHO_SD))
    inv.add_modality(
        Modality("gravity", p["op"], p["d"], KnownNoise(SIGMA), coords=p["rx"], mask=p["mask"])
    )
    if offset:
        inv.add_offset("gravity", Offset(C_SD, groups=p["line"] if groups else None))
    if trend:
        inv.add_offset("gravity", LinearTrend(B_SD))
    return inv.build()


def _closed_form(p, offset=True, trend=True):
    """Posterior N(mean, cov) of (z-scores, offsets, slope) from the normal equations."""
    used = p["mask"]
    blocks, prior = [RHO_SD * p["G"]], [np.ones(p["G"].shape[1])]
    if offset:
        blocks.append(p["E"])
        prior.append(np.full(2, C_SD**2))
    if trend:
        X = p["rx"][used, :1] - p["rx"][used, 0].mean()
        blocks.append(np.zeros((24, 1)))
        blocks[-1][used] = X
        prior.append(np.full(1, B_SD**2))
    A = np.hstack(blocks)[used]
    precision = A.T @ A / SIGMA**2 + np.diag(1.0 / np.concatenate(prior))
    cov = np.linalg.inv(precision)
    return cov @ A.T @ p["d"][used] / SIGMA**2, cov


def _logp_mismatch(model, mean, cov, n_params, seed):
    """Largest error of logp differences against the closed-form Gaussian log density."""
    rng = np.random.default_rng(seed)
    logp = model.compile_logp()
    names = [v.name for v in model.value_vars]
    shapes = {v.name: model.initial_point()[v.name].shape for v in model.value_vars}
    precision = np.linalg.inv(cov)
    values, exact = [], []
    for _ in range(5):
        theta = mean + rng.standard_normal(mean.size) * np.sqrt(np.diag(cov)) * 3
        point, k = {}, 0
        order = ["density_z_score", "gravity_offset", "gravity_trend"]
        for name in [o for o in order if o in names]:
            size = int(np.prod(shapes[name]))
            point[name] = theta[k : k + size].reshape(shapes[name])
            k += size
        assert k == n_params
        values.append(logp(point))
        r = theta - mean
        exact.append(-0.5 * r @ precision @ r)
    return np.max(np.abs(np.diff(values) - np.diff(exact)))


@pytest.fixture(scope="module")
def full_model(problem):
    return _model(problem)


def test_log_posterior_equals_the_closed_form(problem, full_model):
    mean, cov = _closed_form(problem)
    model = full_model
    assert {"gravity_offset", "gravity_trend"} <= set(model.named_vars)
    assert model.named_vars_to_dims["gravity_offset"] == ("gravity_offset_group",)
    assert _logp_mismatch(model, mean, cov, mean.size, seed=1) < 1e-6


def test_negative_control_a_model_without_the_trend_is_not_that_posterior(problem):
    model = _model(problem, trend=False)
    # the closed form of the full model does not describe it: fill the slope with 0
    mean0, cov0 = _closed_form(problem, trend=False)
    assert _logp_mismatch(model, mean0, cov0, mean0.size, seed=1) < 1e-6
    full = _closed_form(problem)
    m_wrong = full[0][:-1]
    c_wrong = full[1][:-1, :-1]
    assert _logp_mismatch(model, m_wrong, c_wrong, m_wrong.size, seed=1) > 1.0


def test_known_offsets_and_trend_are_recovered(problem, full_model):
    mean, cov = _closed_form(problem)
    sd = np.sqrt(np.diag(cov))
    truth = np.concatenate([problem["c_true"], problem["b_true"]])
    z = (mean[-3:] - truth) / sd[-3:]
    assert np.all(np.abs(z) < 4.0), z
    assert np.all(sd[-3:] < 0.05 * np.abs(truth))  # the data pin them down
    # the PyMC model's gradient vanishes at the closed-form mean (its mode)
    model = full_model
    dlogp = model.compile_dlogp()
    shapes = {v.name: model.initial_point()[v.name].shape for v in model.value_vars}
    point = {"density_z_score": mean[:-3].reshape(shapes["density_z_score"])}
    point |= {"gravity_offset": mean[-3:-1], "gravity_trend": mean[-1:]}
    chol = np.linalg.cholesky(cov)  # whitened gradient L^T g: O(1) one sd from the mode
    assert np.abs(chol.T @ dlogp(point)).max() < 1e-6
    point["gravity_offset"] = problem["c_true"]  # negative control: the truth is not the mode
    assert np.abs(chol.T @ dlogp(point)).max() > 0.5


def test_negative_control_one_offset_for_two_lines_does_not_fit(problem):
    # with a single base level the two lines' different offsets cannot both be fitted
    inv = _closed_form(problem, offset=False)  # no offsets at all
    used = problem["mask"]
    A = np.hstack([RHO_SD * problem["G"], np.zeros((24, 1))])
    A[used, -1] = problem["rx"][used, 0] - problem["rx"][used, 0].mean()
    chi2_none = np.sum(((problem["d"] - A @ inv[0])[used] / SIGMA) ** 2)
    full = _closed_form(problem)
    B = np.hstack([RHO_SD * problem["G"], problem["E"], np.zeros((24, 1))])
    B[used, -1] = A[used, -1]
    chi2_full = np.sum(((problem["d"] - B @ full[0])[used] / SIGMA) ** 2)
    n = used.sum()
    assert chi2_full < 2 * n
    assert chi2_none > 10 * n


def test_offset_and_trend_validation(problem):
    with pytest.raises(ValueError, match="Offset: sd must be"):
        Offset(-1.0)
    with pytest.raises(ValueError, match="one label per datum"):
        JointInversion().add_field("density", problem["grid"]).add_modality(
            Modality("gravity", problem["op"], np.zeros(24), KnownNoise(1.0))
        ).add_offset("gravity", Offset(1.0, groups=[1, 2]))
    with pytest.raises(ValueError, match="add_offset: no modality 'gravty'"):
        JointInversion().add_offset("gravty", Offset(1.0))
    with pytest.raises(TypeError, match="offsets must be data terms"):
        Modality("g", problem["op"], np.zeros(24), KnownNoise(1.0), offsets=[object()])
