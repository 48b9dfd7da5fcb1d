"""reference_comparison: a reference section against posterior draws."""

import numpy as np
import pytest
from scipy.stats import norm

from bayesinv.diagnostics.reference import reference_comparison

SHAPE = (6, 8)


def _posterior(seed=0, n=20000, sd=0.2):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=SHAPE)
    return mu, mu + sd * rng.standard_normal((n, *SHAPE)), sd


def test_inside_and_outside_by_analytic_quantiles():
    mu, draws, sd = _posterior()
    q = norm.ppf(0.95)  # half-width of the 90 % interval, in sds: 1.645
    # cells at +-0.8 q sd are inside the 90 % interval, at +-1.25 q sd outside
    sign = np.where(np.arange(mu.size).reshape(SHAPE) % 2 == 0, 1.0, -1.0)
    near = reference_comparison(draws, mu + sign * 0.8 * q * sd)
    far = reference_comparison(draws, mu + sign * 1.25 * q * sd)
    assert near["n_cells"] == far["n_cells"] == mu.size
    assert near["frac_inside"] == 1.0 and not near["outside"].any()
    assert far["frac_inside"] == 0.0 and far["outside"].all()
    np.testing.assert_allclose(np.abs(near["z"]), 0.8 * q, rtol=0.03)
    assert abs(near["median_abs_z"] - 0.8 * q) < 0.03 * q
    assert abs(near["median_diff"]) < 0.8 * q * sd + 1e-12


def test_half_inside_at_the_interval_for_half_probability():
    # a reference at +-1 sd is inside the 90 % interval and outside the 50 % one
    mu, draws, sd = _posterior(seed=1)
    out50 = reference_comparison(draws, mu + sd, prob=0.5)
    out90 = reference_comparison(draws, mu + sd, prob=0.9)
    assert out50["frac_inside"] == 0.0 and out90["frac_inside"] == 1.0


def test_correlation_of_the_patterns_and_negative_control():
    mu, draws, _ = _posterior(seed=2)
    scaled = reference_comparison(draws, 3.0 * mu + 1.0)  # same pattern, other scale
    assert scaled["corr"] > 0.99
    assert scaled["frac_inside"] < 0.2  # the values themselves differ
    # negative control: an unrelated section has no correlation and is mostly outside
    other = np.random.default_rng(99).normal(size=SHAPE)
    unrelated = reference_comparison(draws, other)
    assert abs(unrelated["corr"]) < 0.4
    assert unrelated["frac_inside"] < 0.3
    expected = np.corrcoef(other.ravel(), draws.mean(axis=0).ravel())[0, 1]
    assert unrelated["corr"] == pytest.approx(expected, abs=1e-12)


def test_mask_and_nan_cells_are_not_compared():
    mu, draws, sd = _posterior(seed=3)
    ref = mu.copy()
    ref[0, :] = np.nan  # not covered by the reference
    ref[-1, :] += 10 * sd  # far off, but masked (below the DOI, say)
    mask = np.ones(SHAPE, dtype=bool)
    mask[-1, :] = False
    out = reference_comparison(draws, ref, mask=mask)
    assert out["n_cells"] == mu.size - 2 * SHAPE[1]
    assert out["frac_inside"] == 1.0
    assert not out["outside"][-1].any() and not out["compared"][0].any()
    assert np.isnan(out["z"][0]).all()
    # unmasked, the far row counts as outside
    assert reference_comparison(draws, ref)["frac_inside"] < 1.0


def test_nothing_to_compare_gives_nan():
    _, draws, _ = _posterior(seed=4, n=50)
    out = reference_comparison(draws, np.full(SHAPE, np.nan))
    assert out["n_cells"] == 0 and np.isnan(out["frac_inside"]) and np.isnan(out["corr"])


@pytest.mark.parametrize(
    ("draws", "ref", "mask", "match"),
    [
        (np.zeros((1, 3)), np.zeros(3), None, "draws must have shape"),
        (np.zeros(5), np.zeros(()), None, "draws must have shape"),
        (np.zeros((4, 3)), np.zeros(4), None, r"reference has shape \(4,\)"),
        (np.zeros((4, 3)), np.zeros(3), np.ones(3), "mask must be a boolean array"),
        (np.zeros((4, 3)), np.zeros(3), np.ones(2, bool), "mask must be a boolean array"),
    ],
)
def test_bad_input(draws, ref, mask, match):
    with pytest.raises(ValueError, match=f"reference_comparison: {match}"):
        reference_comparison(draws, ref, mask=mask)


def test_bad_probability():
    with pytest.raises(ValueError, match="prob must be in"):
        reference_comparison(np.zeros((4, 3)), np.zeros(3), prob=1.0)
