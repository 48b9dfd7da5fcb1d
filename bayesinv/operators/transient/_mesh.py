"""Finite-volume geometry of the transient operators: faces, resistances, volumes, points.

A tensor mesh of ``nz x nx`` cells (C order, ``iz * nx + ix``), Cartesian or axisymmetric
(``x`` read as the radius ``r``). Every interior face ``f`` joins cells ``a`` and ``b`` and
carries two geometric resistances ``R_a``, ``R_b`` so that its transmissibility for the
conductivities ``K_a``, ``K_b`` is the series (harmonic) value

    T_f = 1 / (R_a / K_a + R_b / K_b),     dT_f / dlog K_a = T_f^2 R_a / K_a.

Cartesian (thickness ``b`` out of the plane): ``R = (h/2) / (L b)`` with ``h`` the
centre-to-centre spacing and ``L`` the face length; ``V = dx dz b``. Radial: across a
cylinder ``r = r_f`` of height ``dz`` the steady radial flux gives
``R_a = ln(r_f / r_a) / (2 pi dz)`` (exact for radial flow in a homogeneous cell, which
keeps log-spaced radial grids accurate near a well); across a horizontal face of area
``pi (r_{i+1}^2 - r_i^2)``, ``R = (dz/2) / area``; ``V = pi (r_{i+1}^2 - r_i^2) dz``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Mesh", "cartesian_mesh", "point_weights", "radial_mesh", "segment_weights"]


@dataclass(frozen=True)
class Mesh:
    """Faces and cells of a tensor finite-volume mesh (see the module docstring).

    Attributes
    ----------
    x_edges, z_edges : numpy.ndarray
        Cell edges along ``x`` (or ``r``) and ``z``.
    x_centers, z_centers : numpy.ndarray
        Cell centres (geometric means of the edges along ``r`` for a radial mesh).
    face_a, face_b : numpy.ndarray
        The two cells of each interior face (int64).
    res_a, res_b : numpy.ndarray
        Geometric resistances of the two half-cells of each face.
    volume : numpy.ndarray
        Cell volumes (m³).
    radial : bool
        Axisymmetric mesh (interpolation along ``r`` is linear in ``log r``).
    """

    x_edges: np.ndarray
    z_edges: np.ndarray
    x_centers: np.ndarray
    z_centers: np.ndarray
    face_a: np.ndarray
    face_b: np.ndarray
    res_a: np.ndarray
    res_b: np.ndarray
    volume: np.ndarray
    radial: bool

    @property
    def shape(self) -> tuple[int, int]:
        """``(nz, nx)``."""
        return (self.z_centers.size, self.x_centers.size)

    @property
    def size(self) -> int:
        """Number of cells."""
        return self.z_centers.size * self.x_centers.size


def _faces(nz: int, nx: int):
    idx = np.arange(nz * nx).reshape(nz, nx)
    xa, xb = idx[:, :-1].ravel(), idx[:, 1:].ravel()
    za, zb = idx[:-1, :].ravel(), idx[1:, :].ravel()
    return np.concatenate([xa, za]).astype(np.int64), np.concatenate([xb, zb]).astype(np.int64)


def cartesian_mesh(x_edges, z_edges, thickness: float) -> Mesh:
    """Cartesian mesh of the given edges and out-of-plane thickness ``b``."""
    hx, hz = np.diff(x_edges), np.diff(z_edges)
    nx, nz = hx.size, hz.size
    face_a, face_b = _faces(nz, nx)
    # vertical faces (between ix and ix+1): area hz * b; horizontal ones: hx * b
    xa = np.tile(0.5 * hx[:-1], nz) / np.repeat(hz * thickness, nx - 1)
    xb = np.tile(0.5 * hx[1:], nz) / np.repeat(hz * thickness, nx - 1)
    za = np.repeat(0.5 * hz[:-1], nx) / np.tile(hx * thickness, nz - 1)
    zb = np.repeat(0.5 * hz[1:], nx) / np.tile(hx * thickness, nz - 1)
    return Mesh(
        np.asarray(x_edges, float),
        np.asarray(z_edges, float),
        0.5 * (x_edges[1:] + x_edges[:-1]),
        0.5 * (z_edges[1:] + z_edges[:-1]),
        face_a,
        face_b,
        np.concatenate([xa, za]),
        np.concatenate([xb, zb]),
        np.outer(hz, hx).ravel() * thickness,
        False,
    )


def radial_mesh(r_edges, z_edges) -> Mesh:
    """Axisymmetric mesh: radii ``r_edges`` (first ``> 0``, the well radius) and layers."""
    hz = np.diff(z_edges)
    nr, nz = r_edges.size - 1, hz.size
    rc = np.sqrt(r_edges[1:] * r_edges[:-1])
    face_a, face_b = _faces(nz, nr)
    ring = np.pi * (r_edges[1:] ** 2 - r_edges[:-1] ** 2)
    rf = r_edges[1:-1]
    xa = np.tile(np.log(rf / rc[:-1]), nz) / np.repeat(2.0 * np.pi * hz, nr - 1)
    xb = np.tile(np.log(rc[1:] / rf), nz) / np.repeat(2.0 * np.pi * hz, nr - 1)
    za = np.repeat(0.5 * hz[:-1], nr) / np.tile(ring, nz - 1)
    zb = np.repeat(0.5 * hz[1:], nr) / np.tile(ring, nz - 1)
    return Mesh(
        np.asarray(r_edges, float),
        np.asarray(z_edges, float),
        rc,
        0.5 * (z_edges[1:] + z_edges[:-1]),
        face_a,
        face_b,
        np.concatenate([xa, za]),
        np.concatenate([xb, zb]),
        np.outer(hz, ring).ravel(),
        True,
    )


def _axis_weights(centers: np.ndarray, x: float):
    """Two (index, weight) pairs of linear interpolation, constant beyond the end centres."""
    if centers.size == 1 or x <= centers[0]:
        return (0, 0), (1.0, 0.0)
    if x >= centers[-1]:
        return (centers.size - 1, 0), (1.0, 0.0)
    i = int(np.searchsorted(centers, x, side="right")) - 1
    t = (x - centers[i]) / (centers[i + 1] - centers[i])
    return (i, i + 1), (1.0 - t, t)


def point_weights(mesh: Mesh, points: np.ndarray):
    """Bilinear weights of points on the cell centres: cells ``(n, 4)`` and weights ``(n, 4)``.

    Along ``r`` of a radial mesh the interpolation is linear in ``log r`` (heads near a well
    vary like ``log r``). Points between the boundary and the first or last centre take the
    value of that centre.
    """
    n = points.shape[0]
    cells = np.zeros((n, 4), dtype=np.int64)
    weights = np.zeros((n, 4))
    nx = mesh.x_centers.size
    xc = np.log(mesh.x_centers) if mesh.radial else mesh.x_centers
    for p in range(n):
        x = np.log(points[p, 0]) if mesh.radial else points[p, 0]
        (ix0, ix1), (wx0, wx1) = _axis_weights(xc, x)
        (iz0, iz1), (wz0, wz1) = _axis_weights(mesh.z_centers, points[p, 1])
        cells[p] = [iz0 * nx + ix0, iz0 * nx + ix1, iz1 * nx + ix0, iz1 * nx + ix1]
        weights[p] = [wz0 * wx0, wz0 * wx1, wz1 * wx0, wz1 * wx1]
    return cells, weights


def segment_weights(mesh: Mesh, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Distribution over cells of a unit source spread evenly along a segment (dense, ``n``).

    The segment is cut into pieces no longer than a quarter of the smallest cell; each piece
    contributes its share at its midpoint with the bilinear weights of :func:`point_weights`.
    """
    length = float(np.hypot(*(stop - start)))
    h = min(np.diff(mesh.x_edges).min(), np.diff(mesh.z_edges).min())
    pieces = max(1, int(np.ceil(4.0 * length / h)))
    s = (np.arange(pieces) + 0.5) / pieces
    pts = start[None, :] + s[:, None] * (stop - start)[None, :]
    cells, w = point_weights(mesh, pts)
    out = np.zeros(mesh.size)
    np.add.at(out, cells.ravel(), w.ravel() / pieces)
    return out
