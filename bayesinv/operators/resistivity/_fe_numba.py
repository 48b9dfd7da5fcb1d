"""Numba kernels of the 2.5-D DC resistivity operator (Q1 finite elements, private helper).

Math (see ``DCResistivity2p5D`` and ``_fe``): ``A_k(σ) = Σ_e σ_e B_e(k)``; with ``U_k`` the
fields of unit sources at the used electrodes (``A_k U_k = Q``, ``Q`` the electrode node
indicator columns) the electrode potentials are ``V = Σ_k c_k Q^T U_k`` (``c_k = w_k / π``) and
a datum is ``d_j = Σ_t s_jt V[pot_jt, cur_jt]`` (four terms, a remote electrode has
``s_jt = 0``). Derivatives (adjoint state, ``A_k`` symmetric):

    ∂V_ab / ∂ log σ_e = -Σ_k c_k σ_e U_k[e, a]^T B_e(k) U_k[e, b]

(``U_k[e, a]`` the four nodal values of field ``a`` on element ``e``). Every function here is
thread-safe: outputs are freshly allocated, inputs are read only.
"""

import numpy as np

from bayesinv._numba import njit


@njit(cache=True, nogil=True)
def assemble(sigma_e, b_k):
    """Entry values ``σ_e B_e(k)`` of ``A_k`` in element order (the Cholesky pattern sums them)."""
    ne = sigma_e.shape[0]
    values = np.empty(ne * 16)
    for e in range(ne):
        s = sigma_e[e]
        for t in range(16):
            values[16 * e + t] = s * b_k[e, t]
    return values


@njit(cache=True, nogil=True)
def element_sigma(m, cell):
    """``σ_e = exp(m[cell[e]])``; returns ``(σ, ok)`` with ``ok`` false on overflow/underflow."""
    sigma = np.empty(cell.shape[0])
    ok = True
    for e in range(cell.shape[0]):
        s = np.exp(m[cell[e]])
        if not (np.isfinite(s) and s > 0.0):
            ok = False
        sigma[e] = s
    return sigma, ok


@njit(cache=True, nogil=True)
def select_data(V, pot, cur, scale):
    """``d_j = Σ_t scale[j, t] V[pot[j, t], cur[j, t]]`` (gathers from ``V``)."""
    n = pot.shape[0]
    d = np.zeros(n)
    for j in range(n):
        for t in range(4):
            if scale[j, t] != 0.0:
                d[j] += scale[j, t] * V[pot[j, t], cur[j, t]]
    return d


@njit(cache=True, nogil=True)
def data_weights(dd, pot, cur, scale, n_used):
    """Symmetric part of the transpose of :func:`select_data`: ``W = sym(S^T dd)``."""
    W = np.zeros((n_used, n_used))
    for j in range(pot.shape[0]):
        for t in range(4):
            if scale[j, t] != 0.0:
                w = 0.5 * scale[j, t] * dd[j]
                W[pot[j, t], cur[j, t]] += w
                W[cur[j, t], pot[j, t]] += w
    return W


@njit(cache=True, nogil=True)
def electrode_potentials(U, nodes):
    """``Q^T U^T``: ``V[a, b] = U[b, nodes[a]]``, field ``b`` at electrode ``a`` (gather)."""
    nu = nodes.shape[0]
    out = np.empty((nu, U.shape[0]))
    for a in range(nu):
        for b in range(U.shape[0]):
            out[a, b] = U[b, nodes[a]]
    return out


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def row_products(A, B):
    """Return ``A Bᵀ`` for C-contiguous ``A`` (m, n) and ``B`` (k, n), by loops (no BLAS).

    The callers run in numba threads, one per wavenumber; a BLAS call there starts BLAS's
    own threads under them (oversubscription: a 40x12 gradient took 5x longer beside a
    two-thread OpenBLAS). The inner loop runs over contiguous rows and vectorises.
    """
    m, k = A.shape[0], B.shape[0]
    out = np.empty((m, k))
    for i in range(m):
        a = A[i]
        for j in range(k):
            b = B[j]
            s = 0.0
            for t in range(a.shape[0]):
                s += a[t] * b[t]
            out[i, j] = s
    return out


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def element_gradient(U, W, b_k, sigma_e, enodes, coef):
    """``-c σ_e Σ_ab W_ab U[a, e]^T B_e U[b, e]`` per element (one wavenumber).

    ``U`` holds one field per row. The fields and the adjoint fields ``W U`` are transposed
    to node-major order first, so each element gathers its four nodes' values of all fields
    as contiguous rows and forms ``G_pq = Σ_a U[a, n_p] (W U)[a, n_q]`` (inner loop over the
    fields, vectorised), then ``g_e = Σ_pq B_e[p, q] G_pq``. ``G_pq = u_pᵀ W u_q`` is
    symmetric because ``W`` is (:func:`data_weights` symmetrises it), so only ``p <= q`` is
    formed: ``g_e = Σ_p B_pp G_pp + Σ_{p<q} (B_pq + B_qp) G_pq``. Gathers only (each element
    writes its own ``g[e]``).
    """
    ut = np.ascontiguousarray(U.T)
    vt = row_products(ut, W)  # (W U)^T
    nu = ut.shape[1]
    ne = enodes.shape[0]
    g = np.empty(ne)
    for e in range(ne):
        acc = 0.0
        for p in range(4):
            up = ut[enodes[e, p]]
            for q in range(p, 4):  # G is symmetric (W is): 10 products instead of 16
                vq = vt[enodes[e, q]]
                s = 0.0
                for a in range(nu):
                    s += up[a] * vq[a]
                if q == p:
                    acc += b_k[e, 5 * p] * s
                else:
                    acc += (b_k[e, 4 * p + q] + b_k[e, 4 * q + p]) * s
        g[e] = -coef * sigma_e[e] * acc
    return g


@njit(cache=True, nogil=True)
def potential_perturbation(U, b_k, ds_e, enodes, coef):
    """``-c U δA U^T`` for ``δA = Σ_e δσ_e B_e`` (one wavenumber), ``(n_used, n_used)``.

    Scatters ``δA u`` of each field ``u`` into node values, then contracts with ``U``.
    """
    nu, n = U.shape
    Y = np.zeros((nu, n))
    for a in range(nu):
        u = U[a]
        y = Y[a]
        for e in range(enodes.shape[0]):
            s = ds_e[e]
            if s == 0.0:
                continue
            for p in range(4):
                acc = 0.0
                for q in range(4):
                    acc += b_k[e, 4 * p + q] * u[enodes[e, q]]
                y[enodes[e, p]] += s * acc
    return -coef * row_products(U, Y)


@njit(cache=True, nogil=True)
def cell_sum(g_e, cell, n_params):
    """Sum element values into their model cells (scatter)."""
    out = np.zeros(n_params)
    for e in range(cell.shape[0]):
        out[cell[e]] += g_e[e]
    return out
