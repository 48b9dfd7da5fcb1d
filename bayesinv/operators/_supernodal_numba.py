r"""Supernodal sparse Cholesky with a nested-dissection ordering, for large 2-D grid systems.

The second storage scheme of the shared SPD solver (:mod:`bayesinv.operators._cholesky_numba`
holds the envelope one). The envelope factor of an ``nx × nz`` grid stores about
``n · min(nx, nz)`` values and costs ``O(n · min(nx, nz)²)`` flops whatever the ordering;
a nested-dissection ordering needs a general sparse factor to pay off, and gives
``O(n log n)`` values and ``O(n^{3/2})`` flops (George 1973), the optimum for 2-D grids.

Method
------
*Ordering* (:func:`grid_nested_dissection`): recursive coordinate bisection of the
structured node grid. A box of nodes is split across its longer side by one node line
(with a 5- or 9-point stencil a line separates the two halves), the halves are ordered
recursively, then the line; boxes of at most ``leaf`` nodes are kept in their natural order.

*Symbolic analysis* (:class:`SupernodalPattern`, once per pattern): the elimination tree of
``B = P A Pᵀ`` (Liu 1986), the row patterns of ``L`` by walking the tree from each entry of
``B`` (``O(nnz(L))``), and the *supernodes*: runs of consecutive columns ``j, j+1, …`` with
``parent(j) = j + 1`` and ``|L_{*j}| = |L_{*,j+1}| + 1``, which share one row structure
``R_s``. Supernode ``s`` is stored as a dense row-major block ``F_s`` of shape
``|R_s| × n_s`` (its first ``n_s`` rows are its own columns). Each supernode ``d`` updates the
ancestors ``t`` in which its rows fall: the pairs ``(t, d)``, the range of rows of ``R_d``
inside ``t``'s columns and the positions of ``d``'s rows in ``R_t`` (relative indices) are
precomputed.

*Numeric factorisation* (:func:`supernodal_factor`, left-looking): for each supernode ``t``
in order, the entries of ``B`` are scattered into ``F_t``, every update
``F_t[rel, rel_top] -= L_d[r1:] L_d[r1:r2]ᵀ`` from its descendants is applied (contiguous
dot products of length ``n_d``), and ``F_t`` is factorised by the row-oriented dense
Cholesky ``F_{ij} ← (F_{ij} - Σ_{k<j} F_{ik} F_{jk}) / F_{jj}``,
``F_{jj} ← (F_{jj} - Σ_{k<j} F_{jk}^2)^{1/2}`` (the rows below the diagonal block are the
triangular solve with it). A non-positive or non-finite pivot returns ``False``.

*Solves* (:func:`supernodal_solve_rows`): ``L Y = Z`` then ``Lᵀ X = Y`` supernode by
supernode, for blocks of right-hand sides held side by side so every factor value is read once
per block and applied to a contiguous row of right-hand sides; the forward sweep skips a
supernode whose right-hand-side rows are all zero (off the elimination-tree paths of unit
sources).

Thread safety: the numeric functions write only their ``L`` / right-hand-side arguments and
local arrays (the pattern arrays are read only), so independent systems can be factorised
and solved concurrently (``nogil``). Inside, the updates scatter into the target block
``F_t`` and the forward sweep scatters into the rows below a supernode, serially.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from bayesinv._numba import njit
from bayesinv.operators._cholesky_numba import (
    CholeskyPattern,
    _pattern_graph,
    _profile_flops,
    cholesky_factor,
    cholesky_solve_rows,
)
from bayesinv.operators._supernodal_symbolic import (
    _etree,
    _factor_structure,
    _scatter,
    _updates,
    grid_nested_dissection,
)

__all__ = [
    "SparseCholesky",
    "SupernodalPattern",
    "grid_nested_dissection",
    "sparse_factor",
    "sparse_solve_rows",
    "supernodal_factor",
    "supernodal_logdet",
    "supernodal_solve_rows",
]

#: right-hand sides solved together (48: measured faster than 16 on the resistivity systems
#: of 64x32 and 128x64 cells, where the factor is streamed once per block)
BLOCK = 48


class SupernodalPattern:
    """Symbolic analysis of a sparse SPD matrix for the supernodal Cholesky.

    Parameters
    ----------
    rows, cols : array_like of int
        Row and column of every listed entry of the full symmetric matrix (both triangles;
        repeated pairs are summed when factorising), as for
        :class:`~bayesinv.operators._cholesky_numba.CholeskyPattern`.
    n : int
        Size of the matrix.
    perm : array_like of int
        Fill-reducing ordering (e.g. :func:`grid_nested_dissection`): row ``i`` of the
        reordered matrix is row ``perm[i]``.

    Attributes
    ----------
    perm : ndarray of int64
        The ordering.
    size : int
        Number of stored factor values (``nnz`` of ``L`` plus the upper triangles of the
        dense diagonal blocks).
    nnz_l : int
        Number of nonzeros of the Cholesky factor ``L``.
    flops : float
        Multiply-adds of the numeric factorisation, ``Σ_j |L_{*j}|² / 2`` roughly.
    arrays : tuple of ndarray
        The arguments of :func:`supernodal_factor` before ``values, L`` and of the solves.

    Notes
    -----
    See the module docstring for the method.
    """

    def __init__(self, rows, cols, n: int, perm):
        rows = np.asarray(rows, dtype=np.int64).ravel()
        cols = np.asarray(cols, dtype=np.int64).ravel()
        _pattern_graph(rows, cols, int(n), "SupernodalPattern")  # same checks as the envelope
        n = int(n)
        perm = np.asarray(perm, dtype=np.int64)
        if perm.shape != (n,) or not np.array_equal(np.sort(perm), np.arange(n)):
            raise ValueError(
                f"SupernodalPattern: perm must be a permutation of range({n}), got an array "
                f"of shape {perm.shape}"
            )
        iperm = np.empty(n, dtype=np.int64)
        iperm[perm] = np.arange(n)
        prow, pcol = iperm[rows], iperm[cols]
        lower = sp.coo_matrix((np.ones(rows.size), (prow, pcol)), shape=(n, n))
        upper = sp.triu(lower, format="csc")  # column k: rows j <= k = row k of the lower part
        upper.sort_indices()
        parent = _etree(upper.indptr, upper.indices, n)
        lp, li = _factor_structure(upper.indptr, upper.indices, parent, n)
        counts = np.diff(lp)
        start = np.flatnonzero(
            np.r_[True, (parent[:-1] != np.arange(1, n)) | (counts[:-1] != counts[1:] + 1)]
        )
        sfirst = np.r_[start, n].astype(np.int64)
        snode = np.repeat(np.arange(start.size), np.diff(sfirst)).astype(np.int64)
        rptr = np.r_[0, np.cumsum(counts[start])].astype(np.int64)
        ridx = np.concatenate([li[lp[j] : lp[j + 1]] for j in start]).astype(np.int64)
        ncol = np.diff(sfirst)
        off = np.r_[0, np.cumsum(np.diff(rptr) * ncol)].astype(np.int64)
        scatter = _scatter(prow, pcol, snode, sfirst, rptr, ridx, off, n)
        uptr, upd, relptr, rel = _updates(snode, sfirst, rptr, ridx, n)
        self.n = n
        self.perm = perm
        self.nnz_l = int(lp[-1])
        self.flops = float(np.sum(counts.astype(np.float64) ** 2) / 2)
        self.n_supernodes = int(start.size)
        self.size = int(off[-1])
        self.scatter = scatter
        self.arrays = (perm, sfirst, rptr, ridx, off, uptr, upd, relptr, rel)

    def factor_values(self, values) -> tuple[np.ndarray, bool]:
        """Factorise (Python convenience): ``(L, ok)`` for the listed entry values."""
        L = np.empty(self.size)
        v = np.ascontiguousarray(values, dtype=np.float64)
        ok = supernodal_factor(*self.arrays, self.scatter, v, L)
        return L, bool(ok)


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def supernodal_factor(
    perm, sfirst, rptr, ridx, off, uptr, upd, relptr, rel, scatter, values, L
):  # pragma: no cover - numba
    """Numeric supernodal Cholesky in place; returns ``False`` on a failed pivot.

    ``L`` (length ``SupernodalPattern.size``) is overwritten: the listed ``values`` are
    scattered into it (duplicates summed), then each supernode gathers the updates of its
    descendants and is factorised (left-looking).
    """
    L[:] = 0.0
    for k in range(values.size):
        pos = scatter[k]
        if pos >= 0:
            L[pos] += values[k]
    for t in range(sfirst.size - 1):
        nc = sfirst[t + 1] - sfirst[t]
        nr = rptr[t + 1] - rptr[t]
        F = L[off[t] : off[t + 1]].reshape((nr, nc))
        for u in range(uptr[t], uptr[t + 1]):
            d, r1, r2 = upd[u, 0], upd[u, 1], upd[u, 2]
            ncd = sfirst[d + 1] - sfirst[d]
            nrd = rptr[d + 1] - rptr[d]
            D = L[off[d] : off[d + 1]].reshape((nrd, ncd))
            rl = rel[relptr[u] : relptr[u + 1]]
            for j in range(r2 - r1):
                top = D[r1 + j]
                cj = rl[j]
                for i in range(j, nrd - r1):
                    row = D[r1 + i]
                    s = 0.0
                    for q in range(ncd):
                        s += row[q] * top[q]
                    F[rl[i], cj] -= s
        for i in range(nr):
            Fi = F[i]
            for j in range(min(i, nc)):
                Fj = F[j]
                s = Fi[j]
                for q in range(j):
                    s -= Fi[q] * Fj[q]
                Fi[j] = s / Fj[j]
            if i < nc:
                s = Fi[i]
                for q in range(i):
                    s -= Fi[q] * Fi[q]
                if not (s > 0.0) or not np.isfinite(s):
                    return False
                Fi[i] = np.sqrt(s)
    return True


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _solve_block(sfirst, rptr, ridx, off, L, Y):  # pragma: no cover - numba
    """Solve ``B X = Y`` in place for the columns of ``Y`` (``(n, k)``, reordered numbering).

    Forward sweep: a supernode whose right-hand-side rows are all zero is skipped (its
    updates are zero), which saves the work off the sources' elimination-tree paths.
    """
    ns = sfirst.size - 1
    k = Y.shape[1]
    for t in range(ns):  # L Z = Y
        f, nc, nr = sfirst[t], sfirst[t + 1] - sfirst[t], rptr[t + 1] - rptr[t]
        if not np.any(Y[f : f + nc]):
            continue
        F = L[off[t] : off[t + 1]].reshape((nr, nc))
        for c in range(nc):
            yc = Y[f + c]
            for c2 in range(c):
                lv = F[c, c2]
                y2 = Y[f + c2]
                for r in range(k):
                    yc[r] -= lv * y2[r]
            d = 1.0 / F[c, c]
            for r in range(k):
                yc[r] *= d
        for i in range(nc, nr):
            yi = Y[ridx[rptr[t] + i]]
            for c in range(nc):
                lv = F[i, c]
                yc = Y[f + c]
                for r in range(k):
                    yi[r] -= lv * yc[r]
    for t in range(ns - 1, -1, -1):  # Lᵀ X = Z
        f, nc, nr = sfirst[t], sfirst[t + 1] - sfirst[t], rptr[t + 1] - rptr[t]
        F = L[off[t] : off[t + 1]].reshape((nr, nc))
        for i in range(nc, nr):
            yi = Y[ridx[rptr[t] + i]]
            for c in range(nc):
                lv = F[i, c]
                yc = Y[f + c]
                for r in range(k):
                    yc[r] -= lv * yi[r]
        for c in range(nc - 1, -1, -1):
            yc = Y[f + c]
            d = 1.0 / F[c, c]
            for r in range(k):
                yc[r] *= d
            for c2 in range(c):
                lv = F[c, c2]
                y2 = Y[f + c2]
                for r in range(k):
                    y2[r] -= lv * yc[r]


@njit(cache=True, nogil=True)
def supernodal_solve_rows(
    perm, sfirst, rptr, ridx, off, uptr, upd, relptr, rel, L, B
):  # pragma: no cover - numba
    """Solve ``A X = B`` in place for each row of the C-ordered 2-D array ``B``."""
    n = perm.size
    n_rhs = B.shape[0]
    for start in range(0, n_rhs, BLOCK):
        k = min(BLOCK, n_rhs - start)
        Y = np.empty((n, k))
        for i in range(n):
            p = perm[i]
            for r in range(k):
                Y[i, r] = B[start + r, p]
        _solve_block(sfirst, rptr, ridx, off, L, Y)
        for i in range(n):
            p = perm[i]
            for r in range(k):
                B[start + r, p] = Y[i, r]


@njit(cache=True, nogil=True)
def supernodal_logdet(
    perm, sfirst, rptr, ridx, off, uptr, upd, relptr, rel, L
):  # pragma: no cover - numba
    """``log det A = 2 Σ log L_jj``."""
    total = 0.0
    for t in range(sfirst.size - 1):
        nc = sfirst[t + 1] - sfirst[t]
        for c in range(nc):
            total += np.log(L[off[t] + c * nc + c])
    return 2.0 * total


#: ``SparseCholesky.kind`` of the two storages
ENVELOPE, SUPERNODAL = 0, 1


class SparseCholesky:
    """The cheaper of the envelope and the supernodal Cholesky for one sparsity pattern.

    Parameters
    ----------
    rows, cols : array_like of int
        Listed entries of the full symmetric matrix (both triangles; duplicates summed).
    n : int
        Size of the matrix.
    grid_shape : tuple of int, optional
        ``(nx, nz)`` if the unknowns are the nodes of a structured grid numbered
        ``iz * nx + ix`` whose stencil couples only neighbouring lines; enables the
        nested-dissection ordering (:func:`grid_nested_dissection`).
    method : {"auto", "envelope", "supernodal"}, default "auto"
        ``"auto"`` takes the storage with fewer factorisation multiply-adds.

    Attributes
    ----------
    kind : int
        :data:`ENVELOPE` or :data:`SUPERNODAL`.
    arrays : tuple
        ``(kind, perm, first, ptr, sfirst, rptr, ridx, off, uptr, upd, relptr, rel,
        scatter)``, the first argument of :func:`sparse_factor` and :func:`sparse_solve_rows`
        (the arrays of the storage not used are empty).
    size : int
        Length of the factor storage.
    flops : float
        Multiply-adds of one numeric factorisation (``Σ_j |L_{*j}|² / 2``, or the envelope
        widths ``Σ_i w_i² / 2``).
    nnz_l : int
        Stored values of the factor below and on the diagonal (the envelope counts the zeros
        inside it).

    Notes
    -----
    Envelope cost ``≈ n · min(nx, nz)² / 2``, nested dissection ``O(n^{3/2})``: on the
    resistivity meshes the envelope wins below about 2,000 nodes, the supernodal factor
    above (measured in ``benchmarks/bench_resistivity.py``).
    """

    def __init__(self, rows, cols, n: int, grid_shape=None, method: str = "auto"):
        if method not in ("auto", "envelope", "supernodal"):
            raise ValueError(
                f"SparseCholesky: method must be 'auto', 'envelope' or 'supernodal', got {method!r}"
            )
        if method == "supernodal" and grid_shape is None:
            raise ValueError("SparseCholesky: method='supernodal' needs grid_shape=(nx, nz)")
        if grid_shape is not None and int(grid_shape[0]) * int(grid_shape[1]) != int(n):
            raise ValueError(
                f"SparseCholesky: grid_shape {tuple(grid_shape)} does not hold n = {n} nodes"
            )
        env = CholeskyPattern(rows, cols, n) if method != "supernodal" else None
        sn = None
        if grid_shape is not None and method != "envelope":
            perm = grid_nested_dissection(int(grid_shape[0]), int(grid_shape[1]))
            sn = SupernodalPattern(rows, cols, n, perm)
        env_flops = np.inf if env is None else _profile_flops(env.first) / 2
        i0, i1 = np.zeros(0, dtype=np.int64), np.zeros((0, 3), dtype=np.int64)
        if sn is not None and sn.flops < env_flops:
            self.kind, self.size, self.flops, self.nnz_l = SUPERNODAL, sn.size, sn.flops, sn.nnz_l
            self.arrays = (SUPERNODAL, *sn.arrays[:1], i0, i0, *sn.arrays[1:], sn.scatter)
        else:
            self.kind, self.size, self.flops, self.nnz_l = ENVELOPE, env.size, env_flops, env.size
            self.arrays = (ENVELOPE, env.perm, env.first, env.ptr, i0, i0, i0, i0, i0, i1)
            self.arrays += (i0, i0, env.scatter)
        self.perm = self.arrays[1]


@njit(cache=True, nogil=True)
def sparse_factor(chol, values, L):  # pragma: no cover - numba
    """Factorise with the storage of ``chol = SparseCholesky.arrays``; ``False`` on failure."""
    if chol[0] == ENVELOPE:
        return cholesky_factor(chol[2], chol[3], chol[12], values, L)
    return supernodal_factor(
        chol[1], chol[4], chol[5], chol[6], chol[7], chol[8], chol[9], chol[10], chol[11],
        chol[12], values, L,
    )  # fmt: skip


@njit(cache=True, nogil=True)
def sparse_solve_rows(chol, L, B):  # pragma: no cover - numba
    """Solve ``A X = B`` in place for each row of ``B`` with a factor of :func:`sparse_factor`."""
    if chol[0] == ENVELOPE:
        cholesky_solve_rows(chol[1], chol[2], chol[3], L, B)
    else:
        supernodal_solve_rows(
            chol[1], chol[4], chol[5], chol[6], chol[7], chol[8], chol[9], chol[10], chol[11],
            L, B,
        )  # fmt: skip
