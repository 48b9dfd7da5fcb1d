"""Numba kernels of :class:`~bayesinv.operators.elliptic.Elliptic1D` (linear P1 elements).

Nodes ``0..n`` at ``z0 + k h``; element ``e`` joins nodes ``e`` and ``e + 1`` and has stiffness
``a_e / h [[1, -1], [-1, 1]]``. The free nodes (not Dirichlet) are the contiguous range
``[lo, hi)``, so ``A_ff`` is tridiagonal; it is factorised as ``L D L^T`` (the symmetric Thomas
algorithm) and the factor is reused for the tangent or adjoint solve.

    jvp:  A_ff δu_f = -(δA u)_f,
    vjp:  A_ff λ_f = (∂d/∂u)^T δd,   ∂/∂a_e = -(λ_e - λ_{e+1})(u_e - u_{e+1})/h

Element loops scatter into nodes and cells and run sequentially; observation loops gather.
"""

from __future__ import annotations

import numpy as np

from bayesinv._numba import njit


@njit(cache=True, nogil=True)
def coefficients(m, kind):
    """Return ``(a, da/dm, ok)``; ``kind`` 0: ``m = log a``, 1: ``a > 0``, 2: ``a != 0``."""
    a = np.exp(m) if kind == 0 else m.copy()
    da = a.copy() if kind == 0 else np.ones_like(m)
    ok = True
    for i in range(a.shape[0]):
        if not np.isfinite(a[i]) or (a[i] <= 0.0 if kind < 2 else a[i] == 0.0):
            ok = False
    return a, da, ok


@njit(cache=True, nogil=True)
def _factor(a, el_cell, h, lo, hi, signed):
    """``L D L^T`` of the free block: ``(ok, d, low)``, ``low[i]`` below ``d[i]``."""
    n = hi - lo
    diag = np.zeros(n)
    off = np.zeros(max(n - 1, 0))
    for e in range(el_cell.shape[0]):  # scatter: elements into nodes
        k = a[el_cell[e]] / h
        for node in (e, e + 1):
            if lo <= node < hi:
                diag[node - lo] += k
        if lo <= e and e + 1 < hi:
            off[e - lo] -= k
    d = np.empty(n)
    low = np.zeros(max(n - 1, 0))
    for i in range(n):
        d[i] = diag[i]
        if i > 0:
            low[i - 1] = off[i - 1] / d[i - 1]
            d[i] -= low[i - 1] * off[i - 1]
        # SPD for a > 0; with signed a the unpivoted LDL^T fails only on a (near) zero pivot
        small = 1e-13 * abs(diag[i]) if signed else 0.0
        if not (np.isfinite(d[i]) and (abs(d[i]) > small if signed else d[i] > 0.0)):
            return False, d, low
    return True, d, low


@njit(cache=True, nogil=True)
def _solve(d, low, b):
    n = d.shape[0]
    for i in range(1, n):
        b[i] -= low[i - 1] * b[i - 1]
    for i in range(n):
        b[i] /= d[i]
    for i in range(n - 2, -1, -1):
        b[i] -= low[i] * b[i + 1]


@njit(cache=True, nogil=True)
def _apply_dA(u, da, el_cell, h, lo, hi):
    """``(δA u)`` on the free nodes (scatter over elements)."""
    out = np.zeros(hi - lo)
    for e in range(el_cell.shape[0]):
        r = da[el_cell[e]] / h * (u[e] - u[e + 1])
        if lo <= e < hi:
            out[e - lo] += r
        if lo <= e + 1 < hi:
            out[e + 1 - lo] -= r
    return out


@njit(cache=True, nogil=True)
def solve_state(a, data, signed):
    """Nodal solution and factor: ``(u, d, low, ok)``."""
    el_cell, h, lo, hi, u_bc, load, _, _, _ = data
    u = u_bc.copy()
    ok, d, low = _factor(a, el_cell, h, lo, hi, signed)
    if not ok:
        return u, d, low, False
    rhs = load[lo:hi] - _apply_dA(u_bc, a, el_cell, h, lo, hi)
    _solve(d, low, rhs)
    u[lo:hi] = rhs
    return u, d, low, np.all(np.isfinite(u))


@njit(cache=True, nogil=True)
def _observe(u, du, a, da, data):
    _, h, _, _, _, _, obs_elem, obs_t, fl_elem = data
    no, nf = obs_elem.shape[0], fl_elem.shape[0]
    out = np.empty(no + nf)
    for p in range(no):  # gather
        k, t = obs_elem[p], obs_t[p]
        out[p] = (1.0 - t) * du[k] + t * du[k + 1]
    for p in range(nf):  # q = -a du/dz (downward flux), linearised
        k = fl_elem[p]
        out[no + p] = -(da[k] * (u[k + 1] - u[k]) + a[k] * (du[k + 1] - du[k])) / h
    return out


@njit(cache=True, nogil=True)
def forward_impl(m, data, kind, n_data):
    """Predicted data (NaN if ``a`` is not positive or the solve fails)."""
    a, _, ok = coefficients(m, kind)
    if ok:
        u, _, _, ok = solve_state(a, data, kind == 2)
    if not ok:
        return np.full(n_data, np.nan)
    el = a[data[0]]
    return _observe(u, u, el, np.zeros_like(el), data)


@njit(cache=True, nogil=True)
def jvp_impl(m, dm, data, kind, n_data):
    """Jacobian times ``dm``: one factorisation, two solves."""
    el_cell, h, lo, hi = data[0], data[1], data[2], data[3]
    a, da, ok = coefficients(m, kind)
    if ok:
        u, d, low, ok = solve_state(a, data, kind == 2)
    if not ok:
        return np.full(n_data, np.nan)
    dc = da * dm
    rhs = -_apply_dA(u, dc, el_cell, h, lo, hi)
    _solve(d, low, rhs)
    du = np.zeros_like(u)
    du[lo:hi] = rhs
    return _observe(u, du, a[el_cell], dc[el_cell], data)


@njit(cache=True, nogil=True)
def vjp_impl(m, dd, data, kind):
    """Transposed Jacobian times ``dd``: one factorisation, two solves."""
    el_cell, h, lo, hi, _, _, obs_elem, obs_t, fl_elem = data
    a, da, ok = coefficients(m, kind)
    if ok:
        u, d, low, ok = solve_state(a, data, kind == 2)
    if not ok:
        return np.full(m.shape[0], np.nan)
    g = np.zeros(u.shape[0])
    ga = np.zeros(m.shape[0])
    no = obs_elem.shape[0]
    for p in range(no):  # scatter: observations into nodes
        g[obs_elem[p]] += (1.0 - obs_t[p]) * dd[p]
        g[obs_elem[p] + 1] += obs_t[p] * dd[p]
    for p in range(fl_elem.shape[0]):
        k = fl_elem[p]
        c = el_cell[k]
        g[k] += dd[no + p] * a[c] / h
        g[k + 1] -= dd[no + p] * a[c] / h
        ga[c] -= dd[no + p] * (u[k + 1] - u[k]) / h  # direct dependence of the flux on a
    lam = np.zeros(u.shape[0])
    rhs = g[lo:hi].copy()
    _solve(d, low, rhs)  # adjoint solve with the forward's factor
    lam[lo:hi] = rhs
    for e in range(el_cell.shape[0]):  # scatter: elements into cells
        ga[el_cell[e]] -= (lam[e] - lam[e + 1]) * (u[e] - u[e + 1]) / h
    return ga * da


def make_kernels(data, kind, n_data):
    """Build the (forward, jvp, vjp) njit closures over the operator's data."""

    @njit(nogil=True)
    def forward(m):
        return forward_impl(m, data, kind, n_data)

    @njit(nogil=True)
    def jvp(m, dm):
        return jvp_impl(m, dm, data, kind, n_data)

    @njit(nogil=True)
    def vjp(m, dd):
        return vjp_impl(m, dd, data, kind)

    return forward, jvp, vjp
