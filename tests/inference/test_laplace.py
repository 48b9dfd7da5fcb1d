"""Gauss–Newton Laplace: exact for linear-Gaussian problems, low rank to a stated error."""

import warnings

import numpy as np
import pymc as pm
import pytest
from scipy.optimize import minimize

from bayesinv import Grid2D
from bayesinv.diagnostics.convergence import convergence_report
from bayesinv.diagnostics.ppc import modality_loo, posterior_predictive_check
from bayesinv.inference.gauss_newton import gauss_newton_laplace
from bayesinv.inference.optimize import find_map
from bayesinv.operators import Gravity2D, MatrixOperator
from bayesinv.operators.base import ForwardOperator
from bayesinv.ops import forward


def exponential_cov(points, sd, length):
    dist = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)
    return sd**2 * np.exp(-dist / length)


def closed_form(G, d, m_pr, cov_pr, cov_n):
    precision = G.T @ np.linalg.solve(cov_n, G) + np.linalg.inv(cov_pr)
    cov = np.linalg.inv(precision)
    mean = m_pr + cov @ G.T @ np.linalg.solve(cov_n, d - G @ m_pr)
    return mean, cov


def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.fixture
def linear_problem(rng):
    n, nd = 30, 12
    G = rng.standard_normal((nd, n))
    points = np.column_stack([np.arange(n, dtype=float), np.zeros(n)])
    cov_pr = exponential_cov(points, 2.0, 5.0)
    m_pr = rng.normal(size=n)
    d = G @ rng.multivariate_normal(m_pr, cov_pr) + rng.normal(0.0, 0.3, nd)
    return G, d, m_pr, cov_pr


@pytest.mark.parametrize("noise", ["sd", "cov"])
def test_linear_gaussian_is_exact(linear_problem, rng, noise):
    G, d, m_pr, cov_pr = linear_problem
    nd = d.size
    if noise == "sd":
        sd = np.linspace(0.2, 0.4, nd)
        kwargs, cov_n = {"noise_sd": sd}, np.diag(sd**2)
    else:
        a = rng.standard_normal((nd, nd))
        cov_n = 0.05 * a @ a.T + 0.1 * np.eye(nd)
        kwargs = {"noise_cov": cov_n}
    mean, cov = closed_form(G, d, m_pr, cov_pr, cov_n)
    res = gauss_newton_laplace(
        MatrixOperator(G), d, prior_mean=m_pr, prior_cov=cov_pr, random_seed=1, **kwargs
    )
    assert rel(res.map, mean) < 1e-8
    assert rel(res.cov(), cov) < 1e-8
    assert res.converged and res.rank == nd  # nd < n: A has nd singular values
    assert res.operator_calls["vjp"] >= nd and res.operator_calls["jvp"] < 200
    draws = res.idata["posterior"]["m"].values
    assert draws.shape == (4, 1000, 30)
    flat = draws.reshape(-1, 30)
    # draws follow N(mean, cov): whitened sample covariance near identity
    white = np.linalg.solve(np.linalg.cholesky(cov), (flat - mean).T)
    assert np.abs(np.cov(white) - np.eye(30)).max() < 0.15


def test_low_rank_reaches_one_percent_with_reported_rank(rng):
    # 512 cells, 100 stations 10 m above ground: the data inform a few dozen directions
    grid = Grid2D(nx=32, nz=16, dx=25.0, dz=25.0)
    receivers = np.column_stack([np.linspace(0.0, 800.0, 100), np.full(100, -10.0)])
    op = Gravity2D(grid, receivers)
    cov_pr = exponential_cov(grid.cell_centers, 200.0, 100.0)
    noise = 0.05
    d = op.forward(rng.multivariate_normal(np.zeros(grid.size), cov_pr))
    d = d + rng.normal(0, noise, d.size)
    mean, cov = closed_form(op_matrix(op), d, np.zeros(grid.size), cov_pr, noise**2 * np.eye(100))
    errors = {}
    for rank in (10, 20, 30, 40):
        res = gauss_newton_laplace(
            op,
            d,
            prior_mean=0.0,
            prior_cov=cov_pr,
            noise_sd=noise,
            rank=rank,
            random_seed=3,
            draws=10,
            chains=1,
        )
        assert res.rank == rank
        errors[rank] = rel(res.cov(), cov)
        assert rel(res.map, mean) < 1e-8  # the MAP is solved matrix-free, whatever the rank
    needed = min(r for r, e in errors.items() if e < 0.01)
    print("low-rank covariance error (relative Frobenius) by rank:", errors, "needed:", needed)
    assert needed <= 30  # of 512 parameters and 100 data
    assert errors[10] > 0.01  # the test can fail: too low a rank is not accurate
    assert errors[40] < errors[20] < errors[10]


def op_matrix(op):
    return np.column_stack([op.forward(e) for e in np.eye(op.n_params)])


class Quadratic(ForwardOperator):
    """F(m) = G m + c (G m)^2 elementwise: a smooth nonlinear test operator."""

    linear = False

    def __init__(self, G, c):
        self.G, self.c = G, c
        self.n_data, self.n_params = G.shape

    def _forward(self, m):
        y = self.G @ m
        return y + self.c * y**2

    def _jvp(self, m, dm):
        return (1 + 2 * self.c * (self.G @ m)) * (self.G @ dm)

    def _vjp(self, m, dd):
        return self.G.T @ ((1 + 2 * self.c * (self.G @ m)) * dd)


def test_nonlinear_gauss_newton_finds_the_map_and_gn_hessian(rng):
    n, nd = 6, 15
    G = rng.standard_normal((nd, n)) / 2
    op = Quadratic(G, 0.3)
    m_true = rng.normal(size=n)
    sd = 0.1
    d = op.forward(m_true) + rng.normal(0, sd, nd)
    prior_var = 4.0

    def phi(m):
        r = (op.forward(m) - d) / sd
        return 0.5 * r @ r + 0.5 * m @ m / prior_var

    ref = minimize(phi, np.zeros(n), method="BFGS", options={"gtol": 1e-10})
    res = gauss_newton_laplace(
        op, d, prior_mean=0.0, prior_cov=prior_var, noise_sd=sd, random_seed=0
    )
    assert res.converged and res.iterations > 2
    np.testing.assert_allclose(res.map, ref.x, rtol=1e-6, atol=1e-7)
    J = np.column_stack([op.jvp(res.map, e) for e in np.eye(n)])
    gn_cov = np.linalg.inv(J.T @ J / sd**2 + np.eye(n) / prior_var)
    assert rel(res.cov(), gn_cov) < 1e-8


def test_diagnostics_run_on_laplace_draws(linear_problem):
    G, d, m_pr, cov_pr = linear_problem
    res = gauss_newton_laplace(
        MatrixOperator(G), d, prior_mean=m_pr, prior_cov=cov_pr, noise_sd=0.3, random_seed=2
    )
    conv = convergence_report(res.idata)
    assert conv.passed and conv.n_divergent is None  # independent draws mix perfectly
    check = posterior_predictive_check(res.idata)["data"]
    assert check.observed.size == d.size
    assert modality_loo(res.idata).loc["data", "n_data"] == d.size


def test_grid_dims_and_seed_reproducibility(rng):
    grid = Grid2D(nx=4, nz=3, dx=1.0, dz=1.0)
    G = rng.standard_normal((5, grid.size))
    kwargs = dict(prior_mean=0.0, prior_cov=1.0, noise_sd=0.1, random_seed=7, grid=grid)
    a = gauss_newton_laplace(MatrixOperator(G), np.ones(5), name="density", **kwargs)
    b = gauss_newton_laplace(MatrixOperator(G), np.ones(5), name="density", **kwargs)
    post = a.idata["posterior"]["density"]
    assert post.dims == ("chain", "draw", "density_z", "density_x")
    assert a.idata["laplace"]["density_map"].dims == ("density_z", "density_x")
    np.testing.assert_array_equal(a.idata["laplace"]["density_map"].values.ravel(), a.map)
    assert a.idata["laplace"]["eigenvalues"].size == a.rank == 5
    np.testing.assert_array_equal(post.values, b.idata["posterior"]["density"].values)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"noise_sd": 0.1, "noise_cov": np.eye(3)}, "exactly one of noise_sd and noise_cov"),
        ({}, "exactly one of noise_sd and noise_cov"),
        ({"noise_sd": -1.0}, "noise_sd must be finite and positive"),
        ({"noise_cov": np.eye(2)}, "noise_cov has shape"),
        ({"noise_sd": 0.1, "prior_cov": -np.eye(4)}, "prior_cov is not symmetric positive"),
        ({"noise_sd": 0.1, "rank": 9}, "rank must be an integer in 1..4"),
        ({"noise_sd": 0.1, "random_seed": None}, "random_seed must be an integer >= 0"),
    ],
)
def test_bad_arguments(rng, kwargs, message):
    args = {"prior_mean": 0.0, "prior_cov": np.eye(4), "random_seed": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        gauss_newton_laplace(MatrixOperator(rng.standard_normal((3, 4))), np.ones(3), **args)


def test_find_map_matches_closed_form_without_object_mode(rng):
    G = rng.standard_normal((12, 4))
    d = G @ rng.normal(size=4) + rng.normal(0, 0.5, 12)
    mean, _ = closed_form(G, d, np.zeros(4), 4.0 * np.eye(4), 0.25 * np.eye(12))
    with pm.Model() as model:
        m = pm.Normal("m", 0.0, 2.0, shape=4)
        pm.Normal("d", forward(MatrixOperator(G), m), 0.5, observed=d)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        point = find_map(model, random_seed=1)
    assert not [w for w in caught if "object mode" in str(w.message).lower()]
    np.testing.assert_allclose(point["m"], mean, rtol=1e-5, atol=1e-6)


def test_report_works_on_a_laplace_result(rng, tmp_path):
    from bayesinv.diagnostics.report import regenerate_report, report

    grid = Grid2D(nx=6, nz=3, dx=10.0, dz=10.0)
    receivers = np.column_stack([np.linspace(0.0, 60.0, 8), np.zeros(8)])
    op = Gravity2D(grid, receivers)
    truth = rng.normal(0.0, 100.0, grid.size)
    d = op.forward(truth) + rng.normal(0.0, 0.01, 8)
    res = gauss_newton_laplace(
        op,
        d,
        prior_mean=0.0,
        prior_cov=100.0**2,
        noise_sd=0.01,
        random_seed=1,
        name="density",
        data_name="gravity",
        grid=grid,
    )
    out = report(res.idata, tmp_path, fields={"density": grid}, truth={"density": truth})
    # independent draws: no R-hat/ESS verdict, which a Gaussian approximation cannot fail
    assert out.convergence.passed and out.convergence.draws == "independent"
    assert "R-hat and ESS do not apply" in out.convergence.verdict
    assert list(out.ppc.index) == ["gravity"] and list(out.loo.index) == ["gravity"]
    assert regenerate_report(tmp_path).truth.equals(out.truth)


@pytest.mark.parametrize("dense_max", [1500, 5])
def test_model_laplace_is_exact_for_a_linear_gaussian_model(rng, dense_max):
    # the one Laplace on a PyMC model: dense Hessian, or low rank beyond dense_max
    from bayesinv.inference.laplace import laplace

    G = rng.standard_normal((6, 8))
    d = G @ rng.normal(size=8) + rng.normal(0.0, 0.3, 6)
    mean, cov = closed_form(G, d, np.zeros(8), np.eye(8) * 4.0, np.eye(6) * 0.09)
    with pm.Model(coords={"k": np.arange(8)}) as model:
        m = pm.Normal("m", 0.0, 2.0, dims="k")
        pm.Deterministic("first", m[0])
        pm.Normal("d", pm.math.dot(G, m), 0.3, observed=d)
    result = laplace(model, draws=2000, chains=2, random_seed=3, dense_max=dense_max)
    np.testing.assert_allclose(result.gaussian.mean, mean, atol=1e-4)  # L-BFGS tolerance
    assert rel(result.gaussian.cov(), cov) < 1e-6
    assert rel(np.eye(8) * 4.0, cov) > 0.1  # negative control: the prior is far from it
    post = result.idata["posterior"]
    assert post["m"].dims == ("chain", "draw", "k") and post["m"].shape == (2, 2000, 8)
    np.testing.assert_array_equal(post["first"].values, post["m"].values[..., 0])
    draws = post["m"].values.reshape(-1, 8)
    assert rel(np.cov(draws, rowvar=False), cov) < 0.1
    assert "d" in result.idata["observed_data"]


@pytest.mark.parametrize("power", [1.0, 0.3, 0.01])
def test_tempered_covariance_is_the_laplace_of_the_tempered_likelihood(linear_problem, power):
    # prior x likelihood^power, linear-Gaussian: noise covariance / power, exactly
    G, d, m_pr, cov_pr = linear_problem
    cov_n = np.diag(np.full(d.size, 0.3**2))
    res = gauss_newton_laplace(
        MatrixOperator(G), d, prior_mean=m_pr, prior_cov=cov_pr, noise_sd=0.3, random_seed=1
    )
    tempered = res.tempered(power)
    _, cov_tau = closed_form(G, d, m_pr, cov_pr, cov_n / power)
    assert rel(tempered.cov(), cov_tau) < 1e-8
    np.testing.assert_array_equal(tempered.mean, res.map)
    if power < 1:  # negative control: the untempered covariance fails the same check
        assert rel(res.cov(), cov_tau) > 1e-3


@pytest.mark.parametrize("power", [0.0, -0.5, 1.5, float("nan")])
def test_tempered_rejects_a_power_outside_zero_one(linear_problem, power):
    G, d, m_pr, cov_pr = linear_problem
    res = gauss_newton_laplace(
        MatrixOperator(G), d, prior_mean=m_pr, prior_cov=cov_pr, noise_sd=0.3, random_seed=1
    )
    with pytest.raises(ValueError, match="power"):
        res.tempered(power)
