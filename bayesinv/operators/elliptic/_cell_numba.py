"""Numba kernels of the homogenization maps (fine log-coefficient → coarse log-coefficient).

Cell problem (one per coarse cell, its block of fine cells taken as one period ``Y``), on a
periodic Q1 mesh with ``s x s`` elements per fine cell, node 0 pinned (``χ`` is defined up to a
constant): for ``k`` in ``x, z``

    K(a) χ_k = -Σ_e a_e P_e^T K_ref g_k,
    A*_kl = |Y|^-1 Σ_e a_e (g_k + P_e χ_k)^T K_ref (g_l + P_e χ_l)

(``g_k`` the local nodal values of the coordinate ``x_k``). ``χ_k`` minimises the energy in the
diagonal ``A*_kk``, so ``∂A*_kk/∂a_e = |Y|^-1 (g_k + P_e χ_k)^T K_ref (g_k + P_e χ_k)``: no
adjoint solve. The dense pinned system (size ``(n s)^2 - 1`` for ``n`` fine cells a block) is
solved by LAPACK through numba. Coarse cells are independent; the loops over them gather
from their own fine cells and scatter into disjoint fine cells, so they never conflict.
"""

from __future__ import annotations

import numpy as np

from bayesinv._numba import njit


@njit(cache=True, nogil=True)
def cell_problem(a_loc, el_nodes, el_loc, Kref, g, n_nodes, area):
    """Solve one cell problem: ``[A_xx, A_zz, A_xz]`` and ``d[A_xx, A_zz]/da`` (2 x n_loc)."""
    n_loc = a_loc.shape[0]
    K = np.zeros((n_nodes, n_nodes))
    R = np.zeros((n_nodes, 2))
    for e in range(el_nodes.shape[0]):  # scatter: elements into nodes
        ae = a_loc[el_loc[e]]
        for i in range(4):
            ni = el_nodes[e, i]
            for j in range(4):
                K[ni, el_nodes[e, j]] += ae * Kref[i, j]
                for k in range(2):
                    R[ni, k] -= ae * Kref[i, j] * g[k, j]
    chi = np.zeros((n_nodes, 2))
    if n_nodes > 1:
        chi[1:] = np.linalg.solve(K[1:, 1:], R[1:])
    A = np.zeros(3)
    dA = np.zeros((2, n_loc))
    w = np.empty((2, 4))
    for e in range(el_nodes.shape[0]):
        for k in range(2):
            for i in range(4):
                w[k, i] = g[k, i] + chi[el_nodes[e, i], k]
        ae = a_loc[el_loc[e]]
        for k in range(3):
            p, q = (k, k) if k < 2 else (0, 1)
            val = 0.0
            for i in range(4):
                for j in range(4):
                    val += w[p, i] * Kref[i, j] * w[q, j]
            A[k] += ae * val / area
            if k < 2:
                dA[k, el_loc[e]] += val / area
    return A, dA


@njit(cache=True, nogil=True)
def homogenize(m, dm, dd, mode, cell):
    """Forward (mode 0), jvp (1) or vjp (2) of ``m -> [log A*_xx; log A*_zz]``.

    Returns ``(out, tensor)``; ``tensor`` holds ``[A_xx, A_zz, A_xz]`` per coarse cell.
    NaN output when a coefficient is not positive and finite.
    """
    block, el_nodes, el_loc, Kref, g, n_nodes, area = cell
    nc = block.shape[0]
    out = np.zeros(m.shape[0] if mode == 2 else 2 * nc)
    tensor = np.zeros((nc, 3))
    a = np.exp(m)
    for i in range(a.shape[0]):
        if not (a[i] > 0.0 and a[i] < np.inf):
            out[:] = np.nan
            return out, tensor
    for c in range(nc):
        a_loc = a[block[c]]
        A, dA = cell_problem(a_loc, el_nodes, el_loc, Kref, g, n_nodes, area)
        tensor[c] = A
        for k in range(2):
            if mode == 0:
                out[k * nc + c] = np.log(A[k])
            for j in range(block.shape[1]):
                sens = a_loc[j] * dA[k, j] / A[k]  # d log A_kk / d m_j
                if mode == 1:
                    out[k * nc + c] += sens * dm[block[c, j]]
                elif mode == 2:
                    out[block[c, j]] += sens * dd[k * nc + c]
    return out, tensor


@njit(cache=True, nogil=True)
def average(m, dm, dd, mode, block, kind):
    """Forward/jvp/vjp (mode 0/1/2) of log-space block averages.

    ``kind`` 0 arithmetic ``log mean e^m``, 1 harmonic ``-log mean e^-m``, 2 geometric
    ``mean m``; weights ``w_j = e^{s m_j} / Σ e^{s m}`` (``s = 1, -1``) or ``1/n``.
    """
    nc, nb = block.shape
    out = np.zeros(m.shape[0] if mode == 2 else nc)
    s = 1.0 if kind == 0 else -1.0
    w = np.empty(nb)
    for c in range(nc):
        mc = m[block[c]]
        if kind == 2:
            w[:] = 1.0 / nb
            value = np.mean(mc)
        else:
            top = np.max(s * mc)
            tot = 0.0
            for j in range(nb):
                w[j] = np.exp(s * mc[j] - top)
                tot += w[j]
            w /= tot
            value = s * (top + np.log(tot / nb))
        if mode == 0:
            out[c] = value
        for j in range(nb):
            if mode == 1:
                out[c] += w[j] * dm[block[c, j]]
            elif mode == 2:
                out[block[c, j]] += w[j] * dd[c]
    return out
