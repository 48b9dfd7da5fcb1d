"""Numba kernels of the acoustic wave operators (1-D and 2-D share them).

Scheme (see ``AcousticWave2D``): on a padded node grid stored with a halo of two zero
nodes on every side (the field is zero beyond the PML),

    u^{n+1} = A (2 u^n - B u^{n-1} - C u^n + k (L u^n + Dx px^n + Dz pz^n + q^n)),
    px^{n+1} = ax px^n + bx Dx u^{n+1},   pz^{n+1} = az pz^n + bz Dz u^{n+1},

with ``k = v^2 dt^2``, ``L`` the fourth-order Laplacian (``coef = [cc, cx1, cx2, cz1, cz2]``),
``D`` fourth-order centred first differences (``d1 = [dx1, dx2, dz1, dz2]``), ``q^n`` the
source spread on 4 x 4 nodes, and ``A = B = 1, C = 0, a = 1, b = 0`` outside the PML (a
1-D problem has one column and zero x weights). ``boxes[0]`` is the interior, updated by
the bare stencil; ``boxes[1:]`` cover the PML and two nodes beyond it (where the PML terms
can be non-zero) with the full update; together they tile the grid. Data
``d^n = R u^n``, ``n = 0 .. nt - 1``.

Discrete adjoint, backward (``mu = A lambda``, ``w = k mu``, ``th`` adjoint of ``p``):

    th^n = a th^{n+1} - D w^{n+1}                         (D^T = -D)
    mu^n = A (R^T r^n + 2 mu^{n+1} - B mu^{n+2} - C mu^{n+1} + L w^{n+1}
              - Dx(bx thx^n) - Dz(bz thz^n))
    dJ/dk = sum_n g^n mu^{n+1},   g^n = L u^n + Dx px^n + Dz pz^n + q^n.

The forward state (u^{n-1}, u^n, px^n, pz^n) is stored every ``ck`` steps and each segment
recomputed (``ck`` fields of ``g``) before its backward pass.

Parallelism: ``prange`` over shots only; each shot allocates its own fields. Stencils
gather; the source injection and the receivers' adjoint scatter into the shot's own field;
per-shot gradients go to separate rows and are summed after the parallel loop.
"""

import numba
import numpy as np
from numba import prange

HALO = 2
_J = {"nogil": True, "cache": True}


@numba.njit(**_J)
def expand(m, cell, dt, limit_factor):
    """Return k = v^2 dt^2 on the halo'd nodes from log-velocity m, and False on a CFL breach."""
    kk = np.zeros(cell.shape)
    vmax = 0.0
    for i in range(m.shape[0]):
        if not (m[i] < 700.0):  # also NaN
            return kk, False
        vmax = max(vmax, np.exp(m[i]))
    if vmax * limit_factor > 1.0:  # Courant number above sqrt(3)/2
        return kk, False
    for iz in range(cell.shape[0]):
        for ix in range(cell.shape[1]):
            if cell[iz, ix] >= 0:
                v = np.exp(m[cell[iz, ix]])
                kk[iz, ix] = v * v * dt * dt
    return kk, True


@numba.njit(**_J, inline="always")
def _lap(u, iz, ix, cc, cx1, cx2, cz1, cz2):
    # coefficients as scalars: loads from an array could alias the output and stay in the loop
    return (
        cc * u[iz, ix]
        + cx1 * (u[iz, ix - 1] + u[iz, ix + 1])
        + cx2 * (u[iz, ix - 2] + u[iz, ix + 2])
        + cz1 * (u[iz - 1, ix] + u[iz + 1, ix])
        + cz2 * (u[iz - 2, ix] + u[iz + 2, ix])
    )


@numba.njit(**_J)
def step_interior(u0, u1, u2, kk, coef, box):
    """u2 = 2 u1 - u0 + k L u1 in the interior box (no PML term there)."""
    cc, cx1, cx2, cz1, cz2 = coef[0], coef[1], coef[2], coef[3], coef[4]
    for iz in range(box[0], box[1]):
        for ix in range(box[2], box[3]):
            lap = _lap(u1, iz, ix, cc, cx1, cx2, cz1, cz2)
            u2[iz, ix] = 2.0 * u1[iz, ix] - u0[iz, ix] + kk[iz, ix] * lap


@numba.njit(**_J)
def step_interior_store(u0, u1, u2, kk, coef, box, g):
    """As :func:`step_interior`, also g = L u1."""
    cc, cx1, cx2, cz1, cz2 = coef[0], coef[1], coef[2], coef[3], coef[4]
    for iz in range(box[0], box[1]):
        for ix in range(box[2], box[3]):
            lap = _lap(u1, iz, ix, cc, cx1, cx2, cz1, cz2)
            g[iz, ix] = lap
            u2[iz, ix] = 2.0 * u1[iz, ix] - u0[iz, ix] + kk[iz, ix] * lap


@numba.njit(**_J, inline="always")
def _dx(f, iz, ix, a1, a2):
    return a1 * (f[iz, ix + 1] - f[iz, ix - 1]) + a2 * (f[iz, ix + 2] - f[iz, ix - 2])


@numba.njit(**_J, inline="always")
def _dz(f, iz, ix, a1, a2):
    return a1 * (f[iz + 1, ix] - f[iz - 1, ix]) + a2 * (f[iz + 2, ix] - f[iz - 2, ix])


@numba.njit(**_J, inline="always")
def _pml_node(u0, u1, u2, px, pz, kk, A, B, C, iz, ix, c, d):
    lap = _lap(u1, iz, ix, c[0], c[1], c[2], c[3], c[4])
    lap += _dx(px, iz, ix, d[0], d[1]) + _dz(pz, iz, ix, d[2], d[3])
    u2[iz, ix] = A[iz, ix] * (
        (2.0 - C[iz, ix]) * u1[iz, ix] - B[iz, ix] * u0[iz, ix] + kk[iz, ix] * lap
    )
    return lap


@numba.njit(**_J)
def step_pml(u0, u1, u2, px, pz, med, geo, boxes, g, store):
    """u2 = A (2 u1 - B u0 - C u1 + k (L u1 + Dx px + Dz pz)) in the PML boxes; g likewise."""
    kk, A, B, C = med[0], med[2], med[3], med[4]
    coef, d1 = geo
    c = (coef[0], coef[1], coef[2], coef[3], coef[4])
    d = (d1[0], d1[1], d1[2], d1[3])
    for b in range(1, boxes.shape[0]):
        if store:  # two loops, so that the branch is outside the inner loop
            for iz in range(boxes[b, 0], boxes[b, 1]):
                for ix in range(boxes[b, 2], boxes[b, 3]):
                    g[iz, ix] = _pml_node(u0, u1, u2, px, pz, kk, A, B, C, iz, ix, c, d)
        else:
            for iz in range(boxes[b, 0], boxes[b, 1]):
                for ix in range(boxes[b, 2], boxes[b, 3]):
                    _pml_node(u0, u1, u2, px, pz, kk, A, B, C, iz, ix, c, d)


@numba.njit(**_J)
def pml_p(u2, px, pz, med, d1, boxes):
    """Auxiliary fields p^{n+1} = a p^n + b D u^{n+1} (in place; pointwise in p)."""
    ax, bx, az, bz = med[5], med[6], med[7], med[8]
    x1, x2, z1, z2 = d1[0], d1[1], d1[2], d1[3]
    for b in range(1, boxes.shape[0]):
        for iz in range(boxes[b, 0], boxes[b, 1]):
            for ix in range(boxes[b, 2], boxes[b, 3]):
                px[iz, ix] = ax[iz, ix] * px[iz, ix] + bx[iz, ix] * _dx(u2, iz, ix, x1, x2)
                pz[iz, ix] = az[iz, ix] * pz[iz, ix] + bz[iz, ix] * _dz(u2, iz, ix, z1, z2)


@numba.njit(**_J)
def add_point(field, scale, iz0, ix0, w, amp):
    """Add scale * w * amp on the 4 x 4 nodes of one point (scatter)."""
    for a in range(4):
        for b in range(4):
            field[iz0 + a, ix0 + b] += scale * w[a, b] * amp


@numba.njit(**_J)
def inject(field, coeff, iz0, ix0, w, amp):
    """Add coeff[node] * w * amp on the 4 x 4 nodes of one point (scatter)."""
    for a in range(4):
        for b in range(4):
            field[iz0 + a, ix0 + b] += coeff[iz0 + a, ix0 + b] * w[a, b] * amp


@numba.njit(**_J)
def sample(field, iz0, ix0, w):
    """Return the weighted sum of the 4 x 4 nodes of one point (gather)."""
    s = 0.0
    for a in range(4):
        for b in range(4):
            s += w[a, b] * field[iz0 + a, ix0 + b]
    return s


@numba.njit(**_J)
def advance(u0, u1, u2, px, pz, med, geo, boxes, g, store, si, sw, amp):
    """One full time step of one shot; with store, g = L u1 + D p + q (before p moves)."""
    if store:
        step_interior_store(u0, u1, u2, med[0], geo[0], boxes[0], g)
    else:
        step_interior(u0, u1, u2, med[0], geo[0], boxes[0])
    step_pml(u0, u1, u2, px, pz, med, geo, boxes, g, store)
    kA = med[1]
    inject(u2, kA, si[0], si[1], sw, amp)
    if store:
        add_point(g, 1.0, si[0], si[1], sw, amp)
    pml_p(u2, px, pz, med, geo[1], boxes)


@numba.njit(**_J)
def _shot_forward(s, med, geo, boxes, src_i, src_w, rec_i, rec_w, wav, out):
    shape = med[0].shape
    u0, u1, u2 = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    px, pz = np.zeros(shape), np.zeros(shape)
    dummy = np.zeros((1, 1))
    nt = wav.shape[1]
    for n in range(nt):
        for r in range(rec_i.shape[0]):
            out[s, r, n] = sample(u1, rec_i[r, 0], rec_i[r, 1], rec_w[r])
        if n == nt - 1:
            break
        advance(u0, u1, u2, px, pz, med, geo, boxes, dummy, False, src_i[s], src_w[s], wav[s, n])
        u0, u1, u2 = u1, u2, u0


@numba.njit(nogil=True, cache=True, parallel=True)
def forward(m, cell, dt, limit_factor, med0, geo, boxes, src_i, src_w, rec_i, rec_w, wav):
    """Traces of every shot, flat (ns * nr * nt,) in C order (shot, receiver, time)."""
    ns, nt = wav.shape
    nr = rec_i.shape[0]
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(ns * nr * nt, np.nan)
    med = (kk, kk * med0[0]) + med0  # noqa: RUF005 (numba concatenates tuples)
    out = np.zeros((ns, nr, nt))
    for s in prange(ns):  # shots are independent
        _shot_forward(s, med, geo, boxes, src_i, src_w, rec_i, rec_w, wav, out)
    return out.ravel()


@numba.njit(**_J)
def _shot_tangent(s, med, dkA, geo, boxes, src_i, src_w, rec_i, rec_w, wav, out):
    shape = med[0].shape
    u0, u1, u2 = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    d0, d1, d2 = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    px, pz, dpx, dpz = np.zeros(shape), np.zeros(shape), np.zeros(shape), np.zeros(shape)
    g = np.zeros(shape)
    dummy = np.zeros((1, 1))
    nt = wav.shape[1]
    for n in range(nt):
        for r in range(rec_i.shape[0]):
            out[s, r, n] = sample(d1, rec_i[r, 0], rec_i[r, 1], rec_w[r])
        if n == nt - 1:
            break
        advance(u0, u1, u2, px, pz, med, geo, boxes, g, True, src_i[s], src_w[s], wav[s, n])
        # tangent: the same step without source, plus dk A g^n before its p moves
        step_interior(d0, d1, d2, med[0], geo[0], boxes[0])
        step_pml(d0, d1, d2, dpx, dpz, med, geo, boxes, dummy, False)
        d2 += dkA * g
        pml_p(d2, dpx, dpz, med, geo[1], boxes)
        u0, u1, u2 = u1, u2, u0
        d0, d1, d2 = d1, d2, d0


@numba.njit(nogil=True, cache=True, parallel=True)
def jvp(m, dm, cell, dt, limit_factor, med0, geo, boxes, src_i, src_w, rec_i, rec_w, wav):
    """Jacobian (with respect to log-velocity) applied to dm: the tangent traces."""
    ns, nt = wav.shape
    nr = rec_i.shape[0]
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(ns * nr * nt, np.nan)
    med = (kk, kk * med0[0]) + med0  # noqa: RUF005 (numba concatenates tuples)
    dkA = np.zeros_like(kk)
    for iz in range(kk.shape[0]):
        for ix in range(kk.shape[1]):
            if cell[iz, ix] >= 0:  # dk/dlog v = 2 k
                dkA[iz, ix] = 2.0 * kk[iz, ix] * dm[cell[iz, ix]] * med0[0][iz, ix]
    out = np.zeros((ns, nr, nt))
    for s in prange(ns):
        _shot_tangent(s, med, dkA, geo, boxes, src_i, src_w, rec_i, rec_w, wav, out)
    return out.ravel()


@numba.njit(**_J)
def _adjoint_step(mu2, mu1, w1, mu0, w0, med, coef, g, gk):
    """mu0 = A (2 mu1 - B mu2 + L w1), w0 = k mu0, gk += g mu1 (gathers)."""
    kk, A, B = med[0], med[2], med[3]
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
            gk[iz, ix] += g[iz, ix] * mu1[iz, ix]
            v = A[iz, ix] * (2.0 * mu1[iz, ix] - B[iz, ix] * mu2[iz, ix] + lap)
            mu0[iz, ix] = v
            w0[iz, ix] = kk[iz, ix] * v


@numba.njit(**_J)
def _adjoint_pml(mu1, w1, mu0, w0, tx, tz, med, d1, boxes):
    """Update th = a th - D w1 (all boxes first), then mu0 += A (-C mu1 - Dx(bx tx) - Dz(bz tz))."""
    kk, A, C, ax, bx, az, bz = med[0], med[2], med[4], med[5], med[6], med[7], med[8]
    x1, x2, z1, z2 = d1[0], d1[1], d1[2], d1[3]
    for b in range(1, boxes.shape[0]):
        for iz in range(boxes[b, 0], boxes[b, 1]):
            for ix in range(boxes[b, 2], boxes[b, 3]):
                tx[iz, ix] = ax[iz, ix] * tx[iz, ix] - _dx(w1, iz, ix, x1, x2)
                tz[iz, ix] = az[iz, ix] * tz[iz, ix] - _dz(w1, iz, ix, z1, z2)
    for b in range(1, boxes.shape[0]):
        for iz in range(boxes[b, 0], boxes[b, 1]):
            for ix in range(boxes[b, 2], boxes[b, 3]):
                dbt = (
                    x1 * (bx[iz, ix + 1] * tx[iz, ix + 1] - bx[iz, ix - 1] * tx[iz, ix - 1])
                    + x2 * (bx[iz, ix + 2] * tx[iz, ix + 2] - bx[iz, ix - 2] * tx[iz, ix - 2])
                    + z1 * (bz[iz + 1, ix] * tz[iz + 1, ix] - bz[iz - 1, ix] * tz[iz - 1, ix])
                    + z2 * (bz[iz + 2, ix] * tz[iz + 2, ix] - bz[iz - 2, ix] * tz[iz - 2, ix])
                )
                mu0[iz, ix] -= A[iz, ix] * (C[iz, ix] * mu1[iz, ix] + dbt)
                w0[iz, ix] = kk[iz, ix] * mu0[iz, ix]


@numba.njit(**_J)
def _refresh_w(w, mu, kk, iz0, ix0):
    for a in range(4):
        for b in range(4):
            w[iz0 + a, ix0 + b] = kk[iz0 + a, ix0 + b] * mu[iz0 + a, ix0 + b]


@numba.njit(**_J)
def _add_residual(mu, w, med, rec_i, rec_w, res, s, n):
    for r in range(rec_i.shape[0]):  # mu^n += A R^T r^n (scatter into this shot's field)
        inject(mu, med[2], rec_i[r, 0], rec_i[r, 1], rec_w[r], res[s, r, n])
        _refresh_w(w, mu, med[0], rec_i[r, 0], rec_i[r, 1])


@numba.njit(**_J)
def _shot_adjoint(s, med, geo, boxes, src_i, src_w, rec_i, rec_w, wav, res, ck, gk):
    """Gradient with respect to k of shot s, accumulated into gk (this shot's own row)."""
    shape = med[0].shape
    nsteps = wav.shape[1] - 1  # u^1 .. u^{nt-1} come from g^0 .. g^{nt-2}
    nseg = (nsteps + ck - 1) // ck
    ckpt = np.zeros((nseg, 4, shape[0], shape[1]))
    buf = np.zeros((ck, shape[0], shape[1]))
    u0, u1, u2 = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    px, pz = np.zeros(shape), np.zeros(shape)
    dummy = np.zeros((1, 1))
    for n in range(nsteps):  # pass 1: forward, keeping the state at segment starts
        if n % ck == 0:
            ckpt[n // ck, 0], ckpt[n // ck, 1] = u0, u1
            ckpt[n // ck, 2], ckpt[n // ck, 3] = px, pz
        advance(u0, u1, u2, px, pz, med, geo, boxes, dummy, False, src_i[s], src_w[s], wav[s, n])
        u0, u1, u2 = u1, u2, u0
    mu0, mu1, mu2 = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    w0, w1 = np.zeros(shape), np.zeros(shape)
    tx, tz = np.zeros(shape), np.zeros(shape)
    _add_residual(mu1, w1, med, rec_i, rec_w, res, s, nsteps)  # mu^{nt-1}
    for j in range(nseg - 1, -1, -1):  # pass 2: segments backward
        start, stop = j * ck, min(j * ck + ck, nsteps)
        u0[:, :], u1[:, :] = ckpt[j, 0], ckpt[j, 1]
        px[:, :], pz[:, :] = ckpt[j, 2], ckpt[j, 3]
        for n in range(start, stop):  # recompute g^n
            advance(u0, u1, u2, px, pz, med, geo, boxes, buf[n - start], True, src_i[s],
                    src_w[s], wav[s, n])  # fmt: skip
            u0, u1, u2 = u1, u2, u0
        for n in range(stop - 1, start - 1, -1):  # mu1 = mu^{n+1}, mu2 = mu^{n+2}
            _adjoint_step(mu2, mu1, w1, mu0, w0, med, geo[0], buf[n - start], gk[s])
            _adjoint_pml(mu1, w1, mu0, w0, tx, tz, med, geo[1], boxes)
            if n > 0:
                _add_residual(mu0, w0, med, rec_i, rec_w, res, s, n)
            mu0, mu1, mu2 = mu2, mu0, mu1
            w0, w1 = w1, w0


@numba.njit(nogil=True, cache=True, parallel=True)
def vjp(m, dd, cell, dt, limit_factor, med0, geo, boxes, src_i, src_w, rec_i, rec_w, wav, ck):
    """Transposed Jacobian (log-velocity) applied to traces dd."""
    ns, nt = wav.shape
    nr = rec_i.shape[0]
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(m.shape[0], np.nan)
    med = (kk, kk * med0[0]) + med0  # noqa: RUF005 (numba concatenates tuples)
    res = dd.reshape((ns, nr, nt))
    gk = np.zeros((ns, kk.shape[0], kk.shape[1]))
    for s in prange(ns):  # each shot writes its own row of gk
        _shot_adjoint(s, med, geo, boxes, src_i, src_w, rec_i, rec_w, wav, res, ck, gk)
    grad = np.zeros(m.shape[0])
    for s in range(ns):  # sum the shots, then scatter nodes onto cells (sequential)
        for iz in range(kk.shape[0]):
            for ix in range(kk.shape[1]):
                if cell[iz, ix] >= 0:
                    grad[cell[iz, ix]] += 2.0 * kk[iz, ix] * gk[s, iz, ix]
    return grad
