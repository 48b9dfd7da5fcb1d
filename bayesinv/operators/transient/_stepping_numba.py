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
adjoint scatters. The march, its tangent and its adjoint work on a segment of steps
``s0..s1`` so that the whole-operator kernels (``_kernels_numba``) can keep only checkpoints.
Every kernel allocates its own arrays (thread-safe); loops are sequential (each step depends
on the previous one).

The SPD solves use the shared envelope Cholesky (``bayesinv/operators/_cholesky_numba.py``):
``chol = (perm, first, ptr, scatter)`` of the pattern listed as ``[cells; faces (a, b);
faces (b, a)]``, one factor per distinct step size (rows of ``L``).
"""

import math

import numpy as np

from bayesinv._numba import njit
from bayesinv.operators._cholesky_numba import cholesky_factor, cholesky_solve

GAMMA = 2.0 - math.sqrt(2.0)
C_STEP = GAMMA / 2.0
ALPHA = 1.0 / (GAMMA * (2.0 - GAMMA))
BETA = (1.0 - GAMMA) ** 2 / (GAMMA * (2.0 - GAMMA))


# --- coefficients ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def apply_stiffness(T, face_a, face_b, x, out, scale):
    """``out += scale * A x`` (scatter over faces)."""
    for f in range(face_a.size):
        a, b = face_a[f], face_b[f]
        flux = scale * T[f] * (x[a] - x[b])
        out[a] += flux
        out[b] -= flux


@njit(cache=True, nogil=True)
def factor_levels(T, mass, dts, face_a, face_b, chol):
    """Factors of ``B = M + c A`` for each distinct step size; ``ok`` False on failure."""
    L = np.zeros((dts.size, chol[2][-1]))
    return factor_levels_into(T, mass, dts, face_a, face_b, chol, L), L


@njit(cache=True, nogil=True)
def factor_levels_into(T, mass, dts, face_a, face_b, chol, L):
    """Write the factors of ``B = M + c A`` into the rows of ``L``; ``False`` on failure."""
    _, first, ptr, scatter = chol
    n, nf = mass.size, T.size
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
            return False
    return True


# --- forward march ----------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def march_segment(h_start, s0, s1, L, level, dts, interval, forcing, T, mass, faces, chol):
    """States ``H`` at nodes ``s0..s1`` and stage values ``Y`` of steps ``s0..s1-1``."""
    n = h_start.size
    H = np.empty((s1 - s0 + 1, n))
    Y = np.empty((s1 - s0, n))
    march_into(h_start, s0, s1, L, level, dts, interval, forcing, T, mass, faces, chol, H, Y)
    return H, Y


@njit(cache=True, nogil=True)
def march_into(h_start, s0, s1, L, level, dts, interval, forcing, T, mass, faces, chol, H, Y):
    """:func:`march_segment` writing into given ``H``, ``Y`` (at least ``s1 - s0 + 1`` rows)."""
    face_a, face_b = faces
    perm, first, ptr, _ = chol
    n = h_start.size
    H[0] = h_start
    rhs = np.empty(n)
    for s in range(s0, s1):
        j = s - s0
        c = C_STEP * dts[level[s]]
        f = forcing[interval[s]]
        h = H[j]
        for i in range(n):
            rhs[i] = mass[i] * h[i] + 2.0 * c * f[i]
        apply_stiffness(T, face_a, face_b, h, rhs, -c)
        cholesky_solve(perm, first, ptr, L[level[s]], rhs)
        Y[j] = rhs
        for i in range(n):
            rhs[i] = mass[i] * (ALPHA * Y[j, i] - BETA * h[i]) + c * f[i]
        cholesky_solve(perm, first, ptr, L[level[s]], rhs)
        H[j + 1] = rhs


@njit(cache=True, nogil=True)
def observe_nodes(H, node0, obs, d):
    """``d_j += sign * w_jn (P h_n)_j`` for the nodes ``node0..`` held in ``H`` (gather)."""
    node_ptr, node_obs, node_w, obs_point, pcells, pw, sign = obs
    for r in range(H.shape[0]):
        node = node0 + r
        for q in range(node_ptr[node], node_ptr[node + 1]):
            j = node_obs[q]
            p = obs_point[j]
            v = 0.0
            for k in range(4):
                v += pw[p, k] * H[r, pcells[p, k]]
            d[j] += sign * node_w[q] * v


@njit(cache=True, nogil=True)
def observe_node_adjoint(dd, node, obs, o):
    """``o = d(data)/dh_node^T dd`` (scatter into the four cells of each point)."""
    node_ptr, node_obs, node_w, obs_point, pcells, pw, sign = obs
    o[:] = 0.0
    for q in range(node_ptr[node], node_ptr[node + 1]):
        j = node_obs[q]
        p = obs_point[j]
        for k in range(4):
            o[pcells[p, k]] += sign * node_w[q] * pw[p, k] * dd[j]


# --- derivatives ------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def coefficient_tangent(dm, T, K, mass, faces, res_a, res_b):
    """Return the derivatives ``dT`` (faces) and ``dM`` (cells) in the direction ``dm``."""
    face_a, face_b = faces
    n = mass.size
    dT = np.empty(T.size)
    for f in range(T.size):
        a, b = face_a[f], face_b[f]
        dT[f] = T[f] * T[f] * (res_a[f] / K[a] * dm[a] + res_b[f] / K[b] * dm[b])
    dmass = np.zeros(n)
    if dm.size > n:
        for i in range(n):
            dmass[i] = mass[i] * dm[n + i]
    return dT, dmass


@njit(cache=True, nogil=True)
def tangent_segment(dh_start, s0, s1, dT, dmass, L, level, dts, T, mass, faces, H, Y, chol):
    """Tangent states at nodes ``s0..s1`` from ``dh_start`` (``H``, ``Y`` of the segment)."""
    face_a, face_b = faces
    perm, first, ptr, _ = chol
    n = mass.size
    dH = np.empty((s1 - s0 + 1, n))
    dH[0] = dh_start
    rhs = np.empty(n)
    tmp = np.empty(n)
    for s in range(s0, s1):
        j = s - s0
        c = C_STEP * dts[level[s]]
        y, h, h1, dh = Y[j], H[j], H[j + 1], dH[j]
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
        dH[j + 1] = rhs
    return dH


@njit(cache=True, nogil=True)
def adjoint_segment(dd, s0, s1, L, level, dts, T, mass, faces, H, Y, obs, chol, carry, grads):
    """Backward sweep over steps ``s1-1..s0``; ``carry = (mu, nu, c)`` of step ``s1``.

    Adds ``-mu_n . dR1_n - nu_n . dR2_n`` to ``grads = (g_face, g_mass)`` (coefficients of
    ``dT_f`` and of ``dM_c``) and leaves the multipliers of step ``s0`` in ``carry``.
    """
    face_a, face_b = faces
    perm, first, ptr, _ = chol
    mu_next, nu_next, c_next = carry
    g_face, g_mass = grads
    n = mass.size
    o = np.empty(n)
    nu = np.empty(n)
    mu = np.empty(n)
    for s in range(s1 - 1, s0 - 1, -1):
        j = s - s0
        c = C_STEP * dts[level[s]]
        observe_node_adjoint(dd, s + 1, obs, o)
        for i in range(n):
            nu[i] = o[i] + mass[i] * (mu_next[i] - BETA * nu_next[i])
        apply_stiffness(T, face_a, face_b, mu_next, nu, -c_next[0])
        cholesky_solve(perm, first, ptr, L[level[s]], nu)
        for i in range(n):
            mu[i] = ALPHA * mass[i] * nu[i]
        cholesky_solve(perm, first, ptr, L[level[s]], mu)
        y, h, h1 = Y[j], H[j], H[j + 1]
        for i in range(n):
            g_mass[i] -= mu[i] * (y[i] - h[i]) + nu[i] * (h1[i] - ALPHA * y[i] + BETA * h[i])
        for f in range(T.size):
            a, b = face_a[f], face_b[f]
            g_face[f] -= c * (
                (mu[a] - mu[b]) * (y[a] + h[a] - y[b] - h[b]) + (nu[a] - nu[b]) * (h1[a] - h1[b])
            )
        mu_next[:] = mu
        nu_next[:] = nu
        c_next[0] = c


@njit(cache=True, nogil=True)
def gradient_from(g_face, g_mass, T, K, mass, faces, res_a, res_b, n_params):
    """Chain rule to ``log K`` (scatter over faces) and ``log S`` (``dM/dlog S = M``)."""
    face_a, face_b = faces
    n = mass.size
    grad = np.zeros(n_params)
    for f in range(T.size):
        a, b = face_a[f], face_b[f]
        t2 = T[f] * T[f] * g_face[f]
        grad[a] += t2 * res_a[f] / K[a]
        grad[b] += t2 * res_b[f] / K[b]
    if n_params > n:
        for i in range(n):
            grad[n + i] = mass[i] * g_mass[i]
    return grad
