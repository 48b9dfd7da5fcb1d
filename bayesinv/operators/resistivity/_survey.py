"""Survey geometry of the DC resistivity operator.

Electrode and ``abmn`` checks, geometric factors and the selection of measured potentials.
"""

from __future__ import annotations

import numpy as np

from bayesinv.grid import Grid2D
from bayesinv.operators._points import check_points

_NAME = "DCResistivity2p5D"


def check_electrodes(grid: Grid2D, electrodes) -> np.ndarray:
    """Electrodes as ``(n, 2)`` float64: inside the grid, at or below the surface, distinct."""
    elec = check_points(electrodes, "electrodes", _NAME)
    x, z = elec[:, 0], elec[:, 1]
    tol = 1e-9 * max(1.0, abs(grid.z0), grid.dz)
    above = z < grid.z0 - tol
    if np.any(above):
        i = np.flatnonzero(above)
        raise ValueError(
            f"{_NAME}: electrodes {i[:10].tolist()} are above the surface z = {grid.z0} "
            f"(in the air; first electrodes[{i[0]}] = {tuple(elec[i[0]])}); z is positive down"
        )
    elec[np.abs(z - grid.z0) <= tol, 1] = grid.z0
    xe, ze = grid.x_edges, grid.z_edges
    outside = (x < xe[0]) | (x > xe[-1]) | (z > ze[-1])
    if np.any(outside):
        i = np.flatnonzero(outside)
        raise ValueError(
            f"{_NAME}: electrode(s) {i[:10].tolist()} lie outside the grid "
            f"x in [{xe[0]}, {xe[-1]}], z in [{ze[0]}, {ze[-1]}] "
            f"(first electrodes[{i[0]}] = {tuple(elec[i[0]])})"
        )
    order = np.lexsort((z, x))
    same = np.all(np.abs(np.diff(elec[order], axis=0)) <= tol, axis=1)
    if np.any(same):
        i, j = sorted(order[np.flatnonzero(same)[0] : np.flatnonzero(same)[0] + 2])
        raise ValueError(
            f"{_NAME}: electrodes[{i}] and electrodes[{j}] coincide at {tuple(elec[i])}; "
            "give each position once and reuse its index in abmn"
        )
    return elec


def check_abmn(abmn, n_electrodes: int, where: str = _NAME) -> np.ndarray:
    """``abmn`` as int64 ``(n_data, 4)``: valid indices, no electrode used twice in a row."""
    arr = np.asarray(abmn)
    if arr.ndim != 2 or arr.shape[1] != 4 or arr.shape[0] == 0:
        raise ValueError(f"{where}: abmn must have shape (n_data, 4), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
            raise ValueError(f"{where}: abmn must hold integer electrode indices")
    arr = arr.astype(np.int64)
    a, b, m, n = arr.T
    rows = np.arange(arr.shape[0])

    def fail(mask, what):
        if np.any(mask):
            raise ValueError(
                f"{where}: abmn row(s) {rows[mask][:10].tolist()} {what} "
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


_TERMS = ((0, 2, 1.0), (1, 2, -1.0), (0, 3, -1.0), (1, 3, 1.0))  # (current, potential, sign)


def geometric_factor(elec: np.ndarray, abmn: np.ndarray, z0: float, depth=None):
    """Half-space geometric factors and the range of source-receiver distances.

    ``K = 4π / Σ ±(1/r + 1/r')`` with ``r'`` the distance from the image of the current
    electrode above the surface (``K = 2π / Σ ±1/r`` for surface electrodes). With depths
    ``h`` below the (local) surface, ``r'² = r² + 4 h_c h_p`` (the flat-surface identity,
    used as the definition under topography); by default ``h = z - z0``.
    """
    depth = elec[:, 1] - z0 if depth is None else depth
    inv = np.zeros(abmn.shape[0])
    scale = np.zeros(abmn.shape[0])
    dists = []
    for c, p, sign in _TERMS:
        cur, pot = abmn[:, c], abmn[:, p]
        ok = (cur >= 0) & (pot >= 0)
        d = elec[cur[ok]] - elec[pot[ok]]
        r = np.hypot(d[:, 0], d[:, 1])
        r_image = np.sqrt(r**2 + 4.0 * depth[cur[ok]] * depth[pot[ok]])
        inv[ok] += sign * (1.0 / r + 1.0 / r_image)
        scale[ok] += 1.0 / r + 1.0 / r_image
        dists.extend([r, r_image])
    degenerate = np.abs(inv) <= 1e-10 * scale
    if np.any(degenerate):
        raise ValueError(
            f"{_NAME}: abmn row(s) {np.flatnonzero(degenerate)[:10].tolist()} measure zero "
            "potential difference on a half-space (infinite geometric factor)"
        )
    all_r = np.concatenate(dists)
    return 4.0 * np.pi / inv, (float(all_r.min()), float(all_r.max()))


def selection(local: np.ndarray, scale: np.ndarray):
    """``(pot, cur, coef)`` of shape ``(n_data, 4)``: ``d_j = Σ_t coef V[pot, cur]``.

    ``local`` is ``abmn`` in used-electrode indices (``-1`` remote); remote terms get
    ``coef = 0``.
    """
    pot = np.zeros(local.shape, dtype=np.int64)
    cur = np.zeros(local.shape, dtype=np.int64)
    coef = np.zeros(local.shape)
    for t, (c, p, sign) in enumerate(_TERMS):
        ok = (local[:, c] >= 0) & (local[:, p] >= 0)
        pot[ok, t], cur[ok, t] = local[ok, p], local[ok, c]
        coef[ok, t] = sign * scale[ok]
    return pot, cur, coef
