"""Prolongation of a coarse-grid field to a finer grid (adjoint: restriction)."""

from __future__ import annotations

import numpy as np

from bayesinv._checks import check_choice
from bayesinv.grid import Grid1D, Grid2D
from bayesinv.multiscale._prolong_numba import prolong, restrict
from bayesinv.operators.base import ForwardOperator, linear_kernels

__all__ = ["KINDS", "Prolongation"]

#: interpolation kinds accepted by :class:`Prolongation`
KINDS = ("constant", "bilinear")


def _refinement_factor(nc: int, dc: float, oc: float, nf: int, df: float, of: float, axis: str):
    if nf % nc:
        raise ValueError(
            f"Prolongation: fine grid n{axis}={nf} is not a multiple of coarse n{axis}={nc}"
        )
    r = nf // nc
    if not np.isclose(dc, r * df, rtol=1e-9, atol=0.0) or not np.isclose(
        oc, of, rtol=0.0, atol=1e-9 * max(dc, abs(oc))
    ):
        raise ValueError(
            f"Prolongation: fine grid does not refine the coarse grid along {axis} "
            f"(coarse d{axis}={dc}, {axis}0={oc}; fine d{axis}={df}, {axis}0={of}; "
            f"expected d{axis}={dc / r} and the same origin)"
        )
    return r


def _axis_weights(nc: int, r: int, kind: str):
    """Per-axis coarse neighbours and weights of each of the ``nc * r`` fine cells."""
    f = np.arange(nc * r)
    if kind == "constant" or nc == 1:
        i0 = f // r
        return i0, i0.copy(), np.ones(f.size), np.zeros(f.size)
    # position of the fine centre in coarse-index units (coarse centre c sits at u = c)
    u = np.clip((f + 0.5) / r - 0.5, 0.0, nc - 1.0)
    i0 = np.minimum(np.floor(u).astype(np.int64), nc - 2)
    t = u - i0
    return i0, i0 + 1, 1.0 - t, t


class Prolongation(ForwardOperator):
    r"""Linear map from a field on a coarse grid to the same region on a refined grid.

    Parameters
    ----------
    coarse_grid, fine_grid : Grid2D or Grid1D
        Grids of the same kind over the same region, with ``fine.n = r * coarse.n`` along
        each axis for integer factors ``r >= 1`` (e.g. from :class:`GridHierarchy`).
    kind : {"constant", "bilinear"}
        ``"constant"``: every fine cell takes the value of the coarse cell containing it.
        ``"bilinear"``: (bi)linear interpolation of the cell-centred coarse values at the
        fine cell centres (linear in 1-D).

    Attributes
    ----------
    coarse_grid, fine_grid : Grid2D or Grid1D
    kind : str
    factors : tuple of int
        Refinement factor along each axis, ``(r_z, r_x)`` or ``(r_z,)``.

    Notes
    -----
    Along one axis with factor :math:`r`, fine cell :math:`f` has its centre at coarse-index
    coordinate :math:`u_f = (f + 1/2)/r - 1/2` (coarse cell :math:`c` has its centre at
    :math:`u = c`). Constant prolongation uses :math:`c = \lfloor f / r \rfloor`. Linear
    interpolation uses :math:`c_0 = \lfloor u_f \rfloor`, :math:`t = u_f - c_0` and
    :math:`m_f = (1 - t)\,θ_{c_0} + t\,θ_{c_0 + 1}`; in 2-D the weights are the products of
    the per-axis weights (bilinear). **Boundary rule:** fine cells whose centres lie
    outside the span of the coarse centres (the outer half coarse cell) take
    :math:`u_f` clamped to :math:`[0, n_c - 1]`, i.e. the nearest coarse value along that
    axis (constant extrapolation, zero normal gradient). Linear functions are therefore
    reproduced exactly in the interior, between the outermost coarse centres, but not in
    the boundary strip. Weights are non-negative and sum to one, so constants are
    reproduced everywhere and no new extrema are created.

    The adjoint (``vjp``) is restriction by summation,
    :math:`R = P^T`. For piecewise-constant prolongation :math:`P^T P = r_z r_x I`
    (``4 I`` for a factor-2 refinement in 2-D), so the cell average is
    :math:`(r_z r_x)^{-1} P^T`.

    Examples
    --------
    >>> from bayesinv import Grid1D
    >>> P = Prolongation(Grid1D(2, 2.0), Grid1D(4, 1.0), kind="bilinear")
    >>> P.forward([0.0, 4.0])
    array([0., 1., 3., 4.])
    """

    linear = True

    def __init__(self, coarse_grid, fine_grid, kind: str = "constant"):
        if not isinstance(coarse_grid, Grid2D | Grid1D) or type(fine_grid) is not type(coarse_grid):
            raise ValueError(
                "Prolongation: coarse_grid and fine_grid must both be Grid2D or both Grid1D, "
                f"got {type(coarse_grid).__name__} and {type(fine_grid).__name__}"
            )
        check_choice(kind, "Prolongation", "kind", KINDS)
        c, f = coarse_grid, fine_grid
        rz = _refinement_factor(c.nz, c.dz, c.z0, f.nz, f.dz, f.z0, "z")
        iz = _axis_weights(c.nz, rz, kind)
        if isinstance(c, Grid2D):
            rx = _refinement_factor(c.nx, c.dx, c.x0, f.nx, f.dx, f.x0, "x")
            ix = _axis_weights(c.nx, rx, kind)
            self.factors = (rz, rx)
            nxc = c.nx
        else:
            ix = (np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1), np.zeros(1))
            self.factors = (rz,)
            nxc = 1
        self.coarse_grid = coarse_grid
        self.fine_grid = fine_grid
        self.kind = kind
        self.n_params = coarse_grid.size
        self.n_data = fine_grid.size
        self._nzc, self._nxc = c.nz, nxc
        tables = []
        for arr in (*iz, *ix):
            a = np.ascontiguousarray(arr)
            a.setflags(write=False)
            tables.append(a)
        self._tables = tuple(tables)

    def _forward(self, m):
        return prolong(m, self._nxc, *self._tables)

    def _vjp(self, m, dd):
        return restrict(dd, self._nzc, self._nxc, *self._tables)

    def _build_numba_kernels(self):
        tables = self._tables
        return linear_kernels(
            prolong, restrict, (self._nxc, *tables), (self._nzc, self._nxc, *tables)
        )

    def __repr__(self) -> str:
        return f"<Prolongation({self.kind!r}): {self.coarse_grid.shape} -> {self.fine_grid.shape}>"
