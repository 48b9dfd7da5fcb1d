"""2-D magnetic kernels: total-field anomaly of rectangular cells of infinite strike.

Math (see ``bayesinv.operators.Magnetics2D``): with u = x' - x_r and v = z' - z_r the offsets
of a point of the cell [u1, u2] x [v1, v2] from the receiver (z down), and
Psi = iint ln(sqrt(u^2 + v^2)) du dv,

    Psi_xx = A(u2) - A(u1),   A(u) = arctan(v2/u) - arctan(v1/u)
                                   = atan2(u (v2 - v1), u^2 + v1 v2),
    Psi_zz = B(v2) - B(v1),   B(v) = arctan(u2/v) - arctan(u1/v)
                                   = atan2(v (u2 - u1), v^2 + u1 u2),
    Psi_xz = 1/2 ln[ (u2^2 + v2^2)(u1^2 + v1^2) / ((u1^2 + v2^2)(u2^2 + v1^2)) ],

    dT = -(F chi / 2 pi) (fx^2 Psi_xx + 2 fx fz Psi_xz + fz^2 Psi_zz).

On the receiver's own vertical line (u = 0) A(0) = 0 unless v1 < 0 < v2, i.e. the receiver
is on the left or right boundary of the grid beside the cell; the limit from outside the
grid is then A(0) = +pi (receiver on the left, u -> 0+) or -pi (on the right). Likewise
B(0) = +pi (receiver on the top, v -> 0+) or -pi (on the bottom) when u1 < 0 < u2. A receiver
at a cell vertex is singular (logarithmically) and rejected by the operator.
"""

import numpy as np

from bayesinv._numba import njit


@njit(cache=True, nogil=True, inline="always")
def _side_angle(w, a1, a2, side):
    # arctan(a2 / w) - arctan(a1 / w), with the outside limit on w = 0
    if w == 0.0:
        if a1 < 0.0 < a2:
            return side * np.pi
        return 0.0
    return np.arctan2(w * (a2 - a1), w * w + a1 * a2)


@njit(cache=True, nogil=True, parallel=False)
def magnetics_matrix(x_edges, z_edges, receivers, fx, fz, intensity):
    """Dense sensitivity (nT per SI susceptibility), rows = receivers, cells in C order."""
    nx = x_edges.shape[0] - 1
    nz = z_edges.shape[0] - 1
    nr = receivers.shape[0]
    out = np.empty((nr, nz * nx))
    scale = -intensity / (2.0 * np.pi)
    cxx = fx * fx
    cxz = 2.0 * fx * fz
    czz = fz * fz
    # gather: each receiver row is independent
    for r in range(nr):
        xr = receivers[r, 0]
        zr = receivers[r, 1]
        # side of the grid the receiver is on (used only on the grid boundary)
        sx = 1.0 if xr <= x_edges[0] else -1.0
        sz = 1.0 if zr <= z_edges[0] else -1.0
        for iz in range(nz):
            v1 = z_edges[iz] - zr
            v2 = z_edges[iz + 1] - zr
            for ix in range(nx):
                u1 = x_edges[ix] - xr
                u2 = x_edges[ix + 1] - xr
                pxx = _side_angle(u2, v1, v2, sx) - _side_angle(u1, v1, v2, sx)
                pzz = _side_angle(v2, u1, u2, sz) - _side_angle(v1, u1, u2, sz)
                num = (u2 * u2 + v2 * v2) * (u1 * u1 + v1 * v1)
                den = (u1 * u1 + v2 * v2) * (u2 * u2 + v1 * v1)
                pxz = 0.5 * np.log(num / den)
                out[r, iz * nx + ix] = scale * (cxx * pxx + cxz * pxz + czz * pzz)
    return out
