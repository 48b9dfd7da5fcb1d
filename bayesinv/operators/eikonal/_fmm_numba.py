"""Factored fast marching on the nodes of a Grid2D, with its exact discrete derivatives.

Unknowns. The time field lives on the ``(nz + 1) x (nx + 1)`` grid nodes (cell corners),
node ``k = iz * (nx + 1) + ix`` at ``(x0 + ix dx, z0 + iz dz)``. Per source it is factored
as ``T = d u`` with ``d = |x - x_s|`` (so ``∇T = u ∇d + d ∇u``, ``|∇d| = 1``); ``u`` is
smooth at the source (it equals the source slowness in a homogeneous medium, exactly).

Local update at node k (one quadratic per candidate). For each axis the accepted neighbour
with the smaller time is the upwind one, on side ``σ = ±1``; with ``g = ∂d/∂x`` and ``h``
the spacing, one-sided differences of ``u`` give the axis term ``α u - β`` with

    first order:  α = d / h - σ g,        β = d u1 / h
    second order: α = 3 d / (2 h) - σ g,  β = d (4 u1 - u2) / (2 h)   (u2 accepted, T2 <= T1)

Candidates: the quadrant ``(α_x u - β_x)² + (α_z u - β_z)² = s_c²`` with the slowness of
the cell between the two upwind neighbours (valid when both axis terms are >= 0, i.e.
upwind), and the two one-axis updates ``(α_x u - β_x)² + (t_z u)² = s_e²`` (likewise for
z) with ``t_z = ∂d/∂z`` within ``near_radius`` of the source (exact in a homogeneous
medium), 0 beyond (plain fast marching: never too fast where ``u`` is far from the local
slowness). With ``t_z = 0``, ``s_e`` is the smaller slowness of the (one or two) cells along
the edge (a wave running along it: head waves along an interface on a grid line); with
``t_z != 0`` the wave crosses the edge obliquely, and ``s_e`` is the slowness of the cell on
the source's side (the faster cell there made waves near a fast layer arrive too early).
The smallest valid candidate is kept. If none is valid,
first order is tried, then the edge step ``T = T_j + s_e h``.

Derivatives. An accepted node's value is ``u_k = f(u_j..., s_c)`` with the neighbours it
used (accepted earlier), so the Jacobian is triangular in acceptance order: with
``D = α_x r_x + α_z r_z = sqrt(discriminant)`` and ``r = α u - β``,
``∂u_k/∂u_j = r d c_j / D`` (``c_j`` the stencil weight of ``u_j`` in ``β``) and
``∂u_k/∂s_c = s_c / D``. This *recipe* (neighbours, weights, cell, cell weight) is written
with every trial value: a trial value is recomputed from scratch whenever a neighbour is
accepted, so the recipe in place at acceptance is the one that produced the final value.
jvp is forward substitution in acceptance order (gathers), vjp back-substitution in reverse
order (scatters into earlier nodes and cells) — Treister & Haber (2016).

Source: the four corners of the cell containing the source are initialised with
``u = s_0`` (the slowness of that cell) and accepted first; their recipe is ``∂u/∂s_0 = 1``.

Recipes are stored as ``ridx/rw`` (n, 4) neighbours and weights and ``rcell/rv`` (n, 4)
cells and weights (this module uses the first cell slot; the smooth update of
:mod:`._smooth_numba` all four), -1 for unused.

Speed: the kernels run :func:`._fmm_fast_numba.march_fast`, this :func:`march` as one loop
whose helpers take no arrays (numba's atomic reference counts of array arguments took a
third of the time); ``march`` is the reference it reproduces bit for bit (tested). The
heap is binary, with lazy deletion (stale entries are skipped when popped).

Threading: every array is allocated per source inside the ``prange`` body (no shared
mutable state); the vjp writes each source's cell gradient to its own row, summed after.
"""

import numba
import numpy as np

_FAR = 0
_TRIAL = 1
_DONE = 2


@numba.njit(cache=True, nogil=True)
def _heap_push(hk, hv, n, node, key):
    """Push ``(key, node)`` on the binary min-heap ``hk, hv`` of size ``n``; new size.

    Lazy deletion: a node whose trial value changes is pushed again, and its stale entries
    are skipped when popped (see :func:`march`). The sift moves a hole, no swaps.
    """
    i = n
    while i > 0:
        p = (i - 1) >> 1
        if hk[p] <= key:
            break
        hk[i] = hk[p]
        hv[i] = hv[p]
        i = p
    hk[i] = key
    hv[i] = node
    return n + 1


@numba.njit(cache=True, nogil=True)
def _heap_pop(hk, hv, n):
    """Remove the root (the caller reads ``hk[0], hv[0]`` first); new size."""
    n -= 1
    key = hk[n]
    node = hv[n]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and hk[c + 1] < hk[c]:
            c += 1
        if key <= hk[c]:
            break
        hk[i] = hk[c]
        hv[i] = hv[c]
        i = c
    if n > 0:
        hk[i] = key
        hv[i] = node
    return n


@numba.njit(cache=True, nogil=True)
def _accept_next(hk, hv, nh, state, T, order, n_acc):
    """Pop until a node neither accepted nor re-pushed since; accept it as ``order[n_acc]``.

    Returns (node or -1 when the heap is empty, heap size).
    """
    while nh > 0:
        k = hv[0]
        key = hk[0]
        nh = _heap_pop(hk, hv, nh)
        if state[k] != _DONE and key == T[k]:
            state[k] = _DONE
            order[n_acc] = k
            return k, nh
    return -1, nh


@numba.njit(cache=True, nogil=True)
def _axis(k, i, n_i, stride, h, d, g, u, T, state, second):
    """Upwind term along one axis: (found, n1, n2, alpha, beta, c1, c2)."""
    n1 = -1
    t1 = np.inf
    side = 0
    for sgn in (-1, 1):
        j = i + sgn
        if 0 <= j <= n_i:
            nb = k + sgn * stride
            if state[nb] == _DONE and T[nb] < t1:
                t1 = T[nb]
                n1 = nb
                side = sgn
    if n1 < 0:
        return False, -1, -1, 0.0, 0.0, 0.0, 0.0
    n2 = -1
    if second:
        j2 = i + 2 * side
        if 0 <= j2 <= n_i:
            cand = k + 2 * side * stride
            if state[cand] == _DONE and T[cand] <= t1:
                n2 = cand
    if n2 >= 0:
        c1 = 2.0 / h
        c2 = -0.5 / h
        alpha = 1.5 * d / h - side * g
        beta = d * (c1 * u[n1] + c2 * u[n2])
    else:
        c1 = 1.0 / h
        c2 = 0.0
        alpha = d / h - side * g
        beta = d * c1 * u[n1]
    return True, n1, n2, alpha, beta, c1, c2


@numba.njit(cache=True, nogil=True, inline="always")
def _solve(ax, bx, az, bz, s):
    # larger root of (ax u - bx)^2 + (az u - bz)^2 = s^2, and D = sqrt(discriminant)
    a = ax * ax + az * az
    b = ax * bx + az * bz
    c = bx * bx + bz * bz - s * s
    disc = b * b - a * c
    if a <= 0.0 or disc <= 0.0:
        return -1.0, 0.0
    root = np.sqrt(disc)
    return (b + root) / a, root


@numba.njit(cache=True, nogil=True)
def _edge_cell(slow, nx, nz, i_along, i_across, n_across, along_is_x):
    # the cell of smaller slowness on either side of an edge (one cell on the boundary)
    best = -1
    for a in (i_across - 1, i_across):
        if 0 <= a < n_across:
            c = a * nx + i_along if along_is_x else i_along * nx + a
            if best < 0 or slow[c] < slow[best]:
                best = c
    return best


@numba.njit(cache=True, nogil=True)
def _side_cell(slow, nx, nz, i_along, i_across, n_across, along_is_x, t):
    # the cell of a one-axis update: with a transverse term t != 0 (near the source, a wave
    # crossing the edge obliquely) the cell on the source's side of the edge; with t = 0 the
    # faster of the two (a wave running along the edge: head waves)
    if t == 0.0:
        return _edge_cell(slow, nx, nz, i_along, i_across, n_across, along_is_x)
    a = i_across - 1 if t > 0.0 else i_across
    a = min(max(a, 0), n_across - 1)
    return a * nx + i_along if along_is_x else i_along * nx + a


@numba.njit(cache=True, nogil=True, inline="always")
def _factored(k, ix, iz, slow, nx, nz, dx, dz, d, gxk, gzk, u, T, state, use_second, near):
    """Best factored candidate (u, D, cell, x1, x2, wx1, wx2, z1, z2, wz1, wz2); u = inf: none."""
    nxn = nx + 1
    # one-axis updates: near the source the other component of ∇T is taken as u ∂d (exact in
    # a homogeneous medium); farther away as 0, as in plain fast marching (never too fast)
    tx = gxk if near else 0.0
    tz = gzk if near else 0.0
    for attempt in range(2):
        if attempt == 1 and not use_second:
            break
        second = use_second and attempt == 0
        okx, x1, x2, ax, bx, cx1, cx2 = _axis(k, ix, nx, 1, dx, d, gxk, u, T, state, second)
        okz, z1, z2, az, bz, cz1, cz2 = _axis(k, iz, nz, nxn, dz, d, gzk, u, T, state, second)
        best = np.inf
        bd = 0.0
        kind = -1  # 0: both axes, 1: x only, 2: z only
        bc = -1
        if okx and okz:
            c = min(iz, z1 // nxn) * nx + min(ix, x1 % nxn)  # the cell between the neighbours
            uq, dq = _solve(ax, bx, az, bz, slow[c])
            if uq > 0.0 and ax * uq - bx >= 0.0 and az * uq - bz >= 0.0:
                best, bd, kind, bc = uq, dq, 0, c
        if okx:
            c = _side_cell(slow, nx, nz, min(ix, x1 % nxn), iz, nz, True, tz)
            ue, de = _solve(ax, bx, tz, 0.0, slow[c])
            if ue > 0.0 and ax * ue - bx >= 0.0 and ue < best:
                best, bd, kind, bc = ue, de, 1, c
        if okz:
            c = _side_cell(slow, nx, nz, min(iz, z1 // nxn), ix, nx, False, tx)
            ue, de = _solve(tx, 0.0, az, bz, slow[c])
            if ue > 0.0 and az * ue - bz >= 0.0 and ue < best:
                best, bd, kind, bc = ue, de, 2, c
        if kind >= 0:
            fx = (ax * best - bx) * d / bd if kind != 2 else 0.0
            fz = (az * best - bz) * d / bd if kind != 1 else 0.0
            if kind == 2:
                x1 = -1
                x2 = -1
            if kind == 1:
                z1 = -1
                z2 = -1
            return best, bd, bc, x1, x2, fx * cx1, fx * cx2, z1, z2, fz * cz1, fz * cz2
    return np.inf, 0.0, -1, -1, -1, 0.0, 0.0, -1, -1, 0.0, 0.0


@numba.njit(cache=True, nogil=True, inline="always")
def _update(k, ix, iz, slow, nx, nz, dx, dz, dist, gx, gz, u, T, state,
            ridx, rw, rcell, rv, use_second, near_radius):  # fmt: skip
    """Recompute the trial value of node k from its accepted neighbours; write its recipe.

    Candidates: the factored updates; if none is valid, the edge steps ``T = T_j + s_e h``
    (``s_e`` the smaller slowness of the cells along the edge). Returns the new ``u``
    (``inf`` if no accepted neighbour).
    """
    nxn = nx + 1
    d = dist[k]
    uf, bd, fc, x1, x2, wx1, wx2, z1, z2, wz1, wz2 = _factored(
        k,
        ix,
        iz,
        slow,
        nx,
        nz,
        dx,
        dz,
        d,
        gx[k],
        gz[k],
        u,
        T,
        state,
        use_second,
        d <= near_radius,
    )
    best = uf
    bj = -1
    bcell = -1
    bh = 0.0
    for q in range(4):
        if uf < np.inf:
            break  # edge steps only as a fallback
        sx = (-1, 1, 0, 0)[q]
        sz = (0, 0, -1, 1)[q]
        if not (0 <= ix + sx <= nx and 0 <= iz + sz <= nz):
            continue
        j = k + sx + sz * nxn
        if state[j] != _DONE:
            continue
        if sz == 0:
            cell = _edge_cell(slow, nx, nz, min(ix, ix + sx), iz, nz, True)
            h = dx
        else:
            cell = _edge_cell(slow, nx, nz, min(iz, iz + sz), ix, nx, False)
            h = dz
        val = (dist[j] * u[j] + slow[cell] * h) / d
        if val < best:
            best, bj, bcell, bh = val, j, cell, h
    if best == np.inf:
        return best
    for q in range(4):
        ridx[k, q] = -1
        rw[k, q] = 0.0
        rcell[k, q] = -1
        rv[k, q] = 0.0
    if bj >= 0:  # an edge step
        ridx[k, 0] = bj
        rw[k, 0] = dist[bj] / d
        rcell[k, 0] = bcell
        rv[k, 0] = bh / d
    else:
        ridx[k, 0], ridx[k, 1], ridx[k, 2], ridx[k, 3] = x1, x2, z1, z2
        rw[k, 0], rw[k, 1], rw[k, 2], rw[k, 3] = wx1, wx2, wz1, wz2
        rcell[k, 0] = fc
        rv[k, 0] = slow[fc] / bd
    return best


@numba.njit(cache=True, nogil=True)
def march_start(slow, nx, nz, dx, dz, x0, z0, xs, zs, u, order, ridx, rw, rcell, rv, dist):
    """Start a march from one source: distances, directions, heap, the source cell's nodes.

    ``u = inf`` except at the source cell's 4 nodes (accepted first, recipes on that cell).
    """
    nxn = nx + 1
    n = nxn * (nz + 1)
    gx = np.empty(n)
    gz = np.empty(n)
    T = np.full(n, np.inf)
    state = np.zeros(n, dtype=np.int8)
    for k in range(n):
        ex = x0 + (k % nxn) * dx - xs
        ez = z0 + (k // nxn) * dz - zs
        r = np.hypot(ex, ez)
        dist[k] = r
        gx[k] = ex / r if r > 0.0 else 0.0
        gz[k] = ez / r if r > 0.0 else 0.0
        u[k] = np.inf
    ixs = min(max(int(np.floor((xs - x0) / dx)), 0), nx - 1)
    izs = min(max(int(np.floor((zs - z0) / dz)), 0), nz - 1)
    c0 = izs * nx + ixs
    hk = np.empty(4 * n)  # at most 4 pushes per accepted node
    hv = np.empty(4 * n, dtype=np.int64)
    for q in range(4):
        k = (izs + q // 2) * nxn + ixs + q % 2
        u[k] = slow[c0]
        T[k] = dist[k] * u[k]
        state[k] = _DONE
        ridx[k, :] = -1
        rw[k, :] = 0.0
        rcell[k, :] = -1
        rv[k, :] = 0.0
        rcell[k, 0] = c0
        rv[k, 0] = 1.0
        order[q] = k
    return gx, gz, T, state, hk, hv


@numba.njit(cache=True, nogil=True)
def march(slow, nx, nz, dx, dz, x0, z0, xs, zs, second, near_radius,
          u, order, ridx, rw, rcell, rv, dist):  # fmt: skip
    """Fast marching from one source; fills u, order (acceptance order) and the recipes.

    ``second`` enables second-order stencils. Returns the number of accepted nodes.
    """
    gx, gz, T, state, hk, hv = march_start(
        slow, nx, nz, dx, dz, x0, z0, xs, zs, u, order, ridx, rw, rcell, rv, dist
    )
    nh = 0
    n_acc = 4
    t = 0
    while True:  # relax the accepted nodes in order (one call site: _relax is inlined)
        if t == n_acc:
            k, nh = _accept_next(hk, hv, nh, state, T, order, n_acc)
            if k < 0:
                break
            n_acc += 1
        nh = _relax(order[t], nx, nz, dx, dz, slow, dist, gx, gz, u, T, state, hk, hv, nh,
                    ridx, rw, rcell, rv, second, near_radius)  # fmt: skip
        t += 1
    return n_acc


@numba.njit(cache=True, nogil=True, inline="always")
def _relax(k, nx, nz, dx, dz, slow, dist, gx, gz, u, T, state, hk, hv, nh,
           ridx, rw, rcell, rv, second, near_radius):  # fmt: skip
    # recompute the four neighbours of the newly accepted node k
    nxn = nx + 1
    ix = k % nxn
    iz = k // nxn
    for q in range(4):
        jx = ix + (-1, 1, 0, 0)[q]
        jz = iz + (0, 0, -1, 1)[q]
        if not (0 <= jx <= nx and 0 <= jz <= nz):
            continue
        j = jz * nxn + jx
        if state[j] == _DONE:
            continue
        val = _update(j, jx, jz, slow, nx, nz, dx, dz, dist, gx, gz, u, T, state,
                      ridx, rw, rcell, rv, second, near_radius)  # fmt: skip
        if val < np.inf:
            u[j] = val
            T[j] = dist[j] * val
            state[j] = _TRIAL
            nh = _heap_push(hk, hv, nh, j, T[j])
    return nh
