"""Whole-operator kernels of the transient operators: forward, jvp and vjp with checkpoints.

``data`` is the tuple of ``TransientBase._data``: ``(n, log_s, (face_a, face_b, res_a, res_b,
volume), step_sizes, level, interval, forcing, h0, chol, obs, offset, n_params, every)``.
The steps are marched in segments of ``every`` steps. ``forward`` and ``jvp`` observe each
segment and keep only its end state. ``vjp`` keeps the state at the start of every segment
(checkpoints), then runs the adjoint backward segment by segment, recomputing each
segment's states from its checkpoint (the last segment's states are still in memory): with
``every >= n_steps`` nothing is recomputed. Memory: ``(n_segments + 2 every + 1) n`` floats
of states plus one Cholesky factor per distinct step size. Each call allocates its own
arrays (thread-safe).
"""

import numba
import numpy as np

from bayesinv.operators.transient._stepping_numba import (
    adjoint_segment,
    coefficient_tangent,
    coefficients,
    factor_levels,
    gradient_from,
    march_segment,
    observe_nodes,
    tangent_segment,
)


@numba.njit(cache=True, nogil=True)
def prepare(m, data):
    """``ok, K, T, mass, L``: coefficients at ``m`` and the factors of every step size."""
    n, log_s, geometry, sizes, chol = data[0], data[1], data[2], data[3], data[8]
    fa, fb, ra, rb, vol = geometry
    ok, K, T, mass = coefficients(m, n, log_s, fa, fb, ra, rb, vol)
    if not ok:
        return False, K, T, mass, np.zeros((0, chol[2][-1]))
    ok, L = factor_levels(T, mass, sizes, fa, fb, chol)
    return ok, K, T, mass, L


@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True)
def vjp_kernel(m, dd, data):
    """``J(m)^T dd``: adjoint sweep over checkpointed segments; NaN if ``dd`` is not finite."""
    sizes, level, interval, forcing, h0, chol, obs = data[3:10]
    n_params, every = data[11], data[12]
    fa, fb, ra, rb, _ = data[2]
    faces = (fa, fb)
    ok, K, T, mass, L = prepare(np.ascontiguousarray(m), data)
    if not ok or not np.all(np.isfinite(dd)):
        return np.full(n_params, np.nan)
    dd = np.ascontiguousarray(dd)
    n, n_steps = h0.size, level.size
    n_seg = (n_steps + every - 1) // every
    checkpoints = np.empty((n_seg, n))
    h = h0.copy()
    for k in range(n_seg):  # forward: keep the start of every segment
        s0, s1 = k * every, min((k + 1) * every, n_steps)
        checkpoints[k] = h
        H, Y = march_segment(h, s0, s1, L, level, sizes, interval, forcing, T, mass, faces, chol)
        h = H[-1].copy()
    carry = (np.zeros(n), np.zeros(n), np.zeros(1))
    grads = (np.zeros(T.size), np.zeros(n))
    for k in range(n_seg - 1, -1, -1):  # backward, recomputing all but the last segment
        s0, s1 = k * every, min((k + 1) * every, n_steps)
        if k < n_seg - 1:
            H, Y = march_segment(
                checkpoints[k], s0, s1, L, level, sizes, interval, forcing, T, mass, faces, chol
            )
        adjoint_segment(dd, s0, s1, L, level, sizes, T, mass, faces, H, Y, obs, chol, carry, grads)
    return gradient_from(grads[0], grads[1], T, K, mass, faces, ra, rb, n_params)
