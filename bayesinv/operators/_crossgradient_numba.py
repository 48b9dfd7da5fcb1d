"""Cross-gradient kernels: t = ∂x a ∂z b − ∂z a ∂x b with forward differences.

Cell (i, j), i < nz - 1, j < nx - 1, of fields a, b of shape (nz, nx) flattened in C order:
    ax = (a[i, j+1] - a[i, j]) / dx,  az = (a[i+1, j] - a[i, j]) / dz  (same for b)
    t[i, j] = ax * bz - az * bx
"""

import numpy as np

from bayesinv._numba import njit


@njit(cache=True, nogil=True, inline="always")
def _grads(f, i, j, nx, dx, dz):
    k = i * nx + j
    return (f[k + 1] - f[k]) / dx, (f[k + nx] - f[k]) / dz


@njit(cache=True, nogil=True)
def cross_gradient(m, nz, nx, dx, dz):
    # gather: each output cell reads its own stencil
    n = nz * nx
    a, b = m[:n], m[n:]
    out = np.empty((nz - 1) * (nx - 1))
    for i in range(nz - 1):
        for j in range(nx - 1):
            ax, az = _grads(a, i, j, nx, dx, dz)
            bx, bz = _grads(b, i, j, nx, dx, dz)
            out[i * (nx - 1) + j] = ax * bz - az * bx
    return out


@njit(cache=True, nogil=True)
def cross_gradient_jvp(m, dm, nz, nx, dx, dz):
    n = nz * nx
    a, b, da, db = m[:n], m[n:], dm[:n], dm[n:]
    out = np.empty((nz - 1) * (nx - 1))
    for i in range(nz - 1):
        for j in range(nx - 1):
            ax, az = _grads(a, i, j, nx, dx, dz)
            bx, bz = _grads(b, i, j, nx, dx, dz)
            dax, daz = _grads(da, i, j, nx, dx, dz)
            dbx, dbz = _grads(db, i, j, nx, dx, dz)
            out[i * (nx - 1) + j] = dax * bz + ax * dbz - daz * bx - az * dbx
    return out


@njit(cache=True, nogil=True)
def cross_gradient_vjp(m, g, nz, nx, dx, dz):
    # scatter: each cell adds into three entries of each field; kept serial (race-free)
    n = nz * nx
    a, b = m[:n], m[n:]
    out = np.zeros(2 * n)
    for i in range(nz - 1):
        for j in range(nx - 1):
            gk = g[i * (nx - 1) + j]
            ax, az = _grads(a, i, j, nx, dx, dz)
            bx, bz = _grads(b, i, j, nx, dx, dz)
            k = i * nx + j
            # d t / d(ax, az, bx, bz) = (bz, -bx, -az, ax)
            gax, gaz, gbx, gbz = gk * bz / dx, -gk * bx / dz, -gk * az / dx, gk * ax / dz
            out[k + 1] += gax
            out[k] -= gax + gaz
            out[k + nx] += gaz
            out[n + k + 1] += gbx
            out[n + k] -= gbx + gbz
            out[n + k + nx] += gbz
    return out
