"""Sampled joint posteriors against closed forms, and the model-discrepancy experiment."""

import arviz as az
import numpy as np
import pytest

import bayesinv
from bayesinv import Grid1D
from bayesinv.model import JointInversion
from bayesinv.model.discrepancy import Discrepancy
from bayesinv.model.fields import IIDNormal
from bayesinv.model.modality import Modality
from bayesinv.model.noise import KnownNoise
from bayesinv.operators import MatrixOperator
from bayesinv.testing import check_gaussian_posterior

PRIOR_SD = 2.0


def matern52(x, eta, ell):
    r = np.abs(x[:, None] - x[None, :]) / ell
    return eta**2 * (1 + np.sqrt(5) * r + 5 * r**2 / 3) * np.exp(-np.sqrt(5) * r)


def scalar_inversion(modalities):
    inv = JointInversion().add_field("theta", Grid1D(1, 1.0), IIDNormal(0.0, PRIOR_SD))
    for m in modalities:
        inv.add_modality(m)
    return inv.build()


def draws_of(idata):
    return idata["posterior"]["theta"].values, int(idata["sample_stats"]["diverging"].sum())


@pytest.mark.parametrize("with_discrepancy", [False, True])
def test_precision_additivity_across_modalities(with_discrepancy):
    rng = np.random.default_rng(42)
    specs = [(np.linspace(0.5, 1.5, 6), 0.4), (np.full(4, -2.0), 1.0), (np.linspace(1, 3, 5), 0.7)]
    modalities, precision, shift = [], 1 / PRIOR_SD**2, 0.0
    for k, (h, sigma) in enumerate(specs):
        x = np.linspace(0.0, 10.0, h.size)
        data = h * 0.8 + rng.normal(0, sigma, h.size)
        cov = sigma**2 * np.eye(h.size)
        disc = None
        if with_discrepancy:
            eta, ell = 0.5, 3.0
            cov = cov + matern52(x, eta, ell)
            disc = Discrepancy(
                "matern52", amplitude=eta, lengthscale=ell, fixed=True, method="exact"
            )
        cinv = np.linalg.inv(cov)
        precision += h @ cinv @ h  # 1/σ0² + Σ_k h_kᵀ Σ_eff,k⁻¹ h_k
        shift += h @ cinv @ data
        modalities.append(
            Modality(
                f"m{k}",
                MatrixOperator(h[:, None]),
                data,
                KnownNoise(sigma),
                coords=x,
                discrepancy=disc,
            )
        )
    var, mean = 1 / precision, shift / precision
    idata = bayesinv.sample(
        scalar_inversion(modalities), draws=1500, tune=500, chains=2, random_seed=5
    )
    draws, n_div = draws_of(idata)
    check_gaussian_posterior(draws.reshape(2, -1, 1), [mean], [[var]], n_divergent=n_div)


def misspecified_problem():
    """Data from a cylinder plus an unmodelled smooth regional; the inversion knows only the
    cylinder's response shape and infers its amplitude θ (truth 1)."""
    x = np.linspace(-100.0, 100.0, 40)
    shape = 50.0**2 / (x**2 + 50.0**2)  # response of a buried line mass (unit amplitude)
    regional = 0.25 * np.exp(-0.5 * ((x - 40.0) / 35.0) ** 2)  # physics the model lacks
    rng = np.random.default_rng(3)
    sigma = 0.02
    data = 1.0 * shape + regional + rng.normal(0.0, sigma, x.size)
    return x, shape, data, sigma


@pytest.mark.slow
def test_misspecified_physics_is_covered_only_with_discrepancy():
    x, shape, data, sigma = misspecified_problem()
    intervals = {}
    for label, disc in [("plain", None), ("gp", Discrepancy("matern52", method="exact"))]:
        model = scalar_inversion(
            [
                Modality(
                    "gravity",
                    MatrixOperator(shape[:, None]),
                    data,
                    KnownNoise(sigma),
                    coords=x,
                    discrepancy=disc,
                )
            ]
        )
        idata = bayesinv.sample(
            model, draws=1000, tune=1000, chains=2, random_seed=11, target_accept=0.95
        )
        theta = idata["posterior"]["theta"].values.ravel()
        intervals[label] = np.quantile(theta, [0.05, 0.95])
        assert int(idata["sample_stats"]["diverging"].sum()) == 0
    lo, hi = intervals["plain"]
    assert not (lo <= 1.0 <= hi), f"plain posterior {intervals['plain']} should exclude truth"
    lo, hi = intervals["gp"]
    assert lo <= 1.0 <= hi, f"with discrepancy, 90% interval {intervals['gp']} misses truth"


def test_hsgp_and_exact_discrepancy_agree():
    # fixed hyperparameters: both posteriors are Gaussian and the comparison is sharp
    x = np.linspace(-100.0, 100.0, 120)
    shape = 50.0**2 / (x**2 + 50.0**2)
    regional = 0.25 * np.exp(-0.5 * ((x - 40.0) / 35.0) ** 2)
    data = shape + regional + np.random.default_rng(8).normal(0.0, 0.02, x.size)
    summaries = {}
    for method in ["exact", "hsgp"]:
        disc = Discrepancy("matern52", amplitude=0.2, lengthscale=60.0, fixed=True, method=method)
        model = scalar_inversion(
            [
                Modality(
                    "g",
                    MatrixOperator(shape[:, None]),
                    data,
                    KnownNoise(0.02),
                    coords=x,
                    discrepancy=disc,
                )
            ]
        )
        idata = bayesinv.sample(model, draws=1000, tune=600, chains=2, random_seed=2)
        summaries[method] = az.summary(idata, var_names=["theta"])
    exact, hsgp = summaries["exact"], summaries["hsgp"]
    mc_error = np.sqrt(exact["mcse_mean"] ** 2 + hsgp["mcse_mean"] ** 2)
    assert np.all(np.abs(exact["mean"] - hsgp["mean"]) <= 4 * mc_error), (exact, hsgp)
    np.testing.assert_allclose(hsgp["sd"], exact["sd"], rtol=0.15)
