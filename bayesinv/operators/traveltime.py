"""Straight-ray travel-time tomography: travel times as path integrals of slowness."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from bayesinv.grid import Grid2D
from bayesinv.operators._points import check_points
from bayesinv.operators._traveltime_numba import ray_matrix_coo
from bayesinv.operators.sparse import SparseMatrixOperator

__all__ = ["StraightRayTomography"]


class StraightRayTomography(SparseMatrixOperator):
    r"""Travel times of straight rays through a cell-wise constant slowness field.

    Parameters
    ----------
    grid : Grid2D
        The section; the model is the slowness (s/m) of each cell, flat in C order.
    sources, receivers : array_like, shape (n, 2)
        Ray end points ``(x, z)``; ray ``i`` runs from ``sources[i]`` to ``receivers[i]``
        (pairs, not all combinations: repeat points to build a full acquisition). Both must
        have the same number of rows. NaN or infinite coordinates raise.
    strict : bool, optional
        If true, every source and receiver must lie in the closed grid extent, otherwise a
        :class:`ValueError` names the offending rays. If false (default), the part of each
        ray outside the grid is dropped: the datum is the travel time of the part inside
        the grid only (zero for a ray that misses the grid). :attr:`clipped` flags such rays.

    Attributes
    ----------
    clipped : numpy.ndarray of bool
        Rays with an end point outside the grid (only possible with ``strict=False``).
    distances : numpy.ndarray
        Euclidean source–receiver distances (m).

    Notes
    -----
    The travel time of ray :math:`i` is

    .. math::

        t_i = \int_{\text{ray } i} s(\mathbf{x})\, dl = \sum_j \ell_{ij}\, s_j ,

    with :math:`\ell_{ij}` the exact length of ray :math:`i` inside cell :math:`j`. The
    lengths come from Siddon's parametric method: with
    :math:`\mathbf{P}(t) = \mathbf{P}_0 + t(\mathbf{P}_1 - \mathbf{P}_0)`, the parameters
    where the ray crosses the grid lines are sorted, and each interval between consecutive
    crossings lies in one cell (found from the interval's midpoint) and contributes
    :math:`(t_b - t_a)\,|\mathbf{P}_1 - \mathbf{P}_0|`.

    Special cases:

    - a ray through a grid vertex crosses two lines at the same parameter; the empty
      interval is skipped, so diagonal rays of square cells visit only the diagonal cells;
    - a ray parallel to an axis that lies on a grid line (within :math:`10^{-9}` cell sizes)
      runs along the edge shared by two cells: each piece's length is split equally between
      them; on the outer boundary of the grid all of it goes to the one cell inside;
    - source equal to receiver gives a zero travel time.

    So the lengths of each ray add up to the length of its part inside the grid, never
    counting a piece twice. The matrix :math:`\ell` is stored in CSR form
    (:class:`SparseMatrixOperator`): the forward kernel gathers along each row, the adjoint
    (back-projection) scatters serially.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesinv import Grid2D
    >>> g = Grid2D(nx=4, nz=4, dx=1.0, dz=1.0)
    >>> op = StraightRayTomography(g, [[0.0, 0.0]], [[4.0, 3.0]])
    >>> op.forward(np.full(g.size, 2.0))  # 5 m at 2 s/m
    array([10.])
    """

    def __init__(self, grid: Grid2D, sources, receivers, strict: bool = False):
        name = "StraightRayTomography"
        if not isinstance(grid, Grid2D):
            raise TypeError(f"{name}: grid must be a Grid2D, got {type(grid).__name__}")
        src = check_points(sources, "sources", name)
        rec = check_points(receivers, "receivers", name)
        if src.shape != rec.shape:
            raise ValueError(
                f"{name}: sources and receivers must have the same number of rows "
                f"(ray i runs from sources[i] to receivers[i]), got {src.shape[0]} and "
                f"{rec.shape[0]}"
            )
        clipped = ~(grid.contains(src) & grid.contains(rec))
        if strict and np.any(clipped):
            idx = np.flatnonzero(clipped)
            raise ValueError(
                f"{name}: ray(s) {idx[:10].tolist()} leave the grid (first from "
                f"{tuple(src[idx[0]])} to {tuple(rec[idx[0]])}); the grid spans "
                f"x in [{grid.x_edges[0]}, {grid.x_edges[-1]}], "
                f"z in [{grid.z_edges[0]}, {grid.z_edges[-1]}] (strict=True)"
            )
        indptr, cells, lengths = ray_matrix_coo(
            src, rec, grid.x0, grid.z0, grid.dx, grid.dz, grid.nx, grid.nz
        )
        A = sp.csr_array((lengths, cells, indptr), shape=(src.shape[0], grid.size))
        super().__init__(A, name=name)
        self.grid = grid
        self.sources = src
        self.receivers = rec
        self.strict = bool(strict)
        self.clipped = clipped
        self.distances = np.hypot(*(rec - src).T)
