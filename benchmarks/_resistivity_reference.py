"""REFERENCE ONLY: the pre-issue-14 cell-centred finite-volume ERT operator, for benchmarks.

This is the implementation that ``bayesinv.operators.resistivity.DCResistivity2p5D``
replaced (cell-centred finite volumes, a fixed 50/50 split of an electrode's current
between two top-row cells, SciPy SuperLU per wavenumber, Python assembly). It is kept here,
outside the package, only so that ``bench_resistivity.py`` can time old against new in the
same run. Do not use it for anything else. (long: a verbatim copy of the old modules.)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu
from scipy.special import k0e, k1e

from bayesinv._checks import check_choice, check_float, check_int
from bayesinv.grid import Grid2D
from bayesinv.operators._points import check_points
from bayesinv.operators.base import ForwardOperator, as_vector
from bayesinv.operators.resistivity._wavenumbers import wavenumber_quadrature

_NAME = "DCResistivity2p5D"


def check_electrodes(grid: Grid2D, electrodes) -> np.ndarray:
    elec = check_points(electrodes, "electrodes", _NAME)
    x, z = elec[:, 0], elec[:, 1]
    tol = 1e-9 * max(1.0, abs(grid.z0), grid.dz)
    off = np.abs(z - grid.z0) > tol
    if np.any(off):
        i = np.flatnonzero(off)
        raise ValueError(
            f"{_NAME}: electrodes must be on the surface z = {grid.z0} (the top of the grid); "
            f"electrode(s) {i[:10].tolist()} are not (first at (x, z) = {tuple(elec[i[0]])})"
        )
    xe = grid.x_edges
    outside = (x < xe[0]) | (x > xe[-1])
    if np.any(outside):
        i = np.flatnonzero(outside)
        raise ValueError(
            f"{_NAME}: electrode(s) {i[:10].tolist()} lie outside the grid "
            f"x in [{xe[0]}, {xe[-1]}] (first at x = {x[i[0]]})"
        )
    return elec


def check_abmn(abmn, n_electrodes: int) -> np.ndarray:
    arr = np.asarray(abmn)
    if arr.ndim != 2 or arr.shape[1] != 4 or arr.shape[0] == 0:
        raise ValueError(f"{_NAME}: abmn must have shape (n_data, 4), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
            raise ValueError(f"{_NAME}: abmn must hold integer electrode indices")
    arr = arr.astype(np.int64)
    a, b, m, n = arr.T
    rows = np.arange(arr.shape[0])

    def fail(mask, what):
        if np.any(mask):
            raise ValueError(
                f"{_NAME}: abmn row(s) {rows[mask][:10].tolist()} {what} "
                f"(first: {arr[mask][0].tolist()})"
            )

    fail(
        (a < 0) | (a >= n_electrodes) | (m < 0) | (m >= n_electrodes),
        f"have A or M outside 0..{n_electrodes - 1}",
    )
    fail(
        (b < -1) | (b >= n_electrodes) | (n < -1) | (n >= n_electrodes),
        f"have B or N outside -1..{n_electrodes - 1} (-1 = remote electrode)",
    )
    fail(a == b, "have coincident current electrodes A == B")
    fail((m == n), "have coincident potential electrodes M == N")
    fail(
        (m == a) | (m == b) | ((n >= 0) & ((n == a) | (n == b))),
        "use a current electrode as a potential electrode",
    )
    return arr


def geometric_factor(x: np.ndarray, abmn: np.ndarray):
    """Half-space geometric factors and the range of source-receiver distances."""
    a, b, m, n = abmn.T
    inv = np.zeros(abmn.shape[0])
    dists = []
    for cur, pot, sign in ((a, m, 1.0), (b, m, -1.0), (a, n, -1.0), (b, n, 1.0)):
        ok = (cur >= 0) & (pot >= 0)
        r = np.abs(x[cur[ok]] - x[pot[ok]])
        if np.any(r == 0.0):
            rows = np.flatnonzero(ok)[r == 0.0]
            raise ValueError(
                f"{_NAME}: abmn row(s) {rows[:10].tolist()} put a current and a potential "
                "electrode at the same position"
            )
        inv[ok] += sign / r
        dists.append(r)
    ab = (b >= 0) & (np.abs(x[a] - x[np.maximum(b, 0)]) == 0.0)
    if np.any(ab):
        raise ValueError(
            f"{_NAME}: abmn row(s) {np.flatnonzero(ab)[:10].tolist()} have coincident current "
            "electrodes (A and B at the same position)"
        )
    all_r = np.concatenate(dists)
    scale = np.zeros_like(inv)
    for cur, pot in ((a, m), (b, m), (a, n), (b, n)):
        ok = (cur >= 0) & (pot >= 0)
        scale[ok] += 1.0 / np.abs(x[cur[ok]] - x[pot[ok]])
    degenerate = np.abs(inv) <= 1e-10 * scale
    if np.any(degenerate):
        raise ValueError(
            f"{_NAME}: abmn row(s) {np.flatnonzero(degenerate)[:10].tolist()} measure zero "
            "potential difference on a half-space (infinite geometric factor)"
        )
    return 2.0 * np.pi / inv, (float(all_r.min()), float(all_r.max()))


def selection_matrix(local: np.ndarray, n_used: int, scale: np.ndarray) -> sp.csr_matrix:
    """``(n_data, n_used^2)`` matrix with ``d = S vec(V)``, ``V[e1, e2]`` receiver-major."""
    a, b, m, n = local.T
    rows, cols, vals = [], [], []
    j = np.arange(local.shape[0])
    for pot, cur, sign in ((m, a, 1.0), (m, b, -1.0), (n, a, -1.0), (n, b, 1.0)):
        ok = (pot >= 0) & (cur >= 0)
        rows.append(j[ok])
        cols.append(pot[ok] * n_used + cur[ok])
        vals.append(sign * scale[ok])
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(local.shape[0], n_used * n_used),
    )


@dataclass(frozen=True)
class PaddedMesh:
    """Tensor mesh: the core grid plus geometrically growing padding cells.

    Attributes
    ----------
    hx, hz : numpy.ndarray
        Cell widths along ``x`` and ``z`` (``nx_e`` and ``nz_e`` values).
    x_edges, z_edges : numpy.ndarray
        Cell edges (``z`` positive down, ``z_edges[0]`` is the surface).
    n_pad : int
        Padding cells on the left, right and bottom.
    core_index : numpy.ndarray
        For each mesh cell (C order, ``iz * nx_e + ix``) the index of the core cell whose
        conductivity it takes: itself inside the core, the nearest edge cell in the padding.
    """

    hx: np.ndarray
    hz: np.ndarray
    x_edges: np.ndarray
    z_edges: np.ndarray
    n_pad: int
    core_index: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """``(nz_e, nx_e)``."""
        return (self.hz.size, self.hx.size)

    @property
    def size(self) -> int:
        """Number of mesh cells."""
        return self.hz.size * self.hx.size

    @property
    def x_centers(self) -> np.ndarray:
        """Cell centres along ``x``."""
        return 0.5 * (self.x_edges[1:] + self.x_edges[:-1])

    @property
    def z_centers(self) -> np.ndarray:
        """Cell centres along ``z``."""
        return 0.5 * (self.z_edges[1:] + self.z_edges[:-1])


def padded_mesh(grid: Grid2D, n_pad: int, factor: float) -> PaddedMesh:
    """Extend ``grid`` by ``n_pad`` cells of widths ``h factor^i`` (i = 1..n_pad) on three sides."""
    grow = factor ** np.arange(1, n_pad + 1)
    hx = np.concatenate([grid.dx * grow[::-1], np.full(grid.nx, grid.dx), grid.dx * grow])
    hz = np.concatenate([np.full(grid.nz, grid.dz), grid.dz * grow])
    x_edges = grid.x0 - grid.dx * grow.sum() + np.concatenate([[0.0], np.cumsum(hx)])
    z_edges = grid.z0 + np.concatenate([[0.0], np.cumsum(hz)])
    ix = np.clip(np.arange(hx.size) - n_pad, 0, grid.nx - 1)
    iz = np.clip(np.arange(hz.size), 0, grid.nz - 1)
    core_index = (iz[:, None] * grid.nx + ix[None, :]).ravel()
    return PaddedMesh(hx, hz, x_edges, z_edges, n_pad, core_index)


@dataclass(frozen=True)
class FVSystem:
    """Face geometry and the fixed sparse pattern of the system matrix.

    Attributes
    ----------
    n : int
        Number of unknowns (mesh cells).
    face_a, face_b : numpy.ndarray
        The two cells of each interior face.
    face_len : numpy.ndarray
        Face lengths ``L_f``.
    face_ha, face_hb : numpy.ndarray
        Distances from the face to the centres of ``a`` and ``b``.
    volume : numpy.ndarray
        Cell areas ``V_c``.
    D : scipy.sparse.csr_matrix
        Face differences, ``(D u)_f = u_a - u_b``.
    indices, indptr : numpy.ndarray
        CSC pattern of ``A``.
    assembly : scipy.sparse.csr_matrix
        Maps ``[G (n_faces); diag (n)]`` to the CSC data of ``A``.
    """

    n: int
    face_a: np.ndarray
    face_b: np.ndarray
    face_len: np.ndarray
    face_ha: np.ndarray
    face_hb: np.ndarray
    volume: np.ndarray
    D: sp.csr_matrix
    indices: np.ndarray
    indptr: np.ndarray
    assembly: sp.csr_matrix

    def matrix(self, G: np.ndarray, diag: np.ndarray) -> sp.csc_matrix:
        """Assemble ``A = D^T diag(G) D + diag(diag)`` in CSC format."""
        data = self.assembly @ np.concatenate([G, diag])
        return sp.csc_matrix((data, self.indices, self.indptr), shape=(self.n, self.n))

    def conductance(self, sigma: np.ndarray):
        """Face conductances ``G`` and their derivatives with respect to ``log σ_a``, ``log σ_b``.

        Returns ``(G, dG/dlog σ_a, dG/dlog σ_b)``, one value per interior face.
        """
        ra = self.face_ha / sigma[self.face_a]
        rb = self.face_hb / sigma[self.face_b]
        G = self.face_len / (ra + rb)
        g2 = G * G / self.face_len
        return G, g2 * ra, g2 * rb


def fv_system(mesh: PaddedMesh) -> FVSystem:
    """Faces, cell areas and the assembly map of the mesh (built once per operator)."""
    nz, nx = mesh.shape
    n = nz * nx
    idx = np.arange(n).reshape(nz, nx)
    # vertical faces between (iz, ix) and (iz, ix + 1)
    xa, xb = idx[:, :-1].ravel(), idx[:, 1:].ravel()
    x_len = np.repeat(mesh.hz, nx - 1)
    x_ha = np.tile(0.5 * mesh.hx[:-1], nz)
    x_hb = np.tile(0.5 * mesh.hx[1:], nz)
    # horizontal faces between (iz, ix) and (iz + 1, ix)
    za, zb = idx[:-1, :].ravel(), idx[1:, :].ravel()
    z_len = np.tile(mesh.hx, nz - 1)
    z_ha = np.repeat(0.5 * mesh.hz[:-1], nx)
    z_hb = np.repeat(0.5 * mesh.hz[1:], nx)
    face_a = np.concatenate([xa, za])
    face_b = np.concatenate([xb, zb])
    nf = face_a.size
    faces = np.arange(nf)
    D = sp.csr_matrix(
        (np.r_[np.ones(nf), -np.ones(nf)], (np.r_[faces, faces], np.r_[face_a, face_b])),
        shape=(nf, n),
    )
    # COO entries of A: (a,a) +G, (b,b) +G, (a,b) -G, (b,a) -G, (c,c) +diag
    cells = np.arange(n)
    rows = np.concatenate([face_a, face_b, face_a, face_b, cells])
    cols = np.concatenate([face_a, face_b, face_b, face_a, cells])
    src = np.concatenate([faces, faces, faces, faces, nf + cells])
    sign = np.concatenate([np.ones(2 * nf), -np.ones(2 * nf), np.ones(n)])
    key = cols.astype(np.int64) * n + rows  # CSC order: by column, then row
    unique, position = np.unique(key, return_inverse=True)
    indices = (unique % n).astype(np.int32)
    indptr = np.searchsorted(unique // n, np.arange(n + 1)).astype(np.int32)
    assembly = sp.csr_matrix((sign, (position, src)), shape=(unique.size, nf + n))
    volume = np.outer(mesh.hz, mesh.hx).ravel()
    return FVSystem(
        n,
        face_a,
        face_b,
        np.concatenate([x_len, z_len]),
        np.concatenate([x_ha, z_ha]),
        np.concatenate([x_hb, z_hb]),
        volume,
        D,
        indices,
        indptr,
        assembly,
    )


def robin_coefficients(mesh: PaddedMesh, k: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Robin (Dey–Morrison) boundary coefficients ``β_c(k)``, shape ``(k.size, n)``.

    On the left, right and bottom boundary faces the transformed potential is assumed to
    decay like that of a point source at ``reference`` on the surface of a half-space,
    ``φ̃ ∝ K0(k r)``, which gives ``∂φ̃/∂n + ν φ̃ = 0`` with
    ``ν = k K1(k r) / K0(k r) cos θ``, ``r`` the distance from ``reference`` to the face
    centre and ``cos θ = r̂ · n̂``. Eliminating the face value with a one-sided difference
    over the half-cell ``h/2`` gives an outward flux ``σ_c β φ_c`` with
    ``β = Σ_faces L 2ν / (2 + h ν)`` (``h`` the cell width normal to the face).
    """
    nz, nx = mesh.shape
    xc, zc = mesh.x_centers, mesh.z_centers
    idx = np.arange(nz * nx).reshape(nz, nx)
    # (cell, face centre x, face centre z, normal x, normal z, length, width normal to face)
    parts = [
        (idx[:, 0], np.full(nz, mesh.x_edges[0]), zc, -1.0, 0.0, mesh.hz, np.full(nz, mesh.hx[0])),
        (
            idx[:, -1],
            np.full(nz, mesh.x_edges[-1]),
            zc,
            1.0,
            0.0,
            mesh.hz,
            np.full(nz, mesh.hx[-1]),
        ),
        (
            idx[-1, :],
            xc,
            np.full(nx, mesh.z_edges[-1]),
            0.0,
            1.0,
            mesh.hx,
            np.full(nx, mesh.hz[-1]),
        ),
    ]
    beta = np.zeros((k.size, nz * nx))
    for cell, fx, fz, nxn, nzn, length, h in parts:
        dx, dz = fx - reference[0], fz - reference[1]
        r = np.hypot(dx, dz)
        cos = (dx * nxn + dz * nzn) / r
        kr = np.outer(k, r)
        nu = k[:, None] * k1e(kr) / k0e(kr) * cos
        np.add.at(beta, (slice(None), cell), length * 2.0 * nu / (2.0 + h * nu))
    return beta


def surface_interpolation(mesh: PaddedMesh, x: np.ndarray) -> sp.csc_matrix:
    """Linear interpolation in ``x`` from the top-row cell centres, shape ``(n, x.size)``.

    Column ``e`` holds the weights of electrode ``e``: ``1 - t`` and ``t`` on the two top-row
    cells whose centres bracket ``x_e``. The same column is used as the (scaled) source term
    of a current electrode and to read the potential at a potential electrode, so sources and
    receivers are adjoint to each other.
    """
    xc = mesh.x_centers
    i = np.clip(np.searchsorted(xc, x) - 1, 0, xc.size - 2)
    t = np.clip((x - xc[i]) / (xc[i + 1] - xc[i]), 0.0, 1.0)
    cols = np.arange(x.size)
    return sp.csc_matrix(
        (np.r_[1.0 - t, t], (np.r_[i, i + 1], np.r_[cols, cols])), shape=(mesh.size, x.size)
    )


_DATA_KINDS = ("apparent_resistivity", "resistance")


class _State(NamedTuple):
    """Everything computed at one model: data and what the derivatives reuse."""

    data: np.ndarray
    fields: list | None  # U_k = A_k^{-1} Q for each wavenumber, or None if the solve failed
    sigma: np.ndarray | None
    dG_a: np.ndarray | None
    dG_b: np.ndarray | None


class ReferenceFVResistivity(ForwardOperator):
    r"""2.5-D DC resistivity of a conductivity section, surface electrodes, any four-pole array.

    Parameters
    ----------
    grid : Grid2D
        The section (the model cells); its top ``z0`` is the ground surface.
    electrodes : array_like
        Electrode positions, shape ``(n_electrodes, 2)`` holding ``(x, z)``; every electrode
        must be on the surface (``z = grid.z0``) with ``x`` inside the grid.
    abmn : array_like of int
        Shape ``(n_data, 4)``: indices into ``electrodes`` of the current electrodes ``A``,
        ``B`` and potential electrodes ``M``, ``N`` of each measurement; ``-1`` for a remote
        ``B`` or ``N`` (pole configurations). See :mod:`bayesinv.operators.resistivity.arrays`.
    data : {"apparent_resistivity", "resistance"}
        Output: transfer resistance ``ΔV / I`` in Ω, or apparent resistivity ``K ΔV / I``
        in Ω·m with the half-space geometric factor ``K``.
    n_wavenumbers : int
        Number of wavenumbers ``k`` in the inverse cosine transform (cost grows linearly).
    padding : int
        Number of padding cells added on the left, right and bottom of the grid.
    padding_factor : float
        Growth factor of the padding cell sizes (``>= 1``).
    halfspace_correction : bool
        Multiply each datum by the ratio of the exact to the numerical transfer resistance
        of a homogeneous half-space (a numerical geometric factor, see Notes). Recommended:
        it removes most of the discretisation error near the electrodes.
    cache_size : int
        Number of models whose solutions are kept (forward, ``jvp`` and ``vjp`` at the same
        ``m`` solve once); one per concurrent sampler thread is enough. Each entry holds
        ``n_wavenumbers x n_cells x n_electrodes_used`` floats (the fields), e.g. 31 MB for
        128x64 cells with padding, 11 wavenumbers and 32 electrodes.

    Attributes
    ----------
    wavenumbers, weights : numpy.ndarray
        The quadrature rule ``k_i``, ``w_i``.
    quadrature_error : float
        Largest relative error of the rule on the half-space response over the survey's
        range of electrode separations.
    geometric_factor : numpy.ndarray
        ``K`` of each measurement (m).
    correction : numpy.ndarray
        Per-datum half-space correction factor (ones when ``halfspace_correction=False``).

    Notes
    -----
    **Physics.** With conductivity :math:`σ = e^m` (S/m) and a current :math:`I` injected at
    :math:`\mathbf{x}_s`, the potential solves
    :math:`-∇·(σ∇φ) = I δ(\mathbf{x} - \mathbf{x}_s)` in the half-space with no flux through
    the surface. With σ independent of the strike coordinate :math:`y`, the cosine transform
    :math:`\tilde φ(x, z, k) = \int_0^∞ φ \cos(k y)\, dy` solves, for each :math:`k`,

    .. math::

        -∇·(σ∇\tilde φ) + k^2 σ \tilde φ = \tfrac{I}{2} δ(x - x_s) δ(z - z_s),

    and :math:`φ(x, 0, z) = \frac{2}{π}\int_0^∞ \tilde φ\, dk ≈ \frac{2}{π}\sum_i w_i
    \tilde φ(k_i)`. The wavenumbers are log-spaced over :math:`[0.1/r_{max}, 4/r_{min}]`
    (the survey's smallest and largest source-receiver distances) and the weights are fitted
    by non-negative least squares so that the rule integrates the half-space response
    :math:`K_0(kr)` exactly up to :attr:`quadrature_error` on that range (the approach of
    Xu et al. 2000, with fixed nodes so the fit is linear).

    **Discretisation.** Cell-centred finite volumes on the grid extended by ``padding``
    cells whose widths grow as :math:`h\,f^i` (:math:`i = 1..n_{pad}`, :math:`f` =
    ``padding_factor``, :math:`h` = ``dx`` sideways and ``dz`` downward); a padding cell takes
    the conductivity of the nearest edge cell of the grid (the corner padding takes the
    corner cell). Face conductances are harmonic averages
    :math:`G_f = L_f/(h_a/σ_a + h_b/σ_b)`. For each :math:`k` the system
    :math:`A_k(σ) u = q` is symmetric positive definite:

    .. math::

        A_k = \sum_f G_f (e_a - e_b)(e_a - e_b)^T
              + \mathrm{diag}(k^2 σ_c V_c + σ_c β_c(k)).

    The surface is a no-flux (Neumann) boundary. Left, right and bottom carry the mixed
    (Robin, Dey–Morrison) condition :math:`∂\tilde φ/∂n + ν\tilde φ = 0`,
    :math:`ν = k\,K_1(kr)/K_0(kr)\cos θ`, with :math:`r` and :math:`θ` measured from one
    reference point, the centre of the electrode spread on the surface (one matrix serves
    every source; the padding makes the difference with a per-source condition negligible).

    **Electrodes.** Electrode :math:`e` is represented by the vector :math:`Q_e` of linear
    interpolation weights along :math:`x` between the two top-row cells whose centres
    bracket it. A current electrode injects :math:`\frac{I}{2} Q_e` and the potential at
    a potential electrode is :math:`Q_e^T \tilde φ`. With :math:`I = 1` A and
    :math:`U_k = A_k^{-1} Q` (one solve per used electrode and wavenumber), the potential
    at electrode :math:`e_1` due to a unit current at :math:`e_2` is
    :math:`V_{e_1 e_2} = \frac{1}{π} \sum_k w_k (Q^T U_k)_{e_1 e_2}` and a measurement is
    :math:`R = V_{MA} - V_{MB} - V_{NA} + V_{NB}` (terms with a remote electrode dropped),
    times :math:`K = 2π / (1/AM - 1/BM - 1/AN + 1/BN)` for apparent resistivity.

    **Half-space correction.** The point source on a grid of finite cells makes the
    numerical potential wrong by several per cent within a few cells of an electrode (and
    the quadrature and the truncated domain add small errors). With
    ``halfspace_correction=True`` (default) each datum is multiplied by
    :math:`c_j = R_j^{exact}/R_j^{num}` computed once at construction for the unit
    half-space (:math:`σ = 1`, :math:`R^{exact} = 1/K`), so the operator is exact for any
    homogeneous half-space and the error left for a heterogeneous model is that of the
    *difference* from a half-space (as with the numerical geometric factors of pyGIMLi or
    Res2DInv). The factor is a constant, so derivatives are scaled by it. Tests check a
    two-layer earth against its closed-form solution and the uncorrected scheme's
    convergence under refinement.

    **Derivatives.** :math:`∂V/∂m_c = -\frac{1}{π}\sum_k w_k U_k^T (∂A_k/∂m_c) U_k`
    (adjoint state; the matrix is symmetric and sources and receivers are the same
    electrode vectors, so the adjoint fields are columns of :math:`U_k` and the gradient
    needs no solve beyond the forward ones). With
    :math:`∂G_f/∂\log σ_a = G_f^2 h_a/(L_f σ_a)`, ``jvp`` forms
    :math:`(DU_k)^T \mathrm{diag}(δG)(DU_k) + U_k^T \mathrm{diag}(δ(\ldots))U_k` and
    ``vjp`` contracts the same terms with the data-space weights. Padding cells pass their
    sensitivity to the edge cell they copy.

    **Solver.** One sparse LU factorisation (``scipy.sparse.linalg.splu``, symmetric mode)
    per wavenumber and model; the fields :math:`U_k` are cached per model (keyed by the
    bytes of ``m``, guarded by a lock), so ``forward``, ``jvp`` and ``vjp`` at the same
    ``m`` factorise once.

    **Cost.** ``n_wavenumbers`` factorisations of an ``n x n`` matrix (``n`` cells with
    padding) and as many solves with one right-hand side per used electrode; the gradient
    adds only dense products (``vjp`` about 0.1x of a forward). Multithreaded BLAS slows
    the skinny products down when several sampler chains run in threads: limit BLAS to one
    thread there (``threadpoolctl`` or ``OPENBLAS_NUM_THREADS=1``).

    **Failures.** If :math:`e^m` overflows or underflows, the factorisation fails or the
    result is not finite, ``forward``, ``jvp`` and ``vjp`` return NaN arrays instead of
    raising, so a sampler rejects the proposal (NaN log-density) rather than crashing.
    Non-finite ``m`` is still a ``ValueError`` at the Python boundary.

    Examples
    --------
    >>> from bayesinv import Grid2D
    >>> from bayesinv.operators.resistivity.arrays import surface_electrodes, wenner
    >>> grid = Grid2D(nx=24, nz=10, dx=1.0, dz=1.0)
    >>> op = DCResistivity2p5D(grid, surface_electrodes(np.arange(2.0, 23.0, 2.0)), wenner(11))
    >>> rho_a = op.forward(np.full(grid.size, np.log(0.01)))  # 100 ohm-m half-space
    >>> bool(np.all(np.abs(rho_a / 100.0 - 1.0) < 0.05))
    True
    """

    linear = False
    object_mode_reason = (
        "DCResistivity2p5D solves sparse systems with SciPy's SuperLU; the factorisations "
        "and triangular solves dominate the cost, so the Python perform method is used"
    )

    def __init__(
        self,
        grid: Grid2D,
        electrodes,
        abmn,
        data: str = "apparent_resistivity",
        n_wavenumbers: int = 11,
        padding: int = 10,
        padding_factor: float = 1.3,
        halfspace_correction: bool = True,
        cache_size: int = 4,
    ):
        if not isinstance(grid, Grid2D):
            raise TypeError(f"{_NAME}: grid must be a Grid2D, got {type(grid).__name__}")
        check_choice(data, _NAME, "data", _DATA_KINDS)
        n_wavenumbers = check_int(n_wavenumbers, _NAME, "n_wavenumbers", low=1)
        padding = check_int(padding, _NAME, "padding", low=0)
        cache_size = check_int(cache_size, _NAME, "cache_size", low=1)
        padding_factor = check_float(padding_factor, _NAME, "padding_factor", low=1.0)
        if grid.nx + 2 * padding < 2:
            raise ValueError(f"{_NAME}: need at least 2 cells along x (grid.nx + 2 padding)")
        elec = check_electrodes(grid, electrodes)
        abmn = check_abmn(abmn, elec.shape[0])
        x = elec[:, 0]
        k_factor, (r_min, r_max) = geometric_factor(x, abmn)

        self.grid = grid
        self.electrodes = elec
        self.abmn = abmn
        self.data = data
        self.n_params = grid.size
        self.n_data = abmn.shape[0]
        self.geometric_factor = k_factor
        self.mesh = padded_mesh(grid, padding, padding_factor)
        self._fv = fv_system(self.mesh)
        self._D = self._fv.D

        # electrodes that take part in a measurement, and local indices into them
        used = np.unique(abmn[abmn >= 0])
        local = np.full(elec.shape[0] + 1, -1)  # last slot keeps -1 for remote electrodes
        local[used] = np.arange(used.size)
        self._n_used = used.size
        q = surface_interpolation(self.mesh, x[used])
        self._Q = q
        self._rhs = q.toarray()

        k, w, err = wavenumber_quadrature(r_min, r_max, n_wavenumbers)
        self.wavenumbers, self.weights, self.quadrature_error = k, w, err
        self._coef = w / np.pi
        reference = np.array([0.5 * (x[used].min() + x[used].max()), grid.z0])
        beta = robin_coefficients(self.mesh, k, reference)
        # diag(A_k) = sigma * (k^2 V + beta_k)
        self._diag_coef = k[:, None] ** 2 * self._fv.volume[None, :] + beta

        self._cache: OrderedDict[bytes, _State] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

        # data = S vec(V): each row picks +-V[M, A] etc., times the per-datum scale
        self._S = selection_matrix(local[abmn], self._n_used, np.ones(self.n_data))
        self.correction = np.ones(self.n_data)
        if halfspace_correction:
            # exact / numerical transfer resistance of the unit-conductivity half-space
            numeric = self._solve(np.zeros(self.n_params)).data
            exact = 1.0 / k_factor
            bad = ~(np.isfinite(numeric) & (numeric * exact > 0.0))
            if np.any(bad):
                raise ValueError(
                    f"{_NAME}: the half-space correction failed for abmn row(s) "
                    f"{np.flatnonzero(bad)[:10].tolist()}; refine the grid near the electrodes"
                )
            self.correction = exact / numeric
            self._cache.clear()  # that entry holds uncorrected data
        scale = self.correction * (k_factor if data == "apparent_resistivity" else 1.0)
        self._S = selection_matrix(local[abmn], self._n_used, scale)
        self._ST = self._S.T.tocsr()

    # --- solves and cache ----------------------------------------------------------------
    def _state(self, m: np.ndarray) -> _State:
        key = m.tobytes()
        with self._lock:
            state = self._cache.get(key)
            if state is not None:
                self._cache.move_to_end(key)
                return state
        state = self._solve(m)  # outside the lock: threads at different m run concurrently
        with self._lock:
            self._cache[key] = state
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return state

    def _failed(self) -> _State:
        return _State(np.full(self.n_data, np.nan), None, None, None, None)

    def _solve(self, m: np.ndarray) -> _State:
        fv = self._fv
        with np.errstate(all="ignore"):
            sigma = np.exp(m)[self.mesh.core_index]
            if not np.all(np.isfinite(sigma) & (sigma > 0.0)):
                return self._failed()
            G, dG_a, dG_b = fv.conductance(sigma)
            fields = []
            V = np.zeros((self._n_used, self._n_used))
            for coef, diag_coef in zip(self._coef, self._diag_coef, strict=True):
                A = fv.matrix(G, sigma * diag_coef)
                try:
                    lu = splu(
                        A,
                        permc_spec="MMD_AT_PLUS_A",
                        diag_pivot_thresh=0.0,
                        options={"SymmetricMode": True},
                    )
                except RuntimeError:  # exactly singular
                    return self._failed()
                U = lu.solve(self._rhs)
                fields.append(U)
                V += coef * (self._Q.T @ U)
            d = self._S @ V.ravel()
            if not (np.all(np.isfinite(d)) and np.all(np.isfinite(dG_a + dG_b))):
                return self._failed()
        return _State(d, fields, sigma, dG_a, dG_b)

    # --- ForwardOperator -----------------------------------------------------------------
    def vjp(self, m, dd) -> np.ndarray:
        """Apply the transposed Jacobian at ``m`` to a data-space vector ``dd``.

        Parameters
        ----------
        m : array_like
            Linearisation point (log-conductivity), length :attr:`n_params`.
        dd : array_like
            Data-space vector, length :attr:`n_data`.

        Returns
        -------
        numpy.ndarray
            ``J(m)^T dd``. NaN when the solve at ``m`` failed, and also when ``dd`` holds
            NaN or infinite values: that is the cotangent a likelihood passes back for the
            NaN data of a failed solve, so it propagates instead of raising.
        """
        arr = np.asarray(dd, dtype=np.float64)
        if arr.shape == (self.n_data,) and not np.all(np.isfinite(arr)):
            as_vector(m, self.n_params, self.name, "m")
            return np.full(self.n_params, np.nan)
        return super().vjp(m, dd)

    def _forward(self, m):
        return self._state(m).data.copy()

    def _jvp(self, m, dm):
        st = self._state(m)
        if st.fields is None:
            return np.full(self.n_data, np.nan)
        fv = self._fv
        ds = dm[self.mesh.core_index]
        dG = st.dG_a * ds[fv.face_a] + st.dG_b * ds[fv.face_b]
        dsig = st.sigma * ds
        dV = np.zeros((self._n_used, self._n_used))
        for coef, diag_coef, U in zip(self._coef, self._diag_coef, st.fields, strict=True):
            # dA_k has the pattern of A_k: faces weighted by dG, diagonal by d(sigma) coef
            dA = fv.matrix(dG, dsig * diag_coef)
            dV -= coef * (U.T @ (dA @ U))
        return self._S @ dV.ravel()

    def _vjp(self, m, dd):
        st = self._state(m)
        if st.fields is None:
            return np.full(self.n_params, np.nan)
        fv = self._fv
        W = (self._ST @ dd).reshape(self._n_used, self._n_used)
        W = 0.5 * (W + W.T)  # only the symmetric part enters the quadratic forms
        g_face = np.zeros(fv.face_a.size)
        g_cell = np.zeros(fv.n)
        for coef, diag_coef, U in zip(self._coef, self._diag_coef, st.fields, strict=True):
            adjoint = U @ W  # adjoint fields: the adjoint sources are electrode vectors too
            g_face += coef * np.einsum("fi,fi->f", self._D @ U, self._D @ adjoint)
            g_cell += coef * diag_coef * np.einsum("ci,ci->c", U, adjoint)
        g = st.sigma * g_cell
        g += np.bincount(fv.face_a, st.dG_a * g_face, minlength=fv.n)
        g += np.bincount(fv.face_b, st.dG_b * g_face, minlength=fv.n)
        return -np.bincount(self.mesh.core_index, g, minlength=self.n_params)
