"""Cross-modal (coregionalized) discrepancy: joint covariance, errors, a small study."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayesinv import Grid1D
from bayesinv.model import JointInversion
from bayesinv.model.discrepancy import Discrepancy
from bayesinv.model.discrepancy.coregional import CrossModalDiscrepancy
from bayesinv.model.fields import IIDNormal
from bayesinv.model.modality import Modality
from bayesinv.model.noise import KnownNoise
from bayesinv.operators import MatrixOperator

PRIOR_SD = 3.0


def matern52(xa, xb, ell):
    r = np.abs(xa[:, None] - xb[None, :]) / ell
    return (1 + np.sqrt(5) * r + 5 * r**2 / 3) * np.exp(-np.sqrt(5) * r)


def expquad(xa, xb, ell):
    return np.exp(-0.5 * ((xa[:, None] - xb[None, :]) / ell) ** 2)


def two_modalities(x1, x2, g1, g2, d1, d2, sig=(0.1, 0.2), disc=None, coords2=None):
    inv = JointInversion().add_field("theta", Grid1D(1, 1.0), IIDNormal(0.0, PRIOR_SD))
    c1 = np.column_stack([x1, np.zeros_like(x1)])
    c2 = np.column_stack([x2, np.ones_like(x2)]) if coords2 is None else coords2
    inv.add_modality(
        Modality(
            "grav", MatrixOperator(g1[:, None]), d1, KnownNoise(sig[0]), coords=c1, discrepancy=disc
        )
    )
    inv.add_modality(
        Modality(
            "mag", MatrixOperator(g2[:, None]), d2, KnownNoise(sig[1]), coords=c2, discrepancy=disc
        )
    )
    return inv


def problem(seed=0, n1=8, n2=6):
    rng = np.random.default_rng(seed)
    x1, x2 = np.sort(rng.uniform(0, 100, n1)), np.sort(rng.uniform(0, 100, n2))
    g1, g2 = np.exp(-(((x1 - 50) / 20) ** 2)), -np.exp(-(((x2 - 40) / 25) ** 2))
    return x1, x2, g1, g2, rng.normal(size=n1), rng.normal(size=n2)


def test_joint_density_is_the_dense_lmc_covariance_with_one_matrix_per_latent():
    x1, x2, g1, g2, d1, d2 = problem()
    inv = two_modalities(x1, x2, g1, g2, d1, d2)
    term = CrossModalDiscrepancy(
        ("grav", "mag"), coordinate=0, n_latent=2, kernel=("matern52", "expquad")
    )
    model = inv.add_discrepancy(term).build()
    logp = model.compile_logp(vars=model.observed_RVs)
    a, ell, theta = np.array([[0.7, -0.4], [0.3, 0.5]]), np.array([20.0, 45.0]), 1.3
    point = {
        "theta_z_score": np.array([theta / PRIOR_SD]),
        "grav_mag_coregional_lengthscale_log__": np.log(ell),
        "grav_mag_coregional_weights": a,
    }
    # dense construction: S = Σ_q a_q a_qᵀ ⊗ κ_q, each latent with its own vector and kernel
    x = np.concatenate([x1, x2])
    idx = np.repeat([0, 1], [x1.size, x2.size])
    s = sum(
        np.outer(a[q][idx], a[q][idx]) * k(x, x, ell[q]) for q, k in enumerate((matern52, expquad))
    )
    cov = s + np.diag(np.r_[np.full(x1.size, 0.1**2), np.full(x2.size, 0.2**2)])
    ref = stats.multivariate_normal(theta * np.r_[g1, g2], cov).logpdf(np.r_[d1, d2])
    np.testing.assert_allclose(logp(point), ref, rtol=1e-10)
    # negative control: one coregionalization matrix B = Σ a_q a_qᵀ reused for both kernels
    b = a.T @ a
    wrong = b[np.ix_(idx, idx)] * 0.5 * (matern52(x, x, ell[0]) + expquad(x, x, ell[1]))
    bad = stats.multivariate_normal(theta * np.r_[g1, g2], wrong + cov - s).logpdf(np.r_[d1, d2])
    assert abs(bad - ref) > 1e-3
    # the learned cross-correlation at zero distance
    rho = model["grav_mag_coregional_correlation"].eval({model["grav_mag_coregional_weights"]: a})
    np.testing.assert_allclose(rho[0, 1], b[0, 1] / np.sqrt(b[0, 0] * b[1, 1]), rtol=1e-12)


def test_own_discrepancies_add_block_diagonally():
    x1, x2, g1, g2, d1, d2 = problem(1)
    disc = Discrepancy(amplitude=0.3, lengthscale=30.0, fixed=True)
    model = (
        two_modalities(x1, x2, g1, g2, d1, d2, disc=disc)
        .add_discrepancy(CrossModalDiscrepancy(("grav", "mag"), coordinate=0))
        .build()
    )
    logp = model.compile_logp(vars=model.observed_RVs)
    a, ell = np.array([[0.5, 0.8]]), np.array([25.0])
    point = {
        "theta_z_score": np.array([0.2]),
        "grav_mag_coregional_lengthscale_log__": np.log(ell),
        "grav_mag_coregional_weights": a,
    }
    x = np.concatenate([x1, x2])
    idx = np.repeat([0, 1], [x1.size, x2.size])
    cov = np.outer(a[0][idx], a[0][idx]) * matern52(x, x, ell[0])
    cov[: x1.size, : x1.size] += 0.09 * matern52(x1, x1, 30.0) + 0.01 * np.eye(x1.size)
    cov[x1.size :, x1.size :] += 0.09 * matern52(x2, x2, 30.0) + 0.04 * np.eye(x2.size)
    ref = stats.multivariate_normal(0.6 * np.r_[g1, g2], cov).logpdf(np.r_[d1, d2])
    np.testing.assert_allclose(logp(point), ref, rtol=1e-10)


def test_observed_names_and_dims_are_kept():
    x1, x2, g1, g2, d1, d2 = problem()
    inv = two_modalities(x1, x2, g1, g2, d1, d2)
    model = inv.add_discrepancy(CrossModalDiscrepancy(("grav", "mag"), coordinate=0)).build()
    assert {v.name for v in model.observed_RVs} == {"grav", "mag"}
    assert model.named_vars_to_dims["mag"] == ("mag_obs",)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lengthscale": (0.0, 5.0)}, r"modalities=\('grav', 'mag'\).*lengthscale low"),
        ({"lengthscale": (-2.0, 5.0)}, r"modalities=\('grav', 'mag'\).*lengthscale low"),
        ({"lengthscale": (5.0, 1.0)}, r"\('grav', 'mag'\).*lengthscale must be \(low, high\)"),
        ({"n_latent": 0}, r"\('grav', 'mag'\).*n_latent"),
        ({"kernel": "rbf"}, r"\('grav', 'mag'\).*kernel must be one of"),
        ({"amplitude": (1.0,)}, r"amplitude must have one value per modality"),
    ],
)
def test_bad_arguments_name_the_modalities_and_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CrossModalDiscrepancy(("grav", "mag"), **kwargs)


def test_one_modality_is_refused():
    with pytest.raises(ValueError, match="two or more distinct modalities"):
        CrossModalDiscrepancy(("grav", "grav"))


def test_modalities_without_a_shared_coordinate_are_refused():
    x1, x2, g1, g2, d1, d2 = problem()
    far = np.column_stack([x2 + 1000.0, np.ones_like(x2)])
    inv = two_modalities(x1, x2, g1, g2, d1, d2, coords2=far)
    inv.add_discrepancy(CrossModalDiscrepancy(("grav", "mag"), coordinate=0))
    with pytest.raises(ValueError, match=r"\('grav', 'mag'\).*share no coordinate.*'mag'"):
        inv.build()


def test_mismatched_coordinate_dimensions_are_refused():
    x1, x2, g1, g2, d1, d2 = problem()
    inv = two_modalities(x1, x2, g1, g2, d1, d2, coords2=x2)  # 1 column against 2
    inv.add_discrepancy(CrossModalDiscrepancy(("grav", "mag")))
    with pytest.raises(ValueError, match=r"mismatched coordinate dimensions \{'grav': 2, 'mag': 1"):
        inv.build()
    inv = two_modalities(x1, x2, g1, g2, d1, d2, coords2=x2)
    inv.add_discrepancy(CrossModalDiscrepancy(("grav", "mag"), coordinate=1))
    with pytest.raises(ValueError, match=r"column 1, but modality 'mag' has coords with 1"):
        inv.build()


def test_undeclared_modality_is_refused():
    x1, x2, g1, g2, d1, d2 = problem()
    inv = two_modalities(x1, x2, g1, g2, d1, d2)
    inv.add_discrepancy(CrossModalDiscrepancy(("grav", "seismic")))
    with pytest.raises(ValueError, match=r"\('grav', 'seismic'\).*\['seismic'\] is not declared"):
        inv.build()


@pytest.mark.slow
def test_study_sign_of_the_shared_error_is_learned_and_theta_covered(monkeypatch):
    # one error shared by two modalities with opposite signs (ρ = -1); θ, the discrepancies
    # and (η, ℓ) or (ℓ, a) integrated exactly (grid, checked against PyMC's marginal logp).
    # The rates over 50 replicates: `python benchmarks/bench_discrepancy.py
    # --coregional-study 50`
    import importlib
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    bench = importlib.import_module("bench_discrepancy")
    grid = bench.coregional_grid(joint=True, n_ell=12)
    assert bench.check_coregional_grid(grid) < 1e-8
    lo, hi, p_neg = bench.coregional_fit(*bench.coregional_replicate(0), True, grid)
    assert p_neg > 0.9
    assert lo <= 1.0 <= hi
    # negative control: the same error with the same sign in both modalities (ρ = +1)
    replicate = bench.coregional_replicate(0, shared_sign=1.0)
    assert bench.coregional_fit(*replicate, True, grid)[2] < 0.1
