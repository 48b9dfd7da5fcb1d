"""Fast marching from one source as one loop without array-passing calls.

The update of :mod:`._fmm_numba` (whose docstring has the math): same arithmetic,
candidates, acceptance order and recipes as the earlier march built from per-node helper
calls, which it replaced with bit-identical values. Why one loop: numba increments and
decrements the reference count of every array passed to a function (with ``inline="always"``
as well) with an atomic instruction, and the node update passed some 25 arrays per call:
profiled with ``perf``, ``NRT_incref``/``NRT_decref`` took a third of the forward time. Here
the loop reads the arrays itself and its helpers take scalars only; the heap push and pop
are written out. An accepted node's time is also kept in ``Ta`` (``inf`` until accepted), so
an axis term reads one value per neighbour instead of a state and a time.

``record=False`` skips the recipes (``ridx, rw, rcell, rv`` are then not touched): the
forward-only kernel has no use for them.

(long: the march is one function on purpose, see above: helpers taking arrays are what it
avoids.)
"""

import numpy as np

from bayesinv._numba import njit
from bayesinv.operators.eikonal._fmm_numba import _DONE, _TRIAL, _solve, march_start


@njit(cache=True, nogil=True)
def _pick(tm, tp, tm2, tp2, second):
    """Upwind side (-1, 1; 0: none) and whether a second-order neighbour is usable.

    ``tm, tp``: accepted times of the neighbours at ``i - 1, i + 1``; ``tm2, tp2`` at
    ``i - 2, i + 2`` (``inf`` if not accepted or outside). Ties go to the ``-1`` side.
    """
    t1 = np.inf
    side = 0
    if tm < t1:
        t1 = tm
        side = -1
    if tp < t1:
        t1 = tp
        side = 1
    if side == 0 or not second:
        return side, False
    return side, (tm2 if side < 0 else tp2) <= t1


@njit(cache=True, nogil=True)
def _terms(two, side, h, d, g, u1, u2):
    """Axis term ``alpha u - beta`` and the stencil weights ``c1, c2`` of ``u1, u2``."""
    if two:
        c1 = 2.0 / h
        c2 = -0.5 / h
        return 1.5 * d / h - side * g, d * (c1 * u1 + c2 * u2), c1, c2
    c1 = 1.0 / h
    return d / h - side * g, d * c1 * u1, c1, 0.0


@njit(cache=True, nogil=True)
def _edge_pair(i_along, i_across, n_across, along_is_x, nx):
    """Return the cells on the two sides of an edge (``a = i_across - 1, i_across``; -1: none)."""
    c0 = -1
    c1 = -1
    if i_across - 1 >= 0:
        a = i_across - 1
        c0 = a * nx + i_along if along_is_x else i_along * nx + a
    if i_across < n_across:
        a = i_across
        c1 = a * nx + i_along if along_is_x else i_along * nx + a
    return c0, c1


@njit(cache=True, nogil=True)
def _side(i_along, i_across, n_across, along_is_x, nx, t):
    """Return the cell on the source's side of an edge (one-axis update, ``t != 0``)."""
    a = i_across - 1 if t > 0.0 else i_across
    a = min(max(a, 0), n_across - 1)
    return a * nx + i_along if along_is_x else i_along * nx + a


@njit(cache=True, nogil=True)
def march_fast(slow, nx, nz, dx, dz, x0, z0, xs, zs, second, near_radius,
               u, order, ridx, rw, rcell, rv, dist, record):  # fmt: skip
    """Fast marching from one source; fills u, order and (if ``record``) the recipes.

    ``second`` enables second-order stencils. Returns the number of accepted nodes.
    """
    # long: one loop on purpose — a helper taking arrays costs atomic refcounts per call
    gx, gz, T, state, hk, hv = march_start(
        slow, nx, nz, dx, dz, x0, z0, xs, zs, u, order, ridx, rw, rcell, rv, dist
    )
    inf = np.inf
    nxn = nx + 1
    Ta = np.full(T.size, inf)  # time of accepted nodes
    for q in range(4):
        Ta[order[q]] = T[order[q]]
    nh = 0
    n_acc = 4
    t = 0
    while True:
        if t == n_acc:  # accept the next node: pop until one neither accepted nor stale
            k = -1
            while nh > 0:
                kk = hv[0]
                key = hk[0]
                nh -= 1  # heap pop: sift the last entry down from the root
                lk = hk[nh]
                lv = hv[nh]
                i = 0
                while True:
                    c = 2 * i + 1
                    if c >= nh:
                        break
                    if c + 1 < nh and hk[c + 1] < hk[c]:
                        c += 1
                    if lk <= hk[c]:
                        break
                    hk[i] = hk[c]
                    hv[i] = hv[c]
                    i = c
                if nh > 0:
                    hk[i] = lk
                    hv[i] = lv
                if state[kk] != _DONE and key == T[kk]:
                    k = kk
                    break
            if k < 0:
                break
            state[k] = _DONE
            Ta[k] = T[k]
            order[n_acc] = k
            n_acc += 1
        k = order[t]
        t += 1
        ix = k % nxn
        iz = k // nxn
        for q in range(4):  # recompute the four neighbours of the accepted node k
            jx = ix + (-1, 1, 0, 0)[q]
            jz = iz + (0, 0, -1, 1)[q]
            if not (0 <= jx <= nx and 0 <= jz <= nz):
                continue
            j = jz * nxn + jx
            if state[j] == _DONE:
                continue
            d = dist[j]
            gxk = gx[j]
            gzk = gz[j]
            near = d <= near_radius
            tx = gxk if near else 0.0
            tz = gzk if near else 0.0
            sx, twox = _pick(
                Ta[j - 1] if jx >= 1 else inf,
                Ta[j + 1] if jx < nx else inf,
                Ta[j - 2] if jx >= 2 else inf,
                Ta[j + 2] if jx + 2 <= nx else inf,
                second,
            )
            sz, twoz = _pick(
                Ta[j - nxn] if jz >= 1 else inf,
                Ta[j + nxn] if jz < nz else inf,
                Ta[j - 2 * nxn] if jz >= 2 else inf,
                Ta[j + 2 * nxn] if jz + 2 <= nz else inf,
                second,
            )
            x1 = j + sx if sx != 0 else -1
            z1 = j + sz * nxn if sz != 0 else -1
            ux1 = u[x1] if sx != 0 else 0.0
            uz1 = u[z1] if sz != 0 else 0.0
            ux2 = u[j + 2 * sx] if twox else 0.0
            uz2 = u[j + 2 * sz * nxn] if twoz else 0.0
            # cells: between the two upwind neighbours; of the one-axis updates
            ax_ = min(jx, jx + sx)
            az_ = min(jz, jz + sz)
            cq = az_ * nx + ax_
            cex = -1
            if sx != 0 and tz == 0.0:
                c0, c1 = _edge_pair(ax_, jz, nz, True, nx)
                cex = c0 if c0 >= 0 and (c1 < 0 or not slow[c1] < slow[c0]) else c1
            elif sx != 0:
                cex = _side(ax_, jz, nz, True, nx, tz)
            cez = -1
            if sz != 0 and tx == 0.0:
                c0, c1 = _edge_pair(az_, jx, nx, False, nx)
                cez = c0 if c0 >= 0 and (c1 < 0 or not slow[c1] < slow[c0]) else c1
            elif sz != 0:
                cez = _side(az_, jx, nx, False, nx, tx)
            best = inf
            bd = 0.0
            kind = -1  # 0: both axes, 1: x only, 2: z only
            bc = -1
            for attempt in range(2):  # second order where possible, then first order
                if attempt == 1 and not second:
                    break
                tw_x = twox and attempt == 0
                tw_z = twoz and attempt == 0
                ax, bx, cx1, cx2 = _terms(tw_x, sx, dx, d, gxk, ux1, ux2)
                az, bz, cz1, cz2 = _terms(tw_z, sz, dz, d, gzk, uz1, uz2)
                if sx != 0 and sz != 0:
                    uq, dq = _solve(ax, bx, az, bz, slow[cq])
                    if uq > 0.0 and ax * uq - bx >= 0.0 and az * uq - bz >= 0.0:
                        best, bd, kind, bc = uq, dq, 0, cq
                if sx != 0:
                    ue, de = _solve(ax, bx, tz, 0.0, slow[cex])
                    if ue > 0.0 and ax * ue - bx >= 0.0 and ue < best:
                        best, bd, kind, bc = ue, de, 1, cex
                if sz != 0:
                    ue, de = _solve(tx, 0.0, az, bz, slow[cez])
                    if ue > 0.0 and az * ue - bz >= 0.0 and ue < best:
                        best, bd, kind, bc = ue, de, 2, cez
                if kind >= 0:
                    break
            bj = -1
            bcell = -1
            bh = 0.0
            if kind < 0:  # no factored candidate: the edge steps T = T_j + s_e h
                for p in range(4):
                    px = (-1, 1, 0, 0)[p]
                    pz = (0, 0, -1, 1)[p]
                    if not (0 <= jx + px <= nx and 0 <= jz + pz <= nz):
                        continue
                    jj = j + px + pz * nxn
                    if state[jj] != _DONE:
                        continue
                    if pz == 0:
                        c0, c1 = _edge_pair(min(jx, jx + px), jz, nz, True, nx)
                        h = dx
                    else:
                        c0, c1 = _edge_pair(min(jz, jz + pz), jx, nx, False, nx)
                        h = dz
                    cell = c0 if c0 >= 0 and (c1 < 0 or not slow[c1] < slow[c0]) else c1
                    val = (dist[jj] * u[jj] + slow[cell] * h) / d
                    if val < best:
                        best, bj, bcell, bh = val, jj, cell, h
                if best == inf:
                    continue
            if record:
                for p in range(4):
                    ridx[j, p] = -1
                    rw[j, p] = 0.0
                    rcell[j, p] = -1
                    rv[j, p] = 0.0
                if bj >= 0:  # an edge step
                    ridx[j, 0] = bj
                    rw[j, 0] = dist[bj] / d
                    rcell[j, 0] = bcell
                    rv[j, 0] = bh / d
                else:
                    fx = (ax * best - bx) * d / bd if kind != 2 else 0.0
                    fz = (az * best - bz) * d / bd if kind != 1 else 0.0
                    if kind != 2:
                        ridx[j, 0] = x1
                        ridx[j, 1] = j + 2 * sx if tw_x else -1
                    if kind != 1:
                        ridx[j, 2] = z1
                        ridx[j, 3] = j + 2 * sz * nxn if tw_z else -1
                    rw[j, 0] = fx * cx1
                    rw[j, 1] = fx * cx2
                    rw[j, 2] = fz * cz1
                    rw[j, 3] = fz * cz2
                    rcell[j, 0] = bc
                    rv[j, 0] = slow[bc] / bd
            u[j] = best
            T[j] = d * best
            state[j] = _TRIAL
            key = T[j]  # heap push: sift a hole up from the end
            i = nh
            while i > 0:
                p = (i - 1) >> 1
                if hk[p] <= key:
                    break
                hk[i] = hk[p]
                hv[i] = hv[p]
                i = p
            hk[i] = key
            hv[i] = j
            nh += 1
    return n_acc
