"""SBC plots: panels, bands, and the simultaneous band flags non-uniform ranks."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from bayesinv.calibration.plots import plot_ecdf_difference, plot_rank_histograms, sbc_pit
from bayesinv.calibration.runner import sbc_from_ranks


def result_with(ranks):
    return sbc_from_ranks({"m": ranks}, 99, bins=10)


@pytest.fixture
def uniform(rng):
    return result_with(rng.integers(0, 100, size=(200, 3)))


@pytest.fixture
def u_shaped(rng):
    # overconfident: half of the truths fall in the outer 5% of the posterior draws
    tails = rng.choice(np.r_[0:3, 97:100], size=(100, 3))
    return result_with(np.concatenate([tails, rng.integers(0, 100, size=(100, 3))]))


def test_pit_values_are_midpoints_of_the_rank_cells(uniform):
    pit = sbc_pit(uniform)
    assert list(pit) == list(uniform.table.index)
    np.testing.assert_allclose(pit["m[0]"], (uniform.ranks["m"][:, 0] + 0.5) / 100)


def test_ecdf_band_flags_u_shaped_ranks_only(uniform, u_shaped):
    fig = plot_ecdf_difference(uniform, n_simulations=300)
    assert "0 of 3 outside" in fig._suptitle.get_text()
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 3
    plt.close(fig)
    fig = plot_ecdf_difference(u_shaped, n_simulations=300)
    assert "3 of 3 outside" in fig._suptitle.get_text()
    plt.close(fig)


def test_rank_histograms_show_the_counts(u_shaped, tmp_path):
    path = tmp_path / "hist.png"
    plot_rank_histograms(u_shaped, max_panels=2, path=path)
    assert path.stat().st_size > 0 and not list(tmp_path.glob(".*.tmp"))
    fig = plot_rank_histograms(u_shaped)
    bars = [p.get_height() for p in fig.axes[0].containers[0]]
    label = u_shaped.table.index[0]
    j = int(label[2])
    np.testing.assert_array_equal(bars, np.bincount(u_shaped.ranks["m"][:, j] // 10))
    plt.close(fig)


@pytest.mark.parametrize("plot", [plot_rank_histograms, plot_ecdf_difference])
def test_bad_prob(plot, uniform):
    with pytest.raises(ValueError, match=f"{plot.__name__}: prob must be a finite number > 0"):
        plot(uniform, prob=1.5)


def _band(fig):
    return fig.axes[0].collections[0].get_paths()[0].vertices.copy()


def test_ecdf_band_comes_from_the_explicit_seed(uniform):
    # the band is simulated: the same seed draws the same band, another seed another one
    a = plot_ecdf_difference(uniform, n_simulations=200, random_seed=3)
    b = plot_ecdf_difference(uniform, n_simulations=200, random_seed=3)
    c = plot_ecdf_difference(uniform, n_simulations=200, random_seed=4)
    np.testing.assert_array_equal(_band(a), _band(b))
    assert not np.array_equal(_band(a), _band(c))
    plt.close("all")
    with pytest.raises(ValueError, match="plot_ecdf_difference: random_seed must be"):
        plot_ecdf_difference(uniform, random_seed=None)
