r"""Ordering and symbolic analysis of the supernodal Cholesky (private helper).

Nested dissection of a structured node grid (:func:`grid_nested_dissection`) and the numba
pieces of :class:`~bayesinv.operators._supernodal_numba.SupernodalPattern`: the elimination
tree, the row structure of ``L``, the scatter map of the listed entries and the update lists
between supernodes. See :mod:`bayesinv.operators._supernodal_numba` for the method.
"""

from __future__ import annotations

import numpy as np

from bayesinv._numba import njit

__all__ = ["grid_nested_dissection"]


def grid_nested_dissection(nx: int, nz: int, leaf: int = 16) -> np.ndarray:
    """Nested-dissection ordering of the nodes of a structured ``nx × nz`` grid.

    Parameters
    ----------
    nx, nz : int
        Nodes along ``x`` and ``z``; node ``(iz, ix)`` has index ``iz * nx + ix``.
    leaf : int, default 16
        Boxes of at most this many nodes are not split further.

    Returns
    -------
    ndarray of int64
        ``perm``: position ``i`` of the elimination order holds node ``perm[i]``.

    Notes
    -----
    A box ``[x0, x1) × [z0, z1)`` with more than ``leaf`` nodes is split across its longer
    side at the middle line ``c``; the nodes left of (above) ``c`` come first, then those
    right of (below) it, each ordered recursively, then the line. For a stencil that couples
    only nodes at most one line apart (5 or 9 points), no entry of the matrix joins the two
    halves, so they factorise independently and only the line (the separator) fills in.
    """
    nx, nz, leaf = int(nx), int(nz), int(leaf)
    if nx < 1 or nz < 1 or leaf < 1:
        raise ValueError(
            f"grid_nested_dissection: nx, nz and leaf must be >= 1, got {nx}, {nz}, {leaf}"
        )
    index = np.arange(nx * nz, dtype=np.int64).reshape(nz, nx)
    out: list[np.ndarray] = []
    stack = [(0, nx, 0, nz, False)]  # (box, emit-separator-only flag), processed last-in first
    while stack:
        x0, x1, z0, z1, emit = stack.pop()
        if emit:
            out.append(index[z0:z1, x0:x1].ravel())
            continue
        if (x1 - x0) * (z1 - z0) <= leaf:
            out.append(index[z0:z1, x0:x1].ravel())
        elif x1 - x0 >= z1 - z0:
            c = (x0 + x1) // 2
            stack += [(c, c + 1, z0, z1, True), (c + 1, x1, z0, z1, False), (x0, c, z0, z1, False)]
        else:
            c = (z0 + z1) // 2
            stack += [(x0, x1, c, c + 1, True), (x0, x1, c + 1, z1, False), (x0, x1, z0, c, False)]
    return np.concatenate([o for o in out if o.size])


@njit(cache=True)
def _etree(cp, ri, n):  # pragma: no cover - numba
    """Elimination tree from the upper triangle in CSC (Liu's algorithm, path compression)."""
    parent = np.full(n, -1, dtype=np.int64)
    ancestor = np.full(n, -1, dtype=np.int64)
    for k in range(n):
        for p in range(cp[k], cp[k + 1]):
            i = ri[p]
            while i != -1 and i < k:
                nxt = ancestor[i]
                ancestor[i] = k
                if nxt == -1:
                    parent[i] = k
                i = nxt
    return parent


@njit(cache=True)
def _factor_structure(cp, ri, parent, n):  # pragma: no cover - numba
    """Column pointers and sorted row indices of ``L``.

    Row patterns by tree walks, twice: counting, then filling.
    """
    mark = np.full(n, -1, dtype=np.int64)
    lp = np.zeros(n + 1, dtype=np.int64)
    li = np.empty(0, dtype=np.int64)
    nxt = np.empty(n, dtype=np.int64)
    for fill in (False, True):
        mark[:] = -1
        for k in range(n):
            mark[k] = k
            if fill:
                li[nxt[k]] = k  # the diagonal first: rows k' > k are written later
                nxt[k] += 1
            else:
                lp[k + 1] += 1
            for p in range(cp[k], cp[k + 1]):
                j = ri[p]
                while j < k and mark[j] != k:  # L[k, j] != 0 for every node on the path
                    mark[j] = k
                    if fill:
                        li[nxt[j]] = k
                        nxt[j] += 1
                    else:
                        lp[j + 1] += 1
                    j = parent[j]
        if not fill:
            lp = np.cumsum(lp)
            li = np.empty(lp[n], dtype=np.int64)
            nxt[:] = lp[:-1]
    return lp, li


@njit(cache=True)
def _scatter(prow, pcol, snode, sfirst, rptr, ridx, off, n):  # pragma: no cover - numba
    """Position of each listed entry in the factor storage (``-1`` above the diagonal)."""
    pos = np.empty(n, dtype=np.int64)  # local row of each global row, per supernode
    order = np.argsort(pcol)
    out = np.full(prow.size, -1, dtype=np.int64)
    t = 0
    s_loaded = -1
    while t < order.size:
        e = order[t]
        s = snode[pcol[e]]
        if s != s_loaded:
            for r in range(rptr[s], rptr[s + 1]):
                pos[ridx[r]] = r - rptr[s]
            s_loaded = s
        if prow[e] >= pcol[e]:
            nc = sfirst[s + 1] - sfirst[s]
            out[e] = off[s] + pos[prow[e]] * nc + pcol[e] - sfirst[s]
        t += 1
    return out


@njit(cache=True)
def _runs(snode, sfirst, rptr, ridx, d, out, u):  # pragma: no cover - numba
    """Split the rows below supernode ``d``'s diagonal block into runs by target supernode.

    Writes ``(t, d, r1, r2)`` rows of ``out`` from row ``u`` while ``out`` is large enough;
    returns the next free row.
    """
    r = rptr[d] + sfirst[d + 1] - sfirst[d]
    while r < rptr[d + 1]:
        t = snode[ridx[r]]
        r2 = r
        while r2 < rptr[d + 1] and snode[ridx[r2]] == t:
            r2 += 1
        if u < out.shape[0]:
            out[u, 0], out[u, 1], out[u, 2], out[u, 3] = t, d, r - rptr[d], r2 - rptr[d]
        u += 1
        r = r2
    return u


@njit(cache=True)
def _updates(snode, sfirst, rptr, ridx, n):  # pragma: no cover - numba
    """Return the updates ``(d, r1, r2)`` by target (``uptr``) and their relative rows."""
    ns = sfirst.size - 1
    nu = 0
    for d in range(ns):
        nu = _runs(snode, sfirst, rptr, ridx, d, np.empty((0, 4), dtype=np.int64), nu)
    runs = np.empty((nu, 4), dtype=np.int64)
    u = 0
    for d in range(ns):
        u = _runs(snode, sfirst, rptr, ridx, d, runs, u)
    order = np.argsort(runs[:, 0], kind="mergesort")
    upd = np.empty((nu, 3), dtype=np.int64)  # (d, r1, r2)
    uptr = np.zeros(ns + 1, dtype=np.int64)
    relptr = np.zeros(nu + 1, dtype=np.int64)
    for u in range(nu):
        q = order[u]
        d = runs[q, 1]
        upd[u, 0], upd[u, 1], upd[u, 2] = d, runs[q, 2], runs[q, 3]
        uptr[runs[q, 0] + 1] += 1
        relptr[u + 1] = relptr[u] + rptr[d + 1] - rptr[d] - runs[q, 2]
    uptr = np.cumsum(uptr)
    rel = np.empty(relptr[nu], dtype=np.int64)
    pos = np.empty(n, dtype=np.int64)
    for t in range(ns):
        for r in range(rptr[t], rptr[t + 1]):
            pos[ridx[r]] = r - rptr[t]
        for u in range(uptr[t], uptr[t + 1]):
            d, r1 = upd[u, 0], upd[u, 1]
            for i in range(rptr[d] + r1, rptr[d + 1]):
                rel[relptr[u] + i - rptr[d] - r1] = pos[ridx[i]]
    return uptr, upd, relptr, rel
