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
    node_z : numpy.ndarray or None
        Actual depth of every node when the mesh follows a topography (``x_nodes``/``z_nodes``
        are then the reference lines of the undeformed mesh), ``None`` for a flat surface.
    """

    x_nodes: np.ndarray
    z_nodes: np.ndarray
    cell: np.ndarray
    electrode_nodes: np.ndarray
    node_z: np.ndarray | None = None

    @property
    def node_xz(self) -> tuple[np.ndarray, np.ndarray]:
        """Actual ``(x, z)`` of every node (``z`` follows the topography when deformed)."""
        nzn, nxn = self.z_nodes.size, self.x_nodes.size
        x = np.broadcast_to(self.x_nodes[None, :], (nzn, nxn)).ravel()
        z = np.broadcast_to(self.z_nodes[:, None], (nzn, nxn)).ravel()
        return x, (z if self.node_z is None else self.node_z)

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


def _padding(width: float, n_pad: int, factor: float, reach: float) -> np.ndarray:
    """Cumulative offsets of ``n_pad`` cells ``width f^i``, more until they reach ``reach``."""
    grow = factor ** np.arange(1, n_pad + 1)
    offs = width * np.cumsum(grow)
    i = n_pad
    while reach > 0.0 and (offs.size == 0 or offs[-1] < reach):
        i += 1
        offs = np.append(offs, (offs[-1] if offs.size else 0.0) + width * factor**i)
    return offs


def _grade(lines: np.ndarray, centres: np.ndarray, h: float) -> np.ndarray:
    """Lines at ``c ± h 2^j`` around each remote electrode ``c`` (a graded local mesh).

    Padding cells far from the grid are wide; the source at a remote electrode needs the
    same resolution around it as an electrode in the grid, so its neighbourhood is graded
    from ``h`` up to the local padding width (each level merged where no line is within a
    quarter of that level's step).
    """
    for c in centres:
        step = h
        while step < np.max(np.diff(lines)) and step < np.ptp(lines):
            for v in (c - step, c + step):
                if lines[0] < v < lines[-1]:
                    lines = _merge_lines(lines, np.array([v]), 0.26 * step)
            step *= 2.0
    return lines


def fe_mesh(
    grid: Grid2D,
    electrodes: np.ndarray,
    n_pad: int,
    factor: float,
    refine: int = 1,
    shift=None,
) -> FEMesh:
    """Build the padded tensor mesh of ``grid`` with node lines through every electrode.

    Node lines are added through each electrode, and at half and one cell to either side
    (``x ± dx/2``, ``x ± dx``; the same in ``z`` for buried electrodes) where no line is
    within a quarter cell (so these never make sliver elements).

    ``refine`` splits every core cell into ``refine x refine`` elements (padding widths are
    those of the unrefined grid, so refined meshes cover the same domain).

    Electrodes outside the grid (remote electrodes) extend the padding, continuing its
    geometric growth, until the boundary is beyond them by at least the electrode span
    (largest distance between electrodes in ``x`` or ``z``, and at least the normal padding
    width); the bottom then reaches at least that span below the grid.

    ``shift`` (a function ``d(x)``, the topography's depth below the grid top) makes a
    terrain-following mesh: ``electrodes`` are then given in reference coordinates
    ``(x, z - d(x))`` and node ``(ζ, x)`` is placed at depth ``ζ + d(x) t(ζ)`` with
    ``t = 1`` down to the grid bottom (or the deepest electrode) and ``t`` falling linearly to
    0 at the mesh bottom, so the bottom boundary stays flat and the sides vertical.
    """
    core_x = grid.x0 + grid.dx * np.arange(grid.nx * refine + 1) / refine
    core_z = grid.z0 + grid.dz * np.arange(grid.nz * refine + 1) / refine
    ex, ez = electrodes[:, 0], electrodes[:, 1]
    w_x = _padding(grid.dx, n_pad, factor, 0.0)
    w_x = w_x[-1] if w_x.size else 0.0
    d_left = max(0.0, core_x[0] - ex.min())
    d_right = max(0.0, ex.max() - core_x[-1])
    d_bottom = max(0.0, ez.max() - core_z[-1])
    span = max(np.ptp(ex), np.ptp(ez))
    reach = [d + max(span, w_x) if d > 0 else 0.0 for d in (d_left, d_right, d_bottom)]
    if max(d_left, d_right) > 0:
        reach[2] = max(reach[2], span)
    left = core_x[0] - _padding(grid.dx, n_pad, factor, reach[0])[::-1]
    right = core_x[-1] + _padding(grid.dx, n_pad, factor, reach[1])
    bottom = core_z[-1] + _padding(grid.dz, n_pad, factor, reach[2])
    tol = 1e-6 * min(grid.dx, grid.dz) / refine
    # every electrode on a node (exactly), then nodes every half cell within one cell of it
    # where no node is closer than a quarter cell (no sliver elements from those)
    buried = ez[(ez > grid.z0 + tol) & (ez < core_z[-1])]
    x_nodes = _merge_lines(np.concatenate([left, core_x, right]), ex, tol)
    z_nodes = _merge_lines(np.concatenate([core_z, bottom]), ez, tol)
    steps = _AUX_STEPS
    x_aux = np.concatenate([ex[(ex >= grid.x0) & (ex <= core_x[-1])] + f * grid.dx for f in steps])
    z_aux = np.concatenate([buried + f * grid.dz for f in steps])
    x_nodes = _merge_lines(x_nodes, x_aux[(x_aux > grid.x0) & (x_aux < core_x[-1])], 0.26 * grid.dx)
    z_nodes = _merge_lines(z_nodes, z_aux[(z_aux > grid.z0) & (z_aux < core_z[-1])], 0.26 * grid.dz)
    x_nodes = _grade(x_nodes, ex[(ex < grid.x0) | (ex > core_x[-1])], grid.dx)
    z_nodes = _grade(z_nodes, ez[ez > core_z[-1]], grid.dz)
    ix_e = np.argmin(np.abs(x_nodes[None, :] - electrodes[:, :1]), axis=1)
    iz_e = np.argmin(np.abs(z_nodes[None, :] - electrodes[:, 1:]), axis=1)
    enodes = (iz_e * x_nodes.size + ix_e).astype(np.int64)
    node_z = None
    if shift is not None:
        d = shift(x_nodes)
        if np.any(d != 0.0):
            top = max(core_z[-1], ez.max())
            t = np.clip((z_nodes[-1] - z_nodes) / (z_nodes[-1] - top), 0.0, 1.0)
            node_z = (z_nodes[:, None] + t[:, None] * d[None, :]).ravel()
    if node_z is None:
        xc = 0.5 * (x_nodes[1:] + x_nodes[:-1])
        zc = 0.5 * (z_nodes[1:] + z_nodes[:-1])
        xc, zc = np.broadcast_to(xc[None, :], (zc.size, xc.size)), zc[:, None]
    else:
        z4 = node_z[FEMesh(x_nodes, z_nodes, np.zeros(0), enodes).element_nodes]
        xc = 0.5 * (x_nodes[1:] + x_nodes[:-1])[None, :]
        zc = z4.mean(axis=1).reshape(z_nodes.size - 1, x_nodes.size - 1)
    ix = np.clip(np.floor((xc - grid.x0) / grid.dx).astype(np.int64), 0, grid.nx - 1)
    iz = np.clip(np.floor((zc - grid.z0) / grid.dz).astype(np.int64), 0, grid.nz - 1)
    cell = (iz * grid.nx + ix).ravel()
    return FEMesh(x_nodes, z_nodes, cell, enodes, node_z)


def _quad_matrices(x4: np.ndarray, z4: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Isoparametric Q1 stiffness and mass ``(n_e, 16)`` of general quadrilaterals.

    ``x4``, ``z4``: ``(n_e, 4)`` node coordinates in local order. 2x2 Gauss quadrature, exact
    for parallelograms (constant Jacobian: the integrands are of degree <= 2 per direction).
    """
    g = 0.5 + np.array([-0.5, 0.5]) / np.sqrt(3.0)
    stiff = np.zeros((x4.shape[0], 4, 4))
    mass = np.zeros_like(stiff)
    for u in g:  # u along x (local ix), v along z (local iz)
        for v in g:
            N = np.array([(1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v])
            dNu = np.array([-(1 - v), 1 - v, -v, v])
            dNv = np.array([-(1 - u), -u, 1 - u, u])
            jxu, jzu = x4 @ dNu, z4 @ dNu
            jxv, jzv = x4 @ dNv, z4 @ dNv
            det = jxu * jzv - jzu * jxv
            # physical gradients: [dN/dx, dN/dz] = J^{-T} [dN/du, dN/dv]
            gx = (jzv[:, None] * dNu[None] - jzu[:, None] * dNv[None]) / det[:, None]
            gz = (-jxv[:, None] * dNu[None] + jxu[:, None] * dNv[None]) / det[:, None]
            wd = 0.25 * det
            stiff += wd[:, None, None] * (
                gx[:, :, None] * gx[:, None] + gz[:, :, None] * gz[:, None]
            )
            mass += wd[:, None, None] * np.outer(N, N)[None]
    return stiff.reshape(-1, 16), mass.reshape(-1, 16)


def element_matrices(
    mesh: FEMesh, k: np.ndarray, reference: np.ndarray, robin_top: bool = False
) -> np.ndarray:
    """Unit-conductivity element matrices ``B_e(k)``, shape ``(k.size, n_elements, 16)``.

    ``robin_top`` also puts the Robin condition on the top edge (a whole space, for tests).
    """
    hx, hz = np.diff(mesh.x_nodes), np.diff(mesh.z_nodes)
    nze, nxe = hz.size, hx.size
    if mesh.node_z is None:
        s1 = np.array([[1.0, -1.0], [-1.0, 1.0]])
        m1 = np.array([[2.0, 1.0], [1.0, 2.0]]) / 6.0
        a = np.broadcast_to(hx[None, :], (nze, nxe)).ravel()
        b = np.broadcast_to(hz[:, None], (nze, nxe)).ravel()
        # kron(M_b, S_a) etc. per element: outer products of the 2x2 blocks, flattened to 16
        stiff = (b / a)[:, None] * np.kron(m1, s1).ravel()
        stiff = stiff + (a / b)[:, None] * np.kron(s1, m1).ravel()
        mass = (a * b)[:, None] * np.kron(m1, m1).ravel()
    else:
        x_all, z_all = mesh.node_xz
        en = mesh.element_nodes
        stiff, mass = _quad_matrices(x_all[en], z_all[en])
    out = stiff[None] + (k**2)[:, None, None] * mass[None]
    eidx = np.arange(nze * nxe).reshape(nze, nxe)
    xn, zn = mesh.x_nodes, mesh.z_nodes
    xc, zc = 0.5 * (xn[1:] + xn[:-1]), 0.5 * (zn[1:] + zn[:-1])
    zl, zr = zc, zc
    hl, hr = hz, hz
    if mesh.node_z is not None:  # the side edges are vertical, shifted (and in the taper, cut)
        zg = mesh.node_z.reshape(zn.size, xn.size)
        zl, zr = 0.5 * (zg[1:, 0] + zg[:-1, 0]), 0.5 * (zg[1:, -1] + zg[:-1, -1])
        hl, hr = np.diff(zg[:, 0]), np.diff(zg[:, -1])
    # (elements, edge-centre x, z, outward normal, edge length, the two local nodes)
    edges = [
        (eidx[:, 0], np.full(nze, xn[0]), zl, (-1.0, 0.0), hl, (0, 2)),
        (eidx[:, -1], np.full(nze, xn[-1]), zr, (1.0, 0.0), hr, (1, 3)),
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
