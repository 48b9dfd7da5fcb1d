import numpy as np
import pymc as pm
import pytest

from bayesinv.inference import sample
from bayesinv.inference.preconditioning import (
    Z_NAME,
    Preconditioner,
    hessian_preconditioner,
    nested_indices,
    precondition,
    unconstrained_layout,
)
from bayesinv.testing import check_gaussian_posterior

SIGMA = 0.2


def _linear_model(G, d, dims=False):
    coords = {"k": np.arange(G.shape[1])} if dims else None
    with pm.Model(coords=coords) as model:
        th = pm.Normal("th", 0.0, 1.0, shape=G.shape[1], dims="k" if dims else None)
        pm.Deterministic("pred", pm.math.dot(G, th))
        pm.Normal("y", pm.math.dot(G, th), SIGMA, observed=d)
    return model


def _posterior(G, d):
    P = np.eye(G.shape[1]) + G.T @ G / SIGMA**2
    cov = np.linalg.inv(P)
    return cov @ G.T @ d / SIGMA**2, cov


def _flat(model):
    fn = model.logp_dlogp_function(ravel_inputs=True, mode="NUMBA")
    fn.set_extra_values({})
    return fn


@pytest.fixture
def linear(rng):
    G = rng.standard_normal((6, 4)) * np.array([3.0, 1.0, 0.3, 0.05])
    d = rng.standard_normal(6)
    return G, d


def _random_preconditioner(rng, n, r, layout, mean=None):
    q, _ = np.linalg.qr(rng.standard_normal((n, r)))
    return Preconditioner(
        rng.standard_normal(n) if mean is None else mean,
        rng.uniform(0.3, 3.0, n),
        q,
        rng.uniform(0.1, 5.0, r),
        layout,
    )


def test_factor_and_covariance(rng):
    layout = (("a", (3,)), ("b", (2, 2)))
    pre = _random_preconditioner(rng, 7, 3, layout)
    A = np.column_stack([pre.apply(e) - pre.mean for e in np.eye(7)])
    np.testing.assert_allclose(A @ A.T, pre.covariance(), rtol=1e-12, atol=1e-12)
    z = rng.standard_normal((5, 7))
    np.testing.assert_allclose(pre.apply(z), pre.mean + z @ A.T, rtol=1e-12)
    ident = Preconditioner.identity(np.arange(7.0), layout)
    np.testing.assert_array_equal(ident.apply(np.ones(7)), np.arange(7.0) + 1.0)
    assert ident.rank == 0


def test_hessian_preconditioner_is_the_exact_posterior_covariance(linear):
    G, d = linear
    model = _linear_model(G, d)
    mean, cov = _posterior(G, d)
    layout = unconstrained_layout(model)
    pre, info = hessian_preconditioner(_flat(model), mean, layout, random_seed=0, tol=1e-9)
    np.testing.assert_allclose(pre.covariance(), cov, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(pre.mean, mean)
    assert info["n_gradients"] == 2 * G.shape[1]
    assert info["max_eig"] == pytest.approx(np.linalg.eigvalsh(np.linalg.inv(cov)).max())


def test_randomised_preconditioner_recovers_low_rank_data_directions(rng):
    n, nd = 300, 12
    G = rng.standard_normal((nd, n)) / np.sqrt(n)
    d = rng.standard_normal(nd)
    model = _linear_model(G, d)
    mean, cov = _posterior(G, d)
    start = np.linalg.qr(rng.standard_normal((n, 4)))[0]
    pre, info = hessian_preconditioner(
        _flat(model),
        mean,
        unconstrained_layout(model),
        dense_max=0,
        start_basis=start,
        random_seed=1,
        tol=1e-6,
    )
    assert pre.rank == nd  # the data inform exactly nd directions
    np.testing.assert_allclose(pre.covariance(), cov, atol=1e-6)
    assert info["n_gradients"] < 2 * n  # fewer than forming the Hessian


def test_non_positive_directions_are_dropped():
    with pm.Model() as model:
        pm.Normal("x", shape=2)

    def saddle(x):  # log density -x0^2/2 + x1^2/2: a saddle point at 0
        return -0.5 * x[0] ** 2 + 0.5 * x[1] ** 2, np.array([-x[0], x[1]])

    pre, info = hessian_preconditioner(
        saddle, np.zeros(2), unconstrained_layout(model), random_seed=0
    )
    assert info["n_not_positive"] == 1
    assert pre.rank == 0  # the positive direction has unit curvature: nothing to change


@pytest.mark.parametrize("support", ["all", "prefix", "scattered"])
def test_preconditioned_log_density_is_the_original_one(linear, rng, support):
    """logp_new(z) = logp(mean + A z) + const, whichever rows the basis touches."""
    G, d = linear
    model = _linear_model(G, d)
    layout = unconstrained_layout(model)
    pre = _random_preconditioner(rng, 4, 2, layout)
    rows = {"all": [0, 1, 2, 3], "prefix": [0, 1], "scattered": [1, 3]}[support]
    basis = np.zeros((4, 2))
    basis[rows] = np.linalg.qr(rng.standard_normal((len(rows), 2)))[0]
    pre = Preconditioner(pre.mean, pre.scale, basis, pre.factors, layout)
    new = precondition(model, pre)
    logp_new = new.compile_logp(mode="FAST_COMPILE")
    logp_old = model.compile_logp(mode="FAST_COMPILE")
    zs = rng.standard_normal((5, 4))
    diffs = [
        logp_new({f"{Z_NAME}": z}) - logp_old({"th": pre.apply(z)}) for z in zs
    ]  # the constant is log|det A|, which the sampler never needs
    np.testing.assert_allclose(diffs, diffs[0], atol=1e-9)
    det = new.compile_fn(new["th"], inputs=[new[Z_NAME]], mode="FAST_COMPILE")
    np.testing.assert_allclose(det({Z_NAME: zs[0]}), pre.apply(zs[0]), atol=1e-12)


def test_preconditioned_model_samples_the_same_posterior(linear, rng):
    """A poor guess (random rotation, wrong scales, off-centre) changes nothing but speed."""
    G, d = linear
    model = _linear_model(G, d, dims=True)
    mean, cov = _posterior(G, d)
    pre = _random_preconditioner(rng, 4, 2, unconstrained_layout(model))
    new = precondition(model, pre)
    assert [v.name for v in new.free_RVs] == [Z_NAME]
    assert {"th", "pred"} <= set(new.named_vars)
    tree = sample(new, draws=1000, tune=500, chains=4, random_seed=3)
    post = tree["posterior"]
    assert post["th"].dims == ("chain", "draw", "k")
    np.testing.assert_allclose(post["pred"].values, post["th"].values @ G.T, atol=1e-10)
    check_gaussian_posterior(
        post["th"].values,
        mean,
        cov,
        n_divergent=int(tree["sample_stats"]["diverging"].sum()),
    )


def test_preconditioned_model_keeps_transforms():
    """Positive variables: the guess is in log space, draws come out constrained."""
    with pm.Model() as model:
        s = pm.HalfNormal("s", 1.0)
        pm.Normal("y", 0.0, s, observed=np.array([0.5, -0.3, 0.8]))
    layout = unconstrained_layout(model)
    assert layout == (("s_log__", ()),)
    pre = Preconditioner(np.array([np.log(0.5)]), np.array([0.4]), np.zeros((1, 0)), [], layout)
    tree = sample(precondition(model, pre), draws=1000, tune=300, chains=2, random_seed=0)
    direct = sample(model, draws=1000, tune=300, chains=2, random_seed=0)
    s_pre = tree["posterior"]["s"].values.ravel()
    s_dir = direct["posterior"]["s"].values.ravel()
    assert s_pre.min() > 0
    assert abs(np.mean(s_pre) - np.mean(s_dir)) < 0.1 * np.std(s_dir)


def test_transfer_zero_pads():
    coarse = (("sigma_log__", ()), ("m_raw", (3,)))
    fine = (("m_raw", (5,)), ("sigma_log__", ()), ("new", (2,)))
    rng = np.random.default_rng(0)
    pre = _random_preconditioner(rng, 4, 2, coarse)
    src, dst = nested_indices(coarse, fine)
    np.testing.assert_array_equal(src, [1, 2, 3, 0])
    np.testing.assert_array_equal(dst, [0, 1, 2, 5])
    out = pre.transfer(fine)
    assert out.layout == fine
    np.testing.assert_allclose(out.basis.T @ out.basis, np.eye(2), atol=1e-12)
    np.testing.assert_array_equal(out.mean, [*pre.mean[1:], 0, 0, pre.mean[0], 0, 0])
    np.testing.assert_array_equal(out.scale, [*pre.scale[1:], 1, 1, pre.scale[0], 1, 1])
    # the carried covariance restricted to the shared coordinates is the coarse one
    np.testing.assert_allclose(out.covariance()[np.ix_(dst, dst)], pre.covariance()[src][:, src])


def test_bad_input(rng, linear):
    layout = (("a", (3,)),)
    with pytest.raises(ValueError, match="the layout has 3 values but mean has 2"):
        Preconditioner.identity(np.zeros(2), layout)
    with pytest.raises(ValueError, match="orthonormal"):
        Preconditioner(np.zeros(3), np.ones(3), np.ones((3, 1)), [1.0], layout)
    with pytest.raises(ValueError, match="scale must be 3 finite positive"):
        Preconditioner(np.zeros(3), -np.ones(3), np.zeros((3, 0)), [], layout)
    with pytest.raises(ValueError, match="factors must be 1 finite positive"):
        Preconditioner(np.zeros(3), np.ones(3), np.eye(3)[:, :1], [0.0], layout)
    with pytest.raises(ValueError, match="variable 'a' has shape"):
        Preconditioner.identity(np.zeros(3), layout).transfer((("a", (2,)),))
    G, d = linear
    with pytest.raises(ValueError, match="precondition: the preconditioner was built for"):
        precondition(_linear_model(G, d), Preconditioner.identity(np.zeros(3), layout))
    with pm.Model() as discrete:
        pm.Poisson("k", 3.0)
    with pytest.raises(ValueError, match="free variable 'k' is discrete"):
        unconstrained_layout(discrete)


def test_from_draws(rng):
    layout = (("x", (3,)),)
    cov = np.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.0], [0.0, 0.0, 4.0]])
    x = rng.multivariate_normal([1.0, 2.0, 3.0], cov, size=20000)
    pre = Preconditioner.from_draws(x, layout)
    np.testing.assert_allclose(pre.covariance(), cov, atol=0.06)
    few = Preconditioner.from_draws(x[:5], layout)  # too few draws: the diagonal only
    assert few.rank == 0
