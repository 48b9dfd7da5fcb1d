"""Numba kernels of the acoustic wave operators (1-D and 2-D share them).

long: the forward, tangent and adjoint time stepping of one scheme stay in one module (the
adjoint mirrors the forward step by step, and their serial twins sit beside them).

Scheme (``AcousticWave2D``) on padded nodes with a halo of two zero nodes on every side:

    u^{n+1} = A (2 u^n - B u^{n-1} - C u^n + k (L u^n + Dx px^n + Dz pz^n + q^n)),
    px^{n+1} = ax px^n + bx Dx u^{n+1},   pz^{n+1} = az pz^n + bz Dz u^{n+1},

with ``k = v^2 dt^2``, ``L`` the fourth-order Laplacian (``coef = [cc, cx1, cx2, cz1, cz2]``),
``D`` fourth-order centred first differences (``d1 = [dx1, dx2, dz1, dz2]``), ``q^n`` the
source spread on 4 x 4 nodes, and ``A = B = 1, C = 0, a = 1, b = 0`` outside the PML (a
1-D problem has one column and zero x weights). ``prof = (prof_z, prof_x, pc)``: 1-D
profiles (rows ``h, a, r``, see ``_layout.pml``) from which ``a, b`` are formed per node,
and ``pc``, the per-node ``A, B A, (2 - C) A`` of the PML boxes only (no division in the
loops). ``boxes[0]`` is the interior (the bare stencil, nothing else stored or read there),
``boxes[1:]`` the PML and two nodes beyond it (full update); they tile the grid.
``d^n = R u^n``.

Discrete adjoint, backward (``mu = A lambda``, ``w = k mu``, ``th`` adjoint of ``p``):

    th^n = a th^{n+1} - D w^{n+1}                         (D^T = -D)
    mu^n = A (R^T r^n + 2 mu^{n+1} - B mu^{n+2} - C mu^{n+1} + L w^{n+1}
              - Dx(bx thx^n) - Dz(bz thz^n))
    dJ/dk = sum_n g^n mu^{n+1},   g^n = L u^n + Dx px^n + Dz pz^n + q^n.

As k, a and b do not depend on time, the kernels carry ``w = k mu`` and ``y = -b th``:

    y^n = a y^{n+1} + b D w^{n+1}
    w^n = (2 - C) A w^{n+1} - B A w^{n+2} + k A (L w^{n+1} + Dx yx^n + Dz yz^n + R^T r^n)
    2 k dJ/dk = 2 sum_n g^n w^{n+1}

which is the forward's step run backward with the residuals as sources (the same
kernels: :func:`pml_p`, then :func:`step_interior` and :func:`step_pml`), so a backward
step costs about what a forward step does. The per-node ``A, B A, (2 - C) A`` are stored
for the PML boxes only (``prof[2]``).

Imaging condition summed by parts in time. The forward step solved for g reads
``k A g^n = u^{n+1} - (2 - C) A u^n + B A u^{n-1}``, and the backward step
``w^m - (2 - C) A w^{m+1} + B A w^{m+2} = k A t^m`` with
``t^m = L w^{m+1} + Dx yx^m + Dz yz^m + R^T r^m``; with ``u^0 = u^{-1} = 0`` and
``w^{nt} = w^{nt+1} = 0``, per node

    sum_{n=0}^{nt-2} g^n w^{n+1} = sum_{m=1}^{nt-1} u^m t^m,

so the gradient needs the forward wavefield ``u`` only (no stored ``g``), and ``t^m`` is
what the backward step computes anyway: the imaging is one multiply-add fused into its
sweep (plus the receivers' taps). The tangent uses the same identity for its source
``dk A g^n = (dk / k) (u^{n+1} - (2 - C) A u^n + B A u^{n-1})``.

The state (u^{n-1}, u^n, px^n, pz^n) is stored every ``ck`` steps; each segment is recomputed
into a buffer of ``ck + 2`` wavefields before its backward pass (the gradient alone,
:func:`vjp`, steps its last segment in that buffer during the forward and recomputes only
the others). With ``nh`` rows of boundary history (the caller's choice: as many of the last
steps as fit its memory budget, from a segment start) the forward also keeps those steps'
u^{n+1} outside the interior box, and the recomputation of the segments they cover steps
the interior box again (the bare stencil plus the source: the PML terms do not reach it)
and reads the rest back (:func:`_recompute`); the PML boxes, which take most of a step's
time, are not stepped again. Other segments are recomputed as plain forward steps. Both
give the forward's wavefields bit for bit.

Indexing: every box is swept row by row over the flat (raveled) fields with *unsigned*
indices ``q = iz nxh + ix`` and offsets ``1, 2, nxh, 2 nxh``. Numba then emits no
negative-index wraparound test (it does for signed indices whose sign LLVM cannot prove,
e.g. loops starting at a run-time box bound), and each inner loop, writing one stream and
reading few, is vectorised by LLVM. The interior loop is the bare stencil; the PML terms
and the auxiliary fields are only touched in the PML boxes. The top and bottom boxes are
swept by full rows; the left and right strips as runs of one row's right strip, the halo
columns and the next row's left strip (:func:`step_sides`), contiguous and long enough to
vectorise. In the adjoint the imaging ``gw += u t`` is fused into the interior sweep; in
the PML boxes ``t`` goes into a one-row buffer and the update and the imaging run as two
loops (fused, the loop writing two streams vectorised less well: 45% instead of 26% over
the forward PML sweep).

Parallelism: ``prange`` over shots only, each with its own fields; ``*_serial`` twins loop
over the shots in the calling thread (used for one shot, where launching the thread pool on
every call cost 40x the work on a loaded 2-core machine). Stencils gather; source
injection and receivers' adjoint scatter into the shot's own field; per-shot gradients go
to separate rows, summed after the parallel loop.
"""

import numpy as np
from numba import prange

from bayesinv._numba import njit

HALO = 2
_J = {"nogil": True, "cache": True}


@njit(**_J)
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


@njit(**_J, inline="always")
def _offsets(nxh):
    """Unsigned flat offsets 1, 2, one row and two rows (see "Indexing" above)."""
    return np.uint64(1), np.uint64(2), np.uint64(nxh), np.uint64(2 * nxh)


@njit(**_J, inline="always")
def _lap(a, q, c, one, two, w, ww):
    """Fourth-order Laplacian of flat field a at unsigned flat index q (c = stencil weights)."""
    return (
        c[0] * a[q]
        + c[1] * (a[q - one] + a[q + one])
        + c[2] * (a[q - two] + a[q + two])
        + c[3] * (a[q - w] + a[q + w])
        + c[4] * (a[q - ww] + a[q + ww])
    )


@njit(**_J, inline="always")
def _dxz(fx, fz, q, d, one, two, w, ww):
    """Dx fx + Dz fz at flat index q (fourth-order centred differences, d = [x1, x2, z1, z2])."""
    return (
        d[0] * (fx[q + one] - fx[q - one])
        + d[1] * (fx[q + two] - fx[q - two])
        + d[2] * (fz[q + w] - fz[q - w])
        + d[3] * (fz[q + ww] - fz[q - ww])
    )


@njit(**_J)
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


@njit(**_J)
def step_interior_acc(u0, u1, u2, kk, coef, box, u, gw):
    """As :func:`step_interior`, also the imaging condition gw += u L u1 (one fused loop)."""
    a0, a1, a2, fk, fu, fgw = (
        u0.reshape(-1),
        u1.reshape(-1),
        u2.reshape(-1),
        kk.reshape(-1),
        u.reshape(-1),
        gw.reshape(-1),
    )
    one, two, w, ww = _offsets(u1.shape[1])
    c = (coef[0], coef[1], coef[2], coef[3], coef[4])
    n = np.uint64(box[3] - box[2])
    for iz in range(box[0], box[1]):
        row = np.uint64(iz * u1.shape[1] + box[2])
        for j in range(n):
            q = row + j
            lq = _lap(a1, q, c, one, two, w, ww)
            a2[q] = 2.0 * a1[q] - a0[q] + fk[q] * lq
            fgw[q] += fu[q] * lq


@njit(**_J)
def step_pml(u0, u1, u2, px, pz, kk, prof, geo, boxes, u, acc, gw):
    """u2 = A (2 u1 - B u0 - C u1 + k (L u1 + Dx px + Dz pz)) in the PML boxes.

    Per row: t = L u1 + Dx px + Dz pz, then ``u2 = (2 - C) A u1 - B A u0 + k A t`` with the
    per-node coefficients of ``prof[2]`` (stored for the PML boxes only, no division).
    With ``acc`` (the adjoint sweep), also the imaging condition ``gw += u t``: per row
    ``t`` into a one-row buffer, then the update, then the imaging (three loops, each
    writing one stream so that each vectorises).
    """
    pc = prof[2]
    coef, d1 = geo
    c = (coef[0], coef[1], coef[2], coef[3], coef[4])
    d = (d1[0], d1[1], d1[2], d1[3])
    a0, a1, a2, fx, fz, fk, fu, fgw = (
        u0.reshape(-1),
        u1.reshape(-1),
        u2.reshape(-1),
        px.reshape(-1),
        pz.reshape(-1),
        kk.reshape(-1),
        u.reshape(-1),
        gw.reshape(-1),
    )
    ca, cb, cc = pc[0], pc[1], pc[2]
    nxh = u1.shape[1]
    one, two, w, ww = _offsets(nxh)
    base = np.uint64(0)  # first coefficient of the box
    t = np.empty(nxh if acc else 0)  # one row of t (stays in L1)
    for b in range(1, 3):  # top and bottom boxes, full rows (the sides: step_sides)
        x0 = np.uint64(boxes[b, 2])
        n = np.uint64(boxes[b, 3] - boxes[b, 2])
        for iz in range(boxes[b, 0], boxes[b, 1]):
            row = np.uint64(iz * nxh) + x0
            if acc:  # three loops, each writing one stream so that each vectorises
                for j in range(n):
                    q = row + j
                    t[j] = _lap(a1, q, c, one, two, w, ww) + _dxz(fx, fz, q, d, one, two, w, ww)
                for j in range(n):
                    q, r = row + j, base + j
                    a2[q] = cc[r] * a1[q] - cb[r] * a0[q] + ca[r] * fk[q] * t[j]
                for j in range(n):
                    fgw[row + j] += fu[row + j] * t[j]
            else:
                for j in range(n):
                    q, r = row + j, base + j
                    tq = _lap(a1, q, c, one, two, w, ww) + _dxz(fx, fz, q, d, one, two, w, ww)
                    a2[q] = cc[r] * a1[q] - cb[r] * a0[q] + ca[r] * fk[q] * tq
            base += n
    step_sides(u0, u1, u2, px, pz, kk, prof[3], geo, boxes, u, acc, gw)


@njit(**_J, inline="always")
def _side_run(iz, boxes, nxh, n_run):
    """Flat start and run-index range ``[lo, hi)`` of the side run from row ``iz``.

    A run is row iz's right strip, the halo columns, and row iz + 1's left strip
    (contiguous in memory); the first (``iz = z0 - 1``) and last (``iz = z1 - 1``) keep only
    the part inside the middle band ``[z0, z1)``.
    """
    z0, z1, xr = boxes[3, 0], boxes[3, 1], boxes[4, 2]
    split = np.uint64(nxh - xr)  # run index of the next row's x = 0
    lo = split if iz == z0 - 1 else np.uint64(0)
    hi = split if iz == z1 - 1 else np.uint64(n_run)
    return np.uint64(iz * nxh + xr), lo, hi


@njit(**_J)
def step_sides(u0, u1, u2, px, pz, kk, side, geo, boxes, u, acc, gw):
    """:func:`step_pml` on the side strips (``boxes[3:5]``), swept as long runs.

    In the middle band of rows the PML terms depend on x only (``h_z = 0`` there), so the
    coefficients ``A, B A, (2 - C) A`` are one run profile (``side[0:3]``, zero on the halo
    columns, which therefore stay zero), and a run spans one row's right strip, the halo and
    the next row's left strip: 2 (pad + 2) + 4 contiguous nodes instead of two rows of
    pad + 2, long enough to vectorise. (With ``acc``, ``gw`` gets values on the halo
    columns, which nothing reads.)
    """
    n_run = side.shape[1]
    if n_run == 0:  # no side strips (1-D)
        return
    coef, d1 = geo
    c = (coef[0], coef[1], coef[2], coef[3], coef[4])
    d = (d1[0], d1[1], d1[2], d1[3])
    a0, a1, a2, fx, fz, fk, fu, fgw = (
        u0.reshape(-1),
        u1.reshape(-1),
        u2.reshape(-1),
        px.reshape(-1),
        pz.reshape(-1),
        kk.reshape(-1),
        u.reshape(-1),
        gw.reshape(-1),
    )
    ca, cb, cc = side[0], side[1], side[2]
    nxh = u1.shape[1]
    one, two, w, ww = _offsets(nxh)
    t = np.empty(n_run if acc else 0)  # one run of t (stays in L1)
    for iz in range(boxes[3, 0] - 1, boxes[3, 1]):
        start, lo, hi = _side_run(iz, boxes, nxh, n_run)
        if acc:  # three loops, each writing one stream so that each vectorises
            for j in range(lo, hi):
                q = start + j
                t[j] = _lap(a1, q, c, one, two, w, ww) + _dxz(fx, fz, q, d, one, two, w, ww)
            for j in range(lo, hi):
                q = start + j
                a2[q] = cc[j] * a1[q] - cb[j] * a0[q] + ca[j] * fk[q] * t[j]
            for j in range(lo, hi):
                fgw[start + j] += fu[start + j] * t[j]
        else:
            for j in range(lo, hi):
                q = start + j
                tq = _lap(a1, q, c, one, two, w, ww) + _dxz(fx, fz, q, d, one, two, w, ww)
                a2[q] = cc[j] * a1[q] - cb[j] * a0[q] + ca[j] * fk[q] * tq


@njit(**_J)
def pml_p(u2, px, pz, prof, d1, boxes):
    """Auxiliary fields p^{n+1} = a p^n + b D u^{n+1} (in place; pointwise in p)."""
    pzt, pxt = prof[0], prof[1]
    hxs, axs, rxs = pxt[0], pxt[1], pxt[2]
    x1, x2, z1, z2 = d1[0], d1[1], d1[2], d1[3]
    a2, fx, fz = u2.reshape(-1), px.reshape(-1), pz.reshape(-1)
    nxh = u2.shape[1]
    one, two, w, ww = _offsets(nxh)
    for b in range(1, 3):  # top and bottom boxes (the sides: runs, below)
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
    side = prof[3]  # side strips: a_z = 1, per-run a_x, b_x, b_z (zero on the halo)
    axr, bxr, bzr = side[3], side[4], side[5]
    z_first = boxes[3, 0] - 1 if side.shape[1] else boxes[3, 1]  # no side strips in 1-D
    for iz in range(z_first, boxes[3, 1]):
        start, lo, hi = _side_run(iz, boxes, nxh, side.shape[1])
        for j in range(lo, hi):
            q = start + j
            dx = x1 * (a2[q + one] - a2[q - one]) + x2 * (a2[q + two] - a2[q - two])
            fx[q] = axr[j] * fx[q] + bxr[j] * dx
        for j in range(lo, hi):
            q = start + j
            fz[q] += bzr[j] * (z1 * (a2[q + w] - a2[q - w]) + z2 * (a2[q + ww] - a2[q - ww]))


@njit(**_J)
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


@njit(**_J)
def sample(field, iz0, ix0, w):
    """Return the weighted sum of the 4 x 4 nodes of one point (gather)."""
    s = 0.0
    for a in range(4):
        for b in range(4):
            s += w[a, b] * field[iz0 + a, ix0 + b]
    return s


@njit(**_J)
def advance(u0, u1, u2, px, pz, kk, prof, geo, boxes, si, sw, amp):
    """One full time step of one shot: u2 from u1 and u0, then p moves."""
    step_interior(u0, u1, u2, kk, geo[0], boxes[0])
    step_pml(u0, u1, u2, px, pz, kk, prof, geo, boxes, u1, False, u1)
    inject(u2, kk, prof, si[0], si[1], sw, amp)
    pml_p(u2, px, pz, prof, geo[1], boxes)


@njit(**_J)
def _shot_forward(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, out):
    shape = kk.shape
    u0, u1, u2 = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    px, pz = np.zeros(shape), np.zeros(shape)
    nt = wav.shape[1]
    for n in range(nt):
        for r in range(rec_i.shape[0]):
            out[s, r, n] = sample(u1, rec_i[r, 0], rec_i[r, 1], rec_w[r])
        if n == nt - 1:
            break
        advance(u0, u1, u2, px, pz, kk, prof, geo, boxes, src_i[s], src_w[s], wav[s, n])
        u0, u1, u2 = u1, u2, u0


@njit(nogil=True, cache=True, parallel=True)
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


@njit(**_J)
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


@njit(**_J)
def _shot_tangent(s, kk, prof, tc, geo, boxes, src_i, src_w, rec_i, rec_w, wav, out):
    shape = kk.shape
    u0, u1, u2 = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    d0, d1, d2 = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    px, pz, dpx, dpz = np.zeros(shape), np.zeros(shape), np.zeros(shape), np.zeros(shape)
    nt = wav.shape[1]
    for n in range(nt):
        for r in range(rec_i.shape[0]):
            out[s, r, n] = sample(d1, rec_i[r, 0], rec_i[r, 1], rec_w[r])
        if n == nt - 1:
            break
        advance(u0, u1, u2, px, pz, kk, prof, geo, boxes, src_i[s], src_w[s], wav[s, n])
        # tangent: the same step without source, plus dk A g^n before its p moves
        step_interior(d0, d1, d2, kk, geo[0], boxes[0])
        step_pml(d0, d1, d2, dpx, dpz, kk, prof, geo, boxes, d1, False, d1)
        _add_tangent_source(d2, u0, u1, u2, tc)
        pml_p(d2, dpx, dpz, prof, geo[1], boxes)
        u0, u1, u2 = u1, u2, u0
        d0, d1, d2 = d1, d2, d0


@njit(nogil=True, cache=True, parallel=True)
def jvp(m, dm, cell, dt, limit_factor, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav):
    """Jacobian (with respect to log-velocity) applied to dm: the tangent traces."""
    ns, nt = wav.shape
    nr = rec_i.shape[0]
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(ns * nr * nt, np.nan)
    tc = _tangent_coefficients(kk, dm, cell, prof)
    out = np.zeros((ns, nr, nt))
    for s in prange(ns):
        _shot_tangent(s, kk, prof, tc, geo, boxes, src_i, src_w, rec_i, rec_w, wav, out)
    return out.ravel()


@njit(**_J)
def jvp_serial(m, dm, cell, dt, limit_factor, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav):
    """:func:`jvp` without threads."""
    ns, nt = wav.shape
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(ns * rec_i.shape[0] * nt, np.nan)
    tc = _tangent_coefficients(kk, dm, cell, prof)
    out = np.zeros((ns, rec_i.shape[0], nt))
    for s in range(ns):
        _shot_tangent(s, kk, prof, tc, geo, boxes, src_i, src_w, rec_i, rec_w, wav, out)
    return out.ravel()


@njit(**_J)
def _tangent_coefficients(kk, dm, cell, prof):
    """Rows ``dk / k = 2 dm``, ``(2 - C) A`` and ``B A`` on the nodes (dk/dlog v = 2 k).

    With them the tangent's source ``dk A g^n`` is formed from the wavefield alone:
    ``k A g^n = u^{n+1} - (2 - C) A u^n + B A u^{n-1}`` (the forward step solved for g).
    """
    hzs, hxs = prof[0][0], prof[1][0]
    tc = np.zeros((3, kk.shape[0], kk.shape[1]))
    for iz in range(kk.shape[0]):
        for ix in range(kk.shape[1]):
            if cell[iz, ix] >= 0:
                h = hzs[iz] + hxs[ix]
                a = 1.0 / (1.0 + h)
                tc[0, iz, ix] = 2.0 * dm[cell[iz, ix]]
                tc[1, iz, ix] = (2.0 - 4.0 * hzs[iz] * hxs[ix]) * a
                tc[2, iz, ix] = (1.0 - h) * a
    return tc


@njit(**_J)
def _add_tangent_source(d2, u0, u1, u2, tc):
    """d2 += (dk / k) (u2 - (2 - C) A u1 + B A u0), i.e. ``dk A g`` (see above)."""
    fd, f0, f1, f2 = d2.reshape(-1), u0.reshape(-1), u1.reshape(-1), u2.reshape(-1)
    r, cc, cb = tc[0].reshape(-1), tc[1].reshape(-1), tc[2].reshape(-1)
    for q in range(fd.size):
        fd[q] += r[q] * (f2[q] - cc[q] * f1[q] + cb[q] * f0[q])


@njit(**_J)
def _receiver_taps(kk, prof, rec_i, rec_w):
    """Flat node indices of the receivers' 4 x 4 taps, their weights ``w`` and ``A k w``.

    Computed once per shot so that a backward step's residual injection and imaging
    (:func:`_residual`) touch each tap with one multiply-add (no division, no slicing).
    """
    nr, nxh = rec_i.shape[0], kk.shape[1]
    hzs, hxs = prof[0][0], prof[1][0]
    idx = np.zeros((nr, 16), dtype=np.uint64)
    wr, wk = np.zeros((nr, 16)), np.zeros((nr, 16))
    for r in range(nr):
        for a in range(4):
            for b in range(4):
                iz, ix, c = rec_i[r, 0] + a, rec_i[r, 1] + b, 4 * a + b
                idx[r, c] = iz * nxh + ix
                wr[r, c] = rec_w[r, a, b]
                wk[r, c] = kk[iz, ix] * rec_w[r, a, b] / (1.0 + hzs[iz] + hxs[ix])
    return idx, wr, wk


@njit(**_J)
def _residual(w, gw, u, taps, res):
    """Add the receivers' part of a backward step: ``w += k A R^T r``, ``gw += u R^T r``.

    ``res`` holds one residual per receiver at this time; scatter into the shot's own fields.
    """
    idx, wr, wk = taps
    fw, fg, fu = w.reshape(-1), gw.reshape(-1), u.reshape(-1)
    for r in range(idx.shape[0]):
        amp = res[r]
        for c in range(16):
            q = idx[r, c]
            fw[q] += wk[r, c] * amp
            fg[q] += fu[q] * wr[r, c] * amp


@njit(**_J)
def n_outside(shape, box):
    """Nodes outside the interior box (the PML boxes and the halo): one history row."""
    return shape[0] * shape[1] - (box[1] - box[0]) * (box[3] - box[2])


@njit(**_J)
def _outside(field, row, box, save):
    """Copy the nodes outside the interior box between ``field`` and the packed ``row``.

    ``save``: field to row, else row to field. In flat (raveled) order these nodes are
    ``z0 - z1 + 1`` contiguous runs: the head up to the interior's first node, the gaps from
    one interior row's end to the next one's start, and the tail.
    """
    f = field.reshape(-1)
    nxh = field.shape[1]
    z0, z1, x0, x1 = box[0], box[1], box[2], box[3]
    p, lo = np.uint64(0), np.uint64(0)
    for iz in range(z0, z1 + 1):
        hi = np.uint64(iz * nxh + x0 if iz < z1 else f.size)
        if save:
            for j in range(hi - lo):  # plain loops: a slice copy checks for overlap
                row[p + j] = f[lo + j]
        else:
            for j in range(hi - lo):
                f[lo + j] = row[p + j]
        p += hi - lo
        lo = np.uint64(iz * nxh + x1)


@njit(**_J)
def _shot_checkpoints(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, ck, ckpt, hist,
                      out, buf):  # fmt: skip
    """Pass 1: shot s forward, keeping its traces, checkpoints and boundary history.

    Traces go into ``out[s]``, the state (u^{n-1}, u^n, px^n, pz^n) at the start of each
    segment of ``ck`` steps into ``ckpt``, and the last ``h = len(hist)`` steps' u^{n+1}
    outside the interior box into ``hist[n - nsteps + h]`` (:func:`_outside`; ``nsteps - h``
    is a segment start). With a ``buf`` of ``ck + 2`` fields the last segment steps in it
    as :func:`_shot_backward` would recompute it (so it does not, and its history is not
    needed).
    """
    shape = kk.shape
    nsteps = wav.shape[1] - 1  # u^1 .. u^{nt-1} come from g^0 .. g^{nt-2}
    u0, u1, u2 = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    px, pz = np.zeros(shape), np.zeros(shape)
    last = (_n_segments(wav, ck) - 1) * ck if buf.shape[0] > 1 else nsteps + 1
    for n in range(nsteps + 1):
        i = n - last
        if i == 0:
            buf[0], buf[1] = u0, u1
        cur = buf[i + 1] if i >= 0 else u1
        for r in range(rec_i.shape[0]):
            out[s, r, n] = sample(cur, rec_i[r, 0], rec_i[r, 1], rec_w[r])
        if n == nsteps:
            break
        if n % ck == 0:
            ckpt[n // ck, 0], ckpt[n // ck, 1] = u0, u1
            ckpt[n // ck, 2], ckpt[n // ck, 3] = px, pz
        if i >= 0:
            advance(buf[i], buf[i + 1], buf[i + 2], px, pz, kk, prof, geo, boxes, src_i[s],
                    src_w[s], wav[s, n])  # fmt: skip
        else:
            advance(u0, u1, u2, px, pz, kk, prof, geo, boxes, src_i[s], src_w[s], wav[s, n])
            if n >= nsteps - hist.shape[0]:  # the history holds the last steps
                _outside(u2, hist[n - nsteps + hist.shape[0]], boxes[0], True)
            u0, u1, u2 = u1, u2, u0


@njit(**_J)
def _recompute(u0, u1, u2, kk, prof, geo, boxes, si, sw, amp, row):
    """u2 = the forward's u^{n+1}: the interior stepped again, the rest from its history.

    Bit for bit what :func:`advance` wrote: the interior box is the bare stencil plus the
    source (the PML terms and the auxiliary fields do not reach it), and every node outside
    it is restored from ``row`` after the source is added (so a source in the PML is not
    counted twice).
    """
    step_interior(u0, u1, u2, kk, geo[0], boxes[0])
    inject(u2, kk, prof, si[0], si[1], sw, amp)
    _outside(u2, row, boxes[0], False)


@njit(**_J)
def _shot_backward(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, res, ckpt, hist, ck,
                   gw, buf, kept):  # fmt: skip
    """Pass 2: gw += sum_n u^n t^n of shot s (its own row), segments backward.

    The adjoint is carried as ``w = k mu`` (k does not depend on time): its update is the
    forward's (:func:`step_interior`, :func:`step_pml`, :func:`pml_p` with ``y = -b th``),
    receivers' residuals are injected as the forward injects its source, and the imaging
    condition is summed by parts in time (module docstring): ``t^n`` is what the adjoint
    step computes anyway, so each segment's wavefields are recomputed into ``buf``
    (``ck + 2`` fields; slot ``i`` holds ``u^{start - 1 + i}``) from its checkpoint: the
    segments the boundary history ``hist`` covers (the last ``len(hist)`` steps) by
    stepping the interior again and reading the rest back (:func:`_recompute`), the
    others by plain forward steps (:func:`advance`).
    ``kept``: the forward left the last segment in ``buf``.
    """
    shape = kk.shape
    nsteps = wav.shape[1] - 1
    px, pz = np.empty(shape), np.empty(shape)  # copied from a checkpoint before use
    w0, w1, w2 = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    yx, yz = np.zeros(shape), np.zeros(shape)  # y = -b th (adjoint of p times -b)
    taps, gws = _receiver_taps(kk, prof, rec_i, rec_w), gw[s]
    h0 = nsteps - hist.shape[0]  # the history holds u^{n+1} outside the interior, n >= h0
    for j in range(ckpt.shape[0] - 1, -1, -1):
        start, stop = j * ck, min(j * ck + ck, nsteps)
        recompute = start if not kept or stop < nsteps else stop  # kept: nothing to redo
        if recompute < stop:
            buf[0], buf[1] = ckpt[j, 0], ckpt[j, 1]
            if start < h0:  # plain forward steps need the PML fields too
                px[:, :], pz[:, :] = ckpt[j, 2], ckpt[j, 3]
        # u^{start+1} .. u^{stop-1}; the last segment also u^{nsteps} (its t = R^T r)
        for n in range(recompute, stop if stop == nsteps else stop - 1):
            i = n - start
            if start >= h0:  # the interior again, the rest from the history
                _recompute(buf[i], buf[i + 1], buf[i + 2], kk, prof, geo, boxes, src_i[s],
                           src_w[s], wav[s, n], hist[n - h0])  # fmt: skip
            else:
                advance(buf[i], buf[i + 1], buf[i + 2], px, pz, kk, prof, geo, boxes, src_i[s],
                        src_w[s], wav[s, n])  # fmt: skip
        if stop == nsteps:  # w^{nt-1} = k A R^T r^{nt-1}, and its imaging term
            _residual(w1, gws, buf[nsteps - start + 1], taps, res[s, :, nsteps])
        for n in range(stop - 1, max(start, 1) - 1, -1):  # w1 = w^{n+1}, w2 = w^{n+2}
            u = buf[n - start + 1]  # u^n (u^0 = 0: step 0 adds nothing)
            pml_p(w1, yx, yz, prof, geo[1], boxes)  # y^n = a y^{n+1} + b D w^{n+1}
            step_interior_acc(w2, w1, w0, kk, geo[0], boxes[0], u, gws)
            step_pml(w2, w1, w0, yx, yz, kk, prof, geo, boxes, u, True, gws)
            _residual(w0, gws, u, taps, res[s, :, n])
            w0, w1, w2 = w2, w0, w1


@njit(**_J)
def _zero_halo(buf):
    """Zero the ``HALO`` nodes on every side of each field of ``buf`` and return it.

    The segment buffer's halo is read by the stencils but written by no step (the interior
    and PML boxes tile the rest of the grid); every other node is written before it is read.
    """
    nz, nx = buf.shape[1], buf.shape[2]
    for i in range(buf.shape[0]):
        buf[i, :HALO, :] = 0.0
        buf[i, nz - HALO :, :] = 0.0
        buf[i, :, :HALO] = 0.0
        buf[i, :, nx - HALO :] = 0.0
    return buf


@njit(**_J)
def _n_segments(wav, ck):
    return (wav.shape[1] - 1 + ck - 1) // ck


@njit(**_J)
def _shot_adjoint(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, res, ck, nh, gw,
                  out):  # fmt: skip
    """Both passes of shot s, its state allocated here (one shot's at a time per thread).

    The forward leaves its last segment in the backward's buffer.
    """
    # one block for all: a chunk of one size, which malloc reuses from call to call
    size = shot_state_size(kk.shape, wav, ck, boxes[0], nh)
    work = np.empty(size + (ck + 2) * kk.size)  # the state is written before it is read
    ckpt, hist = _split_state(work[:size], kk.shape, wav, ck, boxes[0], nh)
    buf = _zero_halo(work[size:].reshape((ck + 2, kk.shape[0], kk.shape[1])))
    _shot_checkpoints(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, ck, ckpt, hist,
                      out, buf)  # fmt: skip
    _shot_backward(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, res, ckpt, hist, ck,
                   gw, buf, True)  # fmt: skip


@njit(nogil=True, cache=True, parallel=True)
def vjp(m, dd, cell, dt, limit_factor, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, ck,
        nh):  # fmt: skip
    """Transposed Jacobian (log-velocity) applied to traces dd."""
    ns, nt = wav.shape
    nr = rec_i.shape[0]
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(m.shape[0], np.nan)
    res = dd.reshape((ns, nr, nt))
    gw = np.zeros((ns, kk.shape[0], kk.shape[1]))
    out = np.zeros((ns, nr, nt))
    for s in prange(ns):  # each shot writes its own rows of gw and out
        _shot_adjoint(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, res, ck, nh, gw,
                      out)  # fmt: skip
    return _cell_gradient(gw, kk, cell, m.shape[0])


@njit(**_J)
def vjp_serial(m, dd, cell, dt, limit_factor, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav,
               ck, nh):  # fmt: skip
    """:func:`vjp` without threads."""
    ns, nt = wav.shape
    nr = rec_i.shape[0]
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(m.shape[0], np.nan)
    res = dd.reshape((ns, nr, nt))
    gw = np.zeros((ns, kk.shape[0], kk.shape[1]))
    out = np.zeros((ns, nr, nt))
    for s in range(ns):
        _shot_adjoint(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, res, ck, nh, gw,
                      out)  # fmt: skip
    return _cell_gradient(gw, kk, cell, m.shape[0])


@njit(**_J)
def shot_state_size(shape, wav, ck, box, nh):
    """Floats of one shot's state: checkpoints and ``nh`` history rows (the last steps)."""
    return 4 * _n_segments(wav, ck) * shape[0] * shape[1] + nh * n_outside(shape, box)


@njit(**_J)
def state_size(shape, wav, ck, box, nh):
    """Floats of the forward's state: every shot's (:func:`shot_state_size`)."""
    return wav.shape[0] * shot_state_size(shape, wav, ck, box, nh)


@njit(**_J)
def _split_state(state, shape, wav, ck, box, nh):
    """Return views of one shot's state: checkpoints and ``nh`` history rows."""
    n_ck = 4 * _n_segments(wav, ck) * shape[0] * shape[1]
    ckpt = state[:n_ck].reshape((_n_segments(wav, ck), 4, shape[0], shape[1]))
    return ckpt, state[n_ck:].reshape((nh, n_outside(shape, box)))


@njit(nogil=True, cache=True, parallel=True)
def forward_state(m, cell, dt, limit_factor, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav,
                  ck, nh):  # fmt: skip
    """Traces and the state :func:`vjp_state` needs (pass 1 of the gradient, every shot)."""
    ns, nt = wav.shape
    nr = rec_i.shape[0]
    state = np.empty(state_size(cell.shape, wav, ck, boxes[0], nh))  # every value is written
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        state[:] = 0.0
        return np.full(ns * nr * nt, np.nan), state
    per_shot = state.reshape((ns, -1))
    out = np.zeros((ns, nr, nt))
    for s in prange(ns):  # each shot writes its own rows of ckpt and out
        ckpt, hist = _split_state(per_shot[s], cell.shape, wav, ck, boxes[0], nh)
        _shot_checkpoints(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, ck, ckpt,
                          hist, out, np.zeros((1, 1, 1)))  # fmt: skip
    return out.ravel(), state


@njit(nogil=True, cache=True, parallel=True)
def vjp_state(m, state, dd, cell, dt, limit_factor, prof, geo, boxes, src_i, src_w, rec_i, rec_w,
              wav, ck, nh):  # fmt: skip
    """:func:`vjp` from :func:`forward_state`'s state: pass 2 only."""
    ns, nt = wav.shape
    nr = rec_i.shape[0]
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(m.shape[0], np.nan)
    res = dd.reshape((ns, nr, nt))
    per_shot = state.reshape((ns, -1))
    gw = np.zeros((ns, kk.shape[0], kk.shape[1]))
    for s in prange(ns):
        buf = _zero_halo(np.empty((ck + 2, kk.shape[0], kk.shape[1])))
        ckpt, hist = _split_state(per_shot[s], cell.shape, wav, ck, boxes[0], nh)
        _shot_backward(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, res, ckpt, hist,
                       ck, gw, buf, False)  # fmt: skip
    return _cell_gradient(gw, kk, cell, m.shape[0])


@njit(**_J)
def forward_state_serial(m, cell, dt, limit_factor, prof, geo, boxes, src_i, src_w, rec_i, rec_w,
                         wav, ck, nh):  # fmt: skip
    """:func:`forward_state` without threads."""
    ns, nt = wav.shape
    nr = rec_i.shape[0]
    state = np.empty(state_size(cell.shape, wav, ck, boxes[0], nh))  # every value is written
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        state[:] = 0.0
        return np.full(ns * nr * nt, np.nan), state
    per_shot = state.reshape((ns, -1))
    out = np.zeros((ns, nr, nt))
    for s in range(ns):
        ckpt, hist = _split_state(per_shot[s], cell.shape, wav, ck, boxes[0], nh)
        _shot_checkpoints(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, ck, ckpt,
                          hist, out, np.zeros((1, 1, 1)))  # fmt: skip
    return out.ravel(), state


@njit(**_J)
def vjp_state_serial(m, state, dd, cell, dt, limit_factor, prof, geo, boxes, src_i, src_w, rec_i,
                     rec_w, wav, ck, nh):  # fmt: skip
    """:func:`vjp_state` without threads."""
    ns, nt = wav.shape
    kk, ok = expand(m, cell, dt, limit_factor)
    if not ok:
        return np.full(m.shape[0], np.nan)
    res = dd.reshape((ns, rec_i.shape[0], nt))
    per_shot = state.reshape((ns, -1))
    gw = np.zeros((ns, kk.shape[0], kk.shape[1]))
    for s in range(ns):
        buf = _zero_halo(np.empty((ck + 2, kk.shape[0], kk.shape[1])))
        ckpt, hist = _split_state(per_shot[s], cell.shape, wav, ck, boxes[0], nh)
        _shot_backward(s, kk, prof, geo, boxes, src_i, src_w, rec_i, rec_w, wav, res, ckpt, hist,
                       ck, gw, buf, False)  # fmt: skip
    return _cell_gradient(gw, kk, cell, m.shape[0])


@njit(**_J)
def _cell_gradient(gw, kk, cell, n):
    """Sum the shots, then scatter nodes onto cells (sequential): ``2 k dJ/dk = 2 gw``."""
    grad = np.zeros(n)
    for s in range(gw.shape[0]):
        for iz in range(kk.shape[0]):
            for ix in range(kk.shape[1]):
                if cell[iz, ix] >= 0:
                    grad[cell[iz, ix]] += 2.0 * gw[s, iz, ix]
    return grad
