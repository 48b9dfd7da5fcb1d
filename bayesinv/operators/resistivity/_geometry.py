"""Field geometry of the DC resistivity operator: topography and remote electrodes.

:class:`Surface` holds the ground surface given as ``(x, z)`` points (``z`` positive down,
piecewise linear between them, flat beyond the end points) and checks electrodes against
it; :func:`check_remote` validates the stated position of a remote electrode.
"""

from __future__ import annotations

import numpy as np

from bayesinv.grid import Grid2D
from bayesinv.operators._points import check_points

_NAME = "DCResistivity2p5D"


class Surface:
    """Piecewise-linear ground surface ``z = s(x)`` (positive down) through the given points.

    Parameters
    ----------
    grid : Grid2D
        The model section; the surface must lie in it (``z0 <= s < bottom``).
    points : array_like
        ``(n, 2)`` points ``(x, z)`` with strictly increasing ``x``, ``n >= 2``.

    Notes
    -----
    ``s(x)`` is linear between the points and constant beyond the first and last point. The
    mesh follows it by shifting every node column down by ``d(x) = s(x) - z_0`` (see
    ``_fe.fe_mesh``).
    """

    def __init__(self, grid: Grid2D, points):
        pts = check_points(points, "topography", _NAME)
        if pts.shape[0] < 2:
            raise ValueError(f"{_NAME}: topography needs at least 2 (x, z) points")
        bad = np.flatnonzero(np.diff(pts[:, 0]) <= 0.0)
        if bad.size:
            i = int(bad[0]) + 1
            raise ValueError(
                f"{_NAME}: topography x must increase strictly; topography[{i}, 0] = "
                f"{pts[i, 0]} is not greater than topography[{i - 1}, 0] = {pts[i - 1, 0]}"
            )
        ze = grid.z_edges
        tol = 1e-9 * max(1.0, abs(grid.z0), grid.dz)
        out = np.flatnonzero((pts[:, 1] < ze[0] - tol) | (pts[:, 1] >= ze[-1]))
        if out.size:
            i = int(out[0])
            raise ValueError(
                f"{_NAME}: topography[{i}] = {tuple(pts[i])} is outside the grid's depth range "
                f"[{ze[0]}, {ze[-1]}) (the grid must contain the surface; z is positive down)"
            )
        pts[np.abs(pts[:, 1] - grid.z0) <= tol, 1] = grid.z0
        self.points = pts
        self.z0 = grid.z0
        self.tol = tol

    @property
    def flat(self) -> bool:
        """Whether the surface is the grid top ``z = z0`` everywhere."""
        return bool(np.all(self.points[:, 1] == self.z0))

    def height(self, x) -> np.ndarray:
        """``s(x)``: linear between the points, constant beyond the ends."""
        return np.interp(x, self.points[:, 0], self.points[:, 1])

    def shift(self, x) -> np.ndarray:
        """Node shift ``d(x) = s(x) - z0`` (zero for a flat surface at the grid top)."""
        return self.height(x) - self.z0

    def check_electrodes(self, elec: np.ndarray) -> np.ndarray:
        """Electrodes covered by the topography and not in the air; surface ones snapped."""
        x, z = elec[:, 0], elec[:, 1]
        xs = self.points[:, 0]
        outside = np.flatnonzero((x < xs[0]) | (x > xs[-1]))
        if outside.size:
            i = int(outside[0])
            raise ValueError(
                f"{_NAME}: the topography (x in [{xs[0]}, {xs[-1]}]) does not cover "
                f"electrode(s) {outside[:10].tolist()} (first electrodes[{i}] = {tuple(elec[i])})"
            )
        s = self.height(x)
        air = np.flatnonzero(z < s - self.tol)
        if air.size:
            i = int(air[0])
            raise ValueError(
                f"{_NAME}: electrode(s) {air[:10].tolist()} are above the topography (in the "
                f"air): electrodes[{i}] = {tuple(elec[i])}, surface there z = {s[i]}"
            )
        out = elec.copy()
        on = np.abs(z - s) <= self.tol
        out[on, 1] = s[on]
        return out


def check_remote(grid: Grid2D, point, name: str, surface: Surface | None) -> np.ndarray:
    """Check a remote electrode's position: finite, in the ground, a cell outside the grid.

    A remote electrode inside the model (or within one cell of it) is refused: it belongs in
    ``electrodes``; a remote is the far electrode of a pole array.
    """
    p = check_points(point, name, _NAME)
    if p.shape[0] != 1:
        raise ValueError(f"{_NAME}: {name} must be one (x, z) point, got shape {p.shape}")
    x, z = p[0]
    s = surface.height(x) if surface is not None else grid.z0
    tol = 1e-9 * max(1.0, abs(grid.z0), grid.dz)
    if z < s - tol:
        raise ValueError(
            f"{_NAME}: {name} = {(x, z)} is above the surface z = {s} (in the air; z positive down)"
        )
    xe, ze = grid.x_edges, grid.z_edges
    inside = (xe[0] - grid.dx < x < xe[-1] + grid.dx) and z < ze[-1] + grid.dz
    if inside:
        raise ValueError(
            f"{_NAME}: {name} = {(x, z)} is inside the model or within one cell of it "
            f"(x in [{xe[0]}, {xe[-1]}], z <= {ze[-1]}); a remote electrode must be far from "
            "the line: put electrodes inside the model in `electrodes`"
        )
    return np.array([x, max(z, s)])


def with_remotes(grid, elec, abmn, remote_b, remote_n, surface):
    """Electrodes with the stated remote positions appended; ``-1`` in B/N mapped to them."""
    elec_all, abmn_all = elec, abmn.copy()
    points = []
    for col, name, pos in ((1, "remote_b", remote_b), (3, "remote_n", remote_n)):
        if pos is None:
            continue
        p = check_remote(grid, pos, name, surface)
        if points and np.all(np.abs(points[0] - p) <= 1e-9 * max(1.0, np.abs(p).max())):
            raise ValueError(f"{_NAME}: remote_b and remote_n coincide at {tuple(p)}")
        abmn_all[abmn[:, col] == -1, col] = elec.shape[0] + len(points)
        points.append(p)
    if points:
        elec_all = np.vstack([elec, *points])
    return elec_all, abmn_all
