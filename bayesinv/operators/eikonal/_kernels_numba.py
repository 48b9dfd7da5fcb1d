"""Parallel drivers of the eikonal operator: forward, jvp and vjp over all sources.

Data layout: ``d[i_src * n_rec + i_rec]``. A receiver samples ``T = d_r Σ_q b_q u[node_q]``
(bilinear weights ``b_q`` of the four corners of the cell holding it, ``d_r`` its distance
to the source). ``prange`` runs over sources: each source allocates its own arrays (no
shared mutable state). The jvp gathers (forward substitution in acceptance order); the vjp
scatters (back-substitution in reverse order) into a per-source row of cell gradients,
summed over sources afterwards. Non-positive or non-finite slowness: NaN output.
"""

import numpy as np
from numba import prange

from bayesinv._numba import njit
from bayesinv.operators.eikonal._fmm_fast_numba import march_fast
from bayesinv.operators.eikonal._smooth_numba import march_smooth

# ``mode`` of every kernel: 0 first-order, 1 second-order (:mod:`._fmm_numba`), 2 smooth
# (:mod:`._smooth_numba`, temperature ``geom[7]``)


@njit(cache=True, nogil=True)
def valid_slowness(slow):
    """Return whether every slowness is finite and positive."""
    for i in range(slow.size):
        s = slow[i]
        if not (s > 0.0 and s < np.inf):
            return False
    return True


@njit(cache=True, nogil=True)
def _march_into(slow, geom, src, mode, u, order, ridx, rw, rcell, rv, record=True):
    """March from one source into the given arrays; the number of accepted nodes.

    ``record=False`` (modes 0 and 1 only): no recipes are written (a forward-only solve).
    """
    nx = int(geom[0])
    nz = int(geom[1])
    dist = np.empty(u.size)
    if mode == 2:
        return march_smooth(
            slow, nx, nz, geom[2], geom[3], geom[4], geom[5], src[0], src[1], geom[7], geom[8],
            geom[6], u, order, ridx, rw, rcell, rv, dist,
        )  # fmt: skip
    return march_fast(
        slow, nx, nz, geom[2], geom[3], geom[4], geom[5], src[0], src[1], mode == 1,
        geom[6], u, order, ridx, rw, rcell, rv, dist, record,
    )  # fmt: skip


@njit(cache=True, nogil=True)
def _solve_source(slow, geom, src, mode, record=True):
    # record=False: the recipes are left unwritten (only u is meaningful)
    n = (int(geom[0]) + 1) * (int(geom[1]) + 1)
    u = np.empty(n)
    order = np.empty(n, dtype=np.int64)
    ridx = np.empty((n, 4), dtype=np.int64)
    rw = np.empty((n, 4))
    rcell = np.empty((n, 4), dtype=np.int64)
    rv = np.empty((n, 4))
    n_acc = _march_into(slow, geom, src, mode, u, order, ridx, rw, rcell, rv, record)
    return u, order[:n_acc], ridx, rw, rcell, rv


@njit(cache=True, nogil=True)
def state_length(n_nodes, n_sources):
    """Length of the forward state: per source, acceptance order and recipes (17 n + 1)."""
    return n_sources * (17 * n_nodes + 1)


@njit(cache=True, nogil=True)
def _state_views(state, i, n):
    # source i's block: [order | ridx | rcell] as int64 (9n), [rw | rv] (8n), n_acc (1)
    size = 17 * n + 1
    b = state[i * size : (i + 1) * size]
    ints = b[: 9 * n].view(np.int64)
    order = ints[:n]
    ridx = ints[n : 5 * n].reshape((n, 4))
    rcell = ints[5 * n : 9 * n].reshape((n, 4))
    rw = b[9 * n : 13 * n].reshape((n, 4))
    rv = b[13 * n : 17 * n].reshape((n, 4))
    return b, order, ridx, rw, rcell, rv


@njit(cache=True, nogil=True)
def _rec_dist(src, rec):
    return np.hypot(rec[0] - src[0], rec[1] - src[1])


@njit(cache=True, nogil=True)
def _sample_receivers(u, source, receivers, rnodes, rweights, out):
    """``out[r]``: ``u`` sampled bilinearly at receiver ``r`` times its source distance."""
    for r in range(receivers.shape[0]):
        acc = 0.0
        for q in range(4):
            acc += rweights[r, q] * u[rnodes[r, q]]
        out[r] = _rec_dist(source, receivers[r]) * acc


@njit(cache=True, nogil=True, parallel=True)
def eikonal_forward(slow, geom, sources, receivers, rnodes, rweights, mode):
    """First-arrival times of every source-receiver pair (NaN for invalid slowness)."""
    ns = sources.shape[0]
    nr = receivers.shape[0]
    out = np.empty(ns * nr)
    if not valid_slowness(slow):
        out[:] = np.nan
        return out
    for i in prange(ns):
        u = _solve_source(slow, geom, sources[i], mode, False)[0]
        _sample_receivers(u, sources[i], receivers, rnodes, rweights, out[i * nr : (i + 1) * nr])
    return out


@njit(cache=True, nogil=True, parallel=True)
def eikonal_jvp(slow, dslow, geom, sources, receivers, rnodes, rweights, mode):
    """Jacobian times a slowness perturbation (forward substitution; gathers)."""
    ns = sources.shape[0]
    nr = receivers.shape[0]
    out = np.empty(ns * nr)
    if not valid_slowness(slow):
        out[:] = np.nan
        return out
    for i in prange(ns):
        u, order, ridx, rw, rcell, rv = _solve_source(slow, geom, sources[i], mode)
        du = np.zeros(u.size)
        for t in range(order.size):
            k = order[t]
            acc = 0.0
            for q in range(4):
                j = ridx[k, q]
                if j >= 0:
                    acc += rw[k, q] * du[j]
                c = rcell[k, q]
                if c >= 0:
                    acc += rv[k, q] * dslow[c]
            du[k] = acc
        _sample_receivers(du, sources[i], receivers, rnodes, rweights, out[i * nr : (i + 1) * nr])
    return out


@njit(cache=True, nogil=True)
def _back_substitute(src, dd_i, receivers, rnodes, rweights, order, ridx, rw, rcell, rv, g):
    """Add source ``src``'s ``J^T dd_i`` to ``g`` (back-substitution; scatters).

    The receivers scatter into the node adjoint ``lam``, which is back-substituted in
    reverse acceptance order into earlier nodes and into ``g``.
    """
    lam = np.zeros(ridx.shape[0])
    for r in range(receivers.shape[0]):
        w = _rec_dist(src, receivers[r]) * dd_i[r]
        for q in range(4):
            lam[rnodes[r, q]] += rweights[r, q] * w
    for t in range(order.size - 1, -1, -1):
        k = order[t]
        lk = lam[k]
        if lk == 0.0:
            continue
        for q in range(4):
            j = ridx[k, q]
            if j >= 0:
                lam[j] += rw[k, q] * lk
            c = rcell[k, q]
            if c >= 0:
                g[c] += rv[k, q] * lk


@njit(cache=True, nogil=True, parallel=True)
def eikonal_vjp(slow, dd, geom, sources, receivers, rnodes, rweights, mode):
    """Transposed Jacobian times a data-space vector (back-substitution; scatters)."""
    ns = sources.shape[0]
    nr = receivers.shape[0]
    nc = slow.size
    if not valid_slowness(slow):
        return np.full(nc, np.nan)
    grads = np.zeros((ns, nc))
    for i in prange(ns):
        _, order, ridx, rw, rcell, rv = _solve_source(slow, geom, sources[i], mode)
        _back_substitute(sources[i], dd[i * nr : (i + 1) * nr], receivers, rnodes, rweights,
                         order, ridx, rw, rcell, rv, grads[i])  # fmt: skip
    out = np.zeros(nc)
    for i in range(ns):
        out += grads[i]
    return out


@njit(cache=True, nogil=True)
def _source_state(slow, geom, src, mode, state, i, n, receivers, rnodes, rweights, out):
    # (a function of its own: inside a prange body numba lost the writes through the views)
    b, order, ridx, rw, rcell, rv = _state_views(state, i, n)
    u = np.empty(n)
    b[17 * n] = _march_into(slow, geom, src, mode, u, order, ridx, rw, rcell, rv)
    _sample_receivers(u, src, receivers, rnodes, rweights, out)


@njit(cache=True, nogil=True, parallel=True)
def eikonal_forward_state(slow, geom, sources, receivers, rnodes, rweights, mode):
    """``eikonal_forward`` and the state ``eikonal_vjp_state`` needs (orders and recipes)."""
    ns = sources.shape[0]
    nr = receivers.shape[0]
    n = (int(geom[0]) + 1) * (int(geom[1]) + 1)
    out = np.empty(ns * nr)
    state = np.empty(state_length(n, ns))
    if not valid_slowness(slow):
        out[:] = np.nan
        state[:] = 0.0
        return out, state
    for i in prange(ns):
        _source_state(slow, geom, sources[i], mode, state, i, n, receivers, rnodes, rweights,
                      out[i * nr : (i + 1) * nr])  # fmt: skip
    return out, state


@njit(cache=True, nogil=True)
def _source_adjoint(state, i, n, src, dd_i, receivers, rnodes, rweights, g):
    b, order, ridx, rw, rcell, rv = _state_views(state, i, n)
    n_acc = int(b[17 * n])
    _back_substitute(src, dd_i, receivers, rnodes, rweights, order[:n_acc], ridx, rw, rcell,
                     rv, g)  # fmt: skip


@njit(cache=True, nogil=True, parallel=True)
def eikonal_vjp_state(slow, state, dd, geom, sources, receivers, rnodes, rweights):
    """``eikonal_vjp`` reusing the state of ``eikonal_forward_state`` at the same slowness."""
    ns = sources.shape[0]
    nr = receivers.shape[0]
    nc = slow.size
    n = (int(geom[0]) + 1) * (int(geom[1]) + 1)
    if not valid_slowness(slow):
        return np.full(nc, np.nan)
    grads = np.zeros((ns, nc))
    for i in prange(ns):
        _source_adjoint(state, i, n, sources[i], dd[i * nr : (i + 1) * nr], receivers, rnodes,
                        rweights, grads[i])  # fmt: skip
    out = np.zeros(nc)
    for i in range(ns):
        out += grads[i]
    return out


@njit(cache=True, nogil=True, parallel=True)
def eikonal_fields(slow, geom, sources, mode):
    """Node time fields ``T = d u`` of every source, shape ``(n_src, n_nodes)``."""
    ns = sources.shape[0]
    n = (int(geom[0]) + 1) * (int(geom[1]) + 1)
    out = np.empty((ns, n))
    for i in prange(ns):
        u = _solve_source(slow, geom, sources[i], mode, False)[0]
        nxn = int(geom[0]) + 1
        for k in range(n):
            ex = geom[4] + (k % nxn) * geom[2] - sources[i, 0]
            ez = geom[5] + (k // nxn) * geom[3] - sources[i, 1]
            out[i, k] = np.hypot(ex, ez) * u[k]
    return out
