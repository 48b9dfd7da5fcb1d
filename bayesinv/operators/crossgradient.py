"""The cross-gradient of two fields on one grid, a structural-coupling operator."""

from __future__ import annotations

from bayesinv._numba import njit
from bayesinv.grid import Grid2D
from bayesinv.operators._crossgradient_numba import (
    cross_gradient,
    cross_gradient_jvp,
    cross_gradient_vjp,
)
from bayesinv.operators.base import ForwardOperator, NumbaKernels

__all__ = ["CrossGradient2D"]


class CrossGradient2D(ForwardOperator):
    r"""Cross-gradient ``t = ∇a × ∇b`` (the out-of-plane component) of two fields.

    Parameters
    ----------
    grid : Grid2D
        Grid shared by both fields (at least 2 x 2 cells).

    Notes
    -----
    The input is the concatenation ``m = [a; b]`` of two flat fields (length ``2 n``). On
    each of the ``(nz - 1)(nx - 1)`` cells with a forward-difference stencil,

    .. math::

        t_{ij} = \partial_x a\, \partial_z b - \partial_z a\, \partial_x b, \qquad
        \partial_x f = \frac{f_{i,j+1} - f_{ij}}{Δx}, \quad
        \partial_z f = \frac{f_{i+1,j} - f_{ij}}{Δz}.

    ``t`` vanishes where the gradients are parallel (shared boundaries) or one field is flat,
    so penalising :math:`\sum t^2` favours structurally similar fields (Gallardo & Meju
    2003). The map is bilinear: :math:`J δm = t(δa, b) + t(a, δb)`.
    """

    linear = False

    def __init__(self, grid: Grid2D):
        if not isinstance(grid, Grid2D):
            raise TypeError(f"CrossGradient2D: grid must be a Grid2D, got {type(grid).__name__}")
        if grid.nx < 2 or grid.nz < 2:
            raise ValueError("CrossGradient2D: grid needs at least 2 x 2 cells")
        self.grid = grid
        self.n_params = 2 * grid.size
        self.n_data = (grid.nz - 1) * (grid.nx - 1)
        self._args = (grid.nz, grid.nx, grid.dx, grid.dz)

    def _forward(self, m):
        return cross_gradient(m, *self._args)

    def _jvp(self, m, dm):
        return cross_gradient_jvp(m, dm, *self._args)

    def _vjp(self, m, dd):
        return cross_gradient_vjp(m, dd, *self._args)

    def _build_numba_kernels(self):
        nz, nx, dx, dz = self._args

        @njit(nogil=True)
        def forward(m):
            return cross_gradient(m, nz, nx, dx, dz)

        @njit(nogil=True)
        def jvp(m, dm):
            return cross_gradient_jvp(m, dm, nz, nx, dx, dz)

        @njit(nogil=True)
        def vjp(m, dd):
            return cross_gradient_vjp(m, dd, nz, nx, dx, dz)

        return NumbaKernels(forward, jvp, vjp)
