"""Figures drawn from diagnostics: field maps, posterior field panels and data-fit plots (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from bayesinv.diagnostics.truth import CONTRACTION, field_summaries
from bayesinv.grid import Grid2D
from bayesinv.io import atomic_path

__all__ = ["plot_data_fit", "plot_field_maps", "plot_posterior_field"]


def plot_field_maps(
    grid: Grid2D,
    panels: dict[str, np.ndarray],
    path,
    *,
    units: str = "",
    shared_scale: tuple[str, ...] = (),
    receivers=None,
) -> Path:
    """Plot fields on a grid side by side and save a PNG.

    Parameters
    ----------
    grid : Grid2D
        Grid of every panel.
    panels : dict of str to array_like
        Title → field (shape ``(nz, nx)`` or flat).
    path : str or Path
        Output PNG (written atomically).
    units : str
        Colour-bar label.
    shared_scale : tuple of str
        Titles of panels that share one symmetric colour scale (e.g. truth and mean).
    receivers : array_like, optional
        ``(n, 2)`` receiver positions drawn as markers.

    Returns
    -------
    Path
        The written file.
    """
    fields = {k: grid.unravel(np.asarray(v).ravel()) for k, v in panels.items()}
    shared = [fields[k] for k in shared_scale if k in fields]
    vmax = max((np.abs(f).max() for f in shared), default=None)
    n = len(fields)
    aspect = grid.nz * grid.dz / (grid.nx * grid.dx)
    # a bare Figure (no pyplot): no global backend state, safe in notebooks and threads
    fig = Figure(figsize=(7, 1.2 + n * (6.2 * aspect + 0.6)))
    axes = fig.subplots(n, 1, squeeze=False)
    for ax, (title, field) in zip(axes[:, 0], fields.items(), strict=True):
        if title in shared_scale:
            im = ax.imshow(field, extent=grid.extent, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        else:
            im = ax.imshow(field, extent=grid.extent, cmap="viridis")
        if receivers is not None:
            rx = np.asarray(receivers)
            ax.plot(rx[:, 0], np.clip(rx[:, 1], grid.z0, None), "kv", ms=3, clip_on=False)
        ax.set_title(title)
        ax.set_ylabel("depth z (m)")
        fig.colorbar(im, ax=ax, label=units, shrink=0.9)
    axes[-1, 0].set_xlabel("x (m)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return Path(path)


def plot_data_fit(
    x, observed, predictive, path, *, ylabel: str = "", title: str = "", truth=None
) -> Path:
    """Plot observed data against posterior predictive bands (50% and 90%) and save a PNG.

    Parameters
    ----------
    x : array_like
        Data coordinate (e.g. receiver x), length ``n``.
    observed : array_like
        Observed data, length ``n``.
    predictive : array_like
        Predictive draws, shape ``(..., n)``.
    path : str or Path
        Output PNG (written atomically).
    ylabel, title : str
        Labels.
    truth : array_like, optional
        Noise-free data, drawn as a line.

    Returns
    -------
    Path
        The written file.
    """
    x = np.asarray(x)
    pred = np.asarray(predictive).reshape(-1, x.size)
    q05, q25, q50, q75, q95 = np.quantile(pred, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    fig = Figure(figsize=(7, 3.2))
    ax = fig.subplots()
    ax.fill_between(x, q05, q95, color="C0", alpha=0.2, label="90% predictive")
    ax.fill_between(x, q25, q75, color="C0", alpha=0.4, label="50% predictive")
    ax.plot(x, q50, color="C0", lw=1)
    if truth is not None:
        ax.plot(x, truth, "k--", lw=1, label="noise-free")
    ax.plot(x, observed, "k.", ms=4, label="observed")
    ax.set_xlabel("x (m)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return Path(path)


def plot_posterior_field(
    idata, name: str, grid: Grid2D, path, *, truth=None, units: str = "", receivers=None
) -> list[Path]:
    """Save maps of a posterior field (see :func:`field_summaries`) as PNGs.

    Parameters
    ----------
    idata : xarray.DataTree
        Result with a ``posterior`` group.
    name : str
        Field variable.
    grid : Grid2D
        The field's grid.
    path : str or Path
        Output PNG of the panels in field units (written atomically). When the prior is
        known, the dimensionless ``posterior sd / prior sd`` map goes to a second PNG next
        to it, ``<stem>_contraction.png``.
    truth : array_like, optional
        True field; truth and posterior mean then share one symmetric colour scale.
    units : str
        Colour-bar label of the field.
    receivers : array_like, optional
        ``(n, 2)`` receiver positions drawn as markers.

    Returns
    -------
    list of Path
        The written files.
    """
    panels = field_summaries(idata, name, grid, truth)
    ratio = panels.pop(CONTRACTION, None)
    titles = {k: f"{name}: {k}" for k in panels}
    path = Path(path)
    written = [
        plot_field_maps(
            grid,
            {titles[k]: v for k, v in panels.items()},
            path,
            units=units,
            shared_scale=tuple(titles[k] for k in ("truth", "posterior mean") if k in panels),
            receivers=receivers,
        )
    ]
    if ratio is not None:
        written.append(
            plot_field_maps(
                grid,
                {f"{name}: {CONTRACTION} (1: data taught nothing)": ratio},
                path.with_name(f"{path.stem}_contraction{path.suffix}"),
                units="ratio",
                receivers=receivers,
            )
        )
    return written
