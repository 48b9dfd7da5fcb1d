"""2-D gravity kernels: vertical attraction of rectangular cells of infinite strike.

Math (see ``bayesinv.operators.Gravity2D``): with ``X = x - x_r`` and ``Z = z - z_r`` the
offsets of a point of the cell from the receiver (z down),

    g_z = 2 G rho * sum_{i,j in {1,2}} (-1)^(i+j) Phi(X_i, Z_j),
    Phi(X, Z) = X/2 * ln(X^2 + Z^2) + Z * arctan(X / Z),

with the limits X ln(...) -> 0 at X = 0 and Z arctan(X/Z) -> 0 at Z = 0.
"""

import numpy as np

from bayesinv._numba import njit

# Newtonian constant of gravitation (CODATA 2018), m^3 kg^-1 s^-2
G_NEWTON = 6.67430e-11
# 1 mGal = 1e-5 m/s^2
SI_TO_MGAL = 1e5


@njit(cache=True, nogil=True, inline="always")
def _phi(X, Z):
    r2 = X * X + Z * Z
    out = 0.0
    if X != 0.0:
        out += 0.5 * X * np.log(r2)
    if Z != 0.0:
        out += Z * np.arctan(X / Z)
    return out


@njit(cache=True, nogil=True, parallel=False)
def gravity_matrix(x_edges, z_edges, receivers):
    """Dense sensitivity (mGal per kg/m^3), rows = receivers, columns = cells in C order."""
    nx = x_edges.shape[0] - 1
    nz = z_edges.shape[0] - 1
    nr = receivers.shape[0]
    out = np.empty((nr, nz * nx))
    scale = 2.0 * G_NEWTON * SI_TO_MGAL
    # gather: each receiver row is independent
    for r in range(nr):
        xr = receivers[r, 0]
        zr = receivers[r, 1]
        for iz in range(nz):
            z1 = z_edges[iz] - zr
            z2 = z_edges[iz + 1] - zr
            for ix in range(nx):
                x1 = x_edges[ix] - xr
                x2 = x_edges[ix + 1] - xr
                val = _phi(x2, z2) - _phi(x1, z2) - _phi(x2, z1) + _phi(x1, z1)
                out[r, iz * nx + ix] = scale * val
    return out
