"""Survey geometries for first-arrival tomography: surface refraction and cross-hole."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bayesinv._checks import check_int
from bayesinv.grid import Grid2D

__all__ = ["Survey", "crosshole_survey", "refraction_survey"]


class Survey(NamedTuple):
    """Source and receiver positions of a travel-time survey.

    Attributes
    ----------
    sources, receivers : numpy.ndarray
        Shape ``(n, 2)`` holding ``(x, z)``; every source is recorded by every receiver.
    """

    sources: np.ndarray
    receivers: np.ndarray


def _grid(grid, where):
    if not isinstance(grid, Grid2D):
        raise TypeError(f"{where}: grid must be a Grid2D, got {type(grid).__name__}")


def refraction_survey(grid: Grid2D, n_sources: int, n_receivers: int) -> Survey:
    r"""Shots and geophones evenly spaced on the surface (the top edge of the grid).

    Parameters
    ----------
    grid : Grid2D
        The section; points lie on ``z = grid.z0`` and span its whole width.
    n_sources : int
        Number of shots (``>= 1``), from the left edge to the right edge (one shot: the
        centre).
    n_receivers : int
        Number of geophones (``>= 2``), from the left edge to the right edge.

    Returns
    -------
    Survey
        Shots and geophones; a shot at a geophone position gives a zero datum there.

    Notes
    -----
    Positions are :math:`x_i = x_0 + i\,L/(n - 1)`, :math:`L = n_x\,dx`, at depth
    :math:`z_0`.

    Examples
    --------
    >>> s = refraction_survey(Grid2D(10, 5, 1.0, 1.0), 2, 3)
    >>> s.receivers[:, 0].tolist(), s.sources[:, 0].tolist()
    ([0.0, 5.0, 10.0], [0.0, 10.0])
    """
    where = "refraction_survey"
    _grid(grid, where)
    ns = check_int(n_sources, where, "n_sources", low=1)
    nr = check_int(n_receivers, where, "n_receivers", low=2)
    width = grid.nx * grid.dx
    xs = grid.x0 + (np.linspace(0.0, width, ns) if ns > 1 else np.array([0.5 * width]))
    xr = grid.x0 + np.linspace(0.0, width, nr)
    src = np.column_stack([xs, np.full(ns, grid.z0)])
    rec = np.column_stack([xr, np.full(nr, grid.z0)])
    return Survey(src, rec)


def crosshole_survey(grid: Grid2D, n_sources: int, n_receivers: int, margin: float = 0.0):
    r"""Place sources down the left edge of the grid and receivers down the right edge.

    Parameters
    ----------
    grid : Grid2D
        The section between the two boreholes (its left and right edges).
    n_sources, n_receivers : int
        Number of source and receiver positions (each ``>= 1``), evenly spaced in depth.
    margin : float
        Distance (m) kept free at the top and the bottom of each borehole.

    Returns
    -------
    Survey
        Sources at ``x = x0``, receivers at ``x = x0 + nx dx``.

    Notes
    -----
    Depths are evenly spaced over :math:`[z_0 + \text{margin}, z_0 + n_z dz - \text{margin}]`
    (the middle for one position).

    Examples
    --------
    >>> s = crosshole_survey(Grid2D(4, 8, 1.0, 1.0), 3, 2, margin=1.0)
    >>> s.sources[:, 1].tolist(), s.receivers[:, 0].tolist()
    ([1.0, 4.0, 7.0], [4.0, 4.0])
    """
    where = "crosshole_survey"
    _grid(grid, where)
    ns = check_int(n_sources, where, "n_sources", low=1)
    nr = check_int(n_receivers, where, "n_receivers", low=1)
    depth = grid.nz * grid.dz
    if not (np.isfinite(margin) and 0.0 <= margin < 0.5 * depth):
        raise ValueError(f"{where}: margin must be in [0, {0.5 * depth}) m, got {margin!r}")

    def depths(n):
        if n == 1:
            return np.array([grid.z0 + 0.5 * depth])
        return grid.z0 + np.linspace(margin, depth - margin, n)

    src = np.column_stack([np.full(ns, grid.x0), depths(ns)])
    rec = np.column_stack([np.full(nr, grid.x0 + grid.nx * grid.dx), depths(nr)])
    return Survey(src, rec)
