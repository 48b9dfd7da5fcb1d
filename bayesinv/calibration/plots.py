r"""Plots of simulation-based calibration ranks: histograms and ECDF differences.

- Rank histograms, one panel per scalar parameter, with the central ``prob`` interval of
  each bin count under uniformity (:math:`\mathrm{Binomial}(N, 1/B)`, pointwise).
- ECDF-difference plots (Säilynoja, Bürkner & Vehtari 2022, *Graphical test for discrete
  uniformity*, Stat. Comput. 32:32): the ECDF of the normalised ranks minus the uniform CDF,
  with the *simultaneous* ``prob`` band computed by :func:`arviz_stats.ecdf_utils.ecdf_pit`
  (the band arviz-plots draws in ``plot_ecdf_pit(method="envelope")``); a calibrated
  parameter's curve leaves the band with probability ``1 - prob``.

Ranks :math:`r \in \{0..L\}` are turned into PIT values :math:`(r + ½)/(L + 1)`.
"""

from __future__ import annotations

import numpy as np

from bayesinv import _seeds
from bayesinv._checks import check_float, check_int

__all__ = ["plot_ecdf_difference", "plot_rank_histograms", "sbc_pit"]


def sbc_pit(result) -> dict:
    """Normalised ranks (PIT values) of every scalar parameter of an SBC result.

    Parameters
    ----------
    result : SBCResult
        From :func:`bayesinv.calibration.runner.simulation_based_calibration`.

    Returns
    -------
    dict of str to numpy.ndarray
        ``(rank + 0.5) / (L + 1)`` per parameter label, in the order of ``result.table``.
    """
    flat = result.flat_ranks()
    return {
        label: (flat[label].to_numpy() + 0.5) / (result.n_ranks + 1) for label in result.table.index
    }


def _panels(labels, max_panels):
    import matplotlib.pyplot as plt

    labels = list(labels)[:max_panels]
    ncols = min(6, len(labels))
    nrows = -(-len(labels) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(2.3 * ncols, 1.9 * nrows), squeeze=False, sharex=True
    )
    for ax in axes.ravel()[len(labels) :]:
        ax.set_visible(False)
    return fig, axes.ravel(), labels


def plot_rank_histograms(result, *, prob: float = 0.99, max_panels: int = 36, path=None):
    """Rank histograms of the worst ``max_panels`` parameters with a uniformity band.

    Parameters
    ----------
    result : SBCResult
        SBC result.
    prob : float
        Probability of the pointwise band of each bin count under uniformity.
    max_panels : int
        Most panels drawn (parameters are taken from the worst p-value on).
    path : str or Path, optional
        Save the figure there (and close it).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from scipy import stats

    check_float(prob, "plot_rank_histograms", "prob", low=0, high=1, low_open=True, high_open=True)
    max_panels = check_int(max_panels, "plot_rank_histograms", "max_panels", low=1)
    flat = result.flat_ranks()
    n, bins = result.n_sims, result.bins
    lo, hi = stats.binom.interval(prob, n, 1.0 / bins)
    fig, axes, labels = _panels(result.table.index, max_panels)
    width = (result.n_ranks + 1) // bins
    for ax, label in zip(axes, labels, strict=False):
        counts = np.bincount(flat[label].to_numpy() // width, minlength=bins)
        ax.axhspan(lo, hi, color="0.85", zorder=0)
        ax.axhline(n / bins, color="0.5", lw=0.8)
        ax.bar(np.arange(bins), counts, width=0.9, color="C0")
        p = result.table.loc[label, "p_value"]
        ax.set_title(f"{label}\np = {p:.2g}", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.suptitle(
        f"SBC rank histograms ({n} replicates, {bins} bins, grey: {prob:.0%} band)", fontsize=9
    )
    fig.tight_layout()
    return _finish(fig, path)


def plot_ecdf_difference(
    result,
    *,
    prob: float = 0.99,
    max_panels: int = 36,
    n_simulations: int = 1000,
    random_seed=0,
    path=None,
):
    """ECDF minus uniform CDF of the normalised ranks, with a simultaneous band.

    Parameters
    ----------
    result : SBCResult
        SBC result.
    prob : float
        Simultaneous coverage of the band under uniformity.
    max_panels : int
        Most panels drawn (parameters are taken from the worst p-value on).
    n_simulations : int
        Simulations used by ArviZ to calibrate the simultaneous band.
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Seed of those simulations (see :mod:`bayesinv._seeds`); every panel's band is
        simulated from the same seed, and the same ranks and seed give the same figure.
    path : str or Path, optional
        Save the figure there (and close it).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from arviz_stats.ecdf_utils import ecdf_pit

    where = "plot_ecdf_difference"
    check_float(prob, where, "prob", low=0, high=1, low_open=True, high_open=True)
    max_panels = check_int(max_panels, where, "max_panels", low=1)
    n_simulations = check_int(n_simulations, where, "n_simulations", low=1)
    seed = _seeds.as_int(random_seed, where)
    pit = sbc_pit(result)
    fig, axes, labels = _panels(pit, max_panels)
    outside = 0
    for ax, label in zip(axes, labels, strict=False):
        x, ecdf, lower, upper = ecdf_pit(
            pit[label], prob, n_simulations, rng=_seeds.as_generator(seed, where)
        )
        ax.fill_between(x, lower - x, upper - x, step="post", color="0.85", lw=0)
        ax.axhline(0.0, color="0.5", lw=0.8)
        ax.step(x, ecdf - x, where="post", color="C0", lw=1)
        out = bool(np.any((ecdf < lower - 1e-12) | (ecdf > upper + 1e-12)))
        outside += out
        ax.set_title(label + (" (outside)" if out else ""), fontsize=7)
        ax.tick_params(labelsize=6)
    fig.suptitle(
        f"SBC ECDF difference ({result.n_sims} replicates, grey: simultaneous {prob:.0%} band; "
        f"{outside} of {len(labels)} outside)",
        fontsize=9,
    )
    fig.tight_layout()
    return _finish(fig, path)


def _finish(fig, path):
    if path is not None:
        from pathlib import Path

        import matplotlib.pyplot as plt

        from bayesinv.io import atomic_path

        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format=Path(path).suffix.lstrip(".") or "png")
        plt.close(fig)
    return fig
