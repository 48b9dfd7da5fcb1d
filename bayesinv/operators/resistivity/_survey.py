"""Survey geometry of the DC resistivity operator.

Electrode and ``abmn`` checks, geometric factors and the selection of measured potentials.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from bayesinv.grid import Grid2D
from bayesinv.operators._points import check_points

_NAME = "DCResistivity2p5D"


def check_electrodes(grid: Grid2D, electrodes) -> np.ndarray:
    elec = check_points(electrodes, "electrodes", _NAME)
    x, z = elec[:, 0], elec[:, 1]
    tol = 1e-9 * max(1.0, abs(grid.z0), grid.dz)
    off = np.abs(z - grid.z0) > tol
    if np.any(off):
        i = np.flatnonzero(off)
        raise ValueError(
            f"{_NAME}: electrodes must be on the surface z = {grid.z0} (the top of the grid); "
            f"electrode(s) {i[:10].tolist()} are not (first at (x, z) = {tuple(elec[i[0]])})"
        )
    xe = grid.x_edges
    outside = (x < xe[0]) | (x > xe[-1])
    if np.any(outside):
        i = np.flatnonzero(outside)
        raise ValueError(
            f"{_NAME}: electrode(s) {i[:10].tolist()} lie outside the grid "
            f"x in [{xe[0]}, {xe[-1]}] (first at x = {x[i[0]]})"
        )
    return elec


def check_abmn(abmn, n_electrodes: int) -> np.ndarray:
    arr = np.asarray(abmn)
    if arr.ndim != 2 or arr.shape[1] != 4 or arr.shape[0] == 0:
        raise ValueError(f"{_NAME}: abmn must have shape (n_data, 4), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
            raise ValueError(f"{_NAME}: abmn must hold integer electrode indices")
    arr = arr.astype(np.int64)
    a, b, m, n = arr.T
    rows = np.arange(arr.shape[0])

    def fail(mask, what):
        if np.any(mask):
            raise ValueError(
                f"{_NAME}: abmn row(s) {rows[mask][:10].tolist()} {what} "
                f"(first: {arr[mask][0].tolist()})"
            )

    fail(
        (a < 0) | (a >= n_electrodes) | (m < 0) | (m >= n_electrodes),
        f"have A or M outside 0..{n_electrodes - 1}",
    )
    fail(
        (b < -1) | (b >= n_electrodes) | (n < -1) | (n >= n_electrodes),
        f"have B or N outside -1..{n_electrodes - 1} (-1 = remote electrode)",
    )
    fail(a == b, "have coincident current electrodes A == B")
    fail((m == n), "have coincident potential electrodes M == N")
    fail(
        (m == a) | (m == b) | ((n >= 0) & ((n == a) | (n == b))),
        "use a current electrode as a potential electrode",
    )
    return arr


def geometric_factor(x: np.ndarray, abmn: np.ndarray):
    """Half-space geometric factors and the range of source-receiver distances."""
    a, b, m, n = abmn.T
    inv = np.zeros(abmn.shape[0])
    dists = []
    for cur, pot, sign in ((a, m, 1.0), (b, m, -1.0), (a, n, -1.0), (b, n, 1.0)):
        ok = (cur >= 0) & (pot >= 0)
        r = np.abs(x[cur[ok]] - x[pot[ok]])
        if np.any(r == 0.0):
            rows = np.flatnonzero(ok)[r == 0.0]
            raise ValueError(
                f"{_NAME}: abmn row(s) {rows[:10].tolist()} put a current and a potential "
                "electrode at the same position"
            )
        inv[ok] += sign / r
        dists.append(r)
    ab = (b >= 0) & (np.abs(x[a] - x[np.maximum(b, 0)]) == 0.0)
    if np.any(ab):
        raise ValueError(
            f"{_NAME}: abmn row(s) {np.flatnonzero(ab)[:10].tolist()} have coincident current "
            "electrodes (A and B at the same position)"
        )
    all_r = np.concatenate(dists)
    scale = np.zeros_like(inv)
    for cur, pot in ((a, m), (b, m), (a, n), (b, n)):
        ok = (cur >= 0) & (pot >= 0)
        scale[ok] += 1.0 / np.abs(x[cur[ok]] - x[pot[ok]])
    degenerate = np.abs(inv) <= 1e-10 * scale
    if np.any(degenerate):
        raise ValueError(
            f"{_NAME}: abmn row(s) {np.flatnonzero(degenerate)[:10].tolist()} measure zero "
            "potential difference on a half-space (infinite geometric factor)"
        )
    return 2.0 * np.pi / inv, (float(all_r.min()), float(all_r.max()))


def selection_matrix(local: np.ndarray, n_used: int, scale: np.ndarray) -> sp.csr_matrix:
    """``(n_data, n_used^2)`` matrix with ``d = S vec(V)``, ``V[e1, e2]`` receiver-major."""
    a, b, m, n = local.T
    rows, cols, vals = [], [], []
    j = np.arange(local.shape[0])
    for pot, cur, sign in ((m, a, 1.0), (m, b, -1.0), (n, a, -1.0), (n, b, 1.0)):
        ok = (pot >= 0) & (cur >= 0)
        rows.append(j[ok])
        cols.append(pot[ok] * n_used + cur[ok])
        vals.append(sign * scale[ok])
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(local.shape[0], n_used * n_used),
    )
