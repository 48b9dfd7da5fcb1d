"""TR-BDF2 time stepping of ``M dh/dt = -A h + f`` and its exact discrete adjoint (kernels).

Math (see ``bayesinv.operators.TransientDiffusion2D``): ``M = diag(S V)``,
``A = sum_f T_f (e_a - e_b)(e_a - e_b)^T`` and, with ``g = 2 - sqrt(2)``, ``c = g dt / 2``
(which equals ``(1 - g) dt / (2 - g)``) and ``B = M + c A``, one step from ``h_n`` is

    B y       = (M - c A) h_n + 2 c f_n                 (trapezoidal stage to t_n + g dt)
    B h_{n+1} = alpha M y - beta M h_n + c f_n          (BDF2 stage to t_n + dt)

with ``alpha = 1 / (g (2 - g))`` and ``beta = (1 - g)^2 / (g (2 - g))``. The adjoint of a
functional ``J = sum_n o_n . h_n`` runs backward with the same factors of ``B``:

    B nu_n = o_{n+1} + (M - c_{n+1} A) mu_{n+1} - beta M nu_{n+1},    B mu_n = alpha M nu_n,

(terms of step ``N`` are zero) and ``dJ/dp = -sum_n mu_n . dR1_n/dp + nu_n . dR2_n/dp``
with ``dR1/dp = dM (y - h_n) + c dA (y + h_n)`` and
``dR2/dp = dM (h_{n+1} - alpha y + beta h_n) + c dA h_{n+1}``.

Observation ``j`` gathers ``w * (P h_n)`` over the (at most two) step nodes around its time
(linear interpolation in time) and the four cells of its point (bilinear in space); its
adjoint scatters. Every kernel allocates its own arrays (thread-safe); loops are sequential
(each step depends on the previous one).

The SPD solves use the shared envelope Cholesky (``bayesinv/operators/_cholesky_numba.py``):
``chol = (perm, first, ptr, scatter)`` of the pattern listed as ``[cells; faces (a, b);
faces (b, a)]``, one factor per distinct step size (rows of ``L``).
"""

import math

import numba
import numpy as np

from bayesinv.operators._cholesky_numba import cholesky_factor, cholesky_solve

GAMMA = 2.0 - math.sqrt(2.0)
C_STEP = GAMMA / 2.0
ALPHA = 1.0 / (GAMMA * (2.0 - GAMMA))
BETA = (1.0 - GAMMA) ** 2 / (GAMMA * (2.0 - GAMMA))


# --- coefficients ---------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def coefficients(m, n, log_s_fixed, face_a, face_b, res_a, res_b, volume):
    """``ok, K, T (faces), mass (cells)`` from ``m = [log K]`` or ``[log K, log S]``."""
    K = np.exp(m[:n])
    if m.size > n:
        mass = np.exp(m[n:]) * volume
    else:
        mass = np.exp(log_s_fixed) * volume
    T = np.empty(face_a.size)
    ok = True
    for c in range(n):
        if not (K[c] > 0.0 and K[c] < np.inf and mass[c] > 0.0 and mass[c] < np.inf):
            ok = False
    if ok:
        for f in range(face_a.size):
            T[f] = 1.0 / (res_a[f] / K[face_a[f]] + res_b[f] / K[face_b[f]])
            if not (T[f] > 0.0 and T[f] < np.inf):
                ok = False
    return ok, K, T, mass


@numba.njit(cache=True, nogil=True)
def apply_stiffness(T, face_a, face_b, x, out, scale):
    """``out += scale * A x`` (scatter over faces)."""
    for f in range(face_a.size):
        a, b = face_a[f], face_b[f]
        flux = scale * T[f] * (x[a] - x[b])
        out[a] += flux
        out[b] -= flux


@numba.njit(cache=True, nogil=True)
def factor_levels(T, mass, dts, face_a, face_b, chol):
    """Factors of ``B = M + c A`` for each distinct step size; ``ok`` False on failure."""
    _, first, ptr, scatter = chol
    n, nf = mass.size, T.size
    L = np.zeros((dts.size, ptr[-1]))
    values = np.empty(n + 2 * nf)
    for k in range(dts.size):
        c = C_STEP * dts[k]
        values[:n] = mass
        for f in range(nf):
            values[face_a[f]] += c * T[f]
            values[face_b[f]] += c * T[f]
            values[n + f] = -c * T[f]
            values[n + nf + f] = -c * T[f]
        if not cholesky_factor(first, ptr, scatter, values, L[k]):
            return False, L
    return True, L


# --- forward march ----------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def march(L, level, dts, interval, forcing, T, mass, face_a, face_b, h0, chol):
    """States ``H`` (nodes 0..N) and stage values ``Y`` (steps 0..N-1)."""
    perm, first, ptr, _ = chol
    n_steps, n = level.size, h0.size
    H = np.empty((n_steps + 1, n))
    Y = np.empty((n_steps, n))
    H[0] = h0
    rhs = np.empty(n)
    for s in range(n_steps):
        c = C_STEP * dts[level[s]]
        f = forcing[interval[s]]
        h = H[s]
        for i in range(n):
            rhs[i] = mass[i] * h[i] + 2.0 * c * f[i]
        apply_stiffness(T, face_a, face_b, h, rhs, -c)
        cholesky_solve(perm, first, ptr, L[level[s]], rhs)
        Y[s] = rhs
        for i in range(n):
            rhs[i] = mass[i] * (ALPHA * Y[s, i] - BETA * h[i]) + c * f[i]
        cholesky_solve(perm, first, ptr, L[level[s]], rhs)
        H[s + 1] = rhs
    return H, Y


@numba.njit(cache=True, nogil=True)
def observe(H, node_ptr, node_obs, node_w, obs_point, pcells, pweights, sign, offset):
    """``d_j = offset_j + sign * sum_n w_jn (P h_n)_j`` (gather)."""
    d = offset.copy()
    for node in range(node_ptr.size - 1):
        for q in range(node_ptr[node], node_ptr[node + 1]):
            j = node_obs[q]
            p = obs_point[j]
            v = 0.0
            for k in range(4):
                v += pweights[p, k] * H[node, pcells[p, k]]
            d[j] += sign * node_w[q] * v
    return d


@numba.njit(cache=True, nogil=True)
def observe_node_adjoint(dd, node, node_ptr, node_obs, node_w, obs_point, pcells, pw, sign, o):
    """``o = d(data)/dh_node^T dd`` (scatter into the four cells of each point)."""
    o[:] = 0.0
    for q in range(node_ptr[node], node_ptr[node + 1]):
        j = node_obs[q]
        p = obs_point[j]
        for k in range(4):
            o[pcells[p, k]] += sign * node_w[q] * pw[p, k] * dd[j]


# --- derivatives ------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def tangent_march(dm, L, level, dts, T, mass, K, faces, res_a, res_b, H, Y, chol):
    """Tangent states ``dH`` for the parameter direction ``dm`` (same factors as forward)."""
    face_a, face_b = faces
    perm, first, ptr, _ = chol
    n_steps, n = Y.shape
    dT = np.empty(T.size)
    for f in range(T.size):
        a, b = face_a[f], face_b[f]
        dT[f] = T[f] * T[f] * (res_a[f] / K[a] * dm[a] + res_b[f] / K[b] * dm[b])
    dmass = np.zeros(n)
    if dm.size > n:
        for i in range(n):
            dmass[i] = mass[i] * dm[n + i]
    dH = np.zeros((n_steps + 1, n))
    rhs = np.empty(n)
    tmp = np.empty(n)
    for s in range(n_steps):
        c = C_STEP * dts[level[s]]
        y, h, h1, dh = Y[s], H[s], H[s + 1], dH[s]
        for i in range(n):
            rhs[i] = mass[i] * dh[i] - dmass[i] * (y[i] - h[i])
            tmp[i] = y[i] + h[i]
        apply_stiffness(T, face_a, face_b, dh, rhs, -c)
        apply_stiffness(dT, face_a, face_b, tmp, rhs, -c)
        cholesky_solve(perm, first, ptr, L[level[s]], rhs)
        for i in range(n):
            rhs[i] = mass[i] * (ALPHA * rhs[i] - BETA * dh[i]) - dmass[i] * (
                h1[i] - ALPHA * y[i] + BETA * h[i]
            )
        apply_stiffness(dT, face_a, face_b, h1, rhs, -c)
        cholesky_solve(perm, first, ptr, L[level[s]], rhs)
        dH[s + 1] = rhs
    return dH


@numba.njit(cache=True, nogil=True)
def adjoint_march(dd, L, level, dts, T, mass, K, faces, res_a, res_b, H, Y, obs, chol, n_params):
    """Gradient ``J^T dd`` by the backward (adjoint) sweep; ``obs`` is the observation tuple."""
    perm, first, ptr, _ = chol
    face_a, face_b = faces
    node_ptr, node_obs, node_w, obs_point, pcells, pw, sign = obs
    n_steps, n = Y.shape
    g_face = np.zeros(T.size)
    g_mass = np.zeros(n)
    mu_next = np.zeros(n)
    nu_next = np.zeros(n)
    c_next = 0.0
    o = np.empty(n)
    for s in range(n_steps - 1, -1, -1):
        c = C_STEP * dts[level[s]]
        observe_node_adjoint(dd, s + 1, node_ptr, node_obs, node_w, obs_point, pcells, pw, sign, o)
        nu = np.empty(n)
        for i in range(n):
            nu[i] = o[i] + mass[i] * (mu_next[i] - BETA * nu_next[i])
        apply_stiffness(T, face_a, face_b, mu_next, nu, -c_next)
        cholesky_solve(perm, first, ptr, L[level[s]], nu)
        mu = ALPHA * mass * nu
        cholesky_solve(perm, first, ptr, L[level[s]], mu)
        y, h, h1 = Y[s], H[s], H[s + 1]
        for i in range(n):
            g_mass[i] -= mu[i] * (y[i] - h[i]) + nu[i] * (h1[i] - ALPHA * y[i] + BETA * h[i])
        for f in range(T.size):
            a, b = face_a[f], face_b[f]
            g_face[f] -= c * (
                (mu[a] - mu[b]) * (y[a] + h[a] - y[b] - h[b]) + (nu[a] - nu[b]) * (h1[a] - h1[b])
            )
        mu_next, nu_next, c_next = mu, nu, c
    grad = np.zeros(n_params)
    # chain rule to log K (scatter over faces) and log S (dM/dlog S = M)
    for f in range(T.size):
        a, b = face_a[f], face_b[f]
        t2 = T[f] * T[f] * g_face[f]
        grad[a] += t2 * res_a[f] / K[a]
        grad[b] += t2 * res_b[f] / K[b]
    if n_params > n:
        for i in range(n):
            grad[n + i] = mass[i] * g_mass[i]
    return grad


# --- whole-operator kernels on the data tuple (see TransientBase._data) -----------------------
@numba.njit(cache=True, nogil=True)
def simulate(m, data):
    """``ok, K, T, mass, L, H, Y`` at ``m`` (forward march with all states kept)."""
    n, log_s, geometry, sizes, level, interval, forcing, h0, chol = data[:9]
    fa, fb, ra, rb, vol = geometry
    empty = np.zeros((0, n))
    ok, K, T, mass = coefficients(m, n, log_s, fa, fb, ra, rb, vol)
    if not ok:
        return False, K, T, mass, np.zeros((0, chol[2][-1])), empty, empty
    ok, L = factor_levels(T, mass, sizes, fa, fb, chol)
    if not ok:
        return False, K, T, mass, L, empty, empty
    H, Y = march(L, level, sizes, interval, forcing, T, mass, fa, fb, h0, chol)
    return True, K, T, mass, L, H, Y


@numba.njit(cache=True, nogil=True)
def forward_kernel(m, data):
    """Predicted data at ``m``; NaN when the model is not physical or a solve fails."""
    obs, offset = data[9], data[10]
    n_data = offset.size
    ok, _K, _T, _mass, _L, H, _Y = simulate(np.ascontiguousarray(m), data)
    if not ok:
        return np.full(n_data, np.nan)
    node_ptr, node_obs, node_w, obs_point, pcells, pw, sign = obs
    d = observe(H, node_ptr, node_obs, node_w, obs_point, pcells, pw, sign, offset)
    if not np.all(np.isfinite(d)):
        return np.full(n_data, np.nan)
    return d


@numba.njit(cache=True, nogil=True)
def jvp_kernel(m, dm, data):
    """``J(m) dm`` by the tangent linear model."""
    sizes, level, chol, obs, offset = data[3], data[4], data[8], data[9], data[10]
    fa, fb, ra, rb, _ = data[2]
    ok, K, T, mass, L, H, Y = simulate(np.ascontiguousarray(m), data)
    if not ok:
        return np.full(offset.size, np.nan)
    dm = np.ascontiguousarray(dm)
    dH = tangent_march(dm, L, level, sizes, T, mass, K, (fa, fb), ra, rb, H, Y, chol)
    node_ptr, node_obs, node_w, obs_point, pcells, pw, sign = obs
    zero = np.zeros(offset.size)
    return observe(dH, node_ptr, node_obs, node_w, obs_point, pcells, pw, sign, zero)


@numba.njit(cache=True, nogil=True)
def vjp_kernel(m, dd, data):
    """``J(m)^T dd`` by the adjoint sweep; NaN when ``dd`` is not finite."""
    sizes, level, chol, obs, n_params = data[3], data[4], data[8], data[9], data[11]
    fa, fb, ra, rb, _ = data[2]
    ok, K, T, mass, L, H, Y = simulate(np.ascontiguousarray(m), data)
    if not ok or not np.all(np.isfinite(dd)):
        return np.full(n_params, np.nan)
    dd = np.ascontiguousarray(dd)
    faces = (fa, fb)
    return adjoint_march(dd, L, level, sizes, T, mass, K, faces, ra, rb, H, Y, obs, chol, n_params)
