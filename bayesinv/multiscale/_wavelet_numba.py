"""Periodised orthonormal discrete wavelet transforms (1-D and separable 2-D).

Math (see ``bayesinv.multiscale.WaveletField``). With decomposition filters ``h = dec_lo``,
``g = dec_hi`` of even length ``L`` and a signal ``x`` of even length ``N`` (indices mod N),
one analysis step is

    a[k] = sum_i h[i] x[(2k + L/2 - i) mod N],    d[k] = sum_i g[i] x[(2k + L/2 - i) mod N],

for ``k = 0..N/2-1`` (PyWavelets' ``mode="periodization"`` convention). For an orthogonal
filter bank this square map is orthogonal, so synthesis is its transpose. Written as a
gather with the reconstruction filters ``rec_lo[j] = h[L-1-j]``, ``rec_hi[j] = g[L-1-j]``:

    x[n] = sum_{j : n + L/2 - 1 - j even} rec_lo[j] a[k_j] + rec_hi[j] d[k_j],
    k_j = ((n + L/2 - 1 - j) / 2) mod N/2.

Both directions are gathers (each output entry reads a few inputs), so either may be
parallelised; the kernels here are serial and allocate their outputs, hence thread-safe.

Multi-level transforms repeat the step on the approximation. The coefficient vector is
ordered coarsest first: the final approximation, then the detail blocks from the coarsest
level to the finest. In 2-D (array ``(nz, nx)``, z = axis 0) one step filters along x
(axis 1) and then along z (axis 0); each level's details are stored as three C-ordered
blocks ``cH`` (detail along z, approximation along x), ``cV`` (approximation along z,
detail along x), ``cD`` (detail along both), the order of ``pywt.wavedec2``'s tuples.
"""

import numpy as np

from bayesinv._numba import njit


@njit(cache=True, nogil=True)
def _analysis_step(x, lo, hi, a, d):
    # gather: a[k], d[k] read L entries of x
    n = x.shape[0]
    L = lo.shape[0]
    shift = L // 2
    for k in range(n // 2):
        sa = 0.0
        sd = 0.0
        for i in range(L):
            idx = (2 * k + shift - i) % n
            if idx < 0:
                idx += n
            sa += lo[i] * x[idx]
            sd += hi[i] * x[idx]
        a[k] = sa
        d[k] = sd


@njit(cache=True, nogil=True)
def _synthesis_step(a, d, rlo, rhi, x):
    # gather: x[n] reads about L/2 entries of a and d (exact transpose of _analysis_step)
    half = a.shape[0]
    n = 2 * half
    L = rlo.shape[0]
    shift = L // 2
    for p in range(n):
        s = 0.0
        # only taps j with p + shift - 1 - j even contribute
        for j in range((p + shift - 1) % 2, L, 2):
            k = ((p + shift - 1 - j) // 2) % half
            if k < 0:
                k += half
            s += rlo[j] * a[k] + rhi[j] * d[k]
        x[p] = s


@njit(cache=True, nogil=True)
def _analysis_step_axis0(x, lo, hi, a, d):
    # _analysis_step applied to every column of x (n, m) at once; rows stay contiguous
    n = x.shape[0]
    m = x.shape[1]
    L = lo.shape[0]
    shift = L // 2
    for k in range(n // 2):
        a[k, :] = 0.0
        d[k, :] = 0.0
        for i in range(L):
            idx = (2 * k + shift - i) % n
            if idx < 0:
                idx += n
            hl = lo[i]
            hh = hi[i]
            for c in range(m):
                v = x[idx, c]
                a[k, c] += hl * v
                d[k, c] += hh * v


@njit(cache=True, nogil=True)
def _synthesis_step_axis0(a, d, rlo, rhi, x):
    # _synthesis_step applied to every column at once (gather over rows of a and d)
    half = a.shape[0]
    m = a.shape[1]
    n = 2 * half
    L = rlo.shape[0]
    shift = L // 2
    for p in range(n):
        x[p, :] = 0.0
        for j in range((p + shift - 1) % 2, L, 2):
            k = ((p + shift - 1 - j) // 2) % half
            if k < 0:
                k += half
            gl = rlo[j]
            gh = rhi[j]
            for c in range(m):
                x[p, c] += gl * a[k, c] + gh * d[k, c]


@njit(cache=True, nogil=True)
def dwt1(x, lo, hi, levels):
    """Multi-level 1-D analysis: signal of length n -> coefficients (coarsest first)."""
    n = x.shape[0]
    out = np.empty(n)
    cur = x.copy()
    pos = n
    for _ in range(levels):
        m = cur.shape[0] // 2
        a = np.empty(m)
        d = np.empty(m)
        _analysis_step(cur, lo, hi, a, d)
        pos -= m
        out[pos : pos + m] = d
        cur = a
    out[:pos] = cur
    return out


@njit(cache=True, nogil=True)
def idwt1(c, rlo, rhi, levels):
    """Multi-level 1-D synthesis: coefficients (coarsest first) -> signal."""
    n = c.shape[0]
    m = n >> levels
    cur = c[:m].copy()
    pos = m
    for _ in range(levels):
        nxt = np.empty(2 * m)
        _synthesis_step(cur, c[pos : pos + m], rlo, rhi, nxt)
        pos += m
        m *= 2
        cur = nxt
    return cur


@njit(cache=True, nogil=True)
def dwt2(x, nz, nx, lo, hi, levels):
    """Multi-level 2-D analysis of a C-ordered (nz, nx) field -> coefficients."""
    n = nz * nx
    out = np.empty(n)
    cur = x.reshape((nz, nx)).copy()
    pos = n
    for _ in range(levels):
        mz = cur.shape[0]
        mx = cur.shape[1]
        hz = mz // 2
        hx = mx // 2
        low_x = np.empty((mz, hx))
        high_x = np.empty((mz, hx))
        for r in range(mz):
            _analysis_step(cur[r], lo, hi, low_x[r], high_x[r])
        aa = np.empty((hz, hx))
        da = np.empty((hz, hx))
        ad = np.empty((hz, hx))
        dd = np.empty((hz, hx))
        _analysis_step_axis0(low_x, lo, hi, aa, da)
        _analysis_step_axis0(high_x, lo, hi, ad, dd)
        b = hz * hx
        pos -= 3 * b
        out[pos : pos + b] = da.ravel()
        out[pos + b : pos + 2 * b] = ad.ravel()
        out[pos + 2 * b : pos + 3 * b] = dd.ravel()
        cur = aa
    out[:pos] = cur.ravel()
    return out


@njit(cache=True, nogil=True)
def idwt2(c, nz, nx, rlo, rhi, levels):
    """Multi-level 2-D synthesis: coefficients (coarsest first) -> C-ordered (nz, nx) field."""
    hz = nz >> levels
    hx = nx >> levels
    b = hz * hx
    cur = c[:b].copy().reshape((hz, hx))
    pos = b
    for _ in range(levels):
        da = c[pos : pos + b].reshape((hz, hx))
        ad = c[pos + b : pos + 2 * b].reshape((hz, hx))
        dd = c[pos + 2 * b : pos + 3 * b].reshape((hz, hx))
        pos += 3 * b
        mz = 2 * hz
        mx = 2 * hx
        low_x = np.empty((mz, hx))
        high_x = np.empty((mz, hx))
        _synthesis_step_axis0(cur, da, rlo, rhi, low_x)
        _synthesis_step_axis0(ad, dd, rlo, rhi, high_x)
        nxt = np.empty((mz, mx))
        for r in range(mz):
            _synthesis_step(low_x[r], high_x[r], rlo, rhi, nxt[r])
        cur = nxt
        hz = mz
        hx = mx
        b = hz * hx
    return cur.ravel()
