"""Validation of point arrays (receivers, sources, electrodes) shared by the operators."""

from __future__ import annotations

import reprlib

import numpy as np

from bayesinv.grid import Grid2D

__all__ = ["check_outside_cells", "check_points"]


def check_points(points, name: str, operator: str) -> np.ndarray:
    """Validate an array of ``(x, z)`` points and return it as float64 of shape ``(n, 2)``.

    Parameters
    ----------
    points : array_like
        Points of shape ``(n, 2)`` (a single point of shape ``(2,)`` is accepted).
    name : str
        Argument name for error messages (e.g. ``"receivers"``).
    operator : str
        Operator name for error messages.

    Returns
    -------
    numpy.ndarray
        C-contiguous float64 array of shape ``(n, 2)``.
    """
    try:
        kind = np.asarray(points).dtype.kind
    except (TypeError, ValueError):
        kind = "O"
    if kind not in "iuf":
        raise ValueError(
            f"{operator}: {name} must be an array of (x, z) numbers, got {reprlib.repr(points)}"
        )
    pts = np.array(points, dtype=np.float64, ndmin=2, order="C")
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] == 0:
        raise ValueError(
            f"{operator}: {name} must have shape (n, 2) holding (x, z), got {pts.shape}"
        )
    bad = ~np.all(np.isfinite(pts), axis=1)
    if np.any(bad):
        raise ValueError(
            f"{operator}: {name} has non-finite coordinates at row(s) {np.flatnonzero(bad)[:10]}"
        )
    return pts


def check_outside_cells(points: np.ndarray, grid: Grid2D, name: str, operator: str) -> None:
    """Raise if any point lies strictly inside the grid (inside the model cells).

    Parameters
    ----------
    points : numpy.ndarray
        Validated ``(n, 2)`` points (see :func:`check_points`).
    grid : Grid2D
        The model grid; points on its boundary or outside it are allowed.
    name : str
        Argument name for error messages (e.g. ``"receiver"``).
    operator : str
        Operator name for error messages.
    """
    xe, ze = grid.x_edges, grid.z_edges
    x, z = points[:, 0], points[:, 1]
    inside = (x > xe[0]) & (x < xe[-1]) & (z > ze[0]) & (z < ze[-1])
    if np.any(inside):
        idx = np.flatnonzero(inside)
        raise ValueError(
            f"{operator}: {name}(s) {idx[:10].tolist()} lie inside the model cells "
            f"(first at (x, z) = {tuple(points[idx[0]])}); {name}s must be on or outside the "
            f"grid boundary x in [{xe[0]}, {xe[-1]}], z in [{ze[0]}, {ze[-1]}]"
        )
