"""The marginalised joint inversion (``build(marginalize=True)`` + ``recover_marginals``)."""

import warnings

import numpy as np
import pymc as pm
import pytest
import xarray as xr

from bayesinv import Grid1D
from bayesinv.inference import sample
from bayesinv.model import JointInversion
from bayesinv.model.coupling import CrossGradient
from bayesinv.model.discrepancy import Discrepancy
from bayesinv.model.discrepancy.marginal import conditional_draw
from bayesinv.model.fields import IIDNormal, MaternPrior
from bayesinv.model.modality import Modality
from bayesinv.model.noise import KnownNoise
from bayesinv.model.offsets import Offset
from bayesinv.operators import MatrixOperator
from bayesinv.operators.base import ForwardOperator
from bayesinv.testing import check_gaussian_posterior

MU, SD = 0.3, 2.0  # field prior
ETA, ELL, NOISE_A, NOISE_B, OFFSET_SD = 0.5, 3.0, 0.2, 0.3, 1.0


def matern52(x, eta, ell):
    r = np.abs(x[:, None] - x[None, :]) / ell
    return eta**2 * (1 + np.sqrt(5) * r + 5 * r**2 / 3) * np.exp(-np.sqrt(5) * r)


@pytest.fixture(scope="module")
def problem():
    """Two modalities on one 3-cell field: ``a`` with a fixed GP, ``b`` with an offset."""
    rng = np.random.default_rng(7)
    g_a, g_b = rng.normal(size=(8, 3)), rng.normal(size=(4, 3))
    x_a = np.linspace(0.0, 10.0, 8)
    truth = np.array([1.0, -0.5, 0.8])
    d_a = g_a @ truth + 0.4 * np.sin(x_a / 2) + rng.normal(0, NOISE_A, 8)
    d_b = g_b @ truth + 0.7 + rng.normal(0, NOISE_B, 4)
    disc = Discrepancy("matern52", amplitude=ETA, lengthscale=ELL, fixed=True)
    inv = JointInversion().add_field("theta", Grid1D(3, 1.0), IIDNormal(MU, SD))
    inv.add_modality(
        Modality("a", MatrixOperator(g_a), d_a, KnownNoise(NOISE_A), coords=x_a, discrepancy=disc)
    )
    inv.add_modality(Modality("b", MatrixOperator(g_b), d_b, KnownNoise(NOISE_B)))
    inv.add_offset("b", Offset(OFFSET_SD))
    return inv, (g_a, g_b, x_a, d_a, d_b)


def closed_form(g_a, g_b, x_a, d_a, d_b, eta=ETA):
    """Exact posterior of (offset, θ, δ_a): u ~ N(0, P), d - G μ = H u + ε."""
    n_a, n_b = g_a.shape[0], g_b.shape[0]
    k = matern52(x_a, eta, ELL)
    p = np.zeros((12, 12))
    p[0, 0], p[1:4, 1:4], p[4:, 4:] = OFFSET_SD**2, SD**2 * np.eye(3), k  # u = (c, θ - μ, δ_a)
    h = np.zeros((n_a + n_b, 12))
    h[:n_a, 1:4], h[:n_a, 4:] = g_a, np.eye(n_a)
    h[n_a:, 0], h[n_a:, 1:4] = 1.0, g_b
    noise = np.diag(np.r_[np.full(n_a, NOISE_A**2), np.full(n_b, NOISE_B**2)])
    r = np.r_[d_a - g_a @ np.full(3, MU), d_b - g_b @ np.full(3, MU)]
    gain = p @ h.T @ np.linalg.inv(h @ p @ h.T + noise)
    mean = gain @ r + np.r_[0.0, np.full(3, MU), np.zeros(n_a)]
    return mean, p - gain @ h @ p


@pytest.fixture(scope="module")
def recovered(problem):
    inv, _ = problem
    model = inv.build(marginalize=True)
    tree = sample(model, draws=1000, tune=500, chains=2, random_seed=11, progressbar=False)
    return inv.recover_marginals(tree, random_seed=5)


def stacked(tree):
    post = tree["posterior"]
    parts = [post["b_offset"].values[..., None], post["theta"].values, post["a_discrepancy"].values]
    return np.concatenate(parts, axis=-1)


def test_marginal_model_holds_hyperparameters_only(problem):
    inv, _ = problem
    model = inv.build(marginalize=True)
    assert [rv.name for rv in model.free_RVs] == ["b_offset"]
    assert [rv.name for rv in model.observed_RVs] == ["a", "b"]
    assert "theta" not in model.named_vars


def test_marginal_logp_compiled_and_exact(problem):
    # the compiled log density (numba, no object mode) equals the Gaussian marginal in scipy
    from scipy import stats

    inv, (g_a, g_b, x_a, d_a, d_b) = problem
    model = inv.build(marginalize=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logp = model.compile_logp(mode="NUMBA")
    assert not [w for w in caught if "object mode" in str(w.message).lower()]
    g = np.vstack([g_a, g_b])
    cov = SD**2 * g @ g.T
    cov[:8, :8] += matern52(x_a, ETA, ELL) + NOISE_A**2 * np.eye(8)
    cov[8:, 8:] += NOISE_B**2 * np.eye(4)
    for c in (-0.4, 0.9):
        mean = g @ np.full(3, MU) + np.r_[np.zeros(8), np.full(4, c)]
        ref = stats.norm(0, OFFSET_SD).logpdf(c)
        ref += stats.multivariate_normal(mean, cov).logpdf(np.r_[d_a, d_b])
        np.testing.assert_allclose(logp({"b_offset": c}), ref, rtol=1e-10)


def test_recovered_posterior_matches_closed_form(problem, recovered):
    _, arrays = problem
    mean, cov = closed_form(*arrays)
    n_div = int(recovered["sample_stats"]["diverging"].sum())
    check_gaussian_posterior(stacked(recovered), mean, cov, n_divergent=n_div)
    assert recovered["posterior"]["theta"].dims == ("chain", "draw", "theta_z")
    np.testing.assert_allclose(
        recovered["posterior"]["theta"].values,
        MU + SD * recovered["posterior"]["theta_z_score"].values,
    )


def test_negative_control_wrong_discrepancy_fails(problem, recovered):
    # the posterior of the same data with a GP twice as large must be rejected
    _, arrays = problem
    mean, cov = closed_form(*arrays, eta=2 * ETA)
    check = check_gaussian_posterior(stacked(recovered), mean, cov, raise_error=False)
    assert not check.passed


def test_same_seed_same_draws(problem, recovered):
    inv, _ = problem
    base = recovered["posterior"].to_dataset()[["b_offset"]]

    def theta(seed):
        tree = inv.recover_marginals(xr.DataTree.from_dict({"posterior": base}), random_seed=seed)
        return tree["posterior"]["theta"].values

    np.testing.assert_array_equal(theta(3), theta(3))
    assert not np.allclose(theta(3), theta(4))


def test_conditional_draw_moments_direct():
    # Matheron's rule against the covariance form of the Gaussian conditional
    rng = np.random.default_rng(3)
    a = rng.normal(size=(5, 2))
    disc = matern52(np.linspace(0, 4, 5), 0.7, 2.0)
    noise = np.diag(rng.uniform(0.1, 0.3, 5) ** 2)
    r = rng.normal(size=5)
    draws = np.array([np.r_[conditional_draw(r, a, noise, disc, rng)] for _ in range(4000)])
    h, p = (
        np.hstack([a, np.eye(5)]),
        np.block([[np.eye(2), np.zeros((2, 5))], [np.zeros((5, 2)), disc]]),
    )
    gain = p @ h.T @ np.linalg.inv(h @ p @ h.T + noise)
    check_gaussian_posterior(draws[None], gain @ r, p - gain @ h @ p)


class _Square(ForwardOperator):
    linear = False

    def __init__(self):
        self.n_params = self.n_data = 3

    def _forward(self, m):
        return m**2

    def _jvp(self, m, dm):
        return 2 * m * dm

    def _vjp(self, m, dd):
        return 2 * m * dd


def _inv(prior=None, op=None, likelihood="normal"):
    inv = JointInversion().add_field("theta", Grid1D(3, 1.0), prior or IIDNormal())
    op = op or MatrixOperator(np.eye(3))
    inv.add_modality(Modality("grav", op, np.zeros(3), KnownNoise(0.1), likelihood=likelihood))
    return inv


@pytest.mark.parametrize(
    ("inv", "match"),
    [
        (_inv(op=_Square()), "modality 'grav' has the nonlinear operator"),
        (_inv(likelihood="student_t"), "modality 'grav' has likelihood='student_t'"),
        (
            _inv(MaternPrior(1.0, lambda n: pm.LogNormal(n, 0.0, 1.0))),
            "field 'theta' \\(MaternPrior\\) has variable 'theta_length_scale'",
        ),
    ],
)
def test_non_gaussian_terms_are_named(inv, match):
    with pytest.raises(ValueError, match=match):
        inv.build(marginalize=True)


def test_coupling_is_refused():
    inv = JointInversion().add_field("theta", Grid1D(3, 1.0)).add_field("rho", Grid1D(3, 1.0))
    op = MatrixOperator(np.eye(3))
    inv.add_modality(Modality("grav", op, np.zeros(3), KnownNoise(0.1), field="theta"))
    inv.add_coupling(CrossGradient("theta", "rho", 1.0))
    with pytest.raises(ValueError, match="couplings \\['CrossGradient'\\]"):
        inv.build(marginalize=True)


def test_marginalize_must_be_bool():
    with pytest.raises(TypeError, match="marginalize must be True or False"):
        _inv().build(marginalize="yes")


def test_report_shows_discrepancy_band(problem, recovered, tmp_path):
    # δ's band against station position: mean at the closed-form posterior mean of δ
    from bayesinv.diagnostics.discrepancy import discrepancy_bands
    from bayesinv.diagnostics.report import _checks

    mean, cov = closed_form(*problem[1])
    band = discrepancy_bands(recovered)
    assert list(band) == ["a"]
    np.testing.assert_allclose(band["a"].x, problem[1][2])  # station position, not the index
    n = recovered["posterior"].sizes["draw"] * recovered["posterior"].sizes["chain"]
    se = np.sqrt(np.diag(cov)[4:] / n)
    assert np.all(np.abs(band["a"].mean - mean[4:]) < 5 * se)
    assert np.all(band["a"].bands[0.9][0] < band["a"].bands[0.5][0])
    *_, figures = _checks(recovered, tmp_path, {}, {}, {}, {}, None)  # the report's figures
    assert figures["ppc"] == ["discrepancy_a.png"]
    assert (tmp_path / "discrepancy_a.png").stat().st_size > 0


@pytest.mark.slow
def test_coverage_study_small(monkeypatch):
    # two replicates of the benchmark's coverage study (a regional trend the physics lacks,
    # drawn from REGIONAL_SD): the GP and the scaled guard cover the truth, no GP (negative
    # control) does not.
    # 50 replicates: `python benchmarks/bench_discrepancy.py --coverage 50`
    import importlib
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    bench = importlib.import_module("bench_discrepancy")
    seeds = (101, 102)
    labels = ("GP", "GP + scaled guard (S-GaSP)", "no GP (negative control)")
    plans = {k: bench.coverage_plan(bench.COVERAGE_VARIANTS[k], n_grid=12) for k in labels}
    # coverage_plan checks its grid density against PyMC's marginal logp (RuntimeError)
    for label, bound in (("GP", 0.8), ("GP + scaled guard (S-GaSP)", 0.8)):
        cov = [bench.coverage_replicate(s, plans[label], n_draws=150) for s in seeds]
        assert np.mean(cov) >= bound, (label, cov)
    plain = [bench.coverage_replicate(s, plans[labels[2]], n_draws=150) for s in seeds]
    assert np.mean(plain) <= 0.7, plain


@pytest.mark.parametrize("kind", ["diagonal", "full", "singular"])
def test_sqrt_psd_factors_psd_matrices(kind):
    from bayesinv.model.discrepancy.marginal import _sqrt_psd

    rng = np.random.default_rng(7)
    b = rng.normal(size=(12, 12 if kind != "singular" else 5))
    s = {"diagonal": np.diag(rng.uniform(0.1, 2.0, 12)), "full": b @ b.T}.get(kind, b @ b.T)
    r = _sqrt_psd(s)
    np.testing.assert_allclose(r @ r.T, s, atol=1e-9 * np.abs(s).max())
    # negative control: a matrix that is not PSD cannot be reproduced
    bad = s - 2.0 * np.abs(s).max() * np.outer(np.ones(12), np.ones(12)) / 12
    rb = _sqrt_psd(bad)
    assert not np.allclose(rb @ rb.T, bad, atol=1e-6)
