"""Elliptic 2-D operator: −∇·(a∇u) = f on a rectangle, bilinear (Q1) finite elements."""

from __future__ import annotations

import numpy as np

from bayesinv._checks import check_choice
from bayesinv.grid import Grid2D
from bayesinv.operators.base import ForwardOperator, NumbaKernels
from bayesinv.operators.elliptic import _q1_numba
from bayesinv.operators.elliptic._setup import (
    build_mesh,
    mesh_shape,
    observation_data,
    parse_boundary,
)

__all__ = ["Elliptic2D"]


def check_positive_coefficient(m: np.ndarray, where: str, argument: str = "m") -> None:
    """Raise ``ValueError`` naming the first non-positive entry of a coefficient vector.

    Parameters
    ----------
    m : numpy.ndarray
        The coefficient ``a`` itself (``unknown="a"``).
    where : str
        Operator name for the message.
    argument : str
        Argument name for the message.
    """
    bad = np.flatnonzero(~(m > 0.0))
    if bad.size:
        raise ValueError(
            f"{where}: {argument} is the coefficient a itself (unknown='a') and must be > 0; "
            f"{bad.size} entr(ies) are not (first at index {bad[0]}: {m[bad[0]]!r})"
        )


class Elliptic2D(ForwardOperator):
    r"""Point values and fluxes of the solution of −∇·(a∇u) = f on a rectangle.

    Parameters
    ----------
    grid : Grid2D
        The coefficient grid; its extent is the domain
        :math:`Ω = [x_0, x_0 + n_x Δx] × [z_0, z_0 + n_z Δz]` (``z`` down). ``a`` is constant
        on each cell.
    points : array_like or None
        Observation points of ``u``, shape ``(n, 2)`` holding ``(x, z)``, inside Ω or on its
        boundary.
    mesh : tuple of int, optional
        ``(nx_mesh, nz_mesh)`` Q1 elements; integer multiples of ``(grid.nx, grid.nz)`` so
        that the coefficient grid nests in the mesh. Default: one element per cell.
    source : float, callable or array_like
        ``f``: a constant, a callable ``f(x, z)`` evaluated at the mesh nodes, or nodal
        values of shape ``(nz_mesh + 1, nx_mesh + 1)``.
    boundary : dict, optional
        ``{side: (kind, value)}`` with side in ``"left", "right", "top", "bottom"``, kind
        ``"dirichlet"`` (``u = value``) or ``"neumann"`` (``a ∂u/∂n = value``, outward
        normal; a positive value is an inflow for the flux ``q = -a∇u``); value a number or a
        callable ``g(x, z)``. Unlisted sides are ``("dirichlet", 0.0)``; at least one side
        must be Dirichlet. At a corner of two Dirichlet sides the first side in the order
        left, right, top, bottom sets the value.
    flux_points, flux_normals : array_like, optional
        Flux observations :math:`q·n = -(a_x n_x ∂_x u + a_z n_z ∂_z u)` at the points, with
        unit normals (normalised here), shape ``(n_flux, 2)``. The gradient is that of the
        Q1 solution in the element containing the point (on an element edge: the element to
        the right of and below it).
    unknown : {"log", "a"}
        The parameter: ``log a`` (default) or ``a`` itself.
    anisotropic : bool
        If True the coefficient is a diagonal tensor ``diag(a_x, a_z)`` per cell and the
        parameter vector is ``[a_x (all cells); a_z (all cells)]`` (logs by default), the
        form the homogenized coarse model produces.

    Attributes
    ----------
    shape : tuple of int
        ``(nz_mesh + 1, nx_mesh + 1)``, the shape of the nodal solution from :meth:`solve`.
    x_nodes, z_nodes : numpy.ndarray
        Node coordinates.

    Notes
    -----
    **Weak form.** Find :math:`u = g` on the Dirichlet sides with
    :math:`\int_Ω a∇u·∇v = \int_Ω f v + \int_{Γ_N} h v` for all :math:`v` vanishing there
    (:math:`h = a∂u/∂n`). With bilinear (Q1) elements of size :math:`h_x × h_z` on which
    :math:`a = \mathrm{diag}(a_x, a_z)` is constant, the element stiffness is
    :math:`K_e = a_{x,e}K_x + a_{z,e}K_z` with
    :math:`K_x = \frac{h_z}{h_x} M ⊗ S`, :math:`K_z = \frac{h_x}{h_z} S ⊗ M`,
    :math:`S = \begin{pmatrix}1&-1\\-1&1\end{pmatrix}`,
    :math:`M = \frac16\begin{pmatrix}2&1\\1&2\end{pmatrix}` (z factor first). Loads use the
    consistent mass matrix on nodal values of :math:`f` and :math:`h`. Dirichlet nodes are
    eliminated: :math:`A_{ff} u_f = b_f - A_{fd} g_d`. The L2 error is :math:`O(h^2)` for
    smooth solutions.

    **Data.** :math:`d = [B u;\ q·n]`, ``B`` bilinear interpolation from the four nodes of
    the element containing each point.

    **Derivatives** (exact discrete adjoint; :math:`u` includes the Dirichlet values):
    :math:`A_{ff}\,δu_f = -(δA\,u)_f` (jvp) and, with the adjoint
    :math:`A_{ff} λ_f = (∂d/∂u)^T δd`,
    :math:`∂(δd^T d)/∂a_{x,c} = -\sum_{e ∈ c} λ_e^T K_x u_e` plus the direct term of the flux
    data; times :math:`a` for ``unknown="log"``.

    **Solver.** ``A_ff`` is symmetric positive definite for :math:`a > 0`; it is assembled
    by a numba kernel (no Python loop over elements) and factorised once per call by a
    sparse Cholesky; ``jvp`` and ``vjp`` reuse the factor of their forward solve for the
    second (tangent or adjoint) solve. ``forward`` and ``vjp`` are separate kernels, so a
    log-density-and-gradient evaluation factorises twice.

    **Failures.** With ``unknown="a"`` a non-positive ``a`` is a ``ValueError`` from the
    Python methods; inside compiled models the kernels return NaN (data and gradient), as
    they do for an overflowing ``exp(m)`` or a failed factorisation, so a sampler rejects
    the proposal. ``vjp`` returns NaN for a NaN cotangent.

    Examples
    --------
    >>> from bayesinv import Grid2D
    >>> grid = Grid2D(nx=4, nz=4, dx=0.25, dz=0.25)
    >>> op = Elliptic2D(grid, [[0.5, 0.5]], mesh=(16, 16), source=1.0)
    >>> u = op.forward(np.zeros(grid.size))  # a = 1: u(centre) ≈ 0.0737
    >>> bool(abs(u[0] - 0.0737) < 1e-3)
    True
    """

    linear = False

    def __init__(
        self,
        grid: Grid2D,
        points,
        *,
        mesh=None,
        source=0.0,
        boundary=None,
        flux_points=None,
        flux_normals=None,
        unknown: str = "log",
        anisotropic: bool = False,
    ):
        where = type(self).__name__
        if not isinstance(grid, Grid2D):
            raise TypeError(f"{where}: grid must be a Grid2D, got {type(grid).__name__}")
        check_choice(unknown, where, "unknown", ("log", "a"))
        if not isinstance(anisotropic, bool):
            raise TypeError(f"{where}: anisotropic must be a bool, got {anisotropic!r}")
        if points is None and flux_points is None:
            raise ValueError(f"{where}: give points and/or flux_points (no observations)")
        shape = mesh_shape(grid, mesh, where)
        bc = parse_boundary(boundary, where)
        self._mesh, self._solver, nodes = build_mesh(grid, shape, bc, source, where)
        obs, self.points, self.flux_points, self.flux_normals = observation_data(
            grid, nodes, points, flux_points, flux_normals, self._mesh[1], where
        )
        self._obs = obs
        self.grid = grid
        self.unknown = unknown
        self.anisotropic = anisotropic
        self.boundary = bc
        self.x_nodes, self.z_nodes = nodes[0], nodes[1]
        self.shape = (self.z_nodes.size, self.x_nodes.size)
        self.n_params = grid.size * (2 if anisotropic else 1)
        self.n_data = self.points.shape[0] + self.flux_points.shape[0]

    propagates_nan = True

    def _check_point(self, m):
        if self.unknown == "a":
            check_positive_coefficient(m, self.name)

    def solve(self, m) -> np.ndarray:
        """Nodal solution ``u`` of shape :attr:`shape` (rows: ``z`` nodes, columns: ``x``).

        Parameters
        ----------
        m : array_like
            Parameter vector (see ``unknown`` and ``anisotropic``).

        Returns
        -------
        numpy.ndarray
            ``u`` at the mesh nodes; NaN everywhere if the factorisation failed.
        """
        m = self._point(m)
        ax, az, _, _, _ = _q1_numba.coefficients(m, self.unknown == "log", self.anisotropic)
        u, _, ok = _q1_numba.solve_state(ax, az, self._mesh, self._solver)
        return (u if ok else np.full_like(u, np.nan)).reshape(self.shape)

    # --- ForwardOperator ---------------------------------------------------------------------
    # the Python path calls the same (cached) numba functions as the kernels, without
    # compiling the closures
    def _args(self):
        return self._mesh, self._obs, self._solver, self.unknown == "log", self.anisotropic

    def _forward(self, m):
        return _q1_numba.forward_impl(m, *self._args(), self.n_data)

    def _jvp(self, m, dm):
        return _q1_numba.jvp_impl(m, dm, *self._args(), self.n_data)

    def _vjp(self, m, dd):
        return _q1_numba.vjp_impl(m, dd, *self._args(), self.grid.size)

    def _build_numba_kernels(self):
        kernels = _q1_numba.make_kernels(*self._args(), self.n_data, self.grid.size)
        self._n_state = self._mesh[7].shape[0] + int(self._solver[4])  # [u, L]
        return NumbaKernels(*kernels)
