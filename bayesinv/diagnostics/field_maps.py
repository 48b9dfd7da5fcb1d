"""Maps of a posterior field: mean, standard deviation, 90% interval width, contraction."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bayesinv.diagnostics.maps import plot_field_maps
from bayesinv.diagnostics.truth import central_interval, posterior_draws
from bayesinv.grid import Grid2D

__all__ = ["field_summaries", "plot_posterior_field"]

CONTRACTION = "posterior sd / prior sd"


def field_summaries(idata, name: str, grid: Grid2D, truth=None) -> dict[str, np.ndarray]:
    """Posterior summaries of a field on a grid, ready for :func:`plot_field_maps`.

    Parameters
    ----------
    idata : xarray.DataTree
        Result with a ``posterior`` group (and optionally a ``prior`` group).
    name : str
        Field variable; its draws must have ``grid.size`` values.
    grid : Grid2D
        The field's grid.
    truth : array_like, optional
        True field, shown first.

    Returns
    -------
    dict of str to numpy.ndarray
        Panels ``truth`` (if given), ``posterior mean``, ``posterior sd``, ``90% interval
        width`` and, when the prior group holds ``name``, ``posterior sd / prior sd``
        (1 where the data taught nothing), each of shape ``(nz, nx)``.
    """
    draws = posterior_draws(idata, name)
    if int(np.prod(draws.shape[1:])) != grid.size:
        raise ValueError(
            f"field_summaries: {name!r} has {int(np.prod(draws.shape[1:]))} values per draw, "
            f"the grid has {grid.size} cells"
        )
    draws = draws.reshape(-1, *grid.shape)
    panels = {}
    if truth is not None:
        panels["truth"] = grid.unravel(np.asarray(truth, dtype=float).ravel())
    panels["posterior mean"] = draws.mean(axis=0)
    sd = draws.std(axis=0, ddof=1)
    panels["posterior sd"] = sd
    lo, hi = central_interval(draws, 0.9)
    panels["90% interval width"] = hi - lo
    if "prior" in idata.children and name in idata["prior"].data_vars:
        prior = posterior_draws(idata, name, group="prior").reshape(-1, *grid.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            panels[CONTRACTION] = sd / prior.std(axis=0, ddof=1)
    return panels


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
