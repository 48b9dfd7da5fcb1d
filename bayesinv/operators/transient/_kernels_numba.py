"""Whole-operator kernels of the transient operators: forward, jvp and vjp with checkpoints.

``data`` is the tuple of ``TransientBase._data``: ``(n, log_s, (face_a, face_b, res_a, res_b,
volume), step_sizes, level, interval, forcing, h0, chol, obs, offset, n_params, every)``.
The steps are marched in segments of ``every`` steps. ``forward`` and ``jvp`` observe each
segment and keep only its end state. ``forward_state`` also keeps what the adjoint needs, as
one flat vector ``[flag, L, checkpoints, H_last, Y_last]``: the Cholesky factor of every
distinct step size, the state at the start of every segment, and the states and stages of
the last segment. ``vjp_state`` runs the adjoint backward segment by segment from it,
marching each earlier segment again from its checkpoint: with ``every >= n_steps`` (one
segment) nothing is factorised or marched again. ``vjp`` is ``forward_state`` followed by
``vjp_state`` (one implementation). Memory of the state: ``(n_segments + 2 last + 1) n``
floats of states plus the factors, and, with several segments, one scratch segment
(``(2 every + 1) n`` floats) while marching. Each call allocates its own arrays
(thread-safe); every loop is sequential in time.
"""

import numpy as np

from bayesinv._numba import njit
from bayesinv.operators.transient._stepping_numba import (
    adjoint_segment,
    coefficient_tangent,
    coefficients,
    factor_levels,
    factor_levels_into,
    gradient_from,
    march_into,
    march_segment,
    observe_nodes,
    tangent_segment,
)


@njit(cache=True, nogil=True)
def prepare(m, data):
    """``ok, K, T, mass, L``: coefficients at ``m`` and the factors of every step size."""
    n, log_s, geometry, sizes, chol = data[0], data[1], data[2], data[3], data[8]
    fa, fb, ra, rb, vol = geometry
    ok, K, T, mass = coefficients(m, n, log_s, fa, fb, ra, rb, vol)
    if not ok:
        return False, K, T, mass, np.zeros((0, chol[2][-1]))
    ok, L = factor_levels(T, mass, sizes, fa, fb, chol)
    return ok, K, T, mass, L


@njit(cache=True, nogil=True)
def simulate(m, data):
    """``ok, H``: heads at every step node (all kept; for inspection, not for gradients)."""
    ok, _, T, mass, L = prepare(np.ascontiguousarray(m), data)
    sizes, level, interval, forcing, h0, chol = data[3:9]
    if not ok:
        return False, np.zeros((0, h0.size))
    faces = (data[2][0], data[2][1])
    H, _ = march_segment(
        h0, 0, level.size, L, level, sizes, interval, forcing, T, mass, faces, chol
    )
    return True, H


@njit(cache=True, nogil=True)
def forward_kernel(m, data):
    """Predicted data at ``m``; NaN when the model is not physical or a solve fails."""
    sizes, level, interval, forcing, h0, chol, obs, offset = data[3:11]
    every = data[12]
    n_data = offset.size
    ok, _, T, mass, L = prepare(np.ascontiguousarray(m), data)
    if not ok:
        return np.full(n_data, np.nan)
    faces = (data[2][0], data[2][1])
    d = offset.copy()
    h = h0.copy()
    observe_nodes(h.reshape((1, h.size)), 0, obs, d)
    for s0 in range(0, level.size, every):
        s1 = min(s0 + every, level.size)
        H, _ = march_segment(h, s0, s1, L, level, sizes, interval, forcing, T, mass, faces, chol)
        observe_nodes(H[1:], s0 + 1, obs, d)
        h = H[-1].copy()
    if not np.all(np.isfinite(d)):
        return np.full(n_data, np.nan)
    return d


@njit(cache=True, nogil=True)
def jvp_kernel(m, dm, data):
    """``J(m) dm``: the tangent linear model, marched segment by segment with the forward."""
    sizes, level, interval, forcing, h0, chol, obs, offset = data[3:11]
    every = data[12]
    fa, fb, ra, rb, _ = data[2]
    faces = (fa, fb)
    ok, K, T, mass, L = prepare(np.ascontiguousarray(m), data)
    if not ok:
        return np.full(offset.size, np.nan)
    dT, dmass = coefficient_tangent(np.ascontiguousarray(dm), T, K, mass, faces, ra, rb)
    d = np.zeros(offset.size)
    h = h0.copy()
    dh = np.zeros(h0.size)
    for s0 in range(0, level.size, every):
        s1 = min(s0 + every, level.size)
        H, Y = march_segment(h, s0, s1, L, level, sizes, interval, forcing, T, mass, faces, chol)
        dH = tangent_segment(dh, s0, s1, dT, dmass, L, level, sizes, T, mass, faces, H, Y, chol)
        observe_nodes(dH[1:], s0 + 1, obs, d)
        h = H[-1].copy()
        dh = dH[-1].copy()
    return d


@njit(cache=True, nogil=True)
def state_layout(n, n_steps, every, n_levels, n_factor):
    """Offsets ``(p_ckpt, p_h, p_y, size)`` of the parts of the forward state (see module)."""
    n_seg = (n_steps + every - 1) // every
    last = n_steps - (n_seg - 1) * every
    p_ckpt = 1 + n_levels * n_factor
    p_h = p_ckpt + n_seg * n
    p_y = p_h + (last + 1) * n
    return p_ckpt, p_h, p_y, p_y + last * n


@njit(cache=True, nogil=True)
def _layout(data):
    n, sizes, level, chol, every = data[0], data[3], data[4], data[8], data[12]
    return state_layout(n, level.size, every, sizes.size, chol[2][-1])


@njit(cache=True, nogil=True)
def forward_state_kernel(m, data):
    """``(d, state)``: the data and what the gradient needs (factors, checkpoints, last states).

    ``state = [flag, L, checkpoints, H_last, Y_last]``: ``flag`` is 1 (NaN if the model is
    not physical or a solve failed), ``L`` the factors of every step size, ``checkpoints``
    the state at the start of every segment, ``H_last``/``Y_last`` the states and stages of
    the last segment (all of them when there is one segment).
    """
    sizes, level, interval, forcing, h0, chol, obs, offset = data[3:11]
    n, every, n_steps = data[0], data[12], data[4].size
    fa, fb, ra, rb, vol = data[2]
    faces = (fa, fb)
    p_ckpt, p_h, p_y, size = _layout(data)
    n_seg = (n_steps + every - 1) // every
    state = np.empty(size)
    state[0] = np.nan
    nan_data = np.full(offset.size, np.nan)
    m = np.ascontiguousarray(m)
    ok, _, T, mass = coefficients(m, n, data[1], fa, fb, ra, rb, vol)
    if not ok:
        return nan_data, state
    L = state[1:p_ckpt].reshape((sizes.size, chol[2][-1]))
    if not factor_levels_into(T, mass, sizes, fa, fb, chol, L):
        return nan_data, state
    checkpoints = state[p_ckpt:p_h].reshape((n_seg, n))
    rows = every if n_seg > 1 else 0  # scratch for the segments before the last
    H, Y = np.empty((rows + 1, n)), np.empty((rows, n))
    d = offset.copy()
    observe_nodes(h0.reshape((1, n)), 0, obs, d)
    for k in range(n_seg):  # keep the start of every segment
        s0, s1 = k * every, min((k + 1) * every, n_steps)
        if k == 0:
            checkpoints[0] = h0
        else:
            checkpoints[k] = H[rows]
        if k == n_seg - 1:  # the last segment is marched straight into the state
            H = state[p_h:p_y].reshape((s1 - s0 + 1, n))
            Y = state[p_y:].reshape((s1 - s0, n))
        march_into(
            checkpoints[k], s0, s1, L, level, sizes, interval, forcing, T, mass, faces, chol, H, Y
        )
        observe_nodes(H[1 : s1 - s0 + 1], s0 + 1, obs, d)
    if not np.all(np.isfinite(d)):
        return nan_data, state
    state[0] = 1.0
    return d, state


@njit(cache=True, nogil=True)
def vjp_state_kernel(m, state, dd, data):
    """``J(m)^T dd`` from ``forward_state_kernel(m)``'s state: the adjoint sweep only.

    Segments before the last are marched again from their checkpoints (none when all the
    states are kept). NaN if the state is flagged or ``dd`` is not finite.
    """
    sizes, level, interval, forcing, _, chol, obs = data[3:10]
    n, n_params, every, n_steps = data[0], data[11], data[12], data[4].size
    fa, fb, ra, rb, vol = data[2]
    faces = (fa, fb)
    state = np.ascontiguousarray(state)
    if not np.isfinite(state[0]) or not np.all(np.isfinite(dd)):
        return np.full(n_params, np.nan)
    m = np.ascontiguousarray(m)
    ok, K, T, mass = coefficients(m, n, data[1], fa, fb, ra, rb, vol)
    if not ok:
        return np.full(n_params, np.nan)
    dd = np.ascontiguousarray(dd)
    p_ckpt, p_h, p_y, _ = _layout(data)
    n_seg = (n_steps + every - 1) // every
    L = state[1:p_ckpt].reshape((sizes.size, chol[2][-1]))
    checkpoints = state[p_ckpt:p_h].reshape((n_seg, n))
    rows = every if n_seg > 1 else 0
    H_seg, Y_seg = np.empty((rows + 1, n)), np.empty((rows, n))
    carry = (np.zeros(n), np.zeros(n), np.zeros(1))
    grads = (np.zeros(T.size), np.zeros(n))
    for k in range(n_seg - 1, -1, -1):  # backward, recomputing all but the last segment
        s0, s1 = k * every, min((k + 1) * every, n_steps)
        if k == n_seg - 1:
            H = state[p_h:p_y].reshape((s1 - s0 + 1, n))
            Y = state[p_y:].reshape((s1 - s0, n))
        else:
            H, Y = H_seg, Y_seg
            march_into(
                checkpoints[k], s0, s1, L, level, sizes, interval, forcing, T, mass, faces, chol,
                H, Y,
            )  # fmt: skip
        adjoint_segment(dd, s0, s1, L, level, sizes, T, mass, faces, H, Y, obs, chol, carry, grads)
    return gradient_from(grads[0], grads[1], T, K, mass, faces, ra, rb, n_params)


@njit(cache=True, nogil=True)
def vjp_kernel(m, dd, data):
    """``J(m)^T dd``: :func:`forward_state_kernel` then :func:`vjp_state_kernel`."""
    n_params = data[11]
    if not np.all(np.isfinite(dd)):
        return np.full(n_params, np.nan)
    _, state = forward_state_kernel(m, data)
    return vjp_state_kernel(m, state, dd, data)
