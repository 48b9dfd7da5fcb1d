"""Parallel drivers of the eikonal operator: forward, jvp and vjp over all sources.

Data layout: ``d[i_src * n_rec + i_rec]``. A receiver samples ``T = d_r Σ_q b_q u[node_q]``
(bilinear weights ``b_q`` of the four corners of the cell holding it, ``d_r`` its distance
to the source). ``prange`` runs over sources: each source allocates its own arrays (no
shared mutable state). The jvp gathers (forward substitution in acceptance order); the vjp
scatters (back-substitution in reverse order) into a per-source row of cell gradients,
summed over sources afterwards. Non-positive or non-finite slowness: NaN output.
"""

import numba
import numpy as np
from numba import prange

from bayesinv.operators.eikonal._fmm_numba import march
from bayesinv.operators.eikonal._smooth_numba import march_smooth

# ``mode`` of every kernel: 0 first-order, 1 second-order (:mod:`._fmm_numba`), 2 smooth
# (:mod:`._smooth_numba`, temperature ``geom[7]``)


@numba.njit(cache=True, nogil=True)
def valid_slowness(slow):
    """Return whether every slowness is finite and positive."""
    for i in range(slow.size):
        s = slow[i]
        if not (s > 0.0 and s < np.inf):
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _solve_source(slow, geom, src, mode):
    nx = int(geom[0])
    nz = int(geom[1])
    n = (nx + 1) * (nz + 1)
    u = np.empty(n)
    dist = np.empty(n)
    order = np.empty(n, dtype=np.int64)
    ridx = np.empty((n, 4), dtype=np.int64)
    rw = np.empty((n, 4))
    rcell = np.empty((n, 4), dtype=np.int64)
    rv = np.empty((n, 4))
    if mode == 2:
        n_acc = march_smooth(
            slow, nx, nz, geom[2], geom[3], geom[4], geom[5], src[0], src[1], geom[7], geom[8],
            geom[6], u, order, ridx, rw, rcell, rv, dist,
        )  # fmt: skip
    else:
        n_acc = march(
            slow, nx, nz, geom[2], geom[3], geom[4], geom[5], src[0], src[1], mode == 1,
            geom[6], u, order, ridx, rw, rcell, rv, dist,
        )  # fmt: skip
    return u, order[:n_acc], ridx, rw, rcell, rv


@numba.njit(cache=True, nogil=True)
def _rec_dist(src, rec):
    return np.hypot(rec[0] - src[0], rec[1] - src[1])


@numba.njit(cache=True, nogil=True)
def _sample_receivers(u, source, receivers, rnodes, rweights, out):
    """``out[r]``: ``u`` sampled bilinearly at receiver ``r`` times its source distance."""
    for r in range(receivers.shape[0]):
        acc = 0.0
        for q in range(4):
            acc += rweights[r, q] * u[rnodes[r, q]]
        out[r] = _rec_dist(source, receivers[r]) * acc


@numba.njit(cache=True, nogil=True, parallel=True)
def eikonal_forward(slow, geom, sources, receivers, rnodes, rweights, mode):
    """First-arrival times of every source-receiver pair (NaN for invalid slowness)."""
    ns = sources.shape[0]
    nr = receivers.shape[0]
    out = np.empty(ns * nr)
    if not valid_slowness(slow):
        out[:] = np.nan
        return out
    for i in prange(ns):
        u = _solve_source(slow, geom, sources[i], mode)[0]
        _sample_receivers(u, sources[i], receivers, rnodes, rweights, out[i * nr : (i + 1) * nr])
    return out


@numba.njit(cache=True, nogil=True, parallel=True)
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


@numba.njit(cache=True, nogil=True, parallel=True)
def eikonal_vjp(slow, dd, geom, sources, receivers, rnodes, rweights, mode):
    """Transposed Jacobian times a data-space vector (back-substitution; scatters)."""
    ns = sources.shape[0]
    nr = receivers.shape[0]
    nc = slow.size
    if not valid_slowness(slow):
        return np.full(nc, np.nan)
    grads = np.zeros((ns, nc))
    for i in prange(ns):
        u, order, ridx, rw, rcell, rv = _solve_source(slow, geom, sources[i], mode)
        lam = np.zeros(u.size)
        for r in range(nr):
            w = _rec_dist(sources[i], receivers[r]) * dd[i * nr + r]
            for q in range(4):
                lam[rnodes[r, q]] += rweights[r, q] * w
        g = grads[i]
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
    out = np.zeros(nc)
    for i in range(ns):
        out += grads[i]
    return out


@numba.njit(cache=True, nogil=True, parallel=True)
def eikonal_fields(slow, geom, sources, mode):
    """Node time fields ``T = d u`` of every source, shape ``(n_src, n_nodes)``."""
    ns = sources.shape[0]
    n = (int(geom[0]) + 1) * (int(geom[1]) + 1)
    out = np.empty((ns, n))
    for i in prange(ns):
        u = _solve_source(slow, geom, sources[i], mode)[0]
        nxn = int(geom[0]) + 1
        for k in range(n):
            ex = geom[4] + (k % nxn) * geom[2] - sources[i, 0]
            ez = geom[5] + (k // nxn) * geom[3] - sources[i, 1]
            out[i, k] = np.hypot(ex, ez) * u[k]
    return out
