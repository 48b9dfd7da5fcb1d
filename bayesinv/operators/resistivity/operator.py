"""2.5-D DC resistivity: bilinear finite elements with adjoint-state derivatives.

long: the class docstring carries the full derivation of the method (discretisation, source,
derivatives, topography, remote electrodes) that users and reviewers need in one place.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from bayesinv._checks import check_choice, check_float, check_int
from bayesinv.grid import Grid2D
from bayesinv.operators.base import ForwardOperator, NumbaKernels, as_vector
from bayesinv.operators.resistivity import _fe_numba as fk
from bayesinv.operators.resistivity._fe import element_matrices, fe_mesh
from bayesinv.operators.resistivity._geometry import Surface, with_remotes
from bayesinv.operators.resistivity._solve import FieldSolver
from bayesinv.operators.resistivity._survey import (
    check_abmn,
    check_electrodes,
    geometric_factor,
    selection,
)
from bayesinv.operators.resistivity._wavenumbers import optimised_wavenumbers

__all__ = ["DCResistivity2p5D"]

_NAME = "DCResistivity2p5D"
_DATA_KINDS = ("apparent_resistivity", "resistance")


class _State(NamedTuple):
    """Everything computed at one model: data and what the derivatives reuse."""

    data: np.ndarray
    fields: np.ndarray | None  # (n_k, n_nodes, n_used) U_k = A_k^{-1} Q, None if failed
    sigma: np.ndarray | None  # element conductivities


class DCResistivity2p5D(ForwardOperator):
    r"""2.5-D DC resistivity of a section: surface and buried electrodes, any four-pole array.

    Parameters
    ----------
    grid : Grid2D
        The section (the model cells); its top ``z0`` is the ground surface.
    electrodes : array_like
        Electrode positions, shape ``(n_electrodes, 2)`` holding ``(x, z)`` (``z`` positive
        down): on the surface ``z = grid.z0`` or buried (boreholes), inside the grid, each
        position once. Electrodes need not be on cell edges: the mesh gets node lines through
        them.
    abmn : array_like of int
        Shape ``(n_data, 4)``: indices into ``electrodes`` of the current electrodes ``A``,
        ``B`` and potential electrodes ``M``, ``N`` of each measurement; ``-1`` for a remote
        ``B`` or ``N`` (pole configurations). See :mod:`bayesinv.operators.resistivity.arrays`.
    data : {"apparent_resistivity", "resistance"}
        Output: transfer resistance ``ΔV / I`` in Ω, or apparent resistivity ``K ΔV / I``
        in Ω·m with the half-space geometric factor ``K``.
    n_wavenumbers : int or None
        Number of wavenumbers ``k`` in the inverse cosine transform (cost grows linearly).
        Default ``None``: the fewest (at least 4, at most 15) whose optimised rule integrates
        the half-space response over the survey's distances to ``quadrature_tol``
        (:attr:`quadrature_error`); measured: 5 for distance ratios up to about 100, 6 up
        to 300.
    quadrature_tol : float
        Largest relative quadrature error accepted when ``n_wavenumbers`` is ``None``
        (default 1e-3, well below the discretisation error of about 2%).
    padding : int
        Number of padding cells added on the left, right and bottom of the grid.
    padding_factor : float
        Growth factor of the padding cell sizes (``>= 1``). The default 5 cells growing by 2
        reach 62 cells beyond the grid; the Robin condition absorbs the far field, and the
        accuracy tests give the same errors as with 10 cells growing by 1.3 (43 cells).
    halfspace_correction : bool
        Multiply each datum by the ratio of the exact to the numerical transfer resistance
        of a homogeneous half-space (a numerical geometric factor, see Notes).
    cache_size : int
        Number of models whose solutions are kept (forward, ``jvp`` and ``vjp`` at the same
        ``m`` solve once) in the Python API; one per concurrent thread is enough. Each entry
        holds ``n_wavenumbers x n_nodes x n_electrodes_used`` floats (the fields), about
        78 MB for 128x64 cells (18,375 nodes), 11 wavenumbers and 48 electrodes. The numba
        kernels of compiled models keep no cache.
    refinement : int
        Elements per model-cell side (default 1): each cell of the grid is split into
        ``refinement x refinement`` elements of the same conductivity, so accuracy improves at
        the same number of parameters (cost grows about as ``refinement**3``).
    remote_b, remote_n : array_like, optional
        Stated ``(x, z)`` position of the remote current electrode ``B`` and of the remote
        potential electrode ``N`` of pole arrays: ``-1`` in the ``B`` (``N``) column of
        ``abmn`` then means this electrode (otherwise an electrode at infinity, its terms
        dropped). It must be in the ground and at least one cell outside the grid (an
        electrode inside the model belongs in ``electrodes``); it may be far outside. See
        Notes.
    topography : array_like, optional
        Ground surface as ``(n, 2)`` points ``(x, z)`` (``z`` positive down, strictly
        increasing ``x``, inside the grid's depth range), linear between points and flat
        beyond the ends; it must cover every electrode's ``x``. Surface electrodes are given
        at ``z = s(x)``, buried ones below it. Cells above the surface are air and not
        parameters (see :attr:`active`). Default: the flat surface ``z = grid.z0``.

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
    active : numpy.ndarray
        Boolean mask over ``grid`` cells: the cells that are model parameters (ground). ``m``
        holds their values in C order (``n_params = active.sum()``; all cells without
        topography); :meth:`to_grid` scatters ``m`` into a full grid.
    surface : Surface or None
        The topography (``height(x)``), ``None`` for a flat surface.
    mesh : FEMesh
        The finite-element mesh: node lines ``x_nodes``, ``z_nodes`` (padding and electrode
        lines included), element-to-cell map ``cell`` and ``electrode_nodes``.

    Notes
    -----
    **Physics.** With conductivity :math:`σ = e^m` (S/m) and a current :math:`I` injected at
    :math:`\mathbf{x}_s`, the potential solves :math:`-∇·(σ∇φ) = I δ(\mathbf{x} - \mathbf{x}_s)`
    in the half-space with no flux through the surface. With σ independent of the strike
    coordinate :math:`y`, the cosine transform :math:`\tilde φ(x, z, k) = \int_0^∞ φ \cos(k y)\,dy`
    solves, for each :math:`k`,

    .. math::

        -∇·(σ∇\tilde φ) + k^2 σ \tilde φ = \tfrac{I}{2} δ(x - x_s) δ(z - z_s),

    and :math:`φ(x, 0, z) = \frac{2}{π}\int_0^∞ \tilde φ\, dk ≈ \frac{2}{π}\sum_i w_i
    \tilde φ(k_i)`. The rule integrates :math:`K_0(kr)` up to :attr:`quadrature_error` over the
    survey's smallest to largest source-receiver distance (image distances included): the
    wavenumbers are optimised as in Xu et al. (2000) (variable projection from log-spaced
    nodes over :math:`[0.1/r_{max}, 4/r_{min}]`, weights by least squares, non-negative),
    falling back to the log-spaced nodes with non-negative least-squares weights if that is
    not more accurate (see ``_wavenumbers``).

    **Discretisation: node-based bilinear finite elements.** The unknowns are the potentials at
    the vertices of a tensor mesh: the grid's cell edges, ``padding`` cells of widths
    :math:`h f^i` (:math:`i = 1..n_{pad}`, :math:`f` = ``padding_factor``) on the left, right and
    bottom, and one extra node line through every electrode that is not already on one (an
    electrode at a cell centre splits that column of cells in two; a buried electrode adds a
    horizontal line). Every electrode is therefore a mesh node. Each element takes the
    conductivity of the model cell containing it (a padding element that of the nearest edge
    cell). The Galerkin system of the weak form

    .. math::

        \int σ(∇\tilde φ·∇ψ + k^2 \tilde φ ψ) + \oint_Γ σ ν \tilde φ ψ
        = \tfrac{1}{2}ψ(\mathbf{x}_s)

    is symmetric positive definite and *linear in the element conductivities*:

    .. math::

        A_k(σ) = \sum_e σ_e B_e(k), \qquad
        B_e = M_b ⊗ S_a + S_b ⊗ M_a + k^2 M_b ⊗ M_a + R_e(k),

    with :math:`S_h = \frac{1}{h}[[1, -1], [-1, 1]]`, :math:`M_h = \frac{h}{6}[[2, 1], [1, 2]]`
    for element sides :math:`a = h_x`, :math:`b = h_z`, and :math:`R_e` the Robin
    (Dey–Morrison) term :math:`ν \int_{Γ_e} \tilde φ ψ\,ds` on the left, right and bottom
    boundary, :math:`ν = k K_1(kr)/K_0(kr) \cos θ` (distance and angle from the centre of the
    electrode spread on the surface; one matrix serves every source). The surface is a natural
    no-flux boundary. A point source at a node is the exact Galerkin load of a Dirac (the
    nodal basis function equals 1 there), so current enters through all the elements around
    the electrode in proportion to their conductivities: a conductivity contrast at or next to
    an electrode is treated as consistently as anywhere else in the mesh (this is what the
    earlier cell-centred scheme, with a fixed 50/50 split of the current between two cells,
    did not do).

    **Data.** With :math:`U_k = A_k^{-1} Q` (:math:`Q` the indicator columns of the used
    electrodes' nodes; one multi-right-hand-side solve per wavenumber) the potential at electrode
    :math:`a` of a unit current at :math:`b` is
    :math:`V_{ab} = \frac{1}{π}\sum_k w_k (U_k)_{n_a b}` and a measurement is
    :math:`R = V_{MA} - V_{MB} - V_{NA} + V_{NB}` (terms with a remote electrode dropped), times
    :math:`K = 4π / \sum ±(1/r + 1/r')` for apparent resistivity (:math:`r'` the distance from
    the current electrode's image above the surface; :math:`K = 2π/\sum ±1/r` on the surface).

    **Half-space correction.** With ``halfspace_correction=True`` (default) each datum is
    multiplied by :math:`c_j = R_j^{exact}/R_j^{num}` computed once for the unit half-space, so
    the operator is exact for any homogeneous half-space (a numerical geometric factor, as in
    pyGIMLi or Res2DInv). It is a constant, so derivatives are scaled by it. Tests check the
    uncorrected scheme as well.

    **Derivatives (exact adjoint of the discrete map).** Since :math:`∂A_k/∂\log σ_e = σ_e B_e`
    and :math:`A_k` is symmetric,

    .. math::

        \frac{∂V_{ab}}{∂ m_c} = -\frac{1}{π}\sum_k w_k \sum_{e ∈ c} σ_e\,
        U_k[e, a]^T B_e(k)\, U_k[e, b],

    with :math:`U_k[e, a]` the four nodal values of field :math:`a` on element :math:`e` and
    :math:`e ∈ c` the elements of cell :math:`c` (padding elements count for their edge cell).
    Sources and receivers are the same node vectors, so the adjoint fields are
    :math:`U_k W` (:math:`W` the symmetrised data-space weights): the gradient needs no solve
    beyond the forward ones. ``jvp`` forms :math:`-\sum_k c_k U_k^T δA_k U_k`.

    **Solver.** Per wavenumber and model: assembly of the element entries, one sparse
    Cholesky factorisation (the shared
    :class:`~bayesinv.operators._supernodal_numba.SparseCholesky`: the envelope factor after
    reverse Cuthill–McKee, or the supernodal factor after nested dissection of the node
    grid, whichever needs fewer multiply-adds — the envelope on the smallest meshes, nested
    dissection from about 32x16 cells up) and one multi-right-hand-side solve for all used
    electrodes; the
    adjoint fields :math:`U_k W` need no further solve. In the Python API the fields are
    cached per model (keyed by the bytes of ``m``, guarded by a lock), so ``forward`` then
    ``vjp`` at the same ``m`` factorise once. The numba kernels used by compiled models
    (``numba_kernels()``: ``forward``, ``jvp``, ``vjp``, each one fused loop over
    wavenumbers of assembly, factorisation, solves and contractions) also hand the fields
    :math:`U_k` from the forward to the gradient (``forward_state``/``vjp_state``; up to
    32 MB of fields, see ``_solve.STATE_LIMIT``), so a compiled log-density-and-gradient
    factorises once per wavenumber and the gradient is contractions only. They allocate
    everything per call and only read the operator's arrays: thread-safe, ``nogil``.

    **Cost.** ``n_wavenumbers`` factorisations of an ``n x n`` matrix (``n`` nodes, about
    ``(nx + 2 padding + extra electrode lines) x (nz + padding)``): with the envelope about
    ``b = min`` of the two node counts wide, ``~n b²/2`` multiply-adds and ``~n b`` values;
    with nested dissection ``O(n^{3/2})`` multiply-adds and ``O(n log n)`` values (at 128x64
    cells 15 instead of 53 million multiply-adds, 0.51 instead of 1.29 million values); and
    ``n_wavenumbers x n_electrodes_used`` triangular solve pairs (``~2 nnz(L)`` each; the
    forward sweep skips the supernodes off the sources' elimination-tree paths); the
    gradient from kept fields adds ``~16 n_elements n_electrodes_used`` per wavenumber.
    Measured (``benchmarks/bench_resistivity.py``, CPU time, one thread; 32x16 cells,
    16 electrodes, dipole-dipole + Wenner): the defaults before the speed work (11
    log-spaced wavenumbers, 10 padding cells x 1.3: 2,295 nodes) took 22.9 ms for a
    compiled forward + gradient, the present ones (4 optimised wavenumbers, 5 padding cells
    x 2: 1,650 nodes) 4.9 ms (1.15x the factorisations and solves; the old cell-centred
    operator 34.6 ms), with the same accuracy-test results. Most of the remaining nodes are
    the half-cell lines around electrodes on cell edges, which the accuracy at the
    electrodes needs (without them the uncorrected two-layer error reaches 6%). At 64x32
    and 128x64 cells (32 and 48 electrodes; nested dissection) a compiled forward +
    gradient took 22 and 130 ms, 1.24x and 1.31x the factorisations and solves (which the
    envelope factor took 2.0x and 4.3x longer), against 87 and 612 ms for the old operator.
    See docs/ert.md.

    **Remote electrodes.** A remote electrode at a stated position is *placed in the mesh at
    that position*, not added analytically: the padding is extended (continuing its geometric
    growth, so the extra cost is logarithmic in the distance) until the boundary lies beyond
    the remote by at least the electrode span, node lines are graded around it (steps
    ``dx·2^j`` up to the local padding width), and its terms ``V_{MB}``, ``V_{NA}``,
    ``V_{NB}`` are computed by the same finite elements as any other. Why: an analytic term
    needs a resistivity for the ground between the line and the remote, which the model does
    not define, and would have no derivative; in the mesh the remote's contribution follows
    the model (the padding takes the edge cells' conductivities) and the adjoint stays exact.
    The geometric factor includes the remote terms.

    **Topography.** The mesh follows the surface: node ``(ζ, x)`` of the flat reference mesh
    is moved to depth :math:`ζ + d(x)\,t(ζ)` with :math:`d(x) = s(x) - z_0` and :math:`t = 1`
    down to the grid bottom (or the deepest electrode), falling linearly to 0 at the mesh
    bottom (the bottom stays flat, the sides vertical). Elements become quadrilaterals
    (parallelograms in the grid) whose isoparametric Q1 matrices are integrated by 2x2 Gauss
    quadrature (exact for parallelograms); :math:`A_k` is still :math:`\sum_e σ_e B_e(k)`, so
    the derivatives above hold unchanged. An element takes the conductivity of the model
    cell containing its centre; cells containing no element centre are air and are not
    parameters (:attr:`active`). The geometric factor uses true distances and depths below
    the local surface (:math:`r'^2 = r^2 + 4 h_c h_p`), and the half-space correction is
    computed on the homogeneous earth *under the topography*, so it also removes the
    topographic effect of a homogeneous earth (apparent resistivity = its resistivity). A
    flat surface given as points uses exactly the flat mesh. The Robin reference point is on
    the surface above the centre of the spread.

    **Failures.** If :math:`e^m` overflows or underflows, a factorisation fails or the result
    is not finite, ``forward``, ``jvp`` and ``vjp`` return NaN arrays instead of raising, so a
    sampler rejects the proposal (NaN log-density) rather than crashing. Non-finite ``m`` is a
    ``ValueError`` at the Python boundary.

    References
    ----------
    Dey, A. and Morrison, H. F. (1979), Resistivity modelling for arbitrarily shaped
    two-dimensional structures, Geophysical Prospecting 27, 106-136.
    Xu, S., Duan, B. and Zhang, D. (2000), Selection of the wavenumbers k using an optimization
    method for the inverse Fourier transform in 2.5D electrical modelling, Geophysical
    Prospecting 48, 789-796.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesinv import Grid2D
    >>> from bayesinv.operators.resistivity import DCResistivity2p5D, surface_electrodes, wenner
    >>> grid = Grid2D(nx=24, nz=10, dx=1.0, dz=1.0)
    >>> op = DCResistivity2p5D(grid, surface_electrodes(np.arange(2.0, 23.0, 2.0)), wenner(11))
    >>> rho_a = op.forward(np.full(grid.size, np.log(0.01)))  # 100 ohm-m half-space
    >>> bool(np.all(np.abs(rho_a / 100.0 - 1.0) < 1e-8))
    True
    """

    linear = False

    def __init__(
        self,
        grid: Grid2D,
        electrodes,
        abmn,
        data: str = "apparent_resistivity",
        n_wavenumbers: int | None = None,
        padding: int = 5,
        padding_factor: float = 2.0,
        halfspace_correction: bool = True,
        cache_size: int = 4,
        refinement: int = 1,
        remote_b=None,
        remote_n=None,
        topography=None,
        quadrature_tol: float = 1e-3,
    ):
        if not isinstance(grid, Grid2D):
            raise TypeError(f"{_NAME}: grid must be a Grid2D, got {type(grid).__name__}")
        check_choice(data, _NAME, "data", _DATA_KINDS)
        if n_wavenumbers is not None:
            n_wavenumbers = check_int(n_wavenumbers, _NAME, "n_wavenumbers", low=1)
        quadrature_tol = check_float(quadrature_tol, _NAME, "quadrature_tol", low=0.0)
        padding = check_int(padding, _NAME, "padding", low=0)
        cache_size = check_int(cache_size, _NAME, "cache_size", low=1)
        refinement = check_int(refinement, _NAME, "refinement", low=1)
        padding_factor = check_float(padding_factor, _NAME, "padding_factor", low=1.0)
        surface = None if topography is None else Surface(grid, topography)
        elec = check_electrodes(grid, electrodes)
        if surface is not None:
            elec = surface.check_electrodes(elec)
        abmn = check_abmn(abmn, elec.shape[0])
        n_e = elec.shape[0]
        elec_all, abmn_all = with_remotes(grid, elec, abmn, remote_b, remote_n, surface)
        s_all = grid.z0 if surface is None else surface.height(elec_all[:, 0])
        k_factor, (r_min, r_max) = geometric_factor(
            elec_all, abmn_all, grid.z0, elec_all[:, 1] - s_all
        )

        self.grid = grid
        self.electrodes = elec
        self.abmn = abmn
        self.data = data
        self.n_data = abmn.shape[0]
        self.geometric_factor = k_factor
        self.surface = surface

        # electrodes that take part in a measurement, and local indices into them
        used = np.unique(abmn_all[abmn_all >= 0])
        local = np.full(elec_all.shape[0] + 1, -1)  # last slot keeps -1 for remote electrodes
        local[used] = np.arange(used.size)
        ref_elec = elec_all[used].copy()
        if surface is not None:
            ref_elec[:, 1] -= surface.shift(ref_elec[:, 0])
        shift = None if surface is None else surface.shift
        self.mesh = fe_mesh(grid, ref_elec, padding, padding_factor, refinement, shift)
        # model parameters: the cells holding ground elements (all cells without topography)
        self.active = np.zeros(grid.size, dtype=bool)
        self.active[self.mesh.cell] = True
        self.n_params = int(self.active.sum())
        param = np.cumsum(self.active) - 1
        k, w, err = optimised_wavenumbers(r_min, r_max, n_wavenumbers, quadrature_tol)
        self.wavenumbers, self.weights, self.quadrature_error = k, w, err
        in_grid = used[used < n_e]
        x_ref = 0.5 * (elec[in_grid, 0].min() + elec[in_grid, 0].max())
        z_ref = grid.z0 if surface is None else float(surface.height(x_ref))
        self._solver = FieldSolver(
            element_matrices(self.mesh, k, np.array([x_ref, z_ref])),
            self.mesh.element_nodes,
            param[self.mesh.cell],
            self.mesh.electrode_nodes,
            w / np.pi,
            self.mesh.n_nodes,
            (self.mesh.x_nodes.size, self.mesh.z_nodes.size),
        )
        self._cache: OrderedDict[bytes, _State] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

        self._pot, self._cur, self._scale = selection(local[abmn_all], np.ones(self.n_data))
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
        self._pot, self._cur, self._scale = selection(local[abmn_all], scale)

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

    def _solve(self, m: np.ndarray) -> _State:
        sigma, fields, V = self._solver.fields(m)
        if fields is None:
            return _State(np.full(self.n_data, np.nan), None, None)
        d = fk.select_data(V, self._pot, self._cur, self._scale)
        if not np.all(np.isfinite(d)):
            return _State(np.full(self.n_data, np.nan), None, None)
        return _State(d, fields, sigma)

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
        dV = self._solver.perturbation(st.fields, st.sigma, dm)
        return fk.select_data(dV, self._pot, self._cur, self._scale)

    def _vjp(self, m, dd):
        st = self._state(m)
        if st.fields is None:
            return np.full(self.n_params, np.nan)
        W = fk.data_weights(dd, self._pot, self._cur, self._scale, self._solver.n_used)
        return self._solver.gradient(st.fields, st.sigma, W, self.n_params)

    def to_grid(self, m, fill: float = np.nan) -> np.ndarray:
        """Model vector (active cells) as a full-grid vector, air cells set to ``fill``.

        Parameters
        ----------
        m : array_like
            Values of the :attr:`active` cells, length :attr:`n_params`.
        fill : float
            Value of the air cells.

        Returns
        -------
        numpy.ndarray
            Length ``grid.size``; ``out[active] = m``.
        """
        out = np.full(self.grid.size, float(fill))
        out[self.active] = as_vector(m, self.n_params, self.name, "m")
        return out

    def _build_numba_kernels(self) -> NumbaKernels:
        kernels = self._solver.kernels(self._pot, self._cur, self._scale, self.n_params)
        self._n_state = self._solver.state_size  # used only if the kernels carry a state
        return kernels
