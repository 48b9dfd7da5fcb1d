"""Node layout shared by the acoustic operators: padding, PML, point weights, CFL.

The wavefield lives on nodes at the model's cell centres, extended by ``pad`` nodes of
PML on each absorbing side and stored with a halo of two zero nodes (so the
fourth-order stencil needs no branches). Velocities in the layer copy the nearest model
cell, so the gradient of a padding node goes to that cell.
"""

from __future__ import annotations

import numpy as np

from bayesinv.operators.wave._acoustic_numba import HALO

#: largest Courant number v dt sqrt(sum 1/h^2) of 4th-order space / 2nd-order time leapfrog
CFL_LIMIT = float(np.sqrt(3.0) / 2.0)
#: target reflection of the PML profile's design formula
DESIGN_REFLECTION = 1e-3


def cell_map(nz: int, nx: int, pad_z: int, pad_x: int) -> np.ndarray:
    """Model cell (C order) behind each halo'd node, ``-1`` in the halo."""
    nzp, nxp = nz + 2 * pad_z, nx + 2 * pad_x
    iz = np.clip(np.arange(nzp) - pad_z, 0, nz - 1)
    ix = np.clip(np.arange(nxp) - pad_x, 0, nx - 1)
    cell = np.full((nzp + 2 * HALO, nxp + 2 * HALO), -1, dtype=np.int64)
    cell[HALO:-HALO, HALO:-HALO] = iz[:, None] * nx + ix[None, :]
    return cell


def _ramp(n_inner: int, pad: int) -> np.ndarray:
    """Depth into the absorbing layer (in layers of ``pad``, 0..1) along one axis."""
    if pad == 0:
        return np.zeros(n_inner)
    j = np.arange(n_inner + 2 * pad)
    d = np.maximum(np.maximum(pad - j, j - (pad + n_inner - 1)), 0)
    return d / pad


def pml(nz, nx, pad_z, pad_x, hz, hx, dt, velocity):
    """PML profiles along each axis and the boxes where PML terms can be non-zero.

    ``zeta = zeta_max (d / L)^2`` along each axis, ``d`` the depth into the layer of
    thickness ``L``, ``zeta_max = 3 v ln(1/R) / (2 L)`` (Collino and Tsogka's design formula,
    ``R = DESIGN_REFLECTION``). Returns ``(prof_z, prof_x)``, each of shape ``(3, n)`` over
    the halo'd nodes of its axis with rows ``h = dt zeta / 2``, ``a = (1 - h) / (1 + h)`` and
    ``r = 1 / (1 + h)``, from which the kernels form the per-node coefficients

        A = 1 / (1 + hx + hz),  B = 1 - hx - hz,  C = 4 hx hz,
        ax = a_x,  bx = 2 (hz - hx) r_x,  az = a_z,  bz = 2 (hx - hz) r_z

    (``C = dt^2 zx zz``, ``bx = dt (zz - zx) / (1 + dt zx / 2)``: Grote and Sim's scheme);
    and an int array of disjoint boxes ``[z_lo, z_hi, x_lo, x_hi]`` covering the PML and
    two nodes beyond it. A third profile of shape ``(3, n_pml)`` holds the per-node update
    coefficients ``A, B A, (2 - C) A`` of the PML boxes only (box by box, row by row: see
    :func:`pml_coefficients`), so that the kernels multiply instead of dividing per node.
    """
    rz, rx = _ramp(nz, pad_z), _ramp(nx, pad_x)
    zz = np.zeros(rz.size) if not pad_z else _zeta_max(velocity, pad_z * hz) * rz**2
    zx = np.zeros(rx.size) if not pad_x else _zeta_max(velocity, pad_x * hx) * rx**2
    profiles = []
    for zeta in (zz, zx):
        h = np.zeros(zeta.size + 2 * HALO)
        h[HALO:-HALO] = 0.5 * dt * zeta
        profiles.append(np.stack([h, (1.0 - h) / (1.0 + h), 1.0 / (1.0 + h)]))
    boxes = _boxes(rz.size, rx.size, pad_z, pad_x)
    profiles.append(pml_coefficients(profiles[0][0], profiles[1][0], boxes))
    profiles.append(side_run_coefficients(profiles[1][0], boxes))
    return tuple(profiles), boxes


def side_run_coefficients(hx: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Coefficients along one side run, shape ``(6, n_run)`` (``(6, 0)`` without side strips).

    A run is one row's right strip, the two halo columns on each side and the next row's
    left strip, ``x = x_right .. nxh - 1, 0 .. x_left - 1`` (contiguous in memory). In the
    middle band of rows ``h_z = 0``, so every coefficient depends on x only: rows
    ``A = 1/(1 + h)``, ``B A = (1 - h) A``, ``(2 - C) A = 2 A``, ``a_x = (1 - h)/(1 + h)``,
    ``b_x = -2 h/(1 + h)`` and ``b_z = 2 h`` (:func:`pml` with ``h_z = 0``), all zero on the
    halo columns so that the halo stays zero.

    Parameters
    ----------
    hx : numpy.ndarray
        ``h = dt zeta_x / 2`` over the halo'd nodes of the x axis.
    boxes : numpy.ndarray
        The boxes of :func:`_boxes`; rows 3 and 4 are the left and right strips.

    Returns
    -------
    numpy.ndarray
        The coefficients.
    """
    x_left, x_right, nxh = boxes[3, 3], boxes[4, 2], hx.size
    if x_left == boxes[3, 2]:
        return np.zeros((6, 0))
    xs = np.concatenate([np.arange(x_right, nxh), np.arange(0, x_left)])
    h = hx[xs]
    a = 1.0 / (1.0 + h)
    inside = ((xs >= HALO) & (xs < nxh - HALO)).astype(float)
    rows = [a, (1.0 - h) * a, 2.0 * a, (1.0 - h) * a, -2.0 * h * a, 2.0 * h]
    return np.stack(rows) * inside


def pml_coefficients(hz: np.ndarray, hx: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Per-node PML update coefficients of the PML boxes, shape ``(3, n_pml)``.

    Rows ``A = 1 / (1 + s)``, ``B A = (1 - s) A`` and ``(2 - C) A = (2 - 4 hx hz) A``
    (``s = hx + hz``) at the nodes of ``boxes[1:3]`` (the top and bottom boxes; the side
    strips use :func:`side_run_coefficients`), flat box by box and row by row: the
    node ``(iz, ix)`` of box ``b`` sits at ``base_b + (iz - z_lo) (x_hi - x_lo) + ix - x_lo``
    with ``base_b`` the nodes of the boxes before it. Nothing is stored for the interior.

    Parameters
    ----------
    hz, hx : numpy.ndarray
        ``h = dt zeta / 2`` over the halo'd nodes of each axis.
    boxes : numpy.ndarray
        The boxes of :func:`_boxes` (row 0, the interior, is skipped).

    Returns
    -------
    numpy.ndarray
        The coefficients.
    """
    out = []
    for z0, z1, x0, x1 in boxes[1:3]:
        h_z, h_x = hz[z0:z1, None], hx[None, x0:x1]
        a = 1.0 / (1.0 + h_z + h_x)
        out.append(np.stack([a, (1.0 - h_z - h_x) * a, (2.0 - 4.0 * h_x * h_z) * a]).reshape(3, -1))
    return np.concatenate(out, axis=1) if out else np.zeros((3, 0))


def _zeta_max(velocity, thickness):
    return 3.0 * velocity * np.log(1.0 / DESIGN_REFLECTION) / (2.0 * thickness)


def _boxes(nzp, nxp, pad_z, pad_x):
    """Row 0: the interior box (no PML term); rows 1..: boxes of the PML and 2 nodes beyond.

    Together they tile the node grid (halo'd indices) without overlap.
    """
    mz = min(pad_z + 2, nzp) if pad_z else 0
    z_top = HALO + mz
    z_bottom = max(z_top, HALO + nzp - mz)
    mx = min(pad_x + 2, nxp) if pad_x else 0
    x_left = HALO + mx
    x_right = max(x_left, HALO + nxp - mx)
    boxes = [
        [z_top, z_bottom, x_left, x_right],
        [HALO, z_top, HALO, HALO + nxp],
        [z_bottom, HALO + nzp, HALO, HALO + nxp],
        [z_top, z_bottom, HALO, x_left],
        [z_top, z_bottom, x_right, HALO + nxp],
    ]
    return np.array(boxes, dtype=np.int64)


def first_derivative(hz: float, hx: float | None) -> np.ndarray:
    """``[x±1, x±2, z±1, z±2]`` weights of 4th-order centred first differences."""
    wz = np.array([8.0, -1.0]) / (12.0 * hz)
    wx = np.zeros(2) if hx is None else np.array([8.0, -1.0]) / (12.0 * hx)
    return np.concatenate([wx, wz])


def stencil(hz: float, hx: float | None) -> np.ndarray:
    """``[centre, x±1, x±2, z±1, z±2]`` weights of the 4th-order Laplacian (no x: 1-D)."""
    cz = np.array([-5.0 / 2.0, 4.0 / 3.0, -1.0 / 12.0]) / hz**2
    cx = np.zeros(3) if hx is None else np.array([-5.0 / 2.0, 4.0 / 3.0, -1.0 / 12.0]) / hx**2
    return np.array([cz[0] + cx[0], cx[1], cx[2], cz[1], cz[2]])


def lagrange4(p: np.ndarray) -> np.ndarray:
    """Cubic Lagrange weights of nodes -1, 0, 1, 2 at fractional position ``p`` in [0, 1)."""
    return np.stack(
        [
            -p * (p - 1) * (p - 2) / 6,
            (p + 1) * (p - 1) * (p - 2) / 2,
            -(p + 1) * p * (p - 2) / 2,
            (p + 1) * p * (p - 1) / 6,
        ],
        axis=-1,
    )


def point_weights(z, x, z_first, x_first, hz, hx, pad_z, pad_x):
    """First halo'd node index (iz0, ix0) and 4 x 4 weights of each point.

    ``z_first``/``x_first`` are the coordinates of the first model node (a cell centre);
    ``x`` is ``None`` in 1-D (one column, weight 1 on it).
    """
    fz = (np.asarray(z) - z_first) / hz + pad_z
    iz = np.floor(fz).astype(np.int64)
    wz = lagrange4(fz - iz)
    if x is None:
        ix = np.zeros_like(iz)
        wx = np.zeros((iz.size, 4))
        wx[:, 1] = 1.0
    else:
        fx = (np.asarray(x) - x_first) / hx + pad_x
        ix = np.floor(fx).astype(np.int64)
        wx = lagrange4(fx - ix)
    index = np.column_stack([iz - 1 + HALO, ix - 1 + HALO])
    weights = np.ascontiguousarray(wz[:, :, None] * wx[:, None, :])
    return index, weights


def courant_factor(dt: float, hz: float, hx: float | None) -> float:
    """``dt sqrt(sum 1/h^2) / CFL_LIMIT``: a velocity times this must not exceed 1."""
    s = 1.0 / hz**2 + (0.0 if hx is None else 1.0 / hx**2)
    return dt * np.sqrt(s) / CFL_LIMIT


def check_cfl(m: np.ndarray, factor: float, where: str, dt: float) -> None:
    """Raise ``ValueError`` when ``exp(max m)`` breaks the CFL limit."""
    vmax = float(np.exp(np.max(m)))
    if not vmax * factor <= 1.0:
        raise ValueError(
            f"{where}: velocity up to {vmax:.6g} m/s is unstable with dt = {dt:g} s: the "
            f"Courant number v dt sqrt(1/dx^2 + 1/dz^2) = {vmax * factor * CFL_LIMIT:.4g} "
            f"exceeds the limit sqrt(3)/2 = {CFL_LIMIT:.4f} of the 4th-order leapfrog "
            f"scheme; the largest stable velocity is {1.0 / factor:.6g} m/s (log-velocity "
            f"{np.log(1.0 / factor):.6g}); reduce dt or the velocity"
        )


def checkpoint_interval(nt: int, given, where: str) -> int:
    """``given`` validated, or ``ceil(2 sqrt(nt - 1))`` (minimises 4 nt / c + c stored fields)."""
    from bayesinv._checks import check_int

    if given is None:
        return max(1, int(np.ceil(2.0 * np.sqrt(max(nt - 1, 1)))))
    return check_int(given, where, "checkpoint_interval", low=1)
