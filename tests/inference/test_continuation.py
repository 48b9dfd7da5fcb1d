import numpy as np
import pymc as pm
import pytest

from bayesinv import Grid1D
from bayesinv.inference.continuation import (
    continuation,
    prolong_transfer,
    zero_pad_transfer,
)
from bayesinv.model.priors import besov_level_scales, besov_prior
from bayesinv.multiscale import GridHierarchy, Prolongation, WaveletField
from bayesinv.operators import MatrixOperator
from bayesinv.ops import ForwardOp
from bayesinv.testing import check_gaussian_posterior

GRID = Grid1D(nz=32, dz=1.0)
SIGMA = 0.1


@pytest.fixture
def problem(rng):
    G = rng.standard_normal((20, GRID.size)) / np.sqrt(GRID.size)
    z = GRID.z_centers
    m_true = np.sin(2 * np.pi * z / 32.0) + (z > 20)
    d = G @ m_true + SIGMA * rng.standard_normal(20)
    return G, d


def _besov_builder(G, d, W):
    def build(level):
        with pm.Model() as model:
            m = besov_prior("m", W, s=1.5, p=2, max_level=level)
            pm.Normal("d", ForwardOp(MatrixOperator(G))(m), SIGMA, observed=d)
        return model

    return build


def _closed_form_raw(G, d, W, level, cov=False):
    """Posterior mean (and covariance) of the standard-normal latent of the level's model."""
    k = W.n_coefficients(level)
    gamma = besov_level_scales(W, 1.5, 2)[:k]
    A = np.column_stack(
        [G @ W.coarse_operator(level).forward(e * g) for e, g in zip(np.eye(k), gamma, strict=True)]
    )
    H = A.T @ A / SIGMA**2 + np.eye(k)
    mean = np.linalg.solve(H, A.T @ d / SIGMA**2)
    return (mean, np.linalg.inv(H)) if cov else mean


def test_map_continuation_matches_closed_form(problem):
    G, d = problem
    W = WaveletField(GRID, "haar", levels=3)
    res = continuation(_besov_builder(G, d, W), W.levels + 1, random_seed=5, method="map")
    assert [r.level for r in res.levels] == [0, 1, 2, 3]
    assert [r.n_free for r in res.levels] == [W.n_coefficients(j) for j in range(4)]
    for r in res.levels:
        expected = _closed_form_raw(G, d, W, r.level)
        np.testing.assert_allclose(r.point["m_raw"], expected, atol=2e-4 * np.abs(expected).max())
        assert r.diagnostics["success"]
        assert np.isfinite(r.logp)
    # each level starts from the previous MAP padded with zeros
    for coarse, fine in zip(res.levels[:-1], res.levels[1:], strict=True):
        k = coarse.point["m_raw"].size
        np.testing.assert_array_equal(fine.initial_point["m_raw"][:k], coarse.point["m_raw"])
        np.testing.assert_array_equal(fine.initial_point["m_raw"][k:], 0.0)
    assert res.final is res.levels[-1]
    table = res.table()
    assert table[0].keys() >= {"level", "n_free", "logp", "seconds", "success", "grad_norm"}


@pytest.mark.parametrize("nested", [False, True])
def test_laplace_continuation_is_exact_at_every_level(problem, nested):
    G, d = problem
    W = WaveletField(GRID, "haar", levels=3)
    res = continuation(
        _besov_builder(G, d, W),
        W.levels + 1,
        random_seed=5,
        method="laplace",
        nested=nested,
        laplace_kwargs={"tol": 1e-8},
    )
    for r in res.levels:
        mean, cov = _closed_form_raw(G, d, W, r.level, cov=True)
        np.testing.assert_allclose(r.point["m_raw"], mean, atol=1e-5 * np.abs(mean).max())
        np.testing.assert_allclose(r.preconditioner.mean, mean, atol=1e-5 * np.abs(mean).max())
        np.testing.assert_allclose(r.preconditioner.covariance(), cov, atol=1e-6)
        assert r.diagnostics["preconditioned"] == (r.level > 0)
        assert r.method == "laplace"
    # with the coarse guess the optimiser needs fewer iterations than from scratch
    cold = continuation(
        lambda level: _besov_builder(G, d, W)(W.levels), 1, random_seed=5, method="laplace"
    )
    assert res.final.diagnostics["n_iterations"] < cold.final.diagnostics["n_iterations"]


def test_laplace_then_nuts_samples_the_closed_form_posterior(problem):
    G, d = problem
    W = WaveletField(GRID, "haar", levels=2)
    res = continuation(
        _besov_builder(G, d, W),
        W.levels + 1,
        random_seed=7,
        method=["laplace", "laplace", "nuts"],
        nested=True,
        sample_kwargs={"draws": 500, "tune": 200, "chains": 4},
    )
    final = res.final
    assert final.method == "nuts"
    assert final.diagnostics["preconditioned"]
    mean, cov = _closed_form_raw(G, d, W, W.levels, cov=True)
    check_gaussian_posterior(
        final.result["posterior"]["m_raw"].values,
        mean,
        cov,
        n_divergent=final.diagnostics["n_divergent"],
    )
    # the guess from draws approximates the covariance too
    assert final.preconditioner is not None
    assert final.preconditioner.n == W.n_params


def test_nested_rejects_levels_that_do_not_nest():
    def build(level):
        with pm.Model() as model:
            pm.Normal("a" if level == 0 else "b", shape=2)
        return model

    with pytest.raises(ValueError, match=r"continuation \(nested\): every variable"):
        continuation(build, 2, random_seed=0, method="laplace", nested=True)


def test_prolong_transfer(rng):
    hierarchy = GridHierarchy(Grid1D(nz=16, dz=1.0), 3)
    G = rng.standard_normal((8, 16))
    d = rng.standard_normal(8)

    def build(level):
        P = hierarchy.prolongation(level, kind="constant")
        with pm.Model() as model:
            tau = pm.HalfNormal("tau", 1.0)
            m = pm.Normal("m", 0.0, tau, shape=hierarchy[level].size)
            pm.Normal("d", ForwardOp(MatrixOperator(G) @ P)(m), 1.0, observed=d)
        return model

    transfer = prolong_transfer({"m": hierarchy}, kind="bilinear")
    res = continuation(build, 3, random_seed=1, transfer=transfer)
    for level in (1, 2):
        coarse = res.levels[level - 1].point
        init = res.levels[level].initial_point
        P = Prolongation(hierarchy[level - 1], hierarchy[level], "bilinear")
        np.testing.assert_allclose(init["m"], P.forward(coarse["m"]))
        assert init["tau"] == pytest.approx(coarse["tau"])


def test_nuts_continuation(problem):
    G, d = problem
    W = WaveletField(GRID, "haar", levels=1)
    res = continuation(
        _besov_builder(G, d, W),
        2,
        random_seed=np.random.default_rng(3),
        method="nuts",
        sample_kwargs={"draws": 150, "tune": 150, "chains": 2},
    )
    final = res.final
    assert final.diagnostics.keys() >= {"max_rhat", "min_ess_bulk", "n_divergent"}
    assert final.diagnostics["n_divergent"] == 0
    assert final.diagnostics["max_rhat"] < 1.1
    expected = _closed_form_raw(G, d, W, 1)
    # posterior sd of the latent is at most 1: a loose Monte Carlo check of the mean
    assert np.max(np.abs(final.point["m_raw"] - expected)) < 0.5


def test_zero_pad_transfer_rejects_incompatible_shapes():
    with pm.Model() as fine:
        pm.Normal("a", shape=(2, 3))
    with pytest.raises(ValueError, match="zero_pad_transfer: variable 'a' has shape"):
        zero_pad_transfer(0, {"a": np.zeros(4)}, fine)


def test_bad_arguments():
    with pytest.raises(ValueError, match="continuation: method must be"):
        continuation(lambda level: pm.Model(), 2, random_seed=0, method="advi")
    with pytest.raises(ValueError, match="one entry per level"):
        continuation(lambda level: pm.Model(), 2, random_seed=0, method=["map"])
    with pytest.raises(ValueError, match="continuation: random_seed must be"):
        continuation(lambda level: pm.Model(), 2, random_seed=None)
    with pytest.raises(ValueError, match="continuation: n_levels must be"):
        continuation(lambda level: pm.Model(), 0, random_seed=0)
    with pytest.raises(ValueError, match=r"continuation: build\(0\) must return a pymc.Model"):
        continuation(lambda level: None, 1, random_seed=0)


def test_a_registered_level_solver_is_called_with_its_options(problem):
    from bayesinv.inference.continuation import (
        LEVEL_SOLVERS,
        LevelOutcome,
        register_level_solver,
    )

    G, d = problem
    W = WaveletField(GRID, "haar", levels=2)
    calls = []

    def prior_mean(level):
        # a trivial solver: the point is the initial point padded with zeros
        calls.append((level.index, dict(level.options), sorted(level.initial_point)))
        x = np.zeros(level.density.n)
        point = level.density.constrained(x)
        return LevelOutcome(point, float(level.density.logp_dlogp(x)[0]), {"custom": 1.0}, None)

    register_level_solver("prior_mean", prior_mean)
    try:
        res = continuation(
            _besov_builder(G, d, W),
            3,
            random_seed=1,
            method=["map", "prior_mean", "prior_mean"],
            options={"prior_mean": {"scale": 2}},
        )
    finally:
        del LEVEL_SOLVERS["prior_mean"]
    assert [c[0] for c in calls] == [1, 2]
    assert all(c[1] == {"scale": 2} for c in calls) and calls[0][2] == ["m_raw"]
    assert res.levels[1].method == "prior_mean" and res.levels[1].diagnostics["custom"] == 1.0
    np.testing.assert_array_equal(res.final.point["m_raw"], np.zeros(W.n_coefficients(2)))
    with pytest.raises(ValueError, match="registered level solvers"):
        continuation(_besov_builder(G, d, W), 1, random_seed=1, method="prior_mean")


def _two_modes(level):
    """x² observed: modes near -2 (the side of the start) and +2 (more prior mass)."""
    with pm.Model() as model:
        x = pm.Normal("x", 0.5, 1.5, initval=-0.5)
        pm.Normal("y", x**2, 0.5, observed=4.0)
    return model


def test_smc_first_level_finds_the_tall_mode_a_local_solver_misses():
    built = []
    found = continuation(
        lambda level: built.append(_two_modes(level)) or built[-1],
        2,
        random_seed=3,
        method=["smc", "map"],
    )
    # SMC ran from prior draws, and the model's own initial value was put back afterwards
    assert float(built[0].initial_point()["x"]) == -0.5
    local = continuation(_two_modes, 2, random_seed=3, method="map")  # negative control
    assert 1.8 < float(found.final.point["x"]) < 2.1
    assert -2.1 < float(local.final.point["x"]) < -1.8
    first = found.levels[0].diagnostics
    assert first["method"] == "smc" and first["carry"] == "best" and first["n_stages"] >= 2
    np.testing.assert_allclose(found.levels[0].logp, first["best_logp"])
    # both modes hold particles, in proportion to their mass
    draws = np.asarray(found.levels[0].result["posterior"]["x"].values).ravel()
    assert 0.6 < np.mean(draws > 0) < 0.85  # about 0.72 by quadrature


def test_smc_level_carries_the_mean_and_a_guess_on_request(problem):
    G, d = problem
    W = WaveletField(GRID, "haar", levels=2)
    res = continuation(
        _besov_builder(G, d, W),
        2,
        random_seed=4,
        method=["smc", "laplace"],
        options={"smc": {"carry": "mean", "draws": 150}},
    )
    assert res.levels[0].preconditioner is not None
    assert res.levels[1].diagnostics["preconditioned"]
    with pytest.raises(ValueError, match="carry must be 'best' or 'mean'"):
        continuation(_two_modes, 1, random_seed=0, method="smc", options={"smc": {"carry": "x"}})


def _data_model(G):
    """One model whose data are ``pm.Data``: continuations of several data sets share it."""
    with pm.Model() as model:
        m = pm.Normal("m", 0.0, 1.0, shape=G.shape[1])
        d = pm.Data("d_obs", np.zeros(G.shape[0]))
        pm.Normal("d", ForwardOp(MatrixOperator(G))(m), SIGMA, observed=d)
    return model


def _closed_form_unit_prior(G, d):
    H = G.T @ G / SIGMA**2 + np.eye(G.shape[1])
    cov = np.linalg.inv(H)
    return cov @ G.T @ d / SIGMA**2, cov


def test_nuts_levels_of_one_model_compile_once_and_sample_each_data_set(rng, monkeypatch):
    from bayesinv.inference.continuation import nuts as nuts_module

    G = rng.standard_normal((12, 6)) / np.sqrt(6.0)
    data = [G @ rng.standard_normal(6) + SIGMA * rng.standard_normal(12) for _ in range(2)]
    model = _data_model(G)
    calls = []
    compile_model = nuts_module.compile_model
    monkeypatch.setattr(
        nuts_module, "compile_model", lambda *a, **k: calls.append(1) or compile_model(*a, **k)
    )

    def run(d, seed):
        pm.set_data({"d_obs": d}, model=model)
        return continuation(
            lambda level: model,
            2,
            random_seed=seed,
            method=["laplace", "nuts"],
            sample_kwargs={"draws": 400, "tune": 300, "chains": 2},
        ).final

    first, second, again = run(data[0], 3), run(data[1], 4), run(data[0], 3)
    assert len(calls) == 1  # one nutpie compilation for the three NUTS levels
    np.testing.assert_array_equal(  # same seed and data -> the same draws
        first.result["posterior"]["m"].values, again.result["posterior"]["m"].values
    )
    for res, d in zip((first, second), data, strict=True):
        mean, cov = _closed_form_unit_prior(G, d)
        draws = res.result["posterior"]["m"].values
        check_gaussian_posterior(draws, mean, cov, n_divergent=res.diagnostics["n_divergent"])
    # negative control: the second run's draws are not the first data set's posterior (the
    # compiled model did read the new data)
    mean, cov = _closed_form_unit_prior(G, data[0])
    draws = second.result["posterior"]["m"].values
    assert not check_gaussian_posterior(draws, mean, cov, raise_error=False).passed
