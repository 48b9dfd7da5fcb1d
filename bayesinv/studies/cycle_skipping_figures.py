"""Figures of the cycle-skipping case studies (07, 1-D; 11, 2-D) from :mod:`.cycle_skipping` runs.

:func:`trace_fits` (observed and fitted traces per band of seed 0's continuation),
:func:`basin_map` (every seed's start and which methods reached the true basin) and
:func:`save_figure`, which the studies' own figures use too.
"""

from __future__ import annotations

import numpy as np

from bayesinv.studies.cycle_skipping import METHODS, LinearField

__all__ = ["basin_map", "save_figure", "trace_fits", "wave_of"]


def wave_of(level):
    """Return the wave operator inside a band level (``whitening @ bandpass @ wave``)."""
    op = level.operator
    while hasattr(op, "inner"):
        op = op.inner
    return op


def save_figure(fig, path):
    """Write ``fig`` to ``path`` (PNG, atomically) and close it."""
    import matplotlib.pyplot as plt

    from bayesinv.io import atomic_path

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def trace_fits(first, field: LinearField, traces, labels, path):
    """Observed band-limited traces and each band's MAP prediction (continuation, seed 0)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels, cont = first["levels"], first["runs"][METHODS[2]][0]
    nb, nr = len(levels), len(traces)
    nt = levels[0].bandpass.nt
    times = np.arange(nt) * levels[0].bandpass.dt
    fig, axes = plt.subplots(nb, nr, figsize=(3.2 * nr, 1.6 * nb + 0.6), squeeze=False)
    for k, lev in enumerate(levels):
        theta = cont[k].point["theta"]
        m = field.m0 + field.B[:, : theta.size] @ theta
        obs = lev.bandpass.forward(first["observed"]).reshape(-1, nt)
        fit = lev.bandpass.forward(wave_of(lev).forward(m)).reshape(-1, nt)
        for j, (r, label) in enumerate(zip(traces, labels, strict=True)):
            ax = axes[k, j]
            ax.plot(times, obs[r], "k", lw=0.8, label="observed (band)")
            ax.plot(times, fit[r], "r--", lw=0.8, label="band MAP")
            ax.set_title(f"band 0–{lev.band[1]:.1f} Hz, {label}", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7)
    axes[-1, 0].set_xlabel("time (s)")
    save_figure(fig, path)


def basin_map(all_rows, path):
    """Every seed's starting model and whether each method reached the true basin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    for j, method in enumerate(METHODS):
        mine = [r for r in all_rows if r["method"] == method]
        ok = [r["in_basin"] for r in mine]
        ax.scatter([r["start"] for r in mine], [j] * len(mine),
                   c=["tab:green" if o else "tab:red" for o in ok])  # fmt: skip
    ax.set_yticks(range(len(METHODS)), METHODS)
    ax.set_xlabel("starting model: log(v_start / v_ref)  (green: true basin, red: not)")
    save_figure(fig, path)
