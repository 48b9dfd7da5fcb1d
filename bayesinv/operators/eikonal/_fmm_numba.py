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

The march itself is :func:`._fmm_fast_numba.march_fast`: the update above written as one
loop whose helpers take no arrays (numba's atomic reference counts of array arguments took a
third of the time when each update was a function call). This module holds what the
marches share: the start (:func:`march_start`), the quadratic (:func:`_solve`) and the trial
heap, binary with lazy deletion (stale entries are skipped when popped).

Threading: every array is allocated per source inside the ``prange`` body (no shared
mutable state); the vjp writes each source's cell gradient to its own row, summed after.
"""

import numpy as np

from bayesinv._numba import njit

_FAR = 0
_TRIAL = 1
_DONE = 2


@njit(cache=True, nogil=True)
def _heap_push(hk, hv, n, node, key):
    """Push ``(key, node)`` on the binary min-heap ``hk, hv`` of size ``n``; new size.

    Lazy deletion: a node whose trial value changes is pushed again, and its stale entries
    are skipped when popped (see :func:`._fmm_fast_numba.march_fast`). The sift moves a
    hole, no swaps.
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True, inline="always")
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


@njit(cache=True, nogil=True)
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
