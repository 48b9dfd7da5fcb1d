"""Docstring of :class:`DCResistivity2p5D` (kept apart so the operator module stays short)."""

NOTES = r"""2.5-D DC resistivity of a conductivity section, surface and buried electrodes, any four-pole array.

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
n_wavenumbers : int
    Number of wavenumbers ``k`` in the inverse cosine transform (cost grows linearly).
padding : int
    Number of padding cells added on the left, right and bottom of the grid.
padding_factor : float
    Growth factor of the padding cell sizes (``>= 1``).
halfspace_correction : bool
    Multiply each datum by the ratio of the exact to the numerical transfer resistance
    of a homogeneous half-space (a numerical geometric factor, see Notes).
cache_size : int
    Number of models whose solutions are kept (forward, ``jvp`` and ``vjp`` at the same
    ``m`` solve once); one per concurrent sampler thread is enough. Each entry holds
    ``n_wavenumbers x n_nodes x n_electrodes_used`` floats (the fields), about 31 MB for
    128x64 cells with padding, 11 wavenumbers and 32 electrodes.
refinement : int
    Elements per model-cell side (default 1): each cell of the grid is split into
    ``refinement x refinement`` elements of the same conductivity, so accuracy improves at
    the same number of parameters (cost grows about as ``refinement**3``).

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
\tilde φ(k_i)`. The wavenumbers are log-spaced over :math:`[0.1/r_{max}, 4/r_{min}]` (the
survey's smallest and largest source-receiver distances, image distances included) and the
weights are fitted by non-negative least squares so that the rule integrates
:math:`K_0(kr)` up to :attr:`quadrature_error` on that range (Xu et al. 2000, with fixed
nodes so the fit is linear).

**Discretisation: node-based bilinear finite elements.** The unknowns are the potentials at
the vertices of a tensor mesh: the grid's cell edges, ``padding`` cells of widths
:math:`h f^i` (:math:`i = 1..n_{pad}`, :math:`f` = ``padding_factor``) on the left, right and
bottom, and one extra node line through every electrode that is not already on one (an
electrode at a cell centre splits that column of cells in two; a buried electrode adds a
horizontal line). Every electrode is therefore a mesh node. Each element takes the
conductivity of the model cell containing it (a padding element that of the nearest edge
cell). The Galerkin system of the weak form
:math:`\int σ(∇\tilde φ·∇ψ + k^2 \tilde φ ψ) + \oint_Γ σ ν \tilde φ ψ = \frac{1}{2}ψ(\mathbf{x}_s)`
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

**Solver.** One factorisation of :math:`A_k` per wavenumber and model, one solve with one
right-hand side per used electrode. The fields are cached per model in the Python API
(keyed by the bytes of ``m``, guarded by a lock).

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
