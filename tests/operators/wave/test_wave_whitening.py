"""TraceWhitening: exact whitening of filtered noise and calibrated band-limited posteriors."""

import numpy as np
import pytest
from scipy.stats import norm

from bayesinv.operators.wave import BandPass, TraceWhitening
from bayesinv.testing import check_compiled_model, dot_test

DT, NT = 2e-3, 250


def _matrix(op, n):
    """The per-trace matrix of an operator on ``n`` traces of ``n`` samples (one call)."""
    return op.forward(np.eye(n).ravel()).reshape(n, n).T


def test_whitening_dot_test_and_compiled_path():
    rng = np.random.default_rng(0)
    f = BandPass(3, NT, DT, (2.0, 20.0))
    w = TraceWhitening(f, noise_sd=0.5)
    assert dot_test(w, rng) <= 1e-10
    assert dot_test(w @ f, rng) <= 1e-10
    small = BandPass(2, 60, DT, (0.0, 40.0))
    check_compiled_model(TraceWhitening(small, 0.5) @ small, seed=3)


@pytest.mark.parametrize("nugget", [1e-2, 1e-4])
def test_whitening_inverts_the_filtered_covariance(nugget):
    f = BandPass(NT, NT, DT, (0.0, 15.0))
    w = TraceWhitening(f, noise_sd=1.0, nugget=nugget)
    fm = _matrix(f, NT)  # the filter as a matrix, from the operator itself
    cov = fm @ fm.T + nugget * np.eye(NT)
    wm = _matrix(w, NT)
    np.testing.assert_allclose(wm @ cov @ wm.T, np.eye(NT), atol=1e-9)
    assert np.allclose(np.tril(wm), wm)  # lower triangular (a causal whitening)


def _coverage(nugget_or_none, reps=400, level=0.9):
    """90% coverage of a 4-parameter linear-Gaussian posterior from low-passed data.

    ``None``: the negative control, the filtered noise treated as white with variance
    sigma^2 sum(h^2) (what a modality gets by just filtering the data).
    """
    rng = np.random.default_rng(11)
    t = np.arange(NT) * DT
    delays = (0.15, 0.2, 0.3, 0.35)
    g = 3 * np.column_stack([np.exp(-(((t - c) / 0.05) ** 2)) * np.cos(12 * np.pi * (t - c))
                             for c in delays])  # fmt: skip
    f = BandPass(NT, NT, DT, (0.0, 15.0))
    fm = _matrix(f, NT)
    if nugget_or_none is None:
        a, noise_var, wm = fm @ g, np.sum(f.taps**2), np.eye(NT)
    else:
        wm = _matrix(TraceWhitening(f, 1.0, nugget=nugget_or_none), NT)
        a, noise_var = wm @ fm @ g, 1.0
    cov = np.linalg.inv(np.eye(4) + a.T @ a / noise_var)
    sd, z = np.sqrt(np.diag(cov)), norm.ppf(0.5 + level / 2)
    gain = cov @ a.T @ wm @ fm / noise_var  # posterior mean = gain @ d
    m = rng.standard_normal((reps, 4))
    d = m @ g.T + rng.standard_normal((reps, NT))
    return np.mean(np.abs(d @ gain.T - m) <= z * sd)


def test_whitened_band_posterior_is_calibrated_and_white_assumption_is_not():
    # 1600 Bernoulli(0.9) trials: sd 0.0075, so +-0.04 is more than 5 sd
    assert abs(_coverage(1e-2) - 0.9) < 0.04
    assert _coverage(None) < 0.5  # negative control: the correlation ignored


def test_whitening_bad_input():
    f = BandPass(1, 50, DT, (0.0, 40.0))
    with pytest.raises(TypeError, match="TraceWhitening: bandpass must be a BandPass"):
        TraceWhitening(np.eye(3), 1.0)
    with pytest.raises(ValueError, match=r"TraceWhitening.*noise_sd"):
        TraceWhitening(f, -1.0)
    with pytest.raises(ValueError, match=r"TraceWhitening.*nugget"):
        TraceWhitening(f, 1.0, nugget=0.0)
