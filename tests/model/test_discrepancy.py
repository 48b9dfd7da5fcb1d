"""Discrepancy GP: geometry priors, the integrated (Woodbury) HSGP, the identifiability guard."""

from __future__ import annotations

import warnings

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from bayesinv import Grid1D
from bayesinv.model import JointInversion
from bayesinv.model.discrepancy import Discrepancy
from bayesinv.model.discrepancy._lowrank import lowrank_normal
from bayesinv.model.discrepancy._priors import geometry_ranges, invgamma_from_tails
from bayesinv.model.discrepancy.guard import physics_basis
from bayesinv.model.fields import IIDNormal
from bayesinv.model.modality import Modality
from bayesinv.model.noise import CovarianceNoise, KnownNoise
from bayesinv.operators import MatrixOperator

PRIOR_SD = 3.0


def matern52(x, eta, ell):
    r = np.abs(x[:, None] - x[None, :]) / ell
    return eta**2 * (1 + np.sqrt(5) * r + 5 * r**2 / 3) * np.exp(-np.sqrt(5) * r)


def scalar_model(shape, data, sigma, x, disc):
    inv = JointInversion().add_field("theta", Grid1D(1, 1.0), IIDNormal(0.0, PRIOR_SD))
    op = MatrixOperator(shape[:, None])
    inv.add_modality(Modality("g", op, data, KnownNoise(sigma), coords=x, discrepancy=disc))
    return inv.build()


def line(n=40, seed=3):
    x = np.linspace(-100.0, 100.0, n)
    shape = 50.0**2 / (x**2 + 50.0**2)
    data = shape + 0.1 * np.sin(x / 30.0) + np.random.default_rng(seed).normal(0, 0.02, n)
    return x, shape, data


@pytest.mark.parametrize(("low", "high"), [(24.0, 800.0), (0.01, 0.3), (1.0, 3.0)])
def test_invgamma_tails_hold_one_percent_each(low, high):
    a, b = invgamma_from_tails(low, high)
    dist = stats.invgamma(a, scale=b)
    np.testing.assert_allclose([dist.cdf(low), dist.sf(high)], [0.01, 0.01], rtol=1e-6)


def test_invgamma_tails_refuse_bad_ranges():
    with pytest.raises(ValueError, match="0 < low < high"):
        invgamma_from_tails(5.0, 1.0)
    with pytest.raises(ValueError, match="tail must be in"):
        invgamma_from_tails(1.0, 5.0, tail=0.7)


def test_geometry_range_is_min_spacing_to_extent():
    x = np.array([[0.0], [10.0], [13.0], [40.0], [100.0]])
    assert geometry_ranges(x) == (3.0, 100.0)
    # one close pair does not set the range below extent / 50
    x = np.array([[0.0], [0.01], [50.0], [100.0]])
    assert geometry_ranges(x) == (2.0, 100.0)


def test_geometry_priors_are_inverse_gamma_with_the_stated_tails():
    x, shape, data = line()
    model = scalar_model(shape, data, 0.02, x, Discrepancy())
    eta = model["g_discrepancy_amplitude"]
    ell = model["g_discrepancy_lengthscale"]
    for var, (lo, hi) in [
        (eta, (0.02, 2 * np.std(data))),
        (ell, geometry_ranges(x[:, None])),
    ]:
        p = [float(np.exp(pm.logcdf(var, v).eval())) for v in (lo, hi)]
        np.testing.assert_allclose(p, [0.01, 0.99], rtol=1e-5)


def test_lowrank_logp_matches_dense_normal():
    rng = np.random.default_rng(0)
    n, m = 30, 7
    phi, s = rng.normal(size=(n, m)), rng.uniform(0.01, 2.0, m)
    mu, sd, y = rng.normal(size=n), rng.uniform(0.1, 0.5, n), rng.normal(size=n)
    with pm.Model() as model:
        lowrank_normal("y", mu, sd, phi, s, observed=y)
    dense = stats.multivariate_normal(mu, np.diag(sd**2) + phi @ np.diag(s**2) @ phi.T)
    np.testing.assert_allclose(model.compile_logp()({}), dense.logpdf(y), rtol=1e-10)


def test_lowrank_logp_gradient_matches_finite_differences_of_the_dense_density():
    import pytensor
    import pytensor.tensor as pt

    from bayesinv.model.discrepancy._lowrank import _logp_fn

    rng = np.random.default_rng(1)
    n, m = 12, 4
    phi, y = rng.normal(size=(n, m)), rng.normal(size=n)
    theta = pt.vector("theta")  # (mu, log sd, log s)
    mu, sd, s = theta[:n], pt.exp(theta[n : 2 * n]), pt.exp(theta[2 * n :])
    logp = _logp_fn(phi)(pt.as_tensor(y), mu, sd, s)
    f = pytensor.function([theta], [logp, pytensor.grad(logp, theta)])

    def dense(t):
        cov = np.diag(np.exp(2 * t[n : 2 * n])) + phi @ np.diag(np.exp(2 * t[2 * n :])) @ phi.T
        return stats.multivariate_normal(t[:n], cov).logpdf(y)

    t0 = np.concatenate([rng.normal(size=n), rng.normal(size=n) - 1, rng.normal(size=m)])
    h = 1e-5
    fd = [(dense(t0 + h * e) - dense(t0 - h * e)) / (2 * h) for e in np.eye(t0.size)]
    value, grad = f(t0)
    np.testing.assert_allclose(value, dense(t0), rtol=1e-10)
    np.testing.assert_allclose(grad, fd, rtol=1e-4, atol=1e-5)  # vs O(1) errors if wrong


def test_lowrank_and_exact_marginals_agree():
    # same fixed GP: HSGP basis (integrated) vs dense covariance, at several θ
    x, shape, data = line(60)
    kw = {"amplitude": 0.1, "lengthscale": 40.0, "fixed": True}
    models = {
        m: scalar_model(shape, data, 0.02, x, Discrepancy(method=m, n_basis=60, c=2.0, **kw))
        for m in ("exact", "lowrank")
    }
    logps = {m: model.compile_logp() for m, model in models.items()}
    for theta in (0.5, 1.0, 1.7):
        point = {"theta_z_score": np.array([theta / PRIOR_SD])}
        np.testing.assert_allclose(logps["lowrank"](point), logps["exact"](point), rtol=2e-3)


def test_auto_integrates_the_hsgp_out_above_the_exact_limit():
    from bayesinv.model.discrepancy import EXACT_MAX_DATA

    disc = Discrepancy()
    assert disc.resolve_method(EXACT_MAX_DATA + 1, "diagonal_normal") == "lowrank"
    assert disc.resolve_method(EXACT_MAX_DATA + 1, "normal") == "hsgp"
    x, shape, data = line(EXACT_MAX_DATA + 10)
    model = scalar_model(shape, data, 0.02, x, disc)
    names = set(model.named_vars)
    assert {"g_discrepancy_amplitude", "g_discrepancy_lengthscale"} <= names
    assert "g_discrepancy_coef" not in names


@pytest.mark.slow
def test_lowrank_model_compiles_without_object_mode():
    from bayesinv.inference.sampling import compile_model

    x, shape, data = line(50)
    model = scalar_model(shape, data, 0.02, x, Discrepancy(method="lowrank"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled = compile_model(model).nutpie
        compiled.logp_func.vm.jit_fn(np.zeros(compiled.n_dim))
    assert not [w for w in caught if "object mode" in str(w.message).lower()]


def test_lowrank_refuses_full_covariance_noise():
    x, shape, data = line(20)
    mod = Modality(
        "g",
        MatrixOperator(shape[:, None]),
        data,
        CovarianceNoise(0.02**2 * np.eye(20)),
        coords=x,
        discrepancy=Discrepancy(method="lowrank"),
    )
    with pytest.raises(ValueError, match=r"modality 'g'.*needs diagonal noise"):
        mod.method()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"amplitude": (0.5, 0.1)}, "amplitude must be \\(low, high\\) with 0 < low < high"),
        ({"amplitude": (0.1, 0.2, 0.3)}, "amplitude must be a pair"),
        ({"lengthscale": (-1.0, 5.0)}, "lengthscale low"),
        ({"priors": "flat"}, "Discrepancy: priors must be one of"),
        ({"guard": "orthogonal"}, "Discrepancy: guard must be one of"),
        ({"guard_energy": 0.0}, "guard_energy"),
        ({"guard_scale": 0.0}, "Discrepancy: guard_scale"),
        ({"guard_scale": -1.0}, "Discrepancy: guard_scale"),
        ({"method": "dense"}, "Discrepancy: method must be one of"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Discrepancy(**kwargs)


def test_physics_basis_spans_the_range_of_a_low_rank_operator():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(12, 2)) @ rng.normal(size=(2, 9))
    u = physics_basis(MatrixOperator(a), np.arange(12))
    assert u.shape == (12, 2)
    np.testing.assert_allclose(u.T @ u, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(u @ (u.T @ a), a, atol=1e-10)  # range(A) ⊂ span(U)
    used = np.array([0, 3, 5, 7, 8, 11])
    assert physics_basis(MatrixOperator(a), used, rank=1).shape == (6, 1)


def _curvature(model):
    """-d²logp/dθ² of the model at θ = 1 (exact for a Gaussian in θ)."""
    f = model.compile_logp()
    h = 0.05
    vals = [f({"theta_z_score": np.array([(1.0 + k * h) / PRIOR_SD])}) for k in (-1, 0, 1)]
    # logp is in the z-score; d/dθ = d/dz / PRIOR_SD
    return -(vals[0] - 2 * vals[1] + vals[2]) / h**2


def test_guard_keeps_the_gp_from_absorbing_the_physics():
    # a short-scale GP can mimic the anomaly shape: unguarded it takes much of the signal
    # (the physical parameter's posterior widens towards the prior); guarded, the GP is
    # orthogonal to the physics' shape and θ's posterior precision is the no-GP one:
    # gᵀ(σ²I + P⊥KP⊥)⁻¹g = |g|²/σ² because P⊥g = 0.
    x, shape, data = line(40)
    sigma, eta, ell = 0.02, 0.3, 40.0
    k = matern52(x, eta, ell)
    kw = {"amplitude": eta, "lengthscale": ell, "fixed": True, "method": "exact"}
    plain = _curvature(scalar_model(shape, data, sigma, x, Discrepancy(**kw)))
    guarded = _curvature(scalar_model(shape, data, sigma, x, Discrepancy(guard="projection", **kw)))
    expected_plain = shape @ np.linalg.solve(sigma**2 * np.eye(40) + k, shape) + PRIOR_SD**-2
    expected_guarded = shape @ shape / sigma**2 + PRIOR_SD**-2
    np.testing.assert_allclose(plain, expected_plain, rtol=1e-4)
    np.testing.assert_allclose(guarded, expected_guarded, rtol=1e-4)
    # negative control: without the guard the posterior sd of θ is much wider
    assert np.sqrt(guarded / plain) > 3.0


def test_guard_on_the_integrated_hsgp_path_removes_the_physics_direction():
    x, shape, data = line(60)
    disc = Discrepancy(
        amplitude=0.3, lengthscale=40.0, fixed=True, method="lowrank", guard="projection"
    )
    curv = _curvature(scalar_model(shape, data, 0.02, x, disc))
    np.testing.assert_allclose(curv, shape @ shape / 0.02**2 + PRIOR_SD**-2, rtol=1e-4)


def test_guard_needs_the_operator():
    with pm.Model(), pytest.raises(ValueError, match="guard='projection' needs operator="):
        Discrepancy(guard="projection").add_to_model("g", np.arange(5.0), 1.0)


@pytest.mark.parametrize("kernel", ["matern32", "matern52", "expquad"])
def test_kernel_matrix_matches_pymc(kernel):
    from bayesinv.model.discrepancy.posterior import kernel_matrix

    x = np.random.default_rng(2).uniform(0, 100, (9, 2))
    names = {"matern32": "Matern32", "matern52": "Matern52", "expquad": "ExpQuad"}
    ref = 0.7**2 * getattr(pm.gp.cov, names[kernel])(2, ls=23.0)(x).eval()
    np.testing.assert_allclose(kernel_matrix(kernel, x, 0.7, 23.0), ref, rtol=1e-10)


def test_conditional_discrepancy_matches_the_precision_form():
    from bayesinv.model.discrepancy.posterior import conditional_discrepancy, kernel_matrix

    x = np.linspace(0.0, 100.0, 5)
    k = kernel_matrix("matern52", x, 0.5, 40.0)
    sd = np.full(5, 0.2)
    r = np.array([0.3, -0.1, 0.4, 0.2, 0.0])
    s = 4000
    means, draws = conditional_discrepancy(
        np.tile(r, (s, 1)), sd, np.broadcast_to(k, (s, 5, 5)), random_seed=7
    )
    prec = np.linalg.inv(k) + np.diag(sd**-2)
    cov = np.linalg.inv(prec)
    np.testing.assert_allclose(means[0], cov @ (r / sd**2), rtol=1e-8)
    se = np.sqrt(np.diag(cov) / s)
    assert np.all(np.abs(draws.mean(0) - means[0]) < 4.5 * se)
    np.testing.assert_allclose(np.cov(draws.T), cov, atol=6 * np.sqrt(2 / s) * cov.max())
    # negative control: the draws are not those of a GP with 3x the noise
    wrong = np.linalg.inv(np.linalg.inv(k) + np.diag((3 * sd) ** -2))
    assert np.max(np.abs(np.cov(draws.T) - wrong)) > 6 * np.sqrt(2 / s) * cov.max()
    # same seed, same draws
    again = conditional_discrepancy(
        np.tile(r, (s, 1)), sd, np.broadcast_to(k, (s, 5, 5)), random_seed=7
    )[1]
    np.testing.assert_array_equal(draws, again)


def test_lowrank_logp_of_a_failed_forward_is_not_finite_and_does_not_raise():
    # the forward kernels signal a non-physical point with NaN; the density must reject it
    import pytensor
    import pytensor.tensor as pt

    from bayesinv.model.discrepancy._lowrank import _logp_fn

    rng = np.random.default_rng(5)
    phi, y = rng.normal(size=(6, 3)), rng.normal(size=6)
    mu = pt.vector("mu")
    f = pytensor.function([mu], _logp_fn(phi)(pt.as_tensor(y), mu, pt.ones(6), pt.ones(3)))
    assert np.isfinite(f(np.zeros(6)))
    assert not np.isfinite(f(np.full(6, np.nan)))


def sgasp_covariance(k, eta, lam):
    """S-GaSP covariance (K⁻¹ + λ/(n η²) I)⁻¹ by the eigenvalues of K (another route)."""
    w, u = np.linalg.eigh(k)
    w = np.clip(w, 1e-300, None)
    return (u / (1.0 / w + lam / (k.shape[0] * eta**2))) @ u.T


def test_scaled_guard_density_is_the_sgasp_normal():
    x, shape, data = line(30)
    sigma, eta, ell, n = 0.02, 0.3, 40.0, 30
    kw = {"amplitude": eta, "lengthscale": ell, "fixed": True, "method": "exact"}
    model = scalar_model(shape, data, sigma, x, Discrepancy(guard="scaled", **kw))
    logp = model.compile_logp(vars=model.observed_RVs)
    k = matern52(x, eta, ell)
    kz = sgasp_covariance(k, eta, np.sqrt(n))  # default λ = √n
    for theta in (0.8, 1.3):
        got = logp({"theta_z_score": np.array([theta / PRIOR_SD])})
        ref = stats.multivariate_normal(theta * shape, kz + sigma**2 * np.eye(n)).logpdf(data)
        np.testing.assert_allclose(got, ref, rtol=1e-9)
    # negative control: the unscaled GP's density is a different number
    plain = stats.multivariate_normal(1.3 * shape, k + sigma**2 * np.eye(n)).logpdf(data)
    assert abs(plain - ref) > 1e-2

    # the S-GaSP penalises δ in every direction but removes none: θ's posterior precision
    # (closed form) is above the plain GP's and below the projection's
    def precision(c):
        return shape @ np.linalg.solve(c + sigma**2 * np.eye(n), shape)

    assert precision(k) < precision(kz) < shape @ shape / sigma**2


@pytest.mark.parametrize("lam", [None, 2.0, 40.0])
def test_scaled_covariance_caps_every_direction(lam):
    from bayesinv.model.discrepancy.guard import scaled_covariance

    x = np.sort(np.random.default_rng(4).uniform(0.0, 100.0, 20))
    k = matern52(x, 0.4, 30.0)
    got = scaled_covariance(k, 0.4, lam).eval()
    lam = np.sqrt(20.0) if lam is None else lam
    np.testing.assert_allclose(got, sgasp_covariance(k, 0.4, lam), rtol=1e-8, atol=1e-12)
    # each eigenvalue η² r of K becomes η² r / (1 + λ r / n) <= η² n / λ
    r = np.linalg.eigvalsh(k) / 0.4**2
    np.testing.assert_allclose(
        np.linalg.eigvalsh(got), np.sort(0.4**2 * r / (1 + lam * r / 20)), atol=1e-10
    )
    assert np.linalg.eigvalsh(got).max() <= 0.4**2 * 20 / lam


def test_scaled_guard_in_the_marginalized_model_is_closed_form():
    x, shape, data = line(25)
    inv = JointInversion().add_field("theta", Grid1D(1, 1.0), IIDNormal(0.0, PRIOR_SD))
    op = MatrixOperator(shape[:, None])
    disc = Discrepancy(guard="scaled")
    inv.add_modality(Modality("g", op, data, KnownNoise(0.02), coords=x, discrepancy=disc))
    model = inv.build(marginalize=True)
    eta, ell = 0.2, 35.0
    point = {
        "g_discrepancy_amplitude_log__": np.log(eta),
        "g_discrepancy_lengthscale_log__": np.log(ell),
    }
    got = model.compile_logp(vars=model.observed_RVs)(point)
    kz = sgasp_covariance(matern52(x, eta, ell), eta, np.sqrt(25.0))
    cov = PRIOR_SD**2 * np.outer(shape, shape) + kz + 0.02**2 * np.eye(25)
    ref = stats.multivariate_normal(np.zeros(25), cov).logpdf(data)
    np.testing.assert_allclose(got, ref, rtol=1e-9)


@pytest.mark.parametrize("method", ["hsgp", "lowrank"])
def test_scaled_guard_refuses_the_basis_paths(method):
    with pm.Model(), pytest.raises(ValueError, match=r"modality 'g'.*guard='scaled' needs"):
        Discrepancy(guard="scaled", method=method).add_to_model("g", np.arange(5.0), 1.0)
