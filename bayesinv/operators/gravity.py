"""2-D gravity: vertical attraction of a density-contrast section (infinite strike)."""

from __future__ import annotations

from bayesinv.grid import Grid2D
from bayesinv.operators._gravity_numba import gravity_matrix
from bayesinv.operators._points import check_outside_cells, check_points
from bayesinv.operators.matrix import MatrixOperator

__all__ = ["Gravity2D"]


class Gravity2D(MatrixOperator):
    r"""Vertical gravity anomaly of a 2-D density-contrast section.

    Each cell of ``grid`` is a rectangular prism of infinite extent along strike (y) with
    uniform density contrast (kg/m³). The data are the vertical attraction ``g_z`` in mGal,
    positive downward, at each receiver.

    Parameters
    ----------
    grid : Grid2D
        The section; ``z`` is depth, positive downward.
    receivers : array_like
        Receiver positions, shape ``(n, 2)`` holding ``(x, z)``. Receivers must lie outside
        the interior of the grid (at or above the surface, or beside the grid); points on the
        grid's boundary are allowed.

    Notes
    -----
    For a cell :math:`[x_1, x_2] \times [z_1, z_2]` and a receiver at :math:`(x_r, z_r)`, let
    :math:`X_i = x_i - x_r`, :math:`Z_j = z_j - z_r`. The attraction of a 2-D body is

    .. math::

        g_z = 2 G ρ \iint \frac{Z}{X^2 + Z^2}\, dX\, dZ
            = 2 G ρ \sum_{i,j=1}^{2} (-1)^{i+j}\, Φ(X_i, Z_j),
        \qquad Φ(X, Z) = \tfrac{1}{2} X \ln(X^2 + Z^2) + Z \arctan(X / Z),

    (the limits :math:`X \ln(\cdot) \to 0` and :math:`Z \arctan(X/Z) \to 0` are used on
    the axes), with :math:`G = 6.6743 \times 10^{-11}` m³ kg⁻¹ s⁻² and the result converted
    to mGal (×10⁵). The operator is linear, ``d = A m``; ``A`` (``n_receivers × n_cells``)
    is computed once and stored dense, so forward and adjoint are BLAS ``gemv`` calls. Dense
    storage costs ``8 n_receivers n_cells`` bytes; a matrix-free evaluation (recomputing the
    kernel on each call) would win only when that no longer fits in memory, around 10⁸–10⁹
    entries.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesinv import Grid2D
    >>> grid = Grid2D(nx=20, nz=10, dx=10.0, dz=10.0)
    >>> rx = np.column_stack([np.linspace(0, 200, 5), np.zeros(5)])
    >>> op = Gravity2D(grid, rx)
    >>> op.n_params, op.n_data
    (200, 5)
    """

    def __init__(self, grid: Grid2D, receivers):
        if not isinstance(grid, Grid2D):
            raise TypeError(f"Gravity2D: grid must be a Grid2D, got {type(grid).__name__}")
        rx = check_points(receivers, "receivers", "Gravity2D")
        check_outside_cells(rx, grid, "receiver", "Gravity2D")
        xe, ze = grid.x_edges, grid.z_edges
        self.grid = grid
        self.receivers = rx
        super().__init__(gravity_matrix(xe, ze, rx), name="Gravity2D")
