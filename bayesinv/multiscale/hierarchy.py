"""A hierarchy of nested grids, each level halving the cell size of the one before."""

from __future__ import annotations

from bayesinv._checks import check_int
from bayesinv.grid import Grid1D, Grid2D
from bayesinv.multiscale.prolongation import Prolongation
from bayesinv.operators.base import ForwardOperator, compose

__all__ = ["GridHierarchy", "coarsen"]


def coarsen(grid: Grid2D | Grid1D, factor: int = 2) -> Grid2D | Grid1D:
    """Return the grid over the same region with cells ``factor`` times larger per axis.

    Parameters
    ----------
    grid : Grid2D or Grid1D
        Grid to coarsen.
    factor : int
        Coarsening factor; every axis length must be divisible by it.

    Returns
    -------
    Grid2D or Grid1D
        The coarse grid (``coarsen(g, r).refine(r) == g``).
    """
    factor = check_int(factor, "coarsen", "factor", low=1)
    axes = {"nz": grid.nz} if isinstance(grid, Grid1D) else {"nz": grid.nz, "nx": grid.nx}
    for axis, n in axes.items():
        if n % factor:
            raise ValueError(
                f"coarsen: grid axis {axis}={n} is not divisible by {factor}; "
                f"use {axis} = {(n // factor) * factor or factor} or {(n // factor + 1) * factor}"
            )
    if isinstance(grid, Grid1D):
        return Grid1D(grid.nz // factor, grid.dz * factor, grid.z0)
    return Grid2D(
        grid.nx // factor, grid.nz // factor, grid.dx * factor, grid.dz * factor, grid.x0, grid.z0
    )


class GridHierarchy:
    """Nested grids from coarsest (level 0) to a given finest grid, halving the cell size.

    Parameters
    ----------
    fine_grid : Grid2D or Grid1D
        The finest grid (level ``n_levels - 1``).
    n_levels : int
        Number of grids ``>= 1``; every axis of ``fine_grid`` must be divisible by
        ``2**(n_levels - 1)``.

    Attributes
    ----------
    grids : tuple of Grid2D or Grid1D
        ``grids[l]`` has cells ``2**(n_levels - 1 - l)`` times larger than the finest.

    Examples
    --------
    >>> from bayesinv import Grid2D
    >>> h = GridHierarchy(Grid2D(nx=16, nz=8, dx=5.0, dz=5.0), n_levels=3)
    >>> [g.shape for g in h]
    [(2, 4), (4, 8), (8, 16)]
    >>> h.prolongation(0).n_params, h.prolongation(0).n_data
    (8, 128)
    """

    def __init__(self, fine_grid: Grid2D | Grid1D, n_levels: int):
        if not isinstance(fine_grid, Grid2D | Grid1D):
            raise ValueError(
                f"GridHierarchy: fine_grid must be a Grid2D or Grid1D, got {type(fine_grid)}"
            )
        n_levels = check_int(n_levels, "GridHierarchy", "n_levels", low=1)
        try:
            coarsest = coarsen(fine_grid, 2 ** (int(n_levels) - 1))
        except ValueError as err:
            raise ValueError(f"GridHierarchy: {n_levels} levels do not fit ({err})") from None
        self.grids = tuple(coarsest.refine(2**k) if k else coarsest for k in range(n_levels))

    def __len__(self) -> int:
        return len(self.grids)

    def __getitem__(self, level: int) -> Grid2D | Grid1D:
        return self.grids[level]

    def __iter__(self):
        return iter(self.grids)

    @property
    def n_levels(self) -> int:
        """Number of grids."""
        return len(self.grids)

    def _check(self, level, argument: str) -> int:
        level = check_int(level, "GridHierarchy", argument)
        if not 0 <= level < self.n_levels:
            raise ValueError(
                f"GridHierarchy: {argument}={level} is not a level in 0..{self.n_levels - 1}"
            )
        return int(level)

    def prolongation(
        self, level: int, to: int | None = None, kind: str = "constant"
    ) -> ForwardOperator:
        """Map a field on grid ``level`` to grid ``to`` (default: the finest).

        Parameters
        ----------
        level : int
            Source level.
        to : int, optional
            Target level ``>= level``; the finest by default.
        kind : {"constant", "bilinear"}
            Interpolation of each factor-2 step (see :class:`Prolongation`).

        Returns
        -------
        ForwardOperator
            The composition of the factor-2 prolongations ``level -> level+1 -> ... -> to``
            (the identity-sized :class:`Prolongation` when ``to == level``).
        """
        level = self._check(level, "level")
        to = self.n_levels - 1 if to is None else self._check(to, "to")
        if to < level:
            raise ValueError(f"GridHierarchy: to={to} is coarser than level={level}")
        if to == level:
            return Prolongation(self.grids[level], self.grids[level], kind)
        steps = [Prolongation(self.grids[k], self.grids[k + 1], kind) for k in range(level, to)]
        return compose(*reversed(steps))

    def __repr__(self) -> str:
        return f"<GridHierarchy: {' -> '.join(str(g.shape) for g in self.grids)}>"
