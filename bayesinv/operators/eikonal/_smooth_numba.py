"""Smooth factored fast marching: a C1 node update for sampling, with its exact derivatives.

Same unknowns and factoring as :mod:`._fmm_numba` (``T = d u`` on the grid nodes), first
order. The node update has no discrete choice that can make ``u`` jump or kink:

Quadrant solve. For each of the (up to) four cells ``q`` touching node ``k``, with the
x-neighbour ``j_x`` and the z-neighbour ``j_z`` on that cell's side, solve the Godunov
equation ``max(r_x, 0)² + max(r_z, 0)² = s_q²`` for ``u_q``, ``r = α u - β`` with the
first-order factored terms of :mod:`._fmm_numba` (a neighbour not yet accepted has no
term). Its left side increases with ``u``, so the root is unique: the two-term root if
both ``r >= 0`` there, else the smaller one-term root ``(β + s_q)/α``. It is C1 in the
neighbour values: a term enters at ``r = 0`` with zero slope (a neighbour accepted just
before ``k`` enters with ``T_j ≈ T_k``, i.e. ``r ≈ 0``).

Smooth minimum. ``log u = smin(log u_1, ..., log u_4)`` folded pairwise,
``smin(a, b) = (a + b)/2 - A(a - b)/2`` with ``A(y) = |y|`` for ``|y| >= τ`` and
``A(y) = 3y²/(2τ) - y⁴/(2τ³)`` inside: C1, exact at ties (``smin(a, a) = a``) and
equal to ``min`` when the candidates differ by more than ``τ``; its weights
``∂smin/∂a, ∂smin/∂b`` lie in [0, 1] and sum to 1 (monotone). The temperature is
``τ = c h / d`` with ``h = max(dx, dz)``: in time units ``c`` times the cell travel time
``h u`` at the node, so the smoothing is the same fraction of a cell everywhere.

Derivatives. ``∂u_q/∂u_j = r d c_j / D`` and ``∂u_q/∂s_q = s_q / D`` as in
:mod:`._fmm_numba` (``D = Σ α r`` over the active terms), and ``∂u/∂u_q = u w_q / u_q``
with ``w_q`` the fold's weights. The recipe of node ``k``: weights of its four axis
neighbours (W, E, N, S) and of its four cells — jvp gathers and vjp scatters over them in
acceptance order as before.
"""

import numpy as np

from bayesinv._numba import njit
from bayesinv.operators.eikonal._fmm_numba import (
    _DONE,
    _TRIAL,
    _accept_next,
    _heap_push,
    march_start,
)
from bayesinv.operators.eikonal._smooth_fast_numba import _evaluate_inf, _fold, _wquad

_LAMBDA = 1.0  # log-units a quadrant is pushed up while its neighbours are not yet earlier
_QX = (-1, 1, -1, 1)  # quadrant q: x side, z side
_QZ = (-1, -1, 1, 1)


@njit(cache=True, nogil=True, inline="always")
def _step(x):
    """Quintic smoothstep ``S(x)`` clamped to [0, 1], and ``S'(x)``."""
    if x <= 0.0:
        return 0.0, 0.0
    if x >= 1.0:
        return 1.0, 0.0
    return x * x * x * (10.0 + x * (-15.0 + 6.0 * x)), 30.0 * x * x * (1.0 - x) * (1.0 - x)


@njit(cache=True, nogil=True, inline="always")
def _term(k, i, n_i, stride, side, h, d, g, u, dist, state):
    """One-sided factored term toward ``side``: (neighbour or -1, alpha, beta)."""
    j = i + side
    if not (0 <= j <= n_i):
        return -1, 0.0, 0.0
    nb = k + side * stride
    if state[nb] != _DONE:
        return -1, 0.0, 0.0
    alpha = d / h - side * g
    if alpha <= 0.0:
        return -1, 0.0, 0.0
    return nb, alpha, d * u[nb] / h


@njit(cache=True, nogil=True)
def _evaluate(tstar, d, tau, qj, qa, qb, qt, qdl, qu, qq, qh, qs, lder, w):
    """Return the node value ``G(τ*)`` (smooth min over quadrants) and ``∂G/∂τ*``.

    Per quadrant ``q`` and axis ``a``: ``qj`` neighbour (-1: none), ``qa, qb`` α, β,
    ``qt`` its time, ``qdl`` δ, ``qu`` its u, ``qq`` ψ g², ``qh`` spacing; ``qs`` the cell's
    slowness (``nan``: no cell). Fills ``lder[q] = (∂l/∂u_jx, ∂l/∂u_jz, ∂l/∂s_q)`` of the
    candidate's ``l = log u_q + Λ (1 - ω_q)`` and the fold weights ``w``.
    """
    m = np.inf
    m_tau = 0.0
    for q in range(4):
        w[q] = 0.0
    for q in range(4):
        if not qs[q] > 0.0 or (qj[q, 0] < 0 and qj[q, 1] < 0):
            continue
        ph0, dph0 = _step((tstar - qt[q, 0]) / qdl[q, 0]) if qj[q, 0] >= 0 else (0.0, 0.0)
        ph1, dph1 = _step((tstar - qt[q, 1]) / qdl[q, 1]) if qj[q, 1] >= 0 else (0.0, 0.0)
        ph = (ph0, ph1)
        dph = (dph0, dph1)
        uq, fu, px, pz = _wquad(qs[q], qj[q, 0] >= 0, qa[q, 0], qb[q, 0], ph0, qq[q, 0],
                                qj[q, 1] >= 0, qa[q, 1], qb[q, 1], ph1, qq[q, 1])  # fmt: skip
        if uq == np.inf or not fu > 0.0:
            continue
        pp = (px, pz)
        om = (1.0 - ph[0] if qj[q, 0] >= 0 else 1.0, 1.0 - ph[1] if qj[q, 1] >= 0 else 1.0)
        l_tau = 0.0
        for a in range(2):
            lder[q, a] = 0.0
            if qj[q, a] < 0:
                continue
            if dph[a] == 0.0:  # φ constant here (0 or 1): no τ*-path (and τ* may be inf)
                lder[q, a] = 2.0 * ph[a] * pp[a] * d / qh[q, a] / fu / uq
                continue
            e = pp[a] * pp[a] - qq[q, a] * uq * uq  # ∂F/∂φ_a
            # φ_a = S((τ* - d_j u_j) / (κ h u_j)): ∂x/∂τ* = 1/δ, ∂x/∂u_j = -τ*/(δ u_j)
            du_tau = -e * dph[a] / qdl[q, a] / fu
            du_uj = (e * dph[a] * tstar / (qdl[q, a] * qu[q, a])
                     + 2.0 * ph[a] * pp[a] * d / qh[q, a]) / fu  # fmt: skip
            dom = om[1 - a] * dph[a]  # ∂ω/∂x_a
            l_tau += du_tau / uq - _LAMBDA * dom / qdl[q, a]
            lder[q, a] = du_uj / uq + _LAMBDA * dom * tstar / (qdl[q, a] * qu[q, a])
        # the τ*-path of the other axis through u_q is in l_tau; add it to lder via u_q
        lder[q, 2] = 2.0 * qs[q] / fu / uq
        lq = np.log(uq) + _LAMBDA * om[0] * om[1]
        m, m_tau = _fold(m, m_tau, lq, l_tau, tau, w, q)
    if m == np.inf:
        return np.inf, 0.0
    g = np.exp(m)
    return g, g * m_tau


@njit(cache=True, nogil=True, inline="always")
def _write_recipe(k, scale, qj, qc, lder, w, ridx, rw, rcell, rv):
    # du_k/dl_q = scale * w_q: the W, E, N, S neighbours' and the four cells' weights
    for q in range(4):
        ridx[k, q] = -1
        rw[k, q] = 0.0
        rcell[k, q] = -1
        rv[k, q] = 0.0
    for q in range(4):
        if w[q] == 0.0:
            continue
        f = scale * w[q]
        rcell[k, q] = qc[q]
        rv[k, q] = f * lder[q, 2]
        for a in range(2):
            j = qj[q, a]
            if j < 0:
                continue
            slot = (0 if _QX[q] < 0 else 1) if a == 0 else (2 if _QZ[q] < 0 else 3)
            ridx[k, slot] = j
            rw[k, slot] += f * lder[q, a]


@njit(cache=True, nogil=True, inline="always")
def _update(k, ix, iz, slow, nx, nz, dx, dz, dist, gx, gz, u, T, state, ridx, rw, rcell, rv, c,
            cphi, near, work):  # fmt: skip
    """Smooth trial value of node k from its accepted neighbours; writes its recipe.

    ``u_k`` is the fixed point ``t = G(d t)``: every neighbour enters the quadrant
    equations with the weight ``φ = S((T_k - T_j)/δ_j)``, zero when it is not earlier than
    the node itself, so the value is continuous when the acceptance order changes.
    ``G`` decreases in its argument: one fixed point, found by safeguarded Newton.
    """
    # long: one node update (gather the neighbours' terms, fast path or fixed point, recipe)
    # in one function, inlined with _relax into the march's one call site (a numba call
    # passing ~20 arrays cost a third of the march)
    nxn = nx + 1
    d = dist[k]
    tau = c * max(dx, dz) / d
    psi = 1.0 if d <= near else 0.0
    qj, qc, qa, qb, qt, qdl, qu, qq, qh, qs, lder, w, uq4 = work
    gxk = gx[k]
    gzk = gz[k]
    # the accepted axis neighbours W, E (x) and N, S (z): (node or -1, α, β), and the
    # transverse terms ψ g² of an axis toward the source (side σ with σ g <= 0)
    jw, aw, bw = _term(k, ix, nx, 1, -1, dx, d, gxk, u, dist, state)
    je, ae, be = _term(k, ix, nx, 1, 1, dx, d, gxk, u, dist, state)
    jn, an, bn = _term(k, iz, nz, nxn, -1, dz, d, gzk, u, dist, state)
    js, as_, bs = _term(k, iz, nz, nxn, 1, dz, d, gzk, u, dist, state)
    tx = psi * gxk * gxk
    tz = psi * gzk * gzk
    for q in range(4):
        sx = _QX[q]
        sz = _QZ[q]
        cx = ix + (sx - 1) // 2
        cz = iz + (sz - 1) // 2
        qc[q] = -1
        qs[q] = np.nan
        qj[q, 0] = -1
        qj[q, 1] = -1
        if not (0 <= cx < nx and 0 <= cz < nz):
            continue
        qc[q] = cz * nx + cx
        qs[q] = slow[qc[q]]
        if sx < 0:
            qj[q, 0], qa[q, 0], qb[q, 0] = jw, aw, bw
            qq[q, 0] = tx if gxk >= 0.0 else 0.0
        else:
            qj[q, 0], qa[q, 0], qb[q, 0] = je, ae, be
            qq[q, 0] = tx if gxk <= 0.0 else 0.0
        if sz < 0:
            qj[q, 1], qa[q, 1], qb[q, 1] = jn, an, bn
            qq[q, 1] = tz if gzk >= 0.0 else 0.0
        else:
            qj[q, 1], qa[q, 1], qb[q, 1] = js, as_, bs
            qq[q, 1] = tz if gzk <= 0.0 else 0.0
    t = _evaluate_inf(d, tau, dx, dz, qj, qa, qb, qq, qs, lder, w, uq4)
    if t == np.inf:
        return np.inf
    # late: an accepted neighbour within δ = c_φ h u_j of the node (φ < 1 there)
    dt = d * t
    late = (
        (jw >= 0 and dt - T[jw] < cphi * dx * u[jw])
        or (je >= 0 and dt - T[je] < cphi * dx * u[je])
        or (jn >= 0 and dt - T[jn] < cphi * dz * u[jn])
        or (js >= 0 and dt - T[js] < cphi * dz * u[js])
    )
    if not late:
        _write_recipe(k, t, qj, qc, lder, w, ridx, rw, rcell, rv)
        return t
    for q in range(4):  # what the general evaluation needs besides
        for a in range(2):
            j = qj[q, a]
            qh[q, a] = dx if a == 0 else dz
            qt[q, a], qdl[q, a], qu[q, a] = 0.0, 1.0, 1.0
            if j >= 0:
                qt[q, a] = T[j]
                qu[q, a] = u[j]
                qdl[q, a] = cphi * qh[q, a] * u[j]
            else:
                qa[q, a], qb[q, a] = 0.0, 0.0
    g, g_t = _evaluate(d * t, d, tau, qj, qa, qb, qt, qdl, qu, qq, qh, qs, lder, w)
    if g != t:  # some neighbour is within δ of the node: solve τ* = G(τ*)
        lo = t
        hi = g
        while hi == np.inf or hi - _evaluate(d * hi, d, tau, qj, qa, qb, qt, qdl, qu, qq, qh, qs,
                                             lder, w)[0] < 0.0:  # fmt: skip
            hi = 2.0 * lo if hi == np.inf else 2.0 * hi
        for _ in range(100):
            g, g_t = _evaluate(d * t, d, tau, qj, qa, qb, qt, qdl, qu, qq, qh, qs, lder, w)
            h = t - g
            if h > 0.0:
                hi = t
            else:
                lo = t
            nt = t - h / (1.0 - d * g_t)
            if not (lo < nt < hi):
                nt = 0.5 * (lo + hi)
            if abs(nt - t) <= 1e-15 * t or hi - lo <= 1e-15 * hi:
                break
            t = nt
        g, g_t = _evaluate(d * t, d, tau, qj, qa, qb, qt, qdl, qu, qq, qh, qs, lder, w)
    _write_recipe(k, g / (1.0 - d * g_t), qj, qc, lder, w, ridx, rw, rcell, rv)
    return g


@njit(cache=True, nogil=True, inline="always")
def _relax(k, nx, nz, dx, dz, slow, dist, gx, gz, u, T, state, hk, hv, nh,
           ridx, rw, rcell, rv, c, cphi, near, work):  # fmt: skip
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
                      ridx, rw, rcell, rv, c, cphi, near, work)  # fmt: skip
        if val < np.inf:
            u[j] = val
            T[j] = dist[j] * val
            state[j] = _TRIAL
            nh = _heap_push(hk, hv, nh, j, T[j])
    return nh


@njit(cache=True, nogil=True)
def march_smooth(slow, nx, nz, dx, dz, x0, z0, xs, zs, c, cphi, near,
                 u, order, ridx, rw, rcell, rv, dist):  # fmt: skip
    """Smooth fast marching from one source (temperature ``c``); fills u, order, recipes.

    Recipes: ``ridx/rw`` (n, 4) the W, E, N, S neighbours and weights, ``rcell/rv`` (n, 4)
    the cells and weights (-1: unused). Returns the number of accepted nodes.
    """
    gx, gz, T, state, hk, hv = march_start(
        slow, nx, nz, dx, dz, x0, z0, xs, zs, u, order, ridx, rw, rcell, rv, dist
    )
    nh = 0
    n_acc = 4
    f2 = np.empty((4, 2))
    work = (np.empty((4, 2), dtype=np.int64), np.empty(4, dtype=np.int64), f2.copy(), f2.copy(),
            f2.copy(), f2.copy(), f2.copy(), f2.copy(), f2.copy(), np.empty(4), np.zeros((4, 3)),
            np.zeros(4), np.empty(4))  # fmt: skip
    t = 0
    while True:  # relax the accepted nodes in order (one call site: _relax is inlined)
        if t == n_acc:
            k, nh = _accept_next(hk, hv, nh, state, T, order, n_acc)
            if k < 0:
                break
            n_acc += 1
        nh = _relax(order[t], nx, nz, dx, dz, slow, dist, gx, gz, u, T, state, hk, hv, nh,
                    ridx, rw, rcell, rv, c, cphi, near, work)  # fmt: skip
        t += 1
    return n_acc
