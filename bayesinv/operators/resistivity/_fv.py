"""Cell-centred finite volumes for the 2.5-D DC resistivity operator (private helper).

The mesh is the core :class:`~bayesinv.grid.Grid2D` extended by padding cells to the left,
right and bottom. For one wavenumber ``k`` the discrete operator is

    A(σ, k) = Σ_f G_f(σ) (e_a - e_b)(e_a - e_b)^T + diag(k² σ_c V_c + σ_c β_c(k)),

with one term per interior face ``f`` between cells ``a`` and ``b``:

    G_f = L_f / (h_a / σ_a + h_b / σ_b),        (harmonic averaging; h_* = centre-face distances)
    ∂G_f / ∂log σ_a = G_f² h_a / (L_f σ_a),

``V_c`` the cell area and ``β_c(k)`` the Robin boundary coefficient of the cell (zero away
from the left, right and bottom edges; see :func:`robin_coefficients`). The assembly is a
single sparse product ``A.data = M @ [G; diag]`` on a fixed CSC pattern, built once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import k0e, k1e

from bayesinv.grid import Grid2D


@dataclass(frozen=True)
class PaddedMesh:
    """Tensor mesh: the core grid plus geometrically growing padding cells.

    Attributes
    ----------
    hx, hz : numpy.ndarray
        Cell widths along ``x`` and ``z`` (``nx_e`` and ``nz_e`` values).
    x_edges, z_edges : numpy.ndarray
        Cell edges (``z`` positive down, ``z_edges[0]`` is the surface).
    n_pad : int
        Padding cells on the left, right and bottom.
    core_index : numpy.ndarray
        For each mesh cell (C order, ``iz * nx_e + ix``) the index of the core cell whose
        conductivity it takes: itself inside the core, the nearest edge cell in the padding.
    """

    hx: np.ndarray
    hz: np.ndarray
    x_edges: np.ndarray
    z_edges: np.ndarray
    n_pad: int
    core_index: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """``(nz_e, nx_e)``."""
        return (self.hz.size, self.hx.size)

    @property
    def size(self) -> int:
        """Number of mesh cells."""
        return self.hz.size * self.hx.size

    @property
    def x_centers(self) -> np.ndarray:
        """Cell centres along ``x``."""
        return 0.5 * (self.x_edges[1:] + self.x_edges[:-1])

    @property
    def z_centers(self) -> np.ndarray:
        """Cell centres along ``z``."""
        return 0.5 * (self.z_edges[1:] + self.z_edges[:-1])


def padded_mesh(grid: Grid2D, n_pad: int, factor: float) -> PaddedMesh:
    """Extend ``grid`` by ``n_pad`` cells of widths ``h factor^i`` (i = 1..n_pad) on three sides."""
    grow = factor ** np.arange(1, n_pad + 1)
    hx = np.concatenate([grid.dx * grow[::-1], np.full(grid.nx, grid.dx), grid.dx * grow])
    hz = np.concatenate([np.full(grid.nz, grid.dz), grid.dz * grow])
    x_edges = grid.x0 - grid.dx * grow.sum() + np.concatenate([[0.0], np.cumsum(hx)])
    z_edges = grid.z0 + np.concatenate([[0.0], np.cumsum(hz)])
    ix = np.clip(np.arange(hx.size) - n_pad, 0, grid.nx - 1)
    iz = np.clip(np.arange(hz.size), 0, grid.nz - 1)
    core_index = (iz[:, None] * grid.nx + ix[None, :]).ravel()
    return PaddedMesh(hx, hz, x_edges, z_edges, n_pad, core_index)


@dataclass(frozen=True)
class FVSystem:
    """Face geometry and the fixed sparse pattern of the system matrix.

    Attributes
    ----------
    n : int
        Number of unknowns (mesh cells).
    face_a, face_b : numpy.ndarray
        The two cells of each interior face.
    face_len : numpy.ndarray
        Face lengths ``L_f``.
    face_ha, face_hb : numpy.ndarray
        Distances from the face to the centres of ``a`` and ``b``.
    volume : numpy.ndarray
        Cell areas ``V_c``.
    D : scipy.sparse.csr_matrix
        Face differences, ``(D u)_f = u_a - u_b``.
    indices, indptr : numpy.ndarray
        CSC pattern of ``A``.
    assembly : scipy.sparse.csr_matrix
        Maps ``[G (n_faces); diag (n)]`` to the CSC data of ``A``.
    """

    n: int
    face_a: np.ndarray
    face_b: np.ndarray
    face_len: np.ndarray
    face_ha: np.ndarray
    face_hb: np.ndarray
    volume: np.ndarray
    D: sp.csr_matrix
    indices: np.ndarray
    indptr: np.ndarray
    assembly: sp.csr_matrix

    def matrix(self, G: np.ndarray, diag: np.ndarray) -> sp.csc_matrix:
        """Assemble ``A = D^T diag(G) D + diag(diag)`` in CSC format."""
        data = self.assembly @ np.concatenate([G, diag])
        return sp.csc_matrix((data, self.indices, self.indptr), shape=(self.n, self.n))

    def conductance(self, sigma: np.ndarray):
        """Face conductances ``G`` and their derivatives with respect to ``log σ_a``, ``log σ_b``.

        Returns ``(G, dG/dlog σ_a, dG/dlog σ_b)``, one value per interior face.
        """
        ra = self.face_ha / sigma[self.face_a]
        rb = self.face_hb / sigma[self.face_b]
        G = self.face_len / (ra + rb)
        g2 = G * G / self.face_len
        return G, g2 * ra, g2 * rb


def fv_system(mesh: PaddedMesh) -> FVSystem:
    """Faces, cell areas and the assembly map of the mesh (built once per operator)."""
    nz, nx = mesh.shape
    n = nz * nx
    idx = np.arange(n).reshape(nz, nx)
    # vertical faces between (iz, ix) and (iz, ix + 1)
    xa, xb = idx[:, :-1].ravel(), idx[:, 1:].ravel()
    x_len = np.repeat(mesh.hz, nx - 1)
    x_ha = np.tile(0.5 * mesh.hx[:-1], nz)
    x_hb = np.tile(0.5 * mesh.hx[1:], nz)
    # horizontal faces between (iz, ix) and (iz + 1, ix)
    za, zb = idx[:-1, :].ravel(), idx[1:, :].ravel()
    z_len = np.tile(mesh.hx, nz - 1)
    z_ha = np.repeat(0.5 * mesh.hz[:-1], nx)
    z_hb = np.repeat(0.5 * mesh.hz[1:], nx)
    face_a = np.concatenate([xa, za])
    face_b = np.concatenate([xb, zb])
    nf = face_a.size
    faces = np.arange(nf)
    D = sp.csr_matrix(
        (np.r_[np.ones(nf), -np.ones(nf)], (np.r_[faces, faces], np.r_[face_a, face_b])),
        shape=(nf, n),
    )
    # COO entries of A: (a,a) +G, (b,b) +G, (a,b) -G, (b,a) -G, (c,c) +diag
    cells = np.arange(n)
    rows = np.concatenate([face_a, face_b, face_a, face_b, cells])
    cols = np.concatenate([face_a, face_b, face_b, face_a, cells])
    src = np.concatenate([faces, faces, faces, faces, nf + cells])
    sign = np.concatenate([np.ones(2 * nf), -np.ones(2 * nf), np.ones(n)])
    key = cols.astype(np.int64) * n + rows  # CSC order: by column, then row
    unique, position = np.unique(key, return_inverse=True)
    indices = (unique % n).astype(np.int32)
    indptr = np.searchsorted(unique // n, np.arange(n + 1)).astype(np.int32)
    assembly = sp.csr_matrix((sign, (position, src)), shape=(unique.size, nf + n))
    volume = np.outer(mesh.hz, mesh.hx).ravel()
    return FVSystem(
        n,
        face_a,
        face_b,
        np.concatenate([x_len, z_len]),
        np.concatenate([x_ha, z_ha]),
        np.concatenate([x_hb, z_hb]),
        volume,
        D,
        indices,
        indptr,
        assembly,
    )


def robin_coefficients(mesh: PaddedMesh, k: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Robin (Dey–Morrison) boundary coefficients ``β_c(k)``, shape ``(k.size, n)``.

    On the left, right and bottom boundary faces the transformed potential is assumed to
    decay like that of a point source at ``reference`` on the surface of a half-space,
    ``φ̃ ∝ K0(k r)``, which gives ``∂φ̃/∂n + ν φ̃ = 0`` with
    ``ν = k K1(k r) / K0(k r) cos θ``, ``r`` the distance from ``reference`` to the face
    centre and ``cos θ = r̂ · n̂``. Eliminating the face value with a one-sided difference
    over the half-cell ``h/2`` gives an outward flux ``σ_c β φ_c`` with
    ``β = Σ_faces L 2ν / (2 + h ν)`` (``h`` the cell width normal to the face).
    """
    nz, nx = mesh.shape
    xc, zc = mesh.x_centers, mesh.z_centers
    idx = np.arange(nz * nx).reshape(nz, nx)
    # (cell, face centre x, face centre z, normal x, normal z, length, width normal to face)
    parts = [
        (idx[:, 0], np.full(nz, mesh.x_edges[0]), zc, -1.0, 0.0, mesh.hz, np.full(nz, mesh.hx[0])),
        (
            idx[:, -1],
            np.full(nz, mesh.x_edges[-1]),
            zc,
            1.0,
            0.0,
            mesh.hz,
            np.full(nz, mesh.hx[-1]),
        ),
        (
            idx[-1, :],
            xc,
            np.full(nx, mesh.z_edges[-1]),
            0.0,
            1.0,
            mesh.hx,
            np.full(nx, mesh.hz[-1]),
        ),
    ]
    beta = np.zeros((k.size, nz * nx))
    for cell, fx, fz, nxn, nzn, length, h in parts:
        dx, dz = fx - reference[0], fz - reference[1]
        r = np.hypot(dx, dz)
        cos = (dx * nxn + dz * nzn) / r
        kr = np.outer(k, r)
        nu = k[:, None] * k1e(kr) / k0e(kr) * cos
        np.add.at(beta, (slice(None), cell), length * 2.0 * nu / (2.0 + h * nu))
    return beta


def surface_interpolation(mesh: PaddedMesh, x: np.ndarray) -> sp.csc_matrix:
    """Linear interpolation in ``x`` from the top-row cell centres, shape ``(n, x.size)``.

    Column ``e`` holds the weights of electrode ``e``: ``1 - t`` and ``t`` on the two top-row
    cells whose centres bracket ``x_e``. The same column is used as the (scaled) source term
    of a current electrode and to read the potential at a potential electrode, so sources and
    receivers are adjoint to each other.
    """
    xc = mesh.x_centers
    i = np.clip(np.searchsorted(xc, x) - 1, 0, xc.size - 2)
    t = np.clip((x - xc[i]) / (xc[i + 1] - xc[i]), 0.0, 1.0)
    cols = np.arange(x.size)
    return sp.csc_matrix(
        (np.r_[1.0 - t, t], (np.r_[i, i + 1], np.r_[cols, cols])), shape=(mesh.size, x.size)
    )
