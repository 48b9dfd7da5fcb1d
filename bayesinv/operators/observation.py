"""Linear observation operators: sampling a field at points, differencing, selecting.

They compose with any forward operator, e.g. ``Subset(n, idx) @ Gravity2D(grid, rx)`` keeps
the data of a subset of the receivers, and ``PointSampler(grid, pts) @ P`` samples the field
produced by a parameterization ``P`` at boreholes.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from bayesinv._checks import check_int
from bayesinv.grid import Grid2D
from bayesinv.operators._observation_numba import (
    difference_adjoint,
    difference_forward,
    subset_adjoint,
    subset_forward,
)
from bayesinv.operators._points import check_points
from bayesinv.operators.base import ForwardOperator, linear_kernels
from bayesinv.operators.sparse import SparseMatrixOperator

__all__ = ["Differencer", "PointSampler", "Subset"]


def _positive_size(n, operator: str) -> int:
    return check_int(n, operator, "n", low=1)


def _index_array(values, n: int, operator: str, argument: str, shape_tail=()) -> np.ndarray:
    arr = np.asarray(values)
    if arr.size == 0:
        raise ValueError(f"{operator}: {argument} is empty")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{operator}: {argument} must hold integers, got dtype {arr.dtype}")
    if arr.ndim != 1 + len(shape_tail) or arr.shape[1:] != tuple(shape_tail):
        want = "(k,)" if not shape_tail else f"(k, {', '.join(map(str, shape_tail))})"
        raise ValueError(f"{operator}: {argument} must have shape {want}, got {arr.shape}")
    bad = (arr < 0) | (arr >= n)
    if np.any(bad):
        first = np.argwhere(bad)[0]
        raise ValueError(
            f"{operator}: {argument} has index {arr[tuple(first)]} out of range [0, {n}) "
            f"at position {tuple(int(i) for i in first)}"
        )
    out = np.ascontiguousarray(arr, dtype=np.int64)
    out.setflags(write=False)
    return out


class Subset(ForwardOperator):
    r"""Select entries of a vector: ``d_i = x[indices_i]`` (e.g. a subset of receivers).

    Parameters
    ----------
    n : int
        Length of the input vector.
    indices : array_like of int
        Entries to keep, in output order. Must be unique and in ``[0, n)``; negative,
        out-of-range or duplicate indices raise :class:`ValueError`.

    Notes
    -----
    ``d = S x`` with :math:`S_{ij} = 1` if :math:`j = \mathrm{indices}_i`. The adjoint puts
    each ``dd_i`` back at ``indices_i`` and zeros elsewhere (a scatter, run serially).

    Examples
    --------
    >>> import numpy as np
    >>> Subset(5, [4, 0]).forward(np.arange(5.0))
    array([4., 0.])
    """

    linear = True

    def __init__(self, n: int, indices):
        n = _positive_size(n, "Subset")
        idx = _index_array(indices, n, "Subset", "indices")
        uniq, counts = np.unique(idx, return_counts=True)
        if np.any(counts > 1):
            raise ValueError(f"Subset: indices has duplicates {uniq[counts > 1][:10].tolist()}")
        self.indices = idx
        self.n_params = n
        self.n_data = int(idx.shape[0])

    def _forward(self, m):
        return subset_forward(m, self.indices)

    def _vjp(self, m, dd):
        return subset_adjoint(dd, self.indices, self.n_params)

    def _build_numba_kernels(self):
        idx = self.indices
        return linear_kernels(subset_forward, subset_adjoint, (idx,), (idx, self.n_params))


class Differencer(ForwardOperator):
    r"""Differences of pairs of entries: ``d_i = x[a_i] - x[b_i]``.

    For gradiometry (differences of neighbouring receivers), reciprocal pairs or differential
    travel times.

    Parameters
    ----------
    n : int
        Length of the input vector.
    pairs : array_like of int, shape (k, 2)
        Rows ``(a_i, b_i)`` with indices in ``[0, n)`` and ``a_i != b_i`` (a pair of an entry
        with itself is identically zero and raises). Pairs may share entries and repeat.

    Notes
    -----
    ``d = D x`` with :math:`D_{i a_i} = 1`, :math:`D_{i b_i} = -1`. The adjoint scatters
    :math:`g_{a_i} \mathrel{+}= δd_i`, :math:`g_{b_i} \mathrel{-}= δd_i` (serial loop).

    Examples
    --------
    >>> import numpy as np
    >>> Differencer(3, [[1, 0], [2, 1]]).forward(np.array([1.0, 4.0, 9.0]))
    array([3., 5.])
    """

    linear = True

    def __init__(self, n: int, pairs):
        n = _positive_size(n, "Differencer")
        p = _index_array(pairs, n, "Differencer", "pairs", shape_tail=(2,))
        same = p[:, 0] == p[:, 1]
        if np.any(same):
            raise ValueError(
                f"Differencer: pairs {np.flatnonzero(same)[:10].tolist()} difference an entry "
                "with itself"
            )
        self.pairs = p
        self._a = np.ascontiguousarray(p[:, 0])
        self._b = np.ascontiguousarray(p[:, 1])
        self.n_params = n
        self.n_data = int(p.shape[0])

    def _forward(self, m):
        return difference_forward(m, self._a, self._b)

    def _vjp(self, m, dd):
        return difference_adjoint(dd, self._a, self._b, self.n_params)

    def _build_numba_kernels(self):
        ab = (self._a, self._b)
        return linear_kernels(difference_forward, difference_adjoint, ab, (*ab, self.n_params))


def _axis_weights(coord, first_center, spacing, n):
    """Lower index and weight of the upper neighbour along one axis (clamped at the ends)."""
    if n == 1:
        return np.zeros(coord.shape, dtype=np.int64), np.zeros(coord.shape)
    f = np.clip((coord - first_center) / spacing, 0.0, n - 1.0)
    i0 = np.minimum(np.floor(f).astype(np.int64), n - 2)
    return i0, f - i0


class PointSampler(SparseMatrixOperator):
    r"""Bilinear interpolation of a cell-centred field at arbitrary points.

    Parameters
    ----------
    grid : Grid2D
        Grid of the field (values live at the cell centres).
    points : array_like, shape (n, 2)
        ``(x, z)`` points inside the grid's closed extent
        ``[x0, x0 + nx dx] x [z0, z0 + nz dz]``; points outside raise :class:`ValueError`.

    Notes
    -----
    With fractional centre coordinates :math:`f_x = (x - x_{c,0}) / dx` and
    :math:`f_z = (z - z_{c,0}) / dz` (:math:`x_{c,0} = x_0 + dx/2`, likewise for z), a point
    between centres :math:`(i, k)` and :math:`(i+1, k+1)` with :math:`t = f_x - i`,
    :math:`s = f_z - k` gets

    .. math::

        d = (1-s)(1-t)\, m_{k,i} + (1-s)\,t\, m_{k,i+1} + s(1-t)\, m_{k+1,i} + s\,t\, m_{k+1,i+1}.

    Within half a cell of the grid boundary (outside the hull of the cell centres) the
    fractional coordinate is clamped to the nearest centre line, i.e. the field is extended
    as a constant along that axis (bilinear interpolation along the boundary, the nearest
    centre's value in a corner). A grid with one cell along an axis is constant along it.
    Stored as a CSR matrix with at most 4 entries per row (:class:`SparseMatrixOperator`).

    Examples
    --------
    >>> import numpy as np
    >>> from bayesinv import Grid2D
    >>> g = Grid2D(nx=2, nz=1, dx=1.0, dz=1.0)
    >>> PointSampler(g, [[1.0, 0.5]]).forward(np.array([0.0, 2.0]))
    array([1.])
    """

    def __init__(self, grid: Grid2D, points):
        if not isinstance(grid, Grid2D):
            raise TypeError(f"PointSampler: grid must be a Grid2D, got {type(grid).__name__}")
        pts = check_points(points, "points", "PointSampler")
        outside = ~grid.contains(pts)
        if np.any(outside):
            idx = np.flatnonzero(outside)
            raise ValueError(
                f"PointSampler: point(s) {idx[:10].tolist()} lie outside the grid "
                f"(first at (x, z) = {tuple(pts[idx[0]])}); the grid spans "
                f"x in [{grid.x_edges[0]}, {grid.x_edges[-1]}], "
                f"z in [{grid.z_edges[0]}, {grid.z_edges[-1]}]"
            )
        ix, tx = _axis_weights(pts[:, 0], grid.x_centers[0], grid.dx, grid.nx)
        iz, tz = _axis_weights(pts[:, 1], grid.z_centers[0], grid.dz, grid.nz)
        jx = np.minimum(ix + 1, grid.nx - 1)
        jz = np.minimum(iz + 1, grid.nz - 1)
        n = pts.shape[0]
        rows = np.repeat(np.arange(n), 4)
        cols = np.column_stack(
            [iz * grid.nx + ix, iz * grid.nx + jx, jz * grid.nx + ix, jz * grid.nx + jx]
        ).ravel()
        vals = np.column_stack([(1 - tz) * (1 - tx), (1 - tz) * tx, tz * (1 - tx), tz * tx]).ravel()
        A = sp.coo_array((vals, (rows, cols)), shape=(n, grid.size))
        super().__init__(A, name="PointSampler")
        self.grid = grid
        self.points = pts
