"""Prolongation (coarse -> fine) and restriction (its adjoint) on tensor-product grids.

Math (see ``bayesinv.multiscale.Prolongation``): per axis, each fine cell ``f`` takes two
coarse neighbours ``i0[f], i1[f]`` with weights ``w0[f], w1[f]``; in 2-D the weights are
the products of the per-axis ones,

    m[fz, fx] = sum_{a, b in {0, 1}} wz_a[fz] wx_b[fx] theta[iz_a[fz], ix_b[fx]],

and restriction is the transpose,

    theta_bar[cz, cx] = sum_{fz, fx} sum_{a, b} [iz_a[fz] = cz] [ix_b[fx] = cx]
                        * wz_a[fz] wx_b[fx] m_bar[fz, fx].

Piecewise-constant prolongation is the case ``i1 = i0``, ``w0 = 1``, ``w1 = 0``.
"""

import numpy as np

from bayesinv._numba import njit


@njit(cache=True, nogil=True)
def prolong(theta, nxc, iz0, iz1, wz0, wz1, ix0, ix1, wx0, wx1):
    # gather: each fine cell reads up to four coarse cells (safe to parallelise)
    nzf = iz0.shape[0]
    nxf = ix0.shape[0]
    out = np.empty(nzf * nxf)
    for fz in range(nzf):
        r0 = iz0[fz] * nxc
        r1 = iz1[fz] * nxc
        a0 = wz0[fz]
        a1 = wz1[fz]
        for fx in range(nxf):
            c0 = ix0[fx]
            c1 = ix1[fx]
            b0 = wx0[fx]
            b1 = wx1[fx]
            out[fz * nxf + fx] = a0 * (b0 * theta[r0 + c0] + b1 * theta[r0 + c1]) + a1 * (
                b0 * theta[r1 + c0] + b1 * theta[r1 + c1]
            )
    return out


@njit(cache=True, nogil=True)
def restrict(m_bar, nzc, nxc, iz0, iz1, wz0, wz1, ix0, ix1, wx0, wx1):
    # scatter: each fine cell adds into up to four coarse cells (serial; not safe to
    # parallelise over fine cells without atomics)
    nzf = iz0.shape[0]
    nxf = ix0.shape[0]
    out = np.zeros(nzc * nxc)
    for fz in range(nzf):
        r0 = iz0[fz] * nxc
        r1 = iz1[fz] * nxc
        a0 = wz0[fz]
        a1 = wz1[fz]
        for fx in range(nxf):
            v = m_bar[fz * nxf + fx]
            c0 = ix0[fx]
            c1 = ix1[fx]
            b0 = wx0[fx]
            b1 = wx1[fx]
            out[r0 + c0] += a0 * b0 * v
            out[r0 + c1] += a0 * b1 * v
            out[r1 + c0] += a1 * b0 * v
            out[r1 + c1] += a1 * b1 * v
    return out
