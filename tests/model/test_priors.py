import warnings

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest

from bayesinv import Grid1D, Grid2D
from bayesinv.model.priors import (
    besov_level_scales,
    besov_prior,
    matern_correlation,
    matern_prior,
)
from bayesinv.model.transforms import field_mean
from bayesinv.multiscale import Prolongation, WaveletField
from bayesinv.operators import MatrixOperator
from bayesinv.ops import ForwardOp

BASE = Grid2D(nx=16, nz=16, dx=10.0, dz=10.0)  # 160 m x 160 m
POINT = np.array([61.3, 47.9])  # a fixed physical point, never on a cell edge
REGION = (40.0, 120.0, 20.0, 100.0)  # xmin, xmax, zmin, zmax: edges of the coarsest cells


def _point_weights(grid):
    w = np.zeros(grid.size)
    w[int(POINT[1] // grid.dz) * grid.nx + int(POINT[0] // grid.dx)] = 1.0
    return w


def _region_weights(grid):
    c = grid.cell_centers
    x0, x1, z0, z1 = REGION
    inside = (c[:, 0] > x0) & (c[:, 0] < x1) & (c[:, 1] > z0) & (c[:, 1] < z1)
    return inside / inside.sum()


def _linear_functional_variance(model, name, weights, latent_variance=1.0):
    """Exact prior variance of <w, field> for a field linear in the latent ``{name}_raw``.

    The row ``d<w, field>/d raw`` comes from the model's own graph (the operators' adjoints,
    themselves dot-tested), and Var = latent_variance * |row|^2. Compiled with the Python
    linker: quick to build, and it calls the same numba kernels through the operators.
    """
    field = model.replace_rvs_by_values([model[name]])[0].ravel()
    raw = model.rvs_to_values[model[f"{name}_raw"]]
    weights = np.atleast_2d(weights)
    rows = [pytensor.grad(pt.dot(pt.constant(w), field), raw) for w in weights]
    fn = pytensor.function([raw], rows, mode="FAST_COMPILE", on_unused_input="ignore")
    g = np.asarray(fn(np.zeros(model.initial_point()[raw.name].shape)))
    return latent_variance * np.sum(g**2, axis=1)


def _relative_spread(values):
    values = np.asarray(values)
    return np.max(np.abs(values / values[0] - 1.0))


# --- Besov -------------------------------------------------------------------------------------
def test_besov_level_scales_formula():
    W = WaveletField(Grid1D(nz=8, dz=1.0), "haar", levels=3)
    gamma = besov_level_scales(W, s=1.0, p=2, reference_length=8.0)
    # d = 1: gamma_j = sqrt(l_ref / dz) * (h_j / l_ref)^(s + 1/2 - 1/2), h = 8, 8, 4, 2
    expected = np.sqrt(8.0) * np.array([1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25])
    np.testing.assert_allclose(gamma, expected, rtol=1e-14)
    # refining keeps the physical amplitude of a level: coefficients grow by sqrt(2^d)
    W2 = WaveletField(BASE, "db2", levels=3)
    W4 = WaveletField(BASE.refine(2), "db2", levels=4)
    g2, g4 = besov_level_scales(W2, 2.0, 1), besov_level_scales(W4, 2.0, 1)
    np.testing.assert_allclose(g4[: W2.n_params], 2.0 * g2, rtol=1e-14)


@pytest.mark.parametrize(
    ("wavelet", "s", "p", "latent_variance", "check_point"),
    [
        ("haar", 2.0, 2, 1.0, True),  # p = 2 needs s > d/2 = 1
        ("haar", 3.0, 1, 2.0, True),  # p = 1 needs s > d = 2; Laplace(0, 1) has variance 2
        ("db2", 2.0, 2, 1.0, False),  # region averages only (see besov_prior Notes)
        ("db2", 3.0, 1, 2.0, False),
    ],
)
def test_besov_discretisation_invariance(wavelet, s, p, latent_variance, check_point):
    point, region = [], []
    for k in range(3):  # 16x16, 32x32, 64x64 cells over the same region
        grid = BASE.refine(2**k)
        with pm.Model() as model:
            besov_prior("m", WaveletField(grid, wavelet, levels=3 + k), s=s, p=p, scale=3.0)
        weights = np.stack([_point_weights(grid), _region_weights(grid)])
        vp, va = _linear_functional_variance(model, "m", weights, latent_variance)
        point.append(vp)
        region.append(va)
    if check_point:
        assert _relative_spread(point) < 0.05, point
    assert _relative_spread(region) < 0.05, region
    assert region[0] > 0.0


def test_besov_point_variance_grows_for_rough_prior():
    # negative control: s = d/2 is outside the convergent range; the point variance keeps
    # growing by a fixed amount per refinement
    point = []
    for k in range(3):
        grid = BASE.refine(2**k)
        with pm.Model() as model:
            besov_prior("m", WaveletField(grid, "haar", levels=3 + k), s=1.0, p=2)
        point.append(_linear_functional_variance(model, "m", _point_weights(grid)[None])[0])
    assert _relative_spread(point) > 0.2


def test_besov_1d_invariance():
    variances = []
    for k in range(3):
        grid = Grid1D(nz=32 * 2**k, dz=5.0 / 2**k)
        with pm.Model() as model:
            besov_prior("m", WaveletField(grid, "haar", levels=4 + k), s=1.5, p=2)
        w = np.zeros((1, grid.size))
        w[0, int(63.0 // grid.dz)] = 1.0
        variances.append(_linear_functional_variance(model, "m", w)[0])
    assert _relative_spread(variances) < 0.05


def test_besov_draws_match_exact_variance():
    # Monte Carlo check of the latent law and scaling against the exact variance
    grid = Grid2D(nx=8, nz=8, dx=20.0, dz=20.0)
    W = WaveletField(grid, "haar", levels=3)
    for p, latent_variance in ((2, 1.0), (1, 2.0)):
        with pm.Model() as model:
            m = besov_prior("m", W, s=2.0, p=p, scale=1.5)
        w = np.zeros(grid.size)
        w[27] = 1.0
        exact = _linear_functional_variance(model, "m", w[None], latent_variance)[0]
        gamma = 1.5 * besov_level_scales(W, 2.0, p)
        assert exact == pytest.approx(latent_variance * np.sum((gamma * W.analysis(w)) ** 2))
        draws = pm.draw(m, draws=20000, random_seed=7, mode="FAST_COMPILE")
        assert draws.shape == (20000, grid.size)
        # relative standard error of a variance estimate is about sqrt(2 / n) = 1%
        assert np.var(draws[:, 27]) == pytest.approx(exact, rel=0.05)


@pytest.mark.parametrize("heavy_tail", ["student_t", "horseshoe"])
def test_besov_heavy_tails(heavy_tail):
    grid = Grid2D(nx=8, nz=4, dx=1.0, dz=1.0)
    with pm.Model() as model:
        m = besov_prior("m", WaveletField(grid, "db2", levels=2), s=2.0, heavy_tail=heavy_tail)
    names = {v.name for v in model.free_RVs}
    assert "m_raw" in names
    assert ("m_lambda" in names) == (heavy_tail == "horseshoe")
    draws = pm.draw(m, draws=50, random_seed=1)
    assert draws.shape == (50, 32) and np.all(np.isfinite(draws))


def test_besov_max_level_and_dims(rng):
    grid = Grid2D(nx=16, nz=8, dx=5.0, dz=5.0)
    W = WaveletField(grid, "haar", levels=3)
    with pm.Model() as model:
        m = besov_prior("rho", W, s=2.0, max_level=1, dims=("rho_z", "rho_x"))
    assert model["rho_raw"].shape.eval() == (W.n_coefficients(1),)
    assert model.named_vars_to_dims["rho"] == ("rho_z", "rho_x")
    assert model.named_vars_to_dims["rho_raw"] == ("rho_coeff",)
    np.testing.assert_allclose(model.coords["rho_x"], grid.x_centers)
    raw = rng.standard_normal(W.n_coefficients(1))
    outs = model.replace_rvs_by_values([m, model["rho"]])
    value = model.rvs_to_values[model["rho_raw"]]
    fn = model.compile_fn(outs, inputs=[value], point_fn=False, mode="FAST_COMPILE")
    flat, shaped = fn(raw)
    gamma = besov_level_scales(W, 2.0)[: raw.size]
    np.testing.assert_allclose(flat, W.coarse_operator(1).forward(gamma * raw), atol=1e-12)
    np.testing.assert_allclose(shaped, grid.unravel(flat))


def test_besov_bad_input():
    W = WaveletField(Grid1D(nz=8, dz=1.0), "haar")
    with pm.Model():
        with pytest.raises(ValueError, match="besov_prior: p must be one of 2, 1, got 3"):
            besov_prior("a", W, s=1.0, p=3)
        with pytest.raises(ValueError, match="besov_prior: s must be a finite number > 0"):
            besov_prior("a", W, s=-1.0)
        with pytest.raises(ValueError, match="besov_prior: scale must be a finite number > 0"):
            besov_prior("a", W, s=1.0, scale=0.0)
        with pytest.raises(ValueError, match="besov_prior: heavy_tail must be one of"):
            besov_prior("a", W, s=1.0, heavy_tail="cauchy")
        with pytest.raises(ValueError, match="besov_prior: wavelet_field must be a WaveletField"):
            besov_prior("a", np.eye(8), s=1.0)
        with pytest.raises(ValueError, match="besov_prior: dims must name one flat dim"):
            besov_prior("a", W, s=1.0, dims=("a_z", "a_x"))


# --- Matérn ------------------------------------------------------------------------------------
def _continuous_region_variance(variance, length_scale, nu, n=64):
    """Independent reference: midpoint quadrature of the covariance over the region."""
    x0, x1, z0, z1 = REGION
    xs = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
    zs = z0 + (np.arange(n) + 0.5) * (z1 - z0) / n
    pts = np.stack(np.meshgrid(xs, zs), axis=-1).reshape(-1, 2)
    total = 0.0
    for chunk in np.array_split(pts, 16):
        r = np.linalg.norm(chunk[:, None, :] - pts[None, :, :], axis=-1) / length_scale
        total += matern_correlation(r, nu).sum()
    return variance * total / pts.shape[0] ** 2


@pytest.mark.parametrize("nu", [1.5, 2.5])
def test_matern_discretisation_invariance(nu):
    point, region = [], []
    for k in range(3):  # 8x8, 16x16, 32x32 cells over the same region
        grid = Grid2D(nx=8, nz=8, dx=20.0, dz=20.0).refine(2**k)
        with pm.Model() as model:
            matern_prior("m", grid, variance=2.0, length_scale=40.0, nu=nu)
        weights = np.stack([_point_weights(grid), _region_weights(grid)])
        vp, va = _linear_functional_variance(model, "m", weights)
        point.append(vp)
        region.append(va)
    assert _relative_spread(point) < 0.05
    assert _relative_spread(region) < 0.05
    np.testing.assert_allclose(point, 2.0 * (1 + 1e-6), rtol=1e-10)
    assert region[-1] == pytest.approx(_continuous_region_variance(2.0, 40.0, nu), rel=0.02)


def test_matern_with_prolongation_invariance():
    region = []
    for k in range(3):
        coarse = Grid2D(nx=8, nz=8, dx=20.0, dz=20.0).refine(2**k)
        P = Prolongation(coarse, coarse.refine(2), "bilinear")
        with pm.Model() as model:
            m = matern_prior("m", P, variance=1.0, length_scale=50.0)
        assert m.type.shape == (P.n_data,)
        region.append(_linear_functional_variance(model, "m", _region_weights(P.fine_grid)[None]))
    assert _relative_spread(region) < 0.05


def test_matern_draws_match_covariance():
    grid = Grid1D(nz=10, dz=5.0)
    with pm.Model():
        m = matern_prior("m", grid, variance=4.0, length_scale=12.0, nu=2.5)
    draws = pm.draw(m, draws=20000, random_seed=3, mode="FAST_COMPILE")
    cov = np.cov(draws, rowvar=False)
    r = np.abs(grid.z_centers[:, None] - grid.z_centers[None, :]) / 12.0
    expected = 4.0 * (matern_correlation(r, 2.5) + 1e-6 * np.eye(10))
    # standard error of a covariance estimate is about 4 * sqrt(2 / 20000) = 0.04
    np.testing.assert_allclose(cov, expected, atol=0.2)


def test_matern_correlation_values():
    r = np.array([0.0, 0.5, 2.0])
    np.testing.assert_allclose(matern_correlation(r, 0.5), np.exp(-r))
    a = np.sqrt(3.0) * r
    np.testing.assert_allclose(matern_correlation(r, 1.5), (1 + a) * np.exp(-a))
    b = np.sqrt(5.0) * r
    np.testing.assert_allclose(matern_correlation(r, 2.5), (1 + b + b**2 / 3) * np.exp(-b))
    with pytest.raises(ValueError, match="matern_prior: nu must be one of"):
        matern_correlation(r, 1.0)


def test_matern_bad_input():
    grid = Grid1D(nz=4, dz=1.0)
    with pm.Model():
        with pytest.raises(ValueError, match="matern_prior: variance must be a finite number > 0"):
            matern_prior("a", grid, variance=-1.0, length_scale=1.0)
        with pytest.raises(
            ValueError, match="matern_prior: length_scale must be a finite number > 0"
        ):
            matern_prior("a", grid, variance=1.0, length_scale=np.inf)
        with pytest.raises(ValueError, match="matern_prior: nu must be one of"):
            matern_prior("a", grid, variance=1.0, length_scale=1.0, nu=3.5)
        with pytest.raises(ValueError, match="matern_prior: grid must be a Grid2D"):
            matern_prior("a", np.zeros(4), variance=1.0, length_scale=1.0)
        with pytest.raises(ValueError, match=r"matern_prior: .* not positive definite"):
            matern_prior(
                "a", Grid1D(nz=200, dz=1.0), variance=1.0, length_scale=1e4, nu=2.5, jitter=0.0
            )


# --- compiled models ---------------------------------------------------------------------------
def _compile_without_object_mode(model):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logp = model.compile_logp(mode="NUMBA")
        dlogp = model.compile_dlogp(mode="NUMBA")
    assert not [w for w in caught if "object mode" in str(w.message).lower()], [
        str(w.message) for w in caught
    ]
    return logp, dlogp


def _finite_difference_check(model, logp, dlogp, rng):
    point = model.initial_point()
    for name in point:
        point[name] = point[name] + 0.3 * rng.standard_normal(np.shape(point[name]))
    grad = dlogp(point)
    names = [v.name for v in model.value_vars]
    flat = np.concatenate([np.ravel(point[n]) for n in names])
    sizes = [np.size(point[n]) for n in names]

    def f(x):
        parts = np.split(x, np.cumsum(sizes)[:-1])
        return logp({n: p.reshape(np.shape(point[n])) for n, p in zip(names, parts, strict=True)})

    h = 1e-6
    for i in rng.choice(flat.size, size=6, replace=False):
        e = np.zeros_like(flat)
        e[i] = h
        fd = (f(flat + e) - f(flat - e)) / (2 * h)
        assert fd == pytest.approx(grad[i], rel=1e-5, abs=1e-6)


def test_hierarchical_besov_model_compiles_in_numba(rng):
    grid = Grid2D(nx=16, nz=8, dx=10.0, dz=10.0)
    G = MatrixOperator(rng.standard_normal((5, grid.size)))
    with pm.Model() as model:
        kappa = pm.HalfNormal("kappa", 2.0)
        m = besov_prior("m", WaveletField(grid, "db2", levels=2), s=2.0, p=1, scale=kappa)
        pm.Normal("d", ForwardOp(G)(m), 1.0, observed=rng.standard_normal(5))
    logp, dlogp = _compile_without_object_mode(model)
    _finite_difference_check(model, logp, dlogp, rng)


def test_hierarchical_matern_model_compiles_in_numba(rng):
    coarse = Grid2D(nx=6, nz=4, dx=20.0, dz=20.0)
    P = Prolongation(coarse, coarse.refine(2), "bilinear")
    G = MatrixOperator(rng.standard_normal((5, P.n_data)))
    with pm.Model() as model:
        ell = pm.LogNormal("ell", np.log(40.0), 0.3)
        var = pm.HalfNormal("var", 2.0)
        m = matern_prior("m", P, variance=var, length_scale=ell, nu=2.5)
        mu = field_mean(P.fine_grid, pm.Normal("mu", 0.0, 1.0, shape=2), interfaces=[35.0])
        pm.Normal("d", ForwardOp(G)(m + mu), 1.0, observed=rng.standard_normal(5))
    logp, dlogp = _compile_without_object_mode(model)
    _finite_difference_check(model, logp, dlogp, rng)


# --- means and transforms ----------------------------------------------------------------------
