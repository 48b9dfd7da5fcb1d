"""Bilinear (Q1) finite elements on a tensor mesh for 2.5-D DC resistivity (private helper).

The mesh is the core :class:`~bayesinv.grid.Grid2D` extended by padding cells to the left,
right and bottom, with extra node lines through every electrode that is not already on one,
so that **every electrode is a mesh node**. An element takes the conductivity of the model
cell containing its centre (the nearest edge cell in the padding); a model cell split by an
electrode line is several elements with one conductivity.

For one wavenumber ``k`` the Galerkin system is ``A_k(σ) = Σ_e σ_e B_e(k)`` with the element
matrices (local nodes ``(iz, ix)`` in C order, ``a = h_x``, ``b = h_z``)

    B_e(k) = M_b ⊗ S_a + S_b ⊗ M_a + k² M_b ⊗ M_a + R_e(k),
    S_h = [[1, -1], [-1, 1]] / h,       M_h = [[2, 1], [1, 2]] h / 6,

and ``R_e(k)`` the Robin (Dey–Morrison) term ``ν ∫ φ ψ ds`` on the element's edges on the left,
right and bottom boundary (``ν = k K1(kr)/K0(kr) cos θ`` from a reference point on the
surface; the 1-D consistent mass matrix of the edge). ``A_k`` is linear in ``σ``, so
``∂A_k/∂ log σ_e = σ_e B_e(k)`` exactly. The surface is a natural (no-flux) boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import k0e, k1e

from bayesinv.grid import Grid2D


@dataclass(frozen=True)
class FEMesh:
    """Node lines, element-to-cell map and electrode nodes of the Q1 mesh.

    Attributes
    ----------
    x_nodes, z_nodes : numpy.ndarray
        Node coordinates along ``x`` and ``z`` (``z`` positive down; ``z_nodes[0]`` is the
        surface). Node ``(iz, ix)`` has index ``iz * x_nodes.size + ix``.
    cell : numpy.ndarray
        For each element (C order, ``iz * (nx_n - 1) + ix``) the model cell it belongs to.
    electrode_nodes : numpy.ndarray
        Node index of each electrode.
    """

    x_nodes: np.ndarray
    z_nodes: np.ndarray
    cell: np.ndarray
    electrode_nodes: np.ndarray

    @property
    def n_nodes(self) -> int:
        """Number of nodes (unknowns)."""
        return self.x_nodes.size * self.z_nodes.size

    @property
    def element_shape(self) -> tuple[int, int]:
        """``(nz_elements, nx_elements)``."""
        return (self.z_nodes.size - 1, self.x_nodes.size - 1)

    @property
    def element_nodes(self) -> np.ndarray:
        """``(n_elements, 4)`` node indices, local order (0,0), (0,1), (1,0), (1,1) in (iz, ix)."""
        nze, nxe = self.element_shape
        nxn = nxe + 1
        iz, ix = np.divmod(np.arange(nze * nxe), nxe)
        base = iz * nxn + ix
        return np.column_stack([base, base + 1, base + nxn, base + nxn + 1]).astype(np.int64)


def _merge_lines(lines: np.ndarray, extra: np.ndarray, tol: float) -> np.ndarray:
    """Sorted union of ``lines`` and ``extra``, values closer than ``tol`` merged into ``lines``."""
    out = np.sort(lines)
    for v in np.unique(extra):
        if np.min(np.abs(out - v)) > tol:
            out = np.sort(np.append(out, v))
    return out


# offsets (in cells) of the auxiliary node lines around each electrode
_AUX_STEPS = (-1.0, -0.5, 0.5, 1.0)


def fe_mesh(
    grid: Grid2D, electrodes: np.ndarray, n_pad: int, factor: float, refine: int = 1
) -> FEMesh:
    """Build the padded tensor mesh of ``grid`` with node lines through every electrode.

    Node lines are added through each electrode, and at half and one cell to either side
    (``x ± dx/2``, ``x ± dx``; the same in ``z`` for buried electrodes) where no line is
    within a quarter cell (so these never make sliver elements).

    ``refine`` splits every core cell into ``refine x refine`` elements (padding widths are
    those of the unrefined grid, so refined meshes cover the same domain).
    """
    grow = factor ** np.arange(1, n_pad + 1)
    core_x = grid.x0 + grid.dx * np.arange(grid.nx * refine + 1) / refine
    core_z = grid.z0 + grid.dz * np.arange(grid.nz * refine + 1) / refine
    left = grid.x0 - grid.dx * np.cumsum(grow)[::-1]
    right = core_x[-1] + grid.dx * np.cumsum(grow)
    bottom = core_z[-1] + grid.dz * np.cumsum(grow)
    tol = 1e-6 * min(grid.dx, grid.dz) / refine
    # every electrode on a node (exactly), then nodes every half cell within one cell of it
    # where no node is closer than a quarter cell (no sliver elements from those)
    ex, ez = electrodes[:, 0], electrodes[:, 1]
    buried = ez[ez > grid.z0 + tol]
    x_nodes = _merge_lines(np.concatenate([left, core_x, right]), ex, tol)
    z_nodes = _merge_lines(np.concatenate([core_z, bottom]), ez, tol)
    steps = _AUX_STEPS
    x_aux = np.concatenate([ex + f * grid.dx for f in steps])
    z_aux = np.concatenate([buried + f * grid.dz for f in steps])
    x_nodes = _merge_lines(x_nodes, x_aux[(x_aux > grid.x0) & (x_aux < core_x[-1])], 0.26 * grid.dx)
    z_nodes = _merge_lines(z_nodes, z_aux[(z_aux > grid.z0) & (z_aux < core_z[-1])], 0.26 * grid.dz)
    xc = 0.5 * (x_nodes[1:] + x_nodes[:-1])
    zc = 0.5 * (z_nodes[1:] + z_nodes[:-1])
    ix = np.clip(np.floor((xc - grid.x0) / grid.dx).astype(np.int64), 0, grid.nx - 1)
    iz = np.clip(np.floor((zc - grid.z0) / grid.dz).astype(np.int64), 0, grid.nz - 1)
    cell = (iz[:, None] * grid.nx + ix[None, :]).ravel()
    ex = np.argmin(np.abs(x_nodes[None, :] - electrodes[:, :1]), axis=1)
    ez = np.argmin(np.abs(z_nodes[None, :] - electrodes[:, 1:]), axis=1)
    return FEMesh(x_nodes, z_nodes, cell, (ez * x_nodes.size + ex).astype(np.int64))


def element_matrices(
    mesh: FEMesh, k: np.ndarray, reference: np.ndarray, robin_top: bool = False
) -> np.ndarray:
    """Unit-conductivity element matrices ``B_e(k)``, shape ``(k.size, n_elements, 16)``.

    ``robin_top`` also puts the Robin condition on the top edge (a whole space, for tests).
    """
    hx, hz = np.diff(mesh.x_nodes), np.diff(mesh.z_nodes)
    nze, nxe = hz.size, hx.size
    s1 = np.array([[1.0, -1.0], [-1.0, 1.0]])
    m1 = np.array([[2.0, 1.0], [1.0, 2.0]]) / 6.0
    a = np.broadcast_to(hx[None, :], (nze, nxe)).ravel()
    b = np.broadcast_to(hz[:, None], (nze, nxe)).ravel()
    # kron(M_b, S_a) etc. per element: outer products of the 2x2 blocks, flattened to 16
    stiff = (b / a)[:, None] * np.kron(m1, s1).ravel() + (a / b)[:, None] * np.kron(s1, m1).ravel()
    mass = (a * b)[:, None] * np.kron(m1, m1).ravel()
    out = stiff[None] + (k**2)[:, None, None] * mass[None]
    eidx = np.arange(nze * nxe).reshape(nze, nxe)
    xn, zn = mesh.x_nodes, mesh.z_nodes
    xc, zc = 0.5 * (xn[1:] + xn[:-1]), 0.5 * (zn[1:] + zn[:-1])
    # (elements, edge-centre x, z, outward normal, edge length, the two local nodes)
    edges = [
        (eidx[:, 0], np.full(nze, xn[0]), zc, (-1.0, 0.0), hz, (0, 2)),
        (eidx[:, -1], np.full(nze, xn[-1]), zc, (1.0, 0.0), hz, (1, 3)),
        (eidx[-1, :], xc, np.full(nxe, zn[-1]), (0.0, 1.0), hx, (2, 3)),
    ]
    if robin_top:
        edges.append((eidx[0, :], xc, np.full(nxe, zn[0]), (0.0, -1.0), hx, (0, 1)))
    for elem, fx, fz, normal, length, (p, q) in edges:
        dx, dz = fx - reference[0], fz - reference[1]
        r = np.hypot(dx, dz)
        cos = (dx * normal[0] + dz * normal[1]) / r
        kr = np.outer(k, r)
        nu = k[:, None] * k1e(kr) / k0e(kr) * cos * length  # (nk, n_edges)
        for i, j, w in ((p, p, 2.0), (q, q, 2.0), (p, q, 1.0), (q, p, 1.0)):
            out[:, elem, 4 * i + j] += nu * w / 6.0
    return np.ascontiguousarray(out)
