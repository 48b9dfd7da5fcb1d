"""Python-side set-up of the Q1 elliptic operator: mesh, boundaries, loads, observations.

Everything here runs once per operator; the numba kernels (``_q1_numba``) get the arrays.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import scipy.sparse as sp

from bayesinv._checks import check_choice, check_int
from bayesinv.grid import Grid2D
from bayesinv.operators._points import check_points
from bayesinv.operators.elliptic._solver import make_solver

SIDES = ("left", "right", "top", "bottom")
_S = np.array([[1.0, -1.0], [-1.0, 1.0]])
_M = np.array([[2.0, 1.0], [1.0, 2.0]]) / 6.0


def reference_matrices(hx: float, hz: float):
    """Unit-coefficient element matrices ``Kx``, ``Kz`` (local node ``l = 2 lz + lx``)."""
    Kx = (hz / hx) * np.kron(_M, _S)  # kron(z-factor, x-factor) matches l = 2 lz + lx
    Kz = (hx / hz) * np.kron(_S, _M)
    return np.ascontiguousarray(Kx), np.ascontiguousarray(Kz)


def mesh_shape(grid: Grid2D, mesh, where: str) -> tuple[int, int]:
    """Validate ``mesh = (nx_mesh, nz_mesh)``: integer multiples of the coefficient grid."""
    if mesh is None:
        return grid.nx, grid.nz
    if isinstance(mesh, int | np.integer) and not isinstance(mesh, bool):
        raise ValueError(
            f"{where}: mesh must be a pair (nx_mesh, nz_mesh) of element counts, got {mesh!r}"
        )
    try:
        nxm, nzm = mesh
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}: mesh must be a pair (nx_mesh, nz_mesh) of element counts, got {mesh!r}"
        ) from None
    nxm = check_int(nxm, where, "mesh[0] (nx_mesh)", low=1)
    nzm = check_int(nzm, where, "mesh[1] (nz_mesh)", low=1)
    if nxm % grid.nx or nzm % grid.nz:
        raise ValueError(
            f"{where}: the coefficient grid ({grid.nx} x {grid.nz} cells) does not nest in "
            f"mesh {(nxm, nzm)}: mesh must be integer multiples (nx_mesh = k nx, nz_mesh = "
            f"l nz) so that every element lies in one coefficient cell"
        )
    return nxm, nzm


def _values_at(spec, x, z, where: str, name: str) -> np.ndarray:
    """Evaluate a scalar or a callable ``g(x, z)`` at the points ``(x, z)``."""
    if isinstance(spec, Real) and not isinstance(spec, bool):
        out = np.full(x.shape, float(spec))
    elif callable(spec):
        out = np.broadcast_to(np.asarray(spec(x, z), dtype=float), x.shape).copy()
    else:
        raise ValueError(f"{where}: {name} must be a number or a callable g(x, z), got {spec!r}")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{where}: {name} gives non-finite values")
    return out


def parse_boundary(boundary, where: str) -> dict:
    """``{side: (kind, value)}`` for all four sides; unlisted sides are Dirichlet 0."""
    out = {side: ("dirichlet", 0.0) for side in SIDES}
    if boundary is None:
        return out
    if not isinstance(boundary, dict):
        raise ValueError(
            f"{where}: boundary must be a dict {{side: (kind, value)}}, got {boundary!r}"
        )
    for side, spec in boundary.items():
        check_choice(side, where, "boundary key", SIDES)
        if not (isinstance(spec, tuple) and len(spec) == 2):
            raise ValueError(
                f"{where}: boundary[{side!r}] must be a pair (kind, value) with kind "
                f"'dirichlet' or 'neumann', got {spec!r}"
            )
        check_choice(spec[0], where, f"boundary[{side!r}][0]", ("dirichlet", "neumann"))
        out[side] = spec
    if all(kind == "neumann" for kind, _ in out.values()):
        raise ValueError(
            f"{where}: boundary has no Dirichlet side; the pure Neumann problem determines u only "
            f"up to a constant: make at least one side 'dirichlet'"
        )
    return out


def _side_nodes(side: str, nxm: int, nzm: int) -> np.ndarray:
    idx = np.arange((nzm + 1) * (nxm + 1)).reshape(nzm + 1, nxm + 1)
    return {"left": idx[:, 0], "right": idx[:, -1], "top": idx[0, :], "bottom": idx[-1, :]}[side]


def _mass_1d(n: int, h: float) -> sp.csr_matrix:
    main = np.full(n + 1, 2.0 * h / 3.0)
    main[[0, -1]] = h / 3.0
    off = np.full(n, h / 6.0)
    return sp.diags([off, main, off], [-1, 0, 1], format="csr")


def build_mesh(grid: Grid2D, shape, boundary, source, where: str):
    """Mesh tuple for the kernels, the solver tuple, and node coordinates."""
    nxm, nzm = shape
    hx, hz = grid.nx * grid.dx / nxm, grid.nz * grid.dz / nzm
    xn = grid.x0 + hx * np.arange(nxm + 1)
    zn = grid.z0 + hz * np.arange(nzm + 1)
    X, Z = np.meshgrid(xn, zn)
    n_nodes = X.size
    iz, ix = np.divmod(np.arange(nzm * nxm), nxm)
    base = iz * (nxm + 1) + ix
    el_nodes = np.stack([base, base + 1, base + nxm + 1, base + nxm + 2], axis=1).astype(np.int64)
    rx, rz = nxm // grid.nx, nzm // grid.nz
    el_cell = ((iz // rz) * grid.nx + ix // rx).astype(np.int64)
    Kx, Kz = reference_matrices(hx, hz)

    # load: consistent mass matrix times nodal f, plus Neumann fluxes (a du/dn = g)
    if isinstance(source, np.ndarray) or isinstance(source, list | tuple):
        f = np.asarray(source, dtype=float)
        if f.shape != X.shape or not np.all(np.isfinite(f)):
            raise ValueError(
                f"{where}: source as an array must hold finite nodal values of shape "
                f"{X.shape} (nz_mesh + 1, nx_mesh + 1), got shape {f.shape}"
            )
        f = f.ravel()
    else:
        f = _values_at(source, X.ravel(), Z.ravel(), where, "source")
    load = sp.kron(_mass_1d(nzm, hz), _mass_1d(nxm, hx)) @ f
    u_bc = np.zeros(n_nodes)
    dirichlet = np.zeros(n_nodes, dtype=bool)
    for side in SIDES:  # Neumann first, so Dirichlet corners win below
        kind, value = boundary[side]
        nodes = _side_nodes(side, nxm, nzm)
        if kind == "neumann":
            g = _values_at(value, X.ravel()[nodes], Z.ravel()[nodes], where, f"boundary[{side!r}]")
            h, n = (hz, nzm) if side in ("left", "right") else (hx, nxm)
            load[nodes] += _mass_1d(n, h) @ g
    for side in SIDES:
        kind, value = boundary[side]
        nodes = _side_nodes(side, nxm, nzm)
        if kind == "dirichlet":
            fresh = nodes[~dirichlet[nodes]]  # corners keep the first Dirichlet side's value
            u_bc[fresh] = _values_at(
                value, X.ravel()[fresh], Z.ravel()[fresh], where, f"boundary[{side!r}]"
            )
            dirichlet[nodes] = True
    free_id = np.full(n_nodes, -1, dtype=np.int64)
    free_id[~dirichlet] = np.arange(np.count_nonzero(~dirichlet))
    n_free = int(np.count_nonzero(~dirichlet))

    fid = free_id[el_nodes]
    rows = np.broadcast_to(fid[:, :, None], (fid.shape[0], 4, 4))
    cols = np.broadcast_to(fid[:, None, :], (fid.shape[0], 4, 4))
    valid = (rows >= 0) & (cols >= 0)
    solver = make_solver(rows[valid], cols[valid], n_free)
    pos = np.full(rows.shape, -1, dtype=np.int64)
    pos[valid] = np.arange(np.count_nonzero(valid))  # listed-entry index of (e, i, j)
    mesh = (el_nodes, el_cell, Kx, Kz, pos, free_id, np.int64(n_free), u_bc, load)
    return mesh, solver, (xn, zn, hx, hz)


def observation_data(grid: Grid2D, nodes, points, flux_points, flux_normals, el_cell, where):
    """Arrays of the point and flux observations (see ``_q1_numba.observe``)."""
    xn, zn, hx, hz = nodes
    nxm, nzm = xn.size - 1, zn.size - 1

    def locate(pts, name):
        tol = 1e-9 * max(xn[-1] - xn[0], zn[-1] - zn[0])
        out = (
            (pts[:, 0] < xn[0] - tol)
            | (pts[:, 0] > xn[-1] + tol)
            | (pts[:, 1] < zn[0] - tol)
            | (pts[:, 1] > zn[-1] + tol)
        )
        if np.any(out):
            bad = np.flatnonzero(out)
            raise ValueError(
                f"{where}: {name} {bad[:10].tolist()} lie outside the domain x in "
                f"[{xn[0]}, {xn[-1]}], z in [{zn[0]}, {zn[-1]}] (first: {tuple(pts[bad[0]])})"
            )
        ix = np.clip(np.floor((pts[:, 0] - xn[0]) / hx).astype(np.int64), 0, nxm - 1)
        iz = np.clip(np.floor((pts[:, 1] - zn[0]) / hz).astype(np.int64), 0, nzm - 1)
        tx = np.clip((pts[:, 0] - xn[ix]) / hx, 0.0, 1.0)
        tz = np.clip((pts[:, 1] - zn[iz]) / hz, 0.0, 1.0)
        base = iz * (nxm + 1) + ix
        nodes_ = np.stack([base, base + 1, base + nxm + 1, base + nxm + 2], axis=1)
        return iz * nxm + ix, nodes_.astype(np.int64), tx, tz

    if points is None:
        points = np.zeros((0, 2))
    else:
        points = check_points(points, "points", where)
    _, obs_nodes, tx, tz = locate(points, "points")
    obs_w = np.stack([(1 - tx) * (1 - tz), tx * (1 - tz), (1 - tx) * tz, tx * tz], axis=1)
    if flux_points is None:
        fp, fn = np.zeros((0, 2)), np.zeros((0, 2))
    else:
        fp = check_points(flux_points, "flux_points", where)
        fn = check_points(flux_normals, "flux_normals", where)
        if fn.shape != fp.shape:
            raise ValueError(
                f"{where}: flux_normals must have the shape of flux_points {fp.shape}, "
                f"got {fn.shape}"
            )
        norm = np.hypot(fn[:, 0], fn[:, 1])
        if np.any(norm == 0.0):
            raise ValueError(
                f"{where}: flux_normals {np.flatnonzero(norm == 0.0)[:10].tolist()} are zero"
            )
        fn = fn / norm[:, None]
    fl_elem, fl_nodes, tx, tz = locate(fp, "flux_points")
    gx = np.stack([-(1 - tz), 1 - tz, -tz, tz], axis=1) / hx
    gz = np.stack([-(1 - tx), -tx, 1 - tx, tx], axis=1) / hz
    obs = (
        obs_nodes,
        np.ascontiguousarray(obs_w),
        fl_elem,
        el_cell[fl_elem],
        fl_nodes,
        np.ascontiguousarray(gx * fn[:, :1]),
        np.ascontiguousarray(gz * fn[:, 1:]),
    )
    return obs, points, fp, fn
