"""Frequency continuation helpers: band levels, their models, and continuation over them."""

import numpy as np
import pytest
from scipy.stats import norm

from bayesinv.inference.continuation import continuation
from bayesinv.inference.continuation.bands import band_builder, band_levels, lowpass_bands
from bayesinv.operators.wave import BandPass

DT, NT = 4e-3, 64


def _problem():
    rng = np.random.default_rng(5)
    forward = BandPass(1, NT, DT, (0.0, 100.0), numtaps=5)  # a linear stand-in "physics"
    g = np.column_stack([forward.forward(e) for e in np.eye(NT)])
    x_true = rng.standard_normal(NT)
    d = g @ x_true + 0.3 * rng.standard_normal(NT)
    return forward, g, d


def _dense_level(taps, nugget, d, g):
    """The band's whitened data and matrix, from dense linear algebra in the test."""
    half = (taps.size - 1) // 2
    f = sum(np.eye(NT, k=-j) * taps[j + half] for j in range(-half, half + 1))
    chol = np.linalg.cholesky(f @ f.T + nugget * np.eye(NT))
    return np.linalg.solve(chol, f @ d), np.linalg.solve(chol, f @ g)


def test_lowpass_bands_are_geometric():
    np.testing.assert_allclose(lowpass_bands(2.0, 32.0, 5), [[0, 2], [0, 4], [0, 8], [0, 16],
                                                            [0, 32]], rtol=1e-12)  # fmt: skip
    assert lowpass_bands(3.0, 9.0, 1) == [(0.0, 9.0)]
    with pytest.raises(ValueError, match="lowpass_bands: f_stop must be >= f_start"):
        lowpass_bands(5.0, 2.0, 3)


def test_band_levels_filter_and_whiten_operator_and_data():
    forward, g, d = _problem()
    levels = band_levels(forward, d, 0.3, [(0.0, 20.0), (0.0, 60.0)], n_traces=1, nt=NT, dt=DT)
    x = np.random.default_rng(1).standard_normal(NT)
    for lev in levels:
        data, a = _dense_level(lev.bandpass.taps, 1e-2, d, g)
        np.testing.assert_allclose(lev.data, data, atol=1e-10 * np.abs(data).max())
        np.testing.assert_allclose(lev.operator.forward(x), a @ x, atol=1e-10 * np.abs(a).max())
    with pytest.raises(ValueError, match="band_levels: bands must go from low to high"):
        band_levels(forward, d, 0.3, [(0.0, 60.0), (0.0, 20.0)], n_traces=1, nt=NT, dt=DT)
    with pytest.raises(ValueError, match="band_levels: observed must have"):
        band_levels(forward, d[:-1], 0.3, [(0.0, 20.0)], n_traces=1, nt=NT, dt=DT)


def test_continuation_over_bands_ends_at_the_last_bands_posterior_mode():
    import pymc as pm

    forward, g, d = _problem()
    sigma = 0.3
    levels = band_levels(forward, d, sigma, [(0.0, 20.0), (0.0, 60.0)], n_traces=1, nt=NT, dt=DT)

    def prior(level):
        return pm.Normal("x", 0.0, 1.0, shape=NT)

    build = band_builder(levels, prior)
    # the model's density is the whitened band likelihood times the prior
    x = np.random.default_rng(2).standard_normal(NT)
    data, a = _dense_level(levels[0].bandpass.taps, 1e-2, d, g)
    expected = norm.logpdf(x).sum() + norm.logpdf(data, a @ x, sigma).sum()
    logp = build(0).compile_logp()({"x": x})
    assert abs(logp - expected) < 1e-8 * abs(expected)
    result = continuation(build, 2, random_seed=3, method=["laplace", "laplace"])
    # linear-Gaussian: the mode of the last band's posterior in closed form
    data, a = _dense_level(levels[1].bandpass.taps, 1e-2, d, g)
    precision = np.eye(NT) + a.T @ a / sigma**2
    mode = np.linalg.solve(precision, a.T @ data / sigma**2)
    np.testing.assert_allclose(result.final.point["x"], mode, atol=1e-4)
