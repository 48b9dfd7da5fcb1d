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

Indexing: every box is swept row by row over the flat (raveled) fields with *unsigned*
indices ``q = iz nxh + ix`` and offsets ``1, 2, nxh, 2 nxh``. Numba then emits no
negative-index wraparound test (it does for signed indices whose sign LLVM cannot prove,
e.g. loops starting at a run-time box bound), and each inner loop, writing one stream and
reading few, is vectorised by LLVM. The interior loop is the bare stencil; the PML terms
and the auxiliary fields are only touched in the PML boxes.

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
def _offsets(nxh):
    """Unsigned flat offsets 1, 2, one row and two rows (see "Indexing" above)."""
    return np.uint64(1), np.uint64(2), np.uint64(nxh), np.uint64(2 * nxh)


@numba.njit(**_J, inline="always")
def _lap(a, q, c, one, two, w, ww):
    """Fourth-order Laplacian of flat field a at unsigned flat index q (c = stencil weights)."""
    return (
        c[0] * a[q]
        + c[1] * (a[q - one] + a[q + one])
        + c[2] * (a[q - two] + a[q + two])
        + c[3] * (a[q - w] + a[q + w])
        + c[4] * (a[q - ww] + a[q + ww])
    )


@numba.njit(**_J, inline="always")
def _dxz(fx, fz, q, d, one, two, w, ww):
    """Dx fx + Dz fz at flat index q (fourth-order centred differences, d = [x1, x2, z1, z2])."""
    return (
        d[0] * (fx[q + one] - fx[q - one])
        + d[1] * (fx[q + two] - fx[q - two])
        + d[2] * (fz[q + w] - fz[q - w])
        + d[3] * (fz[q + ww] - fz[q - ww])
    )


@numba.njit(**_J)
def step_interior(u0, u1, u2, kk, coef, box):
    """u2 = 2 u1 - u0 + k L u1 in the interior box (no PML term there): the bare stencil."""
    a0, a1, a2, fk = u0.reshape(-1), u1.reshape(-1), u2.reshape(-1), kk.reshape(-1)
    one, two, w, ww = _offsets(u1.shape[1])
    c = (coef[0], coef[1], coef[2], coef[3], coef[4])
    n = np.uint64(box[3] - box[2])
    for iz in range(box[0], box[1]):
        row = np.uint64(iz * u1.shape[1] + box[2])
        for j in range(n):  # contiguous, vectorised
            q = row + j
            a2[q] = 2.0 * a1[q] - a0[q] + fk[q] * _lap(a1, q, c, one, two, w, ww)


@numba.njit(**_J)
def step_interior_store(u0, u1, u2, kk, coef, box, g):
    """As :func:`step_interior`, also g = L u1 (two loops: one store stream each)."""
    a0, a1, a2, fk, fg = (
        u0.reshape(-1),
        u1.reshape(-1),
        u2.reshape(-1),
        kk.reshape(-1),
        g.reshape(-1),
    )
    one, two, w, ww = _offsets(u1.shape[1])
    c = (coef[0], coef[1], coef[2], coef[3], coef[4])
    n = np.uint64(box[3] - box[2])
    for iz in range(box[0], box[1]):
        row = np.uint64(iz * u1.shape[1] + box[2])
        for j in range(n):
            fg[row + j] = _lap(a1, row + j, c, one, two, w, ww)
        for j in range(n):
            q = row + j
            a2[q] = 2.0 * a1[q] - a0[q] + fk[q] * fg[q]


@numba.njit(**_J)
def step_pml(u0, u1, u2, px, pz, kk, prof, geo, boxes, g, store):
    """u2 = A (2 u1 - B u0 - C u1 + k (L u1 + Dx px + Dz pz)) in the PML boxes; g likewise.

    Per row: t = L u1, t += Dx px + Dz pz, then the update (A = 1 / (1 + s), B = 1 - s,
    C = 4 hx hz, s = hx + hz); each loop writes one stream so that it vectorises.
    """
    hzs, hxs = prof[0][0], prof[1][0]
    coef, d1 = geo
    c = (coef[0], coef[1], coef[2], coef[3], coef[4])
    d = (d1[0], d1[1], d1[2], d1[3])
    a0, a1, a2, fx, fz, fk, fg = (
        u0.reshape(-1),
        u1.reshape(-1),
        u2.reshape(-1),
        px.reshape(-1),
        pz.reshape(-1),
        kk.reshape(-1),
        g.reshape(-1),
    )
    nxh = u1.shape[1]
    one, two, w, ww = _offsets(nxh)
    t = np.empty(nxh)
    for b in range(1, boxes.shape[0]):
        x0 = np.uint64(boxes[b, 2])
        n = np.uint64(boxes[b, 3] - boxes[b, 2])
        for iz in range(boxes[b, 0], boxes[b, 1]):
            hz = hzs[iz]
            row = np.uint64(iz * nxh) + x0
            for j in range(n):
                t[j] = _lap(a1, row + j, c, one, two, w, ww)
            for j in range(n):
                t[j] += _dxz(fx, fz, row + j, d, one, two, w, ww)
            for j in range(n):
                q, hx = row + j, hxs[x0 + j]
                s = hx + hz
                a2[q] = ((2.0 - 4.0 * hx * hz) * a1[q] - (1.0 - s) * a0[q] + fk[q] * t[j]) / (
                    1.0 + s
                )
            if store:
                for j in range(n):
                    fg[row + j] = t[j]


@numba.njit(**_J)
def pml_p(u2, px, pz, prof, d1, boxes):
    """Auxiliary fields p^{n+1} = a p^n + b D u^{n+1} (in place; pointwise in p)."""
    pzt, pxt = prof
    hxs, axs, rxs = pxt[0], pxt[1], pxt[2]
    x1, x2, z1, z2 = d1[0], d1[1], d1[2], d1[3]
    a2, fx, fz = u2.reshape(-1), px.reshape(-1), pz.reshape(-1)
    nxh = u2.shape[1]
    one, two, w, ww = _offsets(nxh)
    for b in range(1, boxes.shape[0]):
        x0 = np.uint64(boxes[b, 2])
        n = np.uint64(boxes[b, 3] - boxes[b, 2])
        for iz in range(boxes[b, 0], boxes[b, 1]):
            hz, az, rz = pzt[0, iz], pzt[1, iz], pzt[2, iz]
            row = np.uint64(iz * nxh) + x0
            for j in range(n):  # bx = 2 (hz - hx) rx
                q, ix = row + j, x0 + j
                dx = x1 * (a2[q + one] - a2[q - one]) + x2 * (a2[q + two] - a2[q - two])
                fx[q] = axs[ix] * fx[q] + 2.0 * (hz - hxs[ix]) * rxs[ix] * dx
            for j in range(n):  # bz = 2 (hx - hz) rz
                q = row + j
                dz = z1 * (a2[q + w] - a2[q - w]) + z2 * (a2[q + ww] - a2[q - ww])
                fz[q] = az * fz[q] + 2.0 * (hxs[x0 + j] - hz) * rz * dz


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
    """mu0 = A (2 mu1 - B mu2 + L w1) and gk += g mu1 in every box, w0 = k mu0 in box 0.

    The PML boxes set w0 in :func:`_adjoint_pml`; A = B = 1 in box 0.
    """
    hzs, hxs = prof[0][0], prof[1][0]
    c = (coef[0], coef[1], coef[2], coef[3], coef[4])
    m2, m1, f1, m0, f0, fk, fg, fgk = (
        mu2.reshape(-1),
        mu1.reshape(-1),
        w1.reshape(-1),
        mu0.reshape(-1),
        w0.reshape(-1),
        kk.reshape(-1),
        g.reshape(-1),
        gk.reshape(-1),
    )
    nxh = kk.shape[1]
    one, two, w, ww = _offsets(nxh)
    for b in range(boxes.shape[0]):
        x0 = np.uint64(boxes[b, 2])
        n = np.uint64(boxes[b, 3] - boxes[b, 2])
        for iz in range(boxes[b, 0], boxes[b, 1]):
            row = np.uint64(iz * nxh) + x0
            for j in range(n):
                fgk[row + j] += fg[row + j] * m1[row + j]
            if b == 0:
                for j in range(n):
                    q = row + j
                    m0[q] = 2.0 * m1[q] - m2[q] + _lap(f1, q, c, one, two, w, ww)
                for j in range(n):
                    f0[row + j] = fk[row + j] * m0[row + j]
            else:
                hz = hzs[iz]
                for j in range(n):
                    q = row + j
                    s = hz + hxs[x0 + j]
                    lap = _lap(f1, q, c, one, two, w, ww)
                    m0[q] = (2.0 * m1[q] - (1.0 - s) * m2[q] + lap) / (1.0 + s)


@numba.njit(**_J)
def _adjoint_pml(mu1, w1, mu0, w0, tx, tz, kk, prof, d1, boxes):
    """Update th = a th - D w1, then mu0 += A (-C mu1 - Dx(bx tx) - Dz(bz tz)), w0 = k mu0.

    All boxes' th first (the second sweep reads th of neighbouring boxes); PML boxes only.
    """
    pzt, pxt = prof
    hzs, rzs, hxs, axs, rxs = pzt[0], pzt[2], pxt[0], pxt[1], pxt[2]
    x1, x2, z1, z2 = d1[0], d1[1], d1[2], d1[3]
    m1, f1, m0, f0, ftx, ftz, fk = (
        mu1.reshape(-1),
        w1.reshape(-1),
        mu0.reshape(-1),
        w0.reshape(-1),
        tx.reshape(-1),
        tz.reshape(-1),
        kk.reshape(-1),
    )
    nxh = kk.shape[1]
    one, two, w, ww = _offsets(nxh)
    for b in range(1, boxes.shape[0]):
        x0 = np.uint64(boxes[b, 2])
        n = np.uint64(boxes[b, 3] - boxes[b, 2])
        for iz in range(boxes[b, 0], boxes[b, 1]):
            az = pzt[1, iz]
            row = np.uint64(iz * nxh) + x0
            for j in range(n):
                q = row + j
                dx = x1 * (f1[q + one] - f1[q - one]) + x2 * (f1[q + two] - f1[q - two])
                ftx[q] = axs[x0 + j] * ftx[q] - dx
            for j in range(n):
                q = row + j
                dz = z1 * (f1[q + w] - f1[q - w]) + z2 * (f1[q + ww] - f1[q - ww])
                ftz[q] = az * ftz[q] - dz
    for b in range(1, boxes.shape[0]):
        x0 = np.uint64(boxes[b, 2])
        n = np.uint64(boxes[b, 3] - boxes[b, 2])
        for iz in range(boxes[b, 0], boxes[b, 1]):
            hz = hzs[iz]
            # bz tz at rows iz -+ 1, 2 (bz = 2 (hx - hz) rz) needs hx per node: split hx, hz
            r1m, r1p = rzs[iz - 1], rzs[iz + 1]
            r2m, r2p = rzs[iz - 2], rzs[iz + 2]
            h1m, h1p, h2m, h2p = hzs[iz - 1], hzs[iz + 1], hzs[iz - 2], hzs[iz + 2]
            row = np.uint64(iz * nxh) + x0
            for j in range(n):
                q, ix = row + j, x0 + j
                hx = hxs[ix]
                dbt = x1 * (
                    (hz - hxs[ix + one]) * rxs[ix + one] * ftx[q + one]
                    - (hz - hxs[ix - one]) * rxs[ix - one] * ftx[q - one]
                ) + x2 * (
                    (hz - hxs[ix + two]) * rxs[ix + two] * ftx[q + two]
                    - (hz - hxs[ix - two]) * rxs[ix - two] * ftx[q - two]
                )
                dbt += z1 * ((hx - h1p) * r1p * ftz[q + w] - (hx - h1m) * r1m * ftz[q - w])
                dbt += z2 * ((hx - h2p) * r2p * ftz[q + ww] - (hx - h2m) * r2m * ftz[q - ww])
                s = hx + hz
                m0[q] -= (4.0 * hx * hz * m1[q] + 2.0 * dbt) / (1.0 + s)
            for j in range(n):
                f0[row + j] = fk[row + j] * m0[row + j]


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
