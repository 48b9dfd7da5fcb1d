"""Elliptic 1-D operator: −(a u')' = f on an interval, linear (P1) finite elements."""

from __future__ import annotations

from numbers import Real

import numpy as np

from bayesinv._checks import check_array, check_choice, check_int
from bayesinv.grid import Grid1D
from bayesinv.operators.base import ForwardOperator, NumbaKernels
from bayesinv.operators.elliptic import _p1_numba
from bayesinv.operators.elliptic.operator import check_positive_coefficient

__all__ = ["Elliptic1D"]

_NAME = "Elliptic1D"


def _boundary(boundary) -> dict:
    out = {"top": ("dirichlet", 0.0), "bottom": ("dirichlet", 0.0)}
    if boundary is None:
        return out
    if not isinstance(boundary, dict):
        raise ValueError(
            f"{_NAME}: boundary must be a dict {{end: (kind, value)}}, got {boundary!r}"
        )
    for end, spec in boundary.items():
        check_choice(end, _NAME, "boundary key", ("top", "bottom"))
        ok = isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], Real)
        if not ok or not np.isfinite(spec[1]):
            raise ValueError(
                f"{_NAME}: boundary[{end!r}] must be a pair (kind, finite number), got {spec!r}"
            )
        check_choice(spec[0], _NAME, f"boundary[{end!r}][0]", ("dirichlet", "neumann"))
        out[end] = spec
    if out["top"][0] == out["bottom"][0] == "neumann":
        raise ValueError(
            f"{_NAME}: boundary has no Dirichlet end; make 'top' or 'bottom' dirichlet"
        )
    return out


def _locate(z, zn, name):
    z = check_array(z, _NAME, name, ndim=1)
    h = zn[1] - zn[0]
    tol = 1e-9 * (zn[-1] - zn[0])
    bad = np.flatnonzero((z < zn[0] - tol) | (z > zn[-1] + tol))
    if bad.size:
        raise ValueError(
            f"{_NAME}: {name} {bad[:10].tolist()} lie outside the domain z in "
            f"[{zn[0]}, {zn[-1]}] (first: {z[bad[0]]})"
        )
    k = np.clip(np.floor((z - zn[0]) / h).astype(np.int64), 0, zn.size - 2)
    return z, k, np.clip((z - zn[k]) / h, 0.0, 1.0)


class Elliptic1D(ForwardOperator):
    r"""Point values and fluxes of the solution of −(a u')' = f on an interval.

    Parameters
    ----------
    grid : Grid1D
        The coefficient layers; the domain is :math:`[z_0, z_0 + n_z Δz]` (``z`` down).
    points : array_like or None
        Depths at which ``u`` is observed (linear interpolation between nodes).
    mesh : int, optional
        Number of P1 elements, an integer multiple of ``grid.nz`` (default ``grid.nz``).
    source : float or array_like
        ``f``: a constant or nodal values (length ``mesh + 1``).
    boundary : dict, optional
        ``{"top"|"bottom": (kind, value)}``, kind ``"dirichlet"`` (``u = value``) or
        ``"neumann"`` (``a ∂u/∂n = value``, outward normal); default Dirichlet 0 at both ends.
    flux_points : array_like, optional
        Depths at which the downward flux :math:`q = -a\,du/dz` is observed (on a node: the
        element below it).
    unknown : {"log", "a", "a_signed"}
        The parameter: ``log a`` (default), ``a > 0``, or ``a`` of either sign
        (``"a_signed"``: a Gaussian prior on ``a`` itself puts mass on ``a < 0``; the discrete
        equations stay solvable when no pivot of the unpivoted ``LDL^T`` vanishes, and only
        ``a = 0`` exactly is refused).

    Notes
    -----
    Linear elements of size :math:`h` with :math:`a` constant on each give the tridiagonal
    system :math:`A_{ff} u_f = b_f - A_{fd} g_d`, element stiffness
    :math:`\frac{a_e}{h}\begin{pmatrix}1&-1\\-1&1\end{pmatrix}` and the consistent load
    :math:`\frac{h}{6}\begin{pmatrix}2&1\\1&2\end{pmatrix} f_e` (+ the Neumann values). For
    constant ``f`` the nodal values are exact. It is factorised as :math:`LDL^T` (symmetric
    Thomas algorithm, :math:`O(n)`), and the factor is reused for the tangent (jvp) or
    adjoint (vjp) solve: :math:`A_{ff}δu_f = -(δA\,u)_f`,
    :math:`∂(δd^T d)/∂a_e = -(λ_e - λ_{e+1})(u_e - u_{e+1})/h` plus the direct term of flux
    data, with :math:`A_{ff}λ_f = (∂d/∂u)^T δd`; times :math:`a` for ``unknown="log"``.

    Failures follow :class:`Elliptic2D`: non-positive ``a`` with ``unknown="a"`` (zero with
    ``"a_signed"``) is a ``ValueError`` in Python and NaN (a rejected proposal) in compiled
    models, as is a vanishing pivot. With ``"a_signed"`` the system is indefinite where
    ``a`` changes sign; the exact solution still exists, since the flux
    :math:`a u' = C - \int f` does not depend on the sign of ``a`` (the layered-solution test
    checks it).

    Examples
    --------
    >>> from bayesinv import Grid1D
    >>> op = Elliptic1D(Grid1D(nz=4, dz=0.25), [0.5], source=8.0)
    >>> op.forward(np.zeros(4))  # u = 4 z (1 - z)
    array([1.])
    """

    linear = False

    def __init__(
        self, grid: Grid1D, points, *, mesh=None, source=0.0, boundary=None, flux_points=None,
        unknown: str = "log",
    ):  # fmt: skip
        if not isinstance(grid, Grid1D):
            raise TypeError(f"{_NAME}: grid must be a Grid1D, got {type(grid).__name__}")
        check_choice(unknown, _NAME, "unknown", ("log", "a", "a_signed"))
        n = grid.nz if mesh is None else check_int(mesh, _NAME, "mesh", low=1)
        if n % grid.nz:
            raise ValueError(
                f"{_NAME}: the coefficient grid ({grid.nz} layers) does not nest in mesh {n}: "
                f"mesh must be an integer multiple of grid.nz"
            )
        if points is None and flux_points is None:
            raise ValueError(f"{_NAME}: give points and/or flux_points (no observations)")
        bc = _boundary(boundary)
        h = grid.nz * grid.dz / n
        zn = grid.z0 + h * np.arange(n + 1)
        el_cell = np.arange(n, dtype=np.int64) // (n // grid.nz)
        f = np.full(n + 1, float(source)) if isinstance(source, Real) else None
        if f is None:
            f = check_array(source, _NAME, "source", shape=(n + 1,))
        load = np.zeros(n + 1)
        load[:-1] += h / 6 * (2 * f[:-1] + f[1:])
        load[1:] += h / 6 * (f[:-1] + 2 * f[1:])
        u_bc = np.zeros(n + 1)
        lo, hi = 0, n + 1
        for end, node in (("top", 0), ("bottom", n)):
            kind, value = bc[end]
            if kind == "dirichlet":
                u_bc[node] = value
                lo, hi = (1, hi) if node == 0 else (lo, n)
            else:
                load[node] += value
        pts = np.zeros(0) if points is None else points
        self.points, obs_elem, obs_t = _locate(pts, zn, "points")
        fp = np.zeros(0) if flux_points is None else flux_points
        self.flux_points, fl_elem, _ = _locate(fp, zn, "flux_points")
        self._data = (el_cell, h, lo, hi, u_bc, load, obs_elem, obs_t, fl_elem)
        self.grid, self.unknown, self.boundary, self.z_nodes = grid, unknown, bc, zn
        self._kind = ("log", "a", "a_signed").index(unknown)
        self.n_params = grid.nz
        self.n_data = self.points.size + self.flux_points.size

    propagates_nan = True

    def _check_point(self, m):
        if self.unknown == "a":
            check_positive_coefficient(m, self.name)
        elif self.unknown == "a_signed" and np.any(m == 0.0):
            raise ValueError(
                f"{_NAME}: m is the coefficient a (unknown='a_signed') and must not be 0; "
                f"index {int(np.flatnonzero(m == 0.0)[0])} is"
            )

    def solve(self, m) -> np.ndarray:
        """Nodal solution ``u`` at :attr:`z_nodes` (NaN if the factorisation failed).

        Parameters
        ----------
        m : array_like
            Parameter vector (``log a`` or ``a``).

        Returns
        -------
        numpy.ndarray
            ``u``, length ``mesh + 1``.
        """
        m = self._point(m)
        a = np.exp(m) if self.unknown == "log" else m
        u, _, _, ok = _p1_numba.solve_state(a, self._data, self._kind == 2)
        return u if ok else np.full_like(u, np.nan)

    def _forward(self, m):
        return _p1_numba.forward_impl(m, self._data, self._kind, self.n_data)

    def _jvp(self, m, dm):
        return _p1_numba.jvp_impl(m, dm, self._data, self._kind, self.n_data)

    def _vjp(self, m, dd):
        return _p1_numba.vjp_impl(m, dd, self._data, self._kind)

    def _build_numba_kernels(self):
        return NumbaKernels(*_p1_numba.make_kernels(self._data, self._kind, self.n_data))
