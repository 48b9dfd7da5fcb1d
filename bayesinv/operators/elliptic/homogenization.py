"""Homogenized coarse models: effective coefficients of coarse cells from fine ones."""

from __future__ import annotations

import numpy as np

from bayesinv._checks import check_choice, check_int
from bayesinv._numba import njit
from bayesinv.grid import Grid2D
from bayesinv.operators.base import ForwardOperator, NumbaKernels, as_vector
from bayesinv.operators.elliptic import _cell_numba
from bayesinv.operators.elliptic._setup import reference_matrices

__all__ = ["CellAverage", "HomogenizedCoefficient", "nested_blocks"]

_KINDS = ("arithmetic", "harmonic", "geometric")


def nested_blocks(fine: Grid2D, coarse: Grid2D, where: str) -> np.ndarray:
    """Fine-cell indices of each coarse cell, shape ``(coarse.size, rz * rx)``.

    Parameters
    ----------
    fine, coarse : Grid2D
        The grids; they must cover the same rectangle and every coarse cell must be exactly
        ``rx x rz`` fine cells (integer ratios).
    where : str
        Caller's name for error messages.

    Returns
    -------
    numpy.ndarray
        Row ``c`` lists the fine cells of coarse cell ``c`` in C order within the block.
    """
    for name, grid in (("fine_grid", fine), ("coarse_grid", coarse)):
        if not isinstance(grid, Grid2D):
            raise TypeError(f"{where}: {name} must be a Grid2D, got {type(grid).__name__}")
    rx, rz = fine.nx / coarse.nx, fine.nz / coarse.nz
    scale = max(coarse.nx * coarse.dx, coarse.nz * coarse.dz)
    same = np.allclose(
        [fine.x0, fine.z0, fine.nx * fine.dx, fine.nz * fine.dz],
        [coarse.x0, coarse.z0, coarse.nx * coarse.dx, coarse.nz * coarse.dz],
        rtol=0.0,
        atol=1e-9 * scale,
    )
    if not same or rx != int(rx) or rz != int(rz):
        raise ValueError(
            f"{where}: coarse_grid ({coarse.nx} x {coarse.nz} cells) does not nest in fine_grid "
            f"({fine.nx} x {fine.nz}): both must cover the same rectangle and fine.nx, fine.nz "
            f"must be integer multiples of coarse.nx, coarse.nz"
        )
    rx, rz = int(rx), int(rz)
    cz, cx = np.divmod(np.arange(coarse.size), coarse.nx)
    jz, jx = np.divmod(np.arange(rx * rz), rx)
    rows = cz[:, None] * rz + jz[None, :]
    cols = cx[:, None] * rx + jx[None, :]
    return np.ascontiguousarray(rows * fine.nx + cols, dtype=np.int64)


class HomogenizedCoefficient(ForwardOperator):
    r"""Effective (homogenized) coefficient of each coarse cell by a periodic cell problem.

    Maps the fine log-coefficient ``log a`` (``fine_grid``) to
    ``[log A*_xx (all coarse cells); log A*_zz (all coarse cells)]``, the input of
    ``Elliptic2D(coarse_grid, ..., anisotropic=True)``; the composition is the homogenized
    coarse model that stands in for ``Elliptic2D(fine_grid, ...)``.

    Parameters
    ----------
    fine_grid, coarse_grid : Grid2D
        Nested grids (same rectangle, integer ratios of cell counts).
    cell_refine : int
        Q1 elements per fine cell and direction in the cell problems (1 is exact for
        layered media; more resolves inclusions and corners, at cost ``O((n s^2)^3)`` per
        coarse cell with ``n`` fine cells in it).

    Notes
    -----
    **Cell problem.** The fine coefficients inside a coarse cell :math:`Y` are taken as one
    period of a periodic medium. For :math:`k ∈ \{x, z\}` the corrector :math:`χ_k`
    (periodic, zero at one node) solves :math:`-∇·(a(e_k + ∇χ_k)) = 0` on a periodic Q1 mesh
    of ``cell_refine`` elements per fine cell, and

    .. math::

        A^*_{kl} = \frac{1}{|Y|}\int_Y a\,(e_k + ∇χ_k)·(e_l + ∇χ_l)\,dx .

    The diagonal is kept (``A*_xz`` is zero for cells symmetric under a reflection and is
    reported by :meth:`effective_tensor`, not passed on). Voigt–Reuss bounds hold:
    harmonic mean :math:`≤ A^*_{kk} ≤` arithmetic mean; for layers normal to :math:`z`,
    :math:`A^*_{xx}` is the arithmetic and :math:`A^*_{zz}` the harmonic mean (exactly, with
    ``cell_refine = 1``); for a two-phase checkerboard :math:`A^* = \sqrt{a_1 a_2}`
    (Dykhne/Keller), approached as ``cell_refine`` grows.

    **Derivative.** :math:`χ_k` minimises the energy that defines :math:`A^*_{kk}`, so
    :math:`∂A^*_{kk}/∂a_e = |Y|^{-1}\int_e (e_k + ∇χ_k)^2` at fixed :math:`χ_k` (no adjoint
    solve); ``jvp`` and ``vjp`` contract this exact Jacobian of the discrete map.

    **Validity (scale separation).** Homogenization replaces a medium of period
    :math:`ε` by :math:`A^*` with an error :math:`O(ε/L)` (:math:`L` the scale of the
    solution and the coarse cell), plus boundary layers. It needs (1) fine structure much
    smaller than a coarse cell and than the scale on which ``u`` varies, and (2) a block that
    is (close to) a whole number of periods, so the periodic cell problem is representative.
    Structures as large as a coarse cell (a channel, a single inclusion, a correlation length
    comparable to the cell) break it: the coarse model is then a biased surrogate, usable for
    delayed-acceptance screening or with an error model, not as the likelihood.

    Examples
    --------
    >>> from bayesinv import Grid2D
    >>> fine, coarse = Grid2D(4, 4, 0.25, 0.25), Grid2D(1, 1, 1.0, 1.0)
    >>> layers = np.log(np.repeat([1.0, 4.0, 1.0, 4.0], 4))  # layers normal to z
    >>> np.exp(HomogenizedCoefficient(fine, coarse).forward(layers))  # arithmetic, harmonic
    array([2.5, 1.6])
    """

    linear = False

    def __init__(self, fine_grid: Grid2D, coarse_grid: Grid2D, cell_refine: int = 1):
        where = type(self).__name__
        block = nested_blocks(fine_grid, coarse_grid, where)
        s = check_int(cell_refine, where, "cell_refine", low=1)
        rx, rz = fine_grid.nx // coarse_grid.nx, fine_grid.nz // coarse_grid.nz
        nx, nz = rx * s, rz * s
        iz, ix = np.divmod(np.arange(nx * nz), nx)

        def node(jz, jx):
            return (jz % nz) * nx + jx % nx

        el_nodes = np.stack(
            [node(iz, ix), node(iz, ix + 1), node(iz + 1, ix), node(iz + 1, ix + 1)], axis=1
        ).astype(np.int64)
        el_loc = ((iz // s) * rx + ix // s).astype(np.int64)
        hx, hz = fine_grid.dx / s, fine_grid.dz / s
        Kx, Kz = reference_matrices(hx, hz)
        g = np.array([[0.0, hx, 0.0, hx], [0.0, 0.0, hz, hz]])
        area = rx * fine_grid.dx * rz * fine_grid.dz
        self._cell = (block, el_nodes, el_loc, Kx + Kz, g, np.int64(nx * nz), area)
        self.fine_grid, self.coarse_grid, self.cell_refine = fine_grid, coarse_grid, s
        self.n_params = fine_grid.size
        self.n_data = 2 * coarse_grid.size

    def effective_tensor(self, m) -> np.ndarray:
        """Effective tensors ``[[A_xx, A_xz], [A_xz, A_zz]]``, shape ``(coarse.size, 2, 2)``.

        Parameters
        ----------
        m : array_like
            Fine log-coefficient.

        Returns
        -------
        numpy.ndarray
            The full symmetric tensor of each coarse cell.
        """
        m = as_vector(m, self.n_params, self.name, "m")
        _, t = _cell_numba.homogenize(m, m, m, 0, self._cell)
        return np.stack([t[:, [0, 2]], t[:, [2, 1]]], axis=1)

    def _forward(self, m):
        return _cell_numba.homogenize(m, m, m, 0, self._cell)[0]

    def _jvp(self, m, dm):
        return _cell_numba.homogenize(m, dm, m, 1, self._cell)[0]

    def _vjp(self, m, dd):
        return _cell_numba.homogenize(m, m, dd, 2, self._cell)[0]

    def _build_numba_kernels(self):
        cell = self._cell

        @njit(nogil=True)
        def forward(m):
            return _cell_numba.homogenize(m, m, m, 0, cell)[0]

        @njit(nogil=True)
        def jvp(m, dm):
            return _cell_numba.homogenize(m, dm, m, 1, cell)[0]

        @njit(nogil=True)
        def vjp(m, dd):
            return _cell_numba.homogenize(m, m, dd, 2, cell)[0]

        return NumbaKernels(forward, jvp, vjp)


class CellAverage(ForwardOperator):
    r"""Log-space arithmetic, harmonic or geometric mean of the fine cells in each coarse cell.

    Parameters
    ----------
    fine_grid, coarse_grid : Grid2D
        Nested grids (see :func:`nested_blocks`).
    kind : {"arithmetic", "harmonic", "geometric"}
        The mean of ``a = e^m`` over the :math:`n` fine cells of a coarse cell.

    Notes
    -----
    With :math:`m = \log a`:
    arithmetic :math:`\log \frac1n\sum_j e^{m_j}`, harmonic
    :math:`-\log \frac1n\sum_j e^{-m_j}`, geometric :math:`\frac1n\sum_j m_j` (linear).
    The Jacobian rows are the weights :math:`e^{±m_j}/\sum e^{±m}` (softmax) or
    :math:`1/n`. The harmonic and arithmetic means are the Voigt–Reuss bounds of any
    effective coefficient (exact for flow across / along layers); the geometric mean is exact
    for a 2-D two-phase checkerboard and the usual guess for isotropic log-normal media. They
    cost no solve but ignore the geometry of the fine structure (see
    :class:`HomogenizedCoefficient`); output: ``log a`` per coarse cell, the input of an
    isotropic ``Elliptic2D(coarse_grid, ...)``.

    Examples
    --------
    >>> from bayesinv import Grid2D
    >>> avg = CellAverage(Grid2D(2, 1, 1.0, 1.0), Grid2D(1, 1, 2.0, 1.0), "harmonic")
    >>> float(np.exp(avg.forward(np.log([1.0, 4.0]))[0]))
    1.6
    """

    linear = False

    def __init__(self, fine_grid: Grid2D, coarse_grid: Grid2D, kind: str = "geometric"):
        where = type(self).__name__
        self._block = nested_blocks(fine_grid, coarse_grid, where)
        self.kind = check_choice(kind, where, "kind", _KINDS)
        self._kind = _KINDS.index(kind)
        self.linear = kind == "geometric"
        self.fine_grid, self.coarse_grid = fine_grid, coarse_grid
        self.n_params, self.n_data = fine_grid.size, coarse_grid.size

    @property
    def name(self) -> str:
        """``CellAverage(kind)``."""
        return f"CellAverage({self.kind})"

    def _forward(self, m):
        return _cell_numba.average(m, m, m, 0, self._block, self._kind)

    def _jvp(self, m, dm):
        return _cell_numba.average(m, dm, m, 1, self._block, self._kind)

    def _vjp(self, m, dd):
        return _cell_numba.average(m, m, dd, 2, self._block, self._kind)

    def _build_numba_kernels(self):
        block, kind = self._block, self._kind

        @njit(nogil=True)
        def forward(m):
            return _cell_numba.average(m, m, m, 0, block, kind)

        @njit(nogil=True)
        def jvp(m, dm):
            return _cell_numba.average(m, dm, m, 1, block, kind)

        @njit(nogil=True)
        def vjp(m, dd):
            return _cell_numba.average(m, m, dd, 2, block, kind)

        return NumbaKernels(forward, jvp, vjp)
