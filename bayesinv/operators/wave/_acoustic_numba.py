"""Numba kernels of the acoustic wave operators (1-D and 2-D share them).

long: the forward, tangent and adjoint time stepping of one scheme stay in one module (the
adjoint mirrors the forward step by step, and their serial twins sit beside them).

Scheme (``AcousticWave2D``) on padded nodes with a halo of two zero nodes on every side:

    u^{n+1} = A (2 u^n - B u^{n-1} - C u^n + k (L u^n + Dx px^n + Dz pz^n + q^n)),
    px^{n+1} = ax px^n + bx Dx u^{n+1},   pz^{n+1} = az pz^n + bz Dz u^{n+1},

with ``k = v^2 dt^2``, ``L`` the fourth-order Laplacian (``coef = [cc, cx1, cx2, cz1, cz2]``),
``D`` fourth-order centred first differences (``d1 = [dx1, dx2, dz1, dz2]``), ``q^n`` the
source spread on 4 x 4 nodes, and ``A = B = 1, C = 0, a = 1, b = 0`` outside the PML (a
1-D problem has one column and zero x weights). PML coefficients are formed per node from
1-D profiles ``prof = (prof_z, prof_x)`` (rows ``h, a, r``, see ``_layout.pml``), so a PML
node reads 5 fields, not 12. ``boxes[0]`` is the interior (the bare stencil), ``boxes[1:]``
the PML and two nodes beyond it (full update); they tile the grid. ``d^n = R u^n``.

Discrete adjoint, backward (``mu = A lambda``, ``w = k mu``, ``th`` adjoint of ``p``):

    th^n = a th^{n+1} - D w^{n+1}                         (D^T = -D)
    mu^n = A (R^T r^n + 2 mu^{n+1} - B mu^{n+2} - C mu^{n+1} + L w^{n+1}
              - Dx(bx thx^n) - Dz(bz thz^n))
    dJ/dk = sum_n g^n mu^{n+1},   g^n = L u^n + Dx px^n + Dz pz^n + q^n.

The state (u^{n-1}, u^n, px^n, pz^n) is stored every ``ck`` steps; each segment is recomputed
(``ck`` fields of ``g``) before its backward pass.

Parallelism: ``prange`` over shots only, each with its own fields; ``*_serial`` twins loop
over the shots in the calling thread (used for one shot, where launching the thread pool on
every call cost 40x the work on a loaded 2-core machine). Stencils gather; source
injection and receivers' adjoint scatter into the shot's own field; per-shot gradients go
to separate rows, summed after the parallel loop.
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
def _pml_node(u0, u1, u2, px, pz, kk, hz, hx, iz, ix, c, d):
    lap = _lap(u1, iz, ix, c[0], c[1], c[2], c[3], c[4])
    lap += _dx(px, iz, ix, d[0], d[1]) + _dz(pz, iz, ix, d[2], d[3])
    s = hx + hz  # A = 1 / (1 + s), B = 1 - s, C = 4 hx hz
    u2[iz, ix] = (
        (2.0 - 4.0 * hx * hz) * u1[iz, ix] - (1.0 - s) * u0[iz, ix] + kk[iz, ix] * lap
    ) / (1.0 + s)
    return lap


@numba.njit(**_J)
def step_pml(u0, u1, u2, px, pz, kk, prof, geo, boxes, g, store):
    """u2 = A (2 u1 - B u0 - C u1 + k (L u1 + Dx px + Dz pz)) in the PML boxes; g likewise."""
    hzs, hxs = prof[0][0], prof[1][0]
    coef, d1 = geo
    c = (coef[0], coef[1], coef[2], coef[3], coef[4])
    d = (d1[0], d1[1], d1[2], d1[3])
    for b in range(1, boxes.shape[0]):
        if store:  # two loops, so that the branch is outside the inner loop
            for iz in range(boxes[b, 0], boxes[b, 1]):
                hz = hzs[iz]
                for ix in range(boxes[b, 2], boxes[b, 3]):
                    g[iz, ix] = _pml_node(u0, u1, u2, px, pz, kk, hz, hxs[ix], iz, ix, c, d)
        else:
            for iz in range(boxes[b, 0], boxes[b, 1]):
                hz = hzs[iz]
                for ix in range(boxes[b, 2], boxes[b, 3]):
                    _pml_node(u0, u1, u2, px, pz, kk, hz, hxs[ix], iz, ix, c, d)


@numba.njit(**_J)
def pml_p(u2, px, pz, prof, d1, boxes):
    """Auxiliary fields p^{n+1} = a p^n + b D u^{n+1} (in place; pointwise in p)."""
    pzt, pxt = prof
    x1, x2, z1, z2 = d1[0], d1[1], d1[2], d1[3]
    for b in range(1, boxes.shape[0]):
        for iz in range(boxes[b, 0], boxes[b, 1]):
            hz, az, rz = pzt[0, iz], pzt[1, iz], pzt[2, iz]
            for ix in range(boxes[b, 2], boxes[b, 3]):
                hx = pxt[0, ix]
                bx = 2.0 * (hz - hx) * pxt[2, ix]
                bz = 2.0 * (hx - hz) * rz
                px[iz, ix] = pxt[1, ix] * px[iz, ix] + bx * _dx(u2, iz, ix, x1, x2)
                pz[iz, ix] = az * pz[iz, ix] + bz * _dz(u2, iz, ix, z1, z2)


@numba.njit(**_J)
def add_point(field, scale, iz0, ix0, w, amp):
    """Add scale * w * amp on the 4 x 4 nodes of one point (scatter)."""
    for a in range(4):
        for b in range(4):
            field[iz0 + a, ix0 + b] += scale * w[a, b] * amp


@numba.njit(**_J)
def inject(field, kk, prof, iz0, ix0, w, amp):
    """Add A k w amp (A w amp if kk is (1, 1)) on the 4 x 4 nodes of one point (scatter)."""
    hzs, hxs, use_k = prof[0][0], prof[1][0], kk.shape[0] > 1
    for a in range(4):
        for b in range(4):
            iz, ix = iz0 + a, ix0 + b
            c = 1.0 / (1.0 + hzs[iz] + hxs[ix])
            if use_k:
                c *= kk[iz, ix]
            field[iz, ix] += c * w[a, b] * amp


@numba.njit(**_J)
def sample(field, iz0, ix0, w):
    """Return the weighted sum of the 4 x 4 nodes of one point (gather)."""
    s = 0.0
    for a in range(4):
        for b in range(4):
            s += w[a, b] * field[iz0 + a, ix0 + b]
    return s


@numba.njit(**_J)
def advance(u0, u1, u2, px, pz, kk, prof, geo, boxes, g, store, si, sw, amp):
    """One full time step of one shot; with store, g = L u1 + D p + q (before p moves)."""
    if store:
        step_interior_store(u0, u1, u2, kk, geo[0], boxes[0], g)
    else:
        step_interior(u0, u1, u2, kk, geo[0], boxes[0])
    step_pml(u0, u1, u2, px, pz, kk, prof, geo, boxes, g, store)
    inject(u2, kk, prof, si[0], si[1], sw, amp)
    if store:
        add_point(g, 1.0, si[0], si[1], sw, amp)
    pml_p(u2, px, pz, prof, geo[1], boxes)


@numba.njit(**_J)
def _shot_forward(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, out):
    shape = kk.shape
    u0, u1, u2 = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    px, pz = np.zeros(shape), np.zeros(shape)
    dummy = np.zeros((1, 1))
    nt = wav.shape[1]
    for n in range(nt):
        for r in range(rec_i.shape[0]):
            out[s, r, n] = sample(u1, rec_i[r, 0], rec_i[r, 1], rec_w[r])
        if n == nt - 1:
            break
        advance(u0, u1, u2, px, pz, kk, prof, geo, boxes, dummy, False, src_i[s], src_w[s],
                wav[s, n])  # fmt: skip
        u0, u1, u2 = u1, u2, u0


@numba.njit(nogil=True, cache=True, parallel=True)
def forward(m, cell, dt, limit_factor, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav):
    """Traces of every shot, flat (ns * nr * nt,) in C order (shot, receiver, time)."""
    ns, nt = wav.shape
    nr = rec_i.shape[0]
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(ns * nr * nt, np.nan)
    out = np.zeros((ns, nr, nt))
    for s in prange(ns):  # shots are independent
        _shot_forward(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, out)
    return out.ravel()


@numba.njit(**_J)
def forward_serial(m, cell, dt, limit_factor, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav):
    """:func:`forward` without threads (one shot: no thread-pool launch per call)."""
    ns, nt = wav.shape
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(ns * rec_i.shape[0] * nt, np.nan)
    out = np.zeros((ns, rec_i.shape[0], nt))
    for s in range(ns):
        _shot_forward(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, out)
    return out.ravel()


@numba.njit(**_J)
def _shot_tangent(s, kk, prof, dkA, geo, boxes, src_i, src_w, rec_i, rec_w, wav, out):
    shape = kk.shape
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
        advance(u0, u1, u2, px, pz, kk, prof, geo, boxes, g, True, src_i[s], src_w[s],
                wav[s, n])  # fmt: skip
        # tangent: the same step without source, plus dk A g^n before its p moves
        step_interior(d0, d1, d2, kk, geo[0], boxes[0])
        step_pml(d0, d1, d2, dpx, dpz, kk, prof, geo, boxes, dummy, False)
        d2 += dkA * g
        pml_p(d2, dpx, dpz, prof, geo[1], boxes)
        u0, u1, u2 = u1, u2, u0
        d0, d1, d2 = d1, d2, d0


@numba.njit(nogil=True, cache=True, parallel=True)
def jvp(m, dm, cell, dt, limit_factor, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav):
    """Jacobian (with respect to log-velocity) applied to dm: the tangent traces."""
    ns, nt = wav.shape
    nr = rec_i.shape[0]
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(ns * nr * nt, np.nan)
    dkA = _dk_a(kk, dm, cell, prof)
    out = np.zeros((ns, nr, nt))
    for s in prange(ns):
        _shot_tangent(s, kk, prof, dkA, geo, boxes, src_i, src_w, rec_i, rec_w, wav, out)
    return out.ravel()


@numba.njit(**_J)
def jvp_serial(m, dm, cell, dt, limit_factor, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav):
    """:func:`jvp` without threads."""
    ns, nt = wav.shape
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(ns * rec_i.shape[0] * nt, np.nan)
    dkA = _dk_a(kk, dm, cell, prof)
    out = np.zeros((ns, rec_i.shape[0], nt))
    for s in range(ns):
        _shot_tangent(s, kk, prof, dkA, geo, boxes, src_i, src_w, rec_i, rec_w, wav, out)
    return out.ravel()


@numba.njit(**_J)
def _dk_a(kk, dm, cell, prof):
    """Return A dk on the nodes for a change dm of log-velocity (dk/dlog v = 2 k)."""
    hzs, hxs = prof[0][0], prof[1][0]
    dkA = np.zeros_like(kk)
    for iz in range(kk.shape[0]):
        for ix in range(kk.shape[1]):
            if cell[iz, ix] >= 0:
                a = 1.0 / (1.0 + hzs[iz] + hxs[ix])
                dkA[iz, ix] = 2.0 * kk[iz, ix] * dm[cell[iz, ix]] * a
    return dkA


@numba.njit(**_J)
def _adjoint_step(mu2, mu1, w1, mu0, w0, kk, prof, coef, boxes, g, gk):
    """mu0 = A (2 mu1 - B mu2 + L w1), w0 = k mu0, gk += g mu1 (A = B = 1 in box 0)."""
    hzs, hxs = prof[0][0], prof[1][0]
    cc, cx1, cx2, cz1, cz2 = coef[0], coef[1], coef[2], coef[3], coef[4]
    for b in range(boxes.shape[0]):
        for iz in range(boxes[b, 0], boxes[b, 1]):
            hz = hzs[iz]
            if b == 0:
                for ix in range(boxes[b, 2], boxes[b, 3]):
                    lap = _lap(w1, iz, ix, cc, cx1, cx2, cz1, cz2)
                    gk[iz, ix] += g[iz, ix] * mu1[iz, ix]
                    v = 2.0 * mu1[iz, ix] - mu2[iz, ix] + lap
                    mu0[iz, ix] = v
                    w0[iz, ix] = kk[iz, ix] * v
            else:
                for ix in range(boxes[b, 2], boxes[b, 3]):
                    lap = _lap(w1, iz, ix, cc, cx1, cx2, cz1, cz2)
                    gk[iz, ix] += g[iz, ix] * mu1[iz, ix]
                    s = hz + hxs[ix]
                    v = (2.0 * mu1[iz, ix] - (1.0 - s) * mu2[iz, ix] + lap) / (1.0 + s)
                    mu0[iz, ix] = v
                    w0[iz, ix] = kk[iz, ix] * v


@numba.njit(**_J)
def _adjoint_pml(mu1, w1, mu0, w0, tx, tz, kk, prof, d1, boxes):
    """Update th = a th - D w1 (all boxes first), then mu0 += A (-C mu1 - Dx(bx tx) - Dz(bz tz))."""
    pzt, pxt = prof
    hzs, hxs, rxs = pzt[0], pxt[0], pxt[2]
    x1, x2, z1, z2 = d1[0], d1[1], d1[2], d1[3]
    for b in range(1, boxes.shape[0]):
        for iz in range(boxes[b, 0], boxes[b, 1]):
            az = pzt[1, iz]
            for ix in range(boxes[b, 2], boxes[b, 3]):
                tx[iz, ix] = pxt[1, ix] * tx[iz, ix] - _dx(w1, iz, ix, x1, x2)
                tz[iz, ix] = az * tz[iz, ix] - _dz(w1, iz, ix, z1, z2)
    for b in range(1, boxes.shape[0]):
        for iz in range(boxes[b, 0], boxes[b, 1]):
            hz = hzs[iz]
            for ix in range(boxes[b, 2], boxes[b, 3]):
                hx = hxs[ix]
                dbt = 0.0  # Dx(bx tx) + Dz(bz tz), bx = 2 (hz - hx) rx, bz = 2 (hx - hz) rz
                for j, cj in ((1, x1), (2, x2)):
                    dbt += cj * (
                        (hz - hxs[ix + j]) * rxs[ix + j] * tx[iz, ix + j]
                        - (hz - hxs[ix - j]) * rxs[ix - j] * tx[iz, ix - j]
                    )
                for j, cj in ((1, z1), (2, z2)):
                    dbt += cj * (
                        (hx - hzs[iz + j]) * pzt[2, iz + j] * tz[iz + j, ix]
                        - (hx - hzs[iz - j]) * pzt[2, iz - j] * tz[iz - j, ix]
                    )
                s = hx + hz
                mu0[iz, ix] -= (4.0 * hx * hz * mu1[iz, ix] + 2.0 * dbt) / (1.0 + s)
                w0[iz, ix] = kk[iz, ix] * mu0[iz, ix]


@numba.njit(**_J)
def _refresh_w(w, mu, kk, iz0, ix0):
    for a in range(4):
        for b in range(4):
            w[iz0 + a, ix0 + b] = kk[iz0 + a, ix0 + b] * mu[iz0 + a, ix0 + b]


@numba.njit(**_J)
def _add_residual(mu, w, kk, prof, rec_i, rec_w, res, s, n):
    one = np.zeros((1, 1))
    for r in range(rec_i.shape[0]):  # mu^n += A R^T r^n (scatter into this shot's field)
        inject(mu, one, prof, rec_i[r, 0], rec_i[r, 1], rec_w[r], res[s, r, n])
        _refresh_w(w, mu, kk, rec_i[r, 0], rec_i[r, 1])


@numba.njit(**_J)
def _shot_adjoint(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, res, ck, gk):
    """Gradient with respect to k of shot s, accumulated into gk (this shot's own row)."""
    shape = kk.shape
    nsteps = wav.shape[1] - 1  # u^1 .. u^{nt-1} come from g^0 .. g^{nt-2}
    nseg = (nsteps + ck - 1) // ck
    ckpt = np.zeros((nseg, 4, shape[0], shape[1]))
    buf = np.zeros((ck, shape[0], shape[1]))
    u0, u1, u2 = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    px, pz = np.zeros(shape), np.zeros(shape)
    dummy = np.zeros((1, 1))
    sis, sws = src_i[s], src_w[s]
    for n in range(nsteps):  # pass 1: forward, keeping the state at segment starts
        if n % ck == 0:
            ckpt[n // ck, 0], ckpt[n // ck, 1] = u0, u1
            ckpt[n // ck, 2], ckpt[n // ck, 3] = px, pz
        advance(u0, u1, u2, px, pz, kk, prof, geo, boxes, dummy, False, sis, sws, wav[s, n])
        u0, u1, u2 = u1, u2, u0
    mu0, mu1, mu2 = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    w0, w1 = np.zeros(shape), np.zeros(shape)
    tx, tz = np.zeros(shape), np.zeros(shape)
    _add_residual(mu1, w1, kk, prof, rec_i, rec_w, res, s, nsteps)  # mu^{nt-1}
    for j in range(nseg - 1, -1, -1):  # pass 2: segments backward
        start, stop = j * ck, min(j * ck + ck, nsteps)
        u0[:, :], u1[:, :] = ckpt[j, 0], ckpt[j, 1]
        px[:, :], pz[:, :] = ckpt[j, 2], ckpt[j, 3]
        for n in range(start, stop):  # recompute g^n
            advance(u0, u1, u2, px, pz, kk, prof, geo, boxes, buf[n - start], True, sis, sws,
                    wav[s, n])  # fmt: skip
            u0, u1, u2 = u1, u2, u0
        for n in range(stop - 1, start - 1, -1):  # mu1 = mu^{n+1}, mu2 = mu^{n+2}
            _adjoint_step(mu2, mu1, w1, mu0, w0, kk, prof, geo[0], boxes, buf[n - start], gk[s])
            _adjoint_pml(mu1, w1, mu0, w0, tx, tz, kk, prof, geo[1], boxes)
            if n > 0:
                _add_residual(mu0, w0, kk, prof, rec_i, rec_w, res, s, n)
            mu0, mu1, mu2 = mu2, mu0, mu1
            w0, w1 = w1, w0


@numba.njit(nogil=True, cache=True, parallel=True)
def vjp(m, dd, cell, dt, limit_factor, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, ck):
    """Transposed Jacobian (log-velocity) applied to traces dd."""
    ns, nt = wav.shape
    nr = rec_i.shape[0]
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(m.shape[0], np.nan)
    res = dd.reshape((ns, nr, nt))
    gk = np.zeros((ns, kk.shape[0], kk.shape[1]))
    for s in prange(ns):  # each shot writes its own row of gk
        _shot_adjoint(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, res, ck, gk)
    return _cell_gradient(gk, kk, cell, m.shape[0])


@numba.njit(**_J)
def vjp_serial(m, dd, cell, dt, limit_factor, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav,
               ck):  # fmt: skip
    """:func:`vjp` without threads."""
    ns, nt = wav.shape
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(m.shape[0], np.nan)
    res = dd.reshape((ns, rec_i.shape[0], nt))
    gk = np.zeros((ns, kk.shape[0], kk.shape[1]))
    for s in range(ns):
        _shot_adjoint(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, res, ck, gk)
    return _cell_gradient(gk, kk, cell, m.shape[0])


@numba.njit(**_J)
def _cell_gradient(gk, kk, cell, n):
    """Sum the shots, then scatter nodes onto cells (sequential): 2 k dJ/dk per cell."""
    grad = np.zeros(n)
    for s in range(gk.shape[0]):
        for iz in range(kk.shape[0]):
            for ix in range(kk.shape[1]):
                if cell[iz, ix] >= 0:
                    grad[cell[iz, ix]] += 2.0 * kk[iz, ix] * gk[s, iz, ix]
    return grad
