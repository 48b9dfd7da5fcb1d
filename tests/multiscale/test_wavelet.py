import warnings

import numpy as np
import pytest
import pywt

from bayesinv import Grid1D, Grid2D
from bayesinv.multiscale import WaveletField, ZeroPadding
from bayesinv.testing import dot_test

WAVELETS = ["haar", "db2", "db4"]


def _grids():
    return {
        "2d": (Grid2D(nx=32, nz=16, dx=10.0, dz=5.0), 3),
        "1d": (Grid1D(nz=64, dz=2.0), 4),
    }


@pytest.fixture(params=["2d", "1d"])
def grid_levels(request):
    return _grids()[request.param]


def _pywt_analysis(grid, m, wavelet, levels):
    """Independent reference: PyWavelets' periodised multilevel transform, our layout."""
    with warnings.catch_warnings():
        # pywt warns when coarse levels are shorter than the filter; periodisation is exact
        warnings.simplefilter("ignore", UserWarning)
        if isinstance(grid, Grid1D):
            return np.concatenate(pywt.wavedec(m, wavelet, mode="periodization", level=levels))
        c = pywt.wavedec2(grid.unravel(m), wavelet, mode="periodization", level=levels)
    return np.concatenate([c[0].ravel()] + [b.ravel() for lev in c[1:] for b in lev])


def _pywt_synthesis(grid, theta, W):
    """Independent reference for synthesis: split θ into pywt's coefficient list."""
    sl = W.level_slices()
    if isinstance(grid, Grid1D):
        coeffs = [theta[s] for s in sl]
        return pywt.waverec(coeffs, W.wavelet, mode="periodization")
    shape = W.coarse_shape
    coeffs = [theta[sl[0]].reshape(shape)]
    for s in sl[1:]:
        shape = coeffs[-1].shape if len(coeffs) == 1 else coeffs[-1][0].shape
        if len(coeffs) > 1:
            shape = (2 * shape[0], 2 * shape[1])
        blocks = np.split(theta[s], 3)
        coeffs.append(tuple(b.reshape(shape) for b in blocks))
    return pywt.waverec2(coeffs, W.wavelet, mode="periodization").ravel()


@pytest.mark.parametrize("wavelet", WAVELETS)
def test_analysis_matches_pywavelets(grid_levels, wavelet, rng):
    grid, levels = grid_levels
    W = WaveletField(grid, wavelet, levels)
    m = rng.standard_normal(grid.size)
    np.testing.assert_allclose(W.analysis(m), _pywt_analysis(grid, m, wavelet, levels), atol=1e-12)


@pytest.mark.parametrize("wavelet", WAVELETS)
def test_synthesis_matches_pywavelets(grid_levels, wavelet, rng):
    grid, levels = grid_levels
    W = WaveletField(grid, wavelet, levels)
    theta = rng.standard_normal(grid.size)
    np.testing.assert_allclose(W.forward(theta), _pywt_synthesis(grid, theta, W), atol=1e-12)


def test_single_step_matches_numpy_convolution(rng):
    # a plain numpy periodic convolution + downsampling, written from the formula
    grid = Grid1D(nz=16, dz=1.0)
    W = WaveletField(grid, "db2", levels=1)
    x = rng.standard_normal(16)
    w = pywt.Wavelet("db2")
    lo, hi = np.array(w.dec_lo), np.array(w.dec_hi)
    L = lo.size
    idx = (2 * np.arange(8)[:, None] + L // 2 - np.arange(L)[None, :]) % 16
    expected = np.concatenate([x[idx] @ lo, x[idx] @ hi])
    np.testing.assert_allclose(W.analysis(x), expected, atol=1e-14)


@pytest.mark.parametrize("wavelet", WAVELETS)
def test_dot_test(grid_levels, wavelet, rng):
    grid, levels = grid_levels
    assert dot_test(WaveletField(grid, wavelet, levels), rng) <= 1e-10


@pytest.mark.parametrize("wavelet", WAVELETS)
def test_orthonormal(wavelet):
    grid = Grid2D(nx=16, nz=8, dx=1.0, dz=1.0)
    W = WaveletField(grid, wavelet, levels=3)
    eye = np.eye(grid.size)
    Wm = np.column_stack([W.forward(e) for e in eye])  # synthesis matrix
    At = np.column_stack([W.analysis(e) for e in eye])  # analysis matrix
    np.testing.assert_allclose(At @ Wm, eye, atol=1e-12)  # analysis ∘ synthesis
    np.testing.assert_allclose(Wm @ At, eye, atol=1e-12)  # synthesis ∘ analysis
    np.testing.assert_allclose(Wm.T, At, atol=1e-14)  # analysis is the adjoint


@pytest.mark.parametrize("wavelet", WAVELETS)
def test_round_trip_and_norm(grid_levels, wavelet, rng):
    grid, levels = grid_levels
    W = WaveletField(grid, wavelet, levels)
    m = rng.standard_normal(grid.size) * 3.0 + 1.0
    theta = W.analysis(m)
    np.testing.assert_allclose(W.forward(theta), m, atol=1e-12)
    assert np.linalg.norm(theta) == pytest.approx(np.linalg.norm(m), rel=1e-13)


@pytest.mark.parametrize("wavelet", WAVELETS)
def test_numba_kernels_match_python(grid_levels, wavelet, rng):
    grid, levels = grid_levels
    W = WaveletField(grid, wavelet, levels)
    k = W.numba_kernels()
    th, dd = rng.standard_normal(grid.size), rng.standard_normal(grid.size)
    np.testing.assert_allclose(k.forward(th), W.forward(th), atol=1e-14)
    np.testing.assert_allclose(k.jvp(th, dd), W.forward(dd), atol=1e-14)
    np.testing.assert_allclose(k.vjp(th, dd), W.analysis(dd), atol=1e-14)


def test_level_layout():
    grid = Grid2D(nx=16, nz=8, dx=2.0, dz=1.0)
    W = WaveletField(grid, "db2", levels=2)
    assert W.coarse_shape == (2, 4)
    sl = W.level_slices()
    assert [(s.start, s.stop) for s in sl] == [(0, 8), (8, 32), (32, 128)]
    lev = W.level_of_coefficient
    assert lev.shape == (128,)
    for j, s in enumerate(sl):
        assert np.all(lev[s] == j)
    assert [W.n_coefficients(j) for j in range(3)] == [8, 32, 128]
    assert W.level_cell_size(0) == W.level_cell_size(1) == (4.0, 8.0)
    assert W.level_cell_size(2) == (2.0, 4.0)
    W1 = WaveletField(Grid1D(nz=32, dz=1.0), "haar", levels=3)
    assert [s.stop for s in W1.level_slices()] == [4, 8, 16, 32]


def test_default_levels():
    assert WaveletField(Grid2D(nx=48, nz=16, dx=1.0, dz=1.0)).levels == 4
    assert WaveletField(Grid1D(nz=40, dz=1.0)).levels == 3


@pytest.mark.parametrize("wavelet", WAVELETS)
def test_coarse_operator(wavelet, rng):
    grid = Grid2D(nx=32, nz=16, dx=1.0, dz=1.0)
    W = WaveletField(grid, wavelet, levels=3)
    theta = rng.standard_normal(grid.size)
    for J in range(W.levels):
        C = W.coarse_operator(J)
        k = W.n_coefficients(J)
        assert (C.n_params, C.n_data) == (k, grid.size)
        padded = np.zeros(grid.size)
        padded[:k] = theta[:k]
        np.testing.assert_allclose(C.forward(theta[:k]), W.forward(padded), atol=1e-13)
        m = rng.standard_normal(grid.size)
        np.testing.assert_allclose(C.vjp(theta[:k], m), W.analysis(m)[:k], atol=1e-13)
        assert dot_test(C, rng) <= 1e-10
        assert C.numba_kernels() is not None
    assert W.coarse_operator(W.levels) is W


def test_coarse_haar_is_blockwise_constant(rng):
    grid = Grid2D(nx=16, nz=8, dx=1.0, dz=1.0)
    W = WaveletField(grid, "haar", levels=2)
    m = grid.unravel(W.coarse_operator(0).forward(rng.standard_normal(8)))
    blocks = m.reshape(2, 4, 4, 4)  # (block z, 4 cells, block x, 4 cells)
    assert np.allclose(blocks, blocks[:, :1, :, :1])


def test_zero_padding(rng):
    P = ZeroPadding(3, 7)
    np.testing.assert_array_equal(P.forward([1.0, 2.0, 3.0]), [1, 2, 3, 0, 0, 0, 0])
    assert dot_test(P, rng) <= 1e-14
    k = P.numba_kernels()
    d = rng.standard_normal(7)
    np.testing.assert_array_equal(k.vjp(np.zeros(3), d), d[:3])
    with pytest.raises(ValueError, match="ZeroPadding: k=8 must not exceed n=7"):
        ZeroPadding(8, 7)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"grid": Grid2D(30, 16, 1.0, 1.0), "levels": 2}, r"axis nx=30 .* use nx = 28 or 32"),
        ({"grid": Grid2D(32, 12, 1.0, 1.0), "levels": 3}, r"axis nz=12 .* levels <= 2"),
        ({"grid": Grid2D(15, 16, 1.0, 1.0)}, r"axis nx=15 is not divisible by 2\*\*levels=2"),
        ({"grid": Grid1D(24, 1.0), "levels": 4}, r"axis nz=24 .* use nz = 16 or 32"),
        ({"grid": Grid1D(16, 1.0), "levels": 0}, "levels must be an integer >= 1"),
        ({"grid": Grid1D(16, 1.0), "wavelet": "bior2.2"}, "not orthogonal"),
        ({"grid": Grid1D(16, 1.0), "wavelet": "nope"}, "not a PyWavelets wavelet"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match="WaveletField: .*" + match):
        WaveletField(**kwargs)


def test_bad_vectors_and_levels():
    W = WaveletField(Grid1D(16, 1.0), "haar", levels=2)
    with pytest.raises(ValueError, match="WaveletField: m has length 15"):
        W.forward(np.zeros(15))
    with pytest.raises(ValueError, match=r"WaveletField: J must be an integer in 0\.\.2"):
        W.coarse_operator(3)
