"""Smooth factored fast marching: quadrant solves, the smoothed ``|y|``, the fast path.

Helpers of :mod:`._smooth_numba` (see its docstring for the update): ``_wquad`` solves
one quadrant's Godunov equation with its derivatives; ``_sabs`` is the C1 ``A(y)`` of
the smooth minimum and ``_fold`` its pairwise fold (one inline helper for the general
path, which also carries ``∂/∂τ*``, and the fast path); ``_quad_inf``/``_evaluate_inf``
evaluate the update when no neighbour is within the smoothing width of the node's own
time (``τ* = ∞``, the common case): one Godunov solve per cell and a plain minimum
unless two candidates are within ``e^τ`` of each other, logarithms only then. Same
values as the general path to round-off.
"""

import numpy as np

from bayesinv._numba import njit


@njit(cache=True, nogil=True, inline="always")
def _sabs(y, tau):
    """Smoothed ``|y|`` (exact beyond ``tau``) and its derivative."""
    a = abs(y)
    if a >= tau:
        return a, (1.0 if y > 0.0 else -1.0)
    t = y / tau
    return y * t * (1.5 - 0.5 * t * t), t * (3.0 - 2.0 * t * t)


@njit(cache=True, nogil=True, inline="always")
def _fold(m, m_t, lq, l_t, tau, w, q):
    """Fold candidate ``q`` (``log u_q = lq``) into the smooth minimum ``m`` of those before.

    ``smin(m, lq) = (m + lq)/2 - A(m - lq)/2``; the weights ``w[p]`` of the earlier
    candidates are scaled by ``∂smin/∂m`` and ``w[q] = ∂smin/∂lq``; ``m_t, l_t`` are
    derivatives carried along (the general path's ``∂/∂τ*``; 0 in the fast path). ``m = inf``:
    the first candidate. Returns the new ``(m, m_t)``.
    """
    if m == np.inf:
        w[q] = 1.0
        return lq, l_t
    sa, sd = _sabs(m - lq, tau)
    wa = 0.5 - 0.5 * sd
    for p in range(q):
        w[p] *= wa
    w[q] = 0.5 + 0.5 * sd
    return 0.5 * (m + lq) - 0.5 * sa, wa * m_t + w[q] * l_t


@njit(cache=True, nogil=True)
def _wquad(s, hasx, ax, bx, wx, qx, hasz, az, bz, wz, qz):
    """Root of ``Σ_a [w_a max(α_a u - β_a, 0)² + (1 - w_a) q_a u²] = s²``; (u, ∂F/∂u, P_x, P_z).

    ``has``: the axis has an accepted neighbour (else ``w = 0``); ``q = ψ g²`` the
    transverse coefficient. The left side increases with ``u``: one root, found by trying
    the four active sets. u = inf: no root.
    """
    ex = hasx and wx > 0.0
    ez = hasz and wz > 0.0
    wx = wx if hasx else 0.0
    wz = wz if hasz else 0.0
    for br in range(4):
        actx = br == 0 or br == 1
        actz = br == 0 or br == 2
        if (actx and not ex) or (actz and not ez):
            continue
        a = (1.0 - wx) * qx + (1.0 - wz) * qz
        b = 0.0
        c = -s * s
        if actx:
            a += wx * ax * ax
            b += wx * ax * bx
            c += wx * bx * bx
        if actz:
            a += wz * az * az
            b += wz * az * bz
            c += wz * bz * bz
        if a <= 0.0:
            continue
        disc = b * b - a * c
        if disc < 0.0:
            continue
        uq = (b + np.sqrt(disc)) / a
        if not uq > 0.0:
            continue
        if ex and actx != (ax * uq - bx >= 0.0):
            continue
        if ez and actz != (az * uq - bz >= 0.0):
            continue
        px = ax * uq - bx if actx else 0.0
        pz = az * uq - bz if actz else 0.0
        fu = 2.0 * (wx * px * ax + (1.0 - wx) * qx * uq + wz * pz * az + (1.0 - wz) * qz * uq)
        return uq, fu, px, pz
    return np.inf, 0.0, 0.0, 0.0


@njit(cache=True, nogil=True, inline="always")
def _quad_inf(s, hx, ax, bx, qx, hz, az, bz, qz):
    """``_wquad`` with full weight on the accepted axes: the usual active set first."""
    if hx and hz:  # both terms active (upwind on both axes)
        a = ax * ax + az * az
        b = ax * bx + az * bz
        disc = b * b - a * (bx * bx + bz * bz - s * s)
        if disc >= 0.0:
            uq = (b + np.sqrt(disc)) / a
            px = ax * uq - bx
            pz = az * uq - bz
            if uq > 0.0 and px >= 0.0 and pz >= 0.0:
                return uq, 2.0 * (px * ax + pz * az), px, pz
    elif hx or hz:  # one term, with the other axis's transverse term
        al, be, qt = (ax, bx, qz) if hx else (az, bz, qx)
        a = al * al + qt
        b = al * be
        disc = b * b - a * (be * be - s * s)
        if a > 0.0 and disc >= 0.0:
            uq = (b + np.sqrt(disc)) / a
            p = al * uq - be
            if uq > 0.0 and p >= 0.0:
                fu = 2.0 * (p * al + qt * uq)
                return (uq, fu, p, 0.0) if hx else (uq, fu, 0.0, p)
    return _wquad(s, hx, ax, bx, 1.0 if hx else 0.0, qx, hz, az, bz, 1.0 if hz else 0.0, qz)


@njit(cache=True, nogil=True, inline="always")
def _evaluate_inf(d, tau, dx, dz, qj, qa, qb, qq, qs, lder, w, uq4):
    """``_evaluate(τ* = ∞)``, the common case: every accepted neighbour at full weight.

    The same value, weights and ``lder`` (``φ = 1``, ``ω = 0``, no τ*-path). The smooth
    minimum equals the plain minimum, with weight one, when every other quadrant's
    ``log u_q`` lies at least ``τ`` above the smallest (see the module notes); only
    otherwise are the logarithms taken and folded as in ``_evaluate``.
    """
    best = -1
    ub = np.inf
    for q in range(4):
        w[q] = 0.0
        uq4[q] = np.inf
        hx = qj[q, 0] >= 0
        hz = qj[q, 1] >= 0
        if not qs[q] > 0.0 or not (hx or hz):
            continue
        uq, fu, px, pz = _quad_inf(qs[q], hx, qa[q, 0], qb[q, 0], qq[q, 0], hz, qa[q, 1],
                                   qb[q, 1], qq[q, 1])  # fmt: skip
        if uq == np.inf or not fu > 0.0:
            continue
        f = 2.0 / (fu * uq)
        lder[q, 0] = f * px * d / dx if hx else 0.0
        lder[q, 1] = f * pz * d / dz if hz else 0.0
        lder[q, 2] = f * qs[q]
        uq4[q] = uq
        if uq < ub:
            ub = uq
            best = q
    if best < 0:
        return np.inf
    u2 = np.inf  # the second smallest: within e^τ of the smallest?
    for q in range(4):
        if q != best and uq4[q] < u2:
            u2 = uq4[q]
    # e^τ <= 1 + τ + τ² for τ <= 1.79: exp only when the cheap bound does not decide
    close = False
    if u2 < np.inf and (tau > 1.7 or u2 < ub * (1.0 + tau * (1.0 + tau))):
        close = u2 < ub * np.exp(tau)
    if not close:
        w[best] = 1.0
        return ub
    m = np.inf
    for q in range(4):
        if uq4[q] == np.inf:
            continue
        m = _fold(m, 0.0, np.log(uq4[q]), 0.0, tau, w, q)[0]
    return np.exp(m)
