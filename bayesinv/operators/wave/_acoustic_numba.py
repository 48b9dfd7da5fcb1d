"""Numba kernels of the acoustic wave operators (1-D and 2-D share them).

Scheme (see ``AcousticWave2D``): on a padded node grid stored with a halo of two zero
nodes on every side (homogeneous Dirichlet outside the absorbing layer),

    u^{n+1} = A * (2 u^n - B * u^{n-1} + k * (L u^n + q^n)),   k = v^2 dt^2,
    A = 1 / (1 + eta dt),  B = 1 - eta dt,

with ``L`` the fourth-order Laplacian (coefficients ``coef = [cc, cx1, cx2, cz1, cz2]``,
``cc`` the centre weight; a 1-D problem has ``cx1 = cx2 = 0`` and one column) and ``q^n``
the source wavelet spread on 4 x 4 nodes by cubic Lagrange weights divided by the cell
area. Data are ``d^n = R u^n`` (the same weights), ``n = 0 .. nt - 1``.

The discrete adjoint runs ``mu^n = A * (R^T r^n + 2 mu^{n+1} - B * mu^{n+2} + L(k mu^{n+1}))``
backward in time (``L`` is symmetric); the gradient with respect to ``k`` is
``sum_n (L u^n + q^n) * mu^{n+1}``. The forward wavefield is stored at checkpoints every
``ck`` steps (two fields each) and recomputed one segment at a time (``ck`` fields of
``L u^n + q^n``).

Parallelism: ``prange`` over shots only; each shot allocates its own wavefields. Stencils
gather; source injection and the receivers' adjoint scatter into the shot's own field; the
per-shot gradients go to separate rows and are summed after the parallel loop (gather).
"""

import numba
import numpy as np
from numba import prange

HALO = 2


@numba.njit(nogil=True, cache=True)
def expand(m, cell, dt, limit_factor):
    """Return k = v^2 dt^2 on the halo'd nodes from log-velocity m, and False on a CFL breach."""
    nzh, nxh = cell.shape
    kk = np.zeros((nzh, nxh))
    vmax = 0.0
    ok = True
    for i in range(m.shape[0]):
        if not np.isfinite(m[i]):
            ok = False
        elif m[i] > 700.0:
            ok = False
        else:
            v = np.exp(m[i])
            if v > vmax:
                vmax = v
    # Courant number v dt sqrt(sum 1/h^2) must not exceed sqrt(3)/2
    if not ok or vmax * limit_factor > 1.0:
        return kk, False
    for iz in range(nzh):
        for ix in range(nxh):
            c = cell[iz, ix]
            if c >= 0:
                v = np.exp(m[c])
                kk[iz, ix] = v * v * dt * dt
    return kk, True


@numba.njit(nogil=True, cache=True)
def step(u0, u1, u2, kk, A, B, coef, lap_out, store):
    """u2 = A (2 u1 - B u0 + k L u1); also lap_out = L u1 when store."""
    nzh, nxh = u1.shape
    cc, cx1, cx2, cz1, cz2 = coef[0], coef[1], coef[2], coef[3], coef[4]
    for iz in range(HALO, nzh - HALO):
        for ix in range(HALO, nxh - HALO):
            lap = (
                cc * u1[iz, ix]
                + cx1 * (u1[iz, ix - 1] + u1[iz, ix + 1])
                + cx2 * (u1[iz, ix - 2] + u1[iz, ix + 2])
                + cz1 * (u1[iz - 1, ix] + u1[iz + 1, ix])
                + cz2 * (u1[iz - 2, ix] + u1[iz + 2, ix])
            )
            if store:
                lap_out[iz, ix] = lap
            u2[iz, ix] = A[iz, ix] * (2.0 * u1[iz, ix] - B[iz, ix] * u0[iz, ix] + kk[iz, ix] * lap)


@numba.njit(nogil=True, cache=True)
def inject(field, scale, iz0, ix0, w, amp):
    """field[nodes] += scale[nodes] * w * amp (one point; scatter)."""
    for a in range(4):
        for b in range(4):
            field[iz0 + a, ix0 + b] += scale[iz0 + a, ix0 + b] * w[a, b] * amp


@numba.njit(nogil=True, cache=True)
def add_plain(field, iz0, ix0, w, amp):
    """field[nodes] += w * amp (one point; scatter)."""
    for a in range(4):
        for b in range(4):
            field[iz0 + a, ix0 + b] += w[a, b] * amp


@numba.njit(nogil=True, cache=True)
def sample(field, iz0, ix0, w):
    """Return the sum over the 4 x 4 nodes of w * field (one point; gather)."""
    s = 0.0
    for a in range(4):
        for b in range(4):
            s += w[a, b] * field[iz0 + a, ix0 + b]
    return s


@numba.njit(nogil=True, cache=True)
def _shot_forward(s, kk, A, B, coef, src_i, src_w, rec_i, rec_w, wav, out):
    nzh, nxh = kk.shape
    nt = wav.shape[1]
    nr = rec_i.shape[0]
    u0 = np.zeros((nzh, nxh))
    u1 = np.zeros((nzh, nxh))
    u2 = np.zeros((nzh, nxh))
    dummy = np.zeros((1, 1))
    kA = kk * A
    for n in range(nt):
        for r in range(nr):
            out[s, r, n] = sample(u1, rec_i[r, 0], rec_i[r, 1], rec_w[r])
        if n == nt - 1:
            break
        step(u0, u1, u2, kk, A, B, coef, dummy, False)
        inject(u2, kA, src_i[s, 0], src_i[s, 1], src_w[s], wav[s, n])
        u0, u1, u2 = u1, u2, u0


@numba.njit(nogil=True, cache=True, parallel=True)
def forward(m, cell, dt, limit_factor, A, B, coef, src_i, src_w, rec_i, rec_w, wav):
    """Traces of every shot, shape (ns * nr * nt,), C order (shot, receiver, time)."""
    ns, nt = wav.shape
    nr = rec_i.shape[0]
    out = np.zeros((ns, nr, nt))
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(ns * nr * nt, np.nan)
    for s in prange(ns):  # shots are independent
        _shot_forward(s, kk, A, B, coef, src_i, src_w, rec_i, rec_w, wav, out)
    return out.ravel()


@numba.njit(nogil=True, cache=True)
def _shot_tangent(s, kk, dkk, A, B, coef, src_i, src_w, rec_i, rec_w, wav, out):
    nzh, nxh = kk.shape
    nt = wav.shape[1]
    nr = rec_i.shape[0]
    u0 = np.zeros((nzh, nxh))
    u1 = np.zeros((nzh, nxh))
    u2 = np.zeros((nzh, nxh))
    d0 = np.zeros((nzh, nxh))
    d1 = np.zeros((nzh, nxh))
    d2 = np.zeros((nzh, nxh))
    lap = np.zeros((nzh, nxh))
    kA = kk * A
    dkA = dkk * A
    iz0, ix0 = src_i[s, 0], src_i[s, 1]
    for n in range(nt):
        for r in range(nr):
            out[s, r, n] = sample(d1, rec_i[r, 0], rec_i[r, 1], rec_w[r])
        if n == nt - 1:
            break
        step(u0, u1, u2, kk, A, B, coef, lap, True)
        inject(u2, kA, iz0, ix0, src_w[s], wav[s, n])
        add_plain(lap, iz0, ix0, src_w[s], wav[s, n])  # lap = L u^n + q^n
        step(d0, d1, d2, kk, A, B, coef, lap, False)
        for iz in range(nzh):
            for ix in range(nxh):
                d2[iz, ix] += dkA[iz, ix] * lap[iz, ix]
        u0, u1, u2 = u1, u2, u0
        d0, d1, d2 = d1, d2, d0


@numba.njit(nogil=True, cache=True, parallel=True)
def jvp(m, dm, cell, dt, limit_factor, A, B, coef, src_i, src_w, rec_i, rec_w, wav):
    """Jacobian (with respect to log-velocity) applied to dm: the tangent wavefield's traces."""
    ns, nt = wav.shape
    nr = rec_i.shape[0]
    out = np.zeros((ns, nr, nt))
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(ns * nr * nt, np.nan)
    dkk = np.zeros_like(kk)
    nzh, nxh = kk.shape
    for iz in range(nzh):
        for ix in range(nxh):
            if cell[iz, ix] >= 0:
                dkk[iz, ix] = 2.0 * kk[iz, ix] * dm[cell[iz, ix]]  # dk/dlog v = 2 k
    for s in prange(ns):
        _shot_tangent(s, kk, dkk, A, B, coef, src_i, src_w, rec_i, rec_w, wav, out)
    return out.ravel()


@numba.njit(nogil=True, cache=True)
def _shot_adjoint(s, kk, A, B, coef, src_i, src_w, rec_i, rec_w, wav, res, ck, gk):
    """Accumulate the gradient with respect to k of shot s into gk (its own row)."""
    nzh, nxh = kk.shape
    nt = wav.shape[1]
    nr = rec_i.shape[0]
    nsteps = nt - 1  # u^1 .. u^{nt-1} are computed from g^0 .. g^{nt-2}
    nseg = (nsteps + ck - 1) // ck
    ckpt = np.zeros((nseg, 2, nzh, nxh))
    buf = np.zeros((ck, nzh, nxh))
    u0 = np.zeros((nzh, nxh))
    u1 = np.zeros((nzh, nxh))
    u2 = np.zeros((nzh, nxh))
    dummy = np.zeros((1, 1))
    kA = kk * A
    iz0, ix0 = src_i[s, 0], src_i[s, 1]
    # pass 1: forward, keeping (u^{n-1}, u^n) at the start of each segment
    for n in range(nsteps):
        if n % ck == 0:
            ckpt[n // ck, 0] = u0
            ckpt[n // ck, 1] = u1
        step(u0, u1, u2, kk, A, B, coef, dummy, False)
        inject(u2, kA, iz0, ix0, src_w[s], wav[s, n])
        u0, u1, u2 = u1, u2, u0
    # pass 2: backward over segments; mu1 = mu^{n+1}, mu2 = mu^{n+2}, w1 = k mu^{n+1}
    mu0 = np.zeros((nzh, nxh))
    mu1 = np.zeros((nzh, nxh))
    mu2 = np.zeros((nzh, nxh))
    w0 = np.zeros((nzh, nxh))
    w1 = np.zeros((nzh, nxh))
    for r in range(nr):  # mu^{nt-1} = A R^T r^{nt-1}
        inject(mu1, A, rec_i[r, 0], rec_i[r, 1], rec_w[r], res[s, r, nt - 1])
    for iz in range(nzh):
        for ix in range(nxh):
            w1[iz, ix] = kk[iz, ix] * mu1[iz, ix]
    for j in range(nseg - 1, -1, -1):
        start = j * ck
        stop = min(start + ck, nsteps)
        u0[:, :] = ckpt[j, 0]
        u1[:, :] = ckpt[j, 1]
        for n in range(start, stop):  # recompute g^n = L u^n + q^n
            step(u0, u1, u2, kk, A, B, coef, buf[n - start], True)
            inject(u2, kA, iz0, ix0, src_w[s], wav[s, n])
            add_plain(buf[n - start], iz0, ix0, src_w[s], wav[s, n])
            u0, u1, u2 = u1, u2, u0
        for n in range(stop - 1, start - 1, -1):
            _adjoint_step(mu2, mu1, w1, mu0, w0, kk, A, B, coef, buf[n - start], gk, s)
            if n > 0:
                for r in range(nr):
                    inject(mu0, A, rec_i[r, 0], rec_i[r, 1], rec_w[r], res[s, r, n])
                    _refresh_w(w0, mu0, kk, rec_i[r, 0], rec_i[r, 1])
            mu0, mu1, mu2 = mu2, mu0, mu1
            w0, w1 = w1, w0


@numba.njit(nogil=True, cache=True)
def _refresh_w(w, mu, kk, iz0, ix0):
    for a in range(4):
        for b in range(4):
            w[iz0 + a, ix0 + b] = kk[iz0 + a, ix0 + b] * mu[iz0 + a, ix0 + b]


@numba.njit(nogil=True, cache=True)
def _adjoint_step(mu2, mu1, w1, mu0, w0, kk, A, B, coef, g, gk, s):
    """mu0 = A (2 mu1 - B mu2 + L w1), w0 = k mu0, and gk[s] += g * mu1 (all gathers)."""
    nzh, nxh = kk.shape
    cc, cx1, cx2, cz1, cz2 = coef[0], coef[1], coef[2], coef[3], coef[4]
    for iz in range(HALO, nzh - HALO):
        for ix in range(HALO, nxh - HALO):
            lap = (
                cc * w1[iz, ix]
                + cx1 * (w1[iz, ix - 1] + w1[iz, ix + 1])
                + cx2 * (w1[iz, ix - 2] + w1[iz, ix + 2])
                + cz1 * (w1[iz - 1, ix] + w1[iz + 1, ix])
                + cz2 * (w1[iz - 2, ix] + w1[iz + 2, ix])
            )
            gk[s, iz, ix] += g[iz, ix] * mu1[iz, ix]
            v = A[iz, ix] * (2.0 * mu1[iz, ix] - B[iz, ix] * mu2[iz, ix] + lap)
            mu0[iz, ix] = v
            w0[iz, ix] = kk[iz, ix] * v


@numba.njit(nogil=True, cache=True, parallel=True)
def vjp(m, dd, cell, dt, limit_factor, A, B, coef, src_i, src_w, rec_i, rec_w, wav, ck):
    """Transposed Jacobian (log-velocity) applied to traces dd."""
    ns, nt = wav.shape
    nr = rec_i.shape[0]
    n_model = m.shape[0]
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(n_model, np.nan)
    res = dd.reshape((ns, nr, nt))
    nzh, nxh = kk.shape
    gk = np.zeros((ns, nzh, nxh))
    for s in prange(ns):  # each shot writes its own row of gk
        _shot_adjoint(s, kk, A, B, coef, src_i, src_w, rec_i, rec_w, wav, res, ck, gk)
    grad = np.zeros(n_model)
    for s in range(ns):  # sum the shots, then scatter nodes onto cells (sequential)
        for iz in range(nzh):
            for ix in range(nxh):
                c = cell[iz, ix]
                if c >= 0:
                    grad[c] += 2.0 * kk[iz, ix] * gk[s, iz, ix]
    return grad
