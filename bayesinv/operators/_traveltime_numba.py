"""Straight-ray tracing on a regular 2-D grid: exact ray-cell intersection lengths.

A ray from P0 to P1 is P(t) = P0 + t (P1 - P0), t in [0, 1], of length L = |P1 - P0|.

1. Clip to the closed grid box (Liang-Barsky): t in [t_in, t_out].
2. Collect the parameters where the ray crosses the grid lines x = x0 + k dx and
   z = z0 + k dz strictly inside (t_in, t_out); sort them (Siddon's method).
3. Each interval [t_a, t_b] between consecutive parameters lies in one cell, found from its
   midpoint; its length is (t_b - t_a) L. A ray through a grid vertex crosses an x line and
   a z line at the same parameter, giving an empty interval that is skipped.
4. A ray parallel to an axis that lies on a grid line (within ON_LINE_TOL cell sizes) is on
   the shared edge of two cells: each interval's length is split equally between the two
   cells, or goes entirely to the one cell that exists on the grid boundary.

Intervals therefore tile [t_in, t_out], so the lengths of a ray add up to (t_out - t_in) L
and nothing is counted twice.
"""

import numpy as np

from bayesinv._numba import njit

# a ray parallel to an axis is on a grid line when within this many cell sizes of it
ON_LINE_TOL = 1e-9


@njit(cache=True, nogil=True)
def clip_to_box(px, pz, ddx, ddz, xmin, xmax, zmin, zmax):
    """Parameter range [t0, t1] of P + t (ddx, ddz), t in [0, 1], inside the closed box."""
    t0 = 0.0
    t1 = 1.0
    ps = (-ddx, ddx, -ddz, ddz)
    qs = (px - xmin, xmax - px, pz - zmin, zmax - pz)
    for i in range(4):
        p = ps[i]
        q = qs[i]
        if p == 0.0:
            if q < 0.0:
                return 1.0, 0.0
        else:
            r = q / p
            if p < 0.0:
                t0 = max(t0, r)
            else:
                t1 = min(t1, r)
    return t0, t1


@njit(cache=True, nogil=True)
def _axis_crossings(p, dd, t0, t1, origin, h, n, ts, count):
    # parameters of the grid lines origin + k h, k = 0..n, strictly between t0 and t1
    if dd == 0.0:
        return count
    a = p + t0 * dd
    b = p + t1 * dd
    lo = min(a, b)
    hi = max(a, b)
    k_lo = max(int(np.floor((lo - origin) / h)), 0)
    k_hi = min(int(np.ceil((hi - origin) / h)), n)
    for k in range(k_lo, k_hi + 1):
        line = origin + k * h
        if lo < line < hi:
            t = (line - p) / dd
            if t0 < t < t1:
                ts[count] = t
                count += 1
    return count


@njit(cache=True, nogil=True)
def _on_line(coord, origin, h, n):
    # index k of the grid line origin + k h that coord lies on, or -1
    q = (coord - origin) / h
    k = np.round(q)
    if abs(q - k) <= ON_LINE_TOL and 0 <= k <= n:
        return int(k)
    return -1


@njit(cache=True, nogil=True)
def _index(coord, origin, h, n):
    # cell index containing coord (clamped against round-off at the grid boundary)
    i = int(np.floor((coord - origin) / h))
    return min(max(i, 0), n - 1)


@njit(cache=True, nogil=True)
def trace_ray(p0x, p0z, p1x, p1z, x0, z0, dx, dz, nx, nz, ts, cells, lengths):
    """Write the (cell, length) pairs of one ray into ``cells``/``lengths``; return count.

    ``ts`` needs room for nx + nz + 4 values; ``cells``/``lengths`` for 2 (nx + nz + 4).
    """
    ddx = p1x - p0x
    ddz = p1z - p0z
    length = np.hypot(ddx, ddz)
    if length == 0.0:
        return 0
    t0, t1 = clip_to_box(p0x, p0z, ddx, ddz, x0, x0 + nx * dx, z0, z0 + nz * dz)
    if not t1 > t0:
        return 0
    ts[0] = t0
    count = _axis_crossings(p0x, ddx, t0, t1, x0, dx, nx, ts, 1)
    count = _axis_crossings(p0z, ddz, t0, t1, z0, dz, nz, ts, count)
    ts[count] = t1
    count += 1
    ts[:count].sort()
    # rays parallel to an axis may lie on a grid line (a shared cell edge)
    kx = _on_line(p0x, x0, dx, nx) if ddx == 0.0 else -1
    kz = _on_line(p0z, z0, dz, nz) if ddz == 0.0 else -1
    n_out = 0
    for s in range(count - 1):
        ta = ts[s]
        tb = ts[s + 1]
        if not tb > ta:
            continue  # two lines crossed at the same point (a grid vertex)
        seg = (tb - ta) * length
        tm = 0.5 * (ta + tb)
        ix = _index(p0x + tm * ddx, x0, dx, nx)
        iz = _index(p0z + tm * ddz, z0, dz, nz)
        if kz >= 0:
            # horizontal ray on the line between rows kz - 1 and kz
            lo_ok = kz - 1 >= 0
            hi_ok = kz < nz
            share = 0.5 * seg if (lo_ok and hi_ok) else seg
            if lo_ok:
                cells[n_out] = (kz - 1) * nx + ix
                lengths[n_out] = share
                n_out += 1
            if hi_ok:
                cells[n_out] = kz * nx + ix
                lengths[n_out] = share
                n_out += 1
        elif kx >= 0:
            # vertical ray on the line between columns kx - 1 and kx
            lo_ok = kx - 1 >= 0
            hi_ok = kx < nx
            share = 0.5 * seg if (lo_ok and hi_ok) else seg
            if lo_ok:
                cells[n_out] = iz * nx + kx - 1
                lengths[n_out] = share
                n_out += 1
            if hi_ok:
                cells[n_out] = iz * nx + kx
                lengths[n_out] = share
                n_out += 1
        else:
            cells[n_out] = iz * nx + ix
            lengths[n_out] = seg
            n_out += 1
    return n_out


@njit(cache=True, nogil=True)
def ray_matrix_coo(sources, receivers, x0, z0, dx, dz, nx, nz):
    """Ray-length matrix as (row pointer, cell, length) arrays, rows = rays in order.

    Two passes (count, then fill) so memory is proportional to the number of non-zeros.
    Within a row, entries are in the order the ray visits the cells (not sorted).
    """
    n_rays = sources.shape[0]
    ts = np.empty(nx + nz + 4)
    cells = np.empty(2 * (nx + nz + 4), dtype=np.int64)
    lengths = np.empty(2 * (nx + nz + 4))
    indptr = np.zeros(n_rays + 1, dtype=np.int64)
    for r in range(n_rays):
        c = trace_ray(
            sources[r, 0], sources[r, 1], receivers[r, 0], receivers[r, 1],
            x0, z0, dx, dz, nx, nz, ts, cells, lengths,
        )  # fmt: skip
        indptr[r + 1] = indptr[r] + c
    out_cells = np.empty(indptr[n_rays], dtype=np.int64)
    out_lengths = np.empty(indptr[n_rays])
    for r in range(n_rays):
        c = trace_ray(
            sources[r, 0], sources[r, 1], receivers[r, 0], receivers[r, 1],
            x0, z0, dx, dz, nx, nz, ts, cells, lengths,
        )  # fmt: skip
        out_cells[indptr[r] : indptr[r] + c] = cells[:c]
        out_lengths[indptr[r] : indptr[r] + c] = lengths[:c]
    return indptr, out_cells, out_lengths
