"""Transient diffusion on a Grid2D: S dh/dt - div(K grad h) = q, TR-BDF2 in time."""

from __future__ import annotations

import numpy as np

from bayesinv._checks import check_array, check_positive
from bayesinv.grid import Grid2D
from bayesinv.operators._points import check_points
from bayesinv.operators.transient._base import TransientBase, check_inside
from bayesinv.operators.transient._mesh import cartesian_mesh, point_weights, segment_weights

__all__ = ["TransientDiffusion2D", "source_distribution"]

_NAME = "TransientDiffusion2D"


def source_distribution(mesh, sources, where: str) -> np.ndarray:
    """Dense ``(n_sources, n_cells)`` distribution of unit sources (points or segments)."""
    if sources is None:
        return np.zeros((0, mesh.size))
    src = check_array(sources, where, "sources")
    if src.ndim == 1:
        src = src[None, :]
    if src.ndim != 2 or src.shape[1] not in (2, 4) or src.shape[0] == 0:
        raise ValueError(
            f"{where}: sources must have shape (n, 2) holding points (x, z) or (n, 4) holding "
            f"segments (x0, z0, x1, z1), got {np.shape(sources)}"
        )
    check_inside(mesh, src[:, :2], where, "sources")
    if src.shape[1] == 4:
        check_inside(mesh, src[:, 2:], where, "sources")
    out = np.zeros((src.shape[0], mesh.size))
    for s, row in enumerate(src):
        if row.size == 2:
            cells, w = point_weights(mesh, row[None, :])
            np.add.at(out[s], cells[0], w[0])
        else:
            out[s] = segment_weights(mesh, row[:2], row[2:])
    return out


class TransientDiffusion2D(TransientBase):
    r"""Heads or drawdowns at wells and times of a transient diffusion (pumping test) on a grid.

    Parameters
    ----------
    grid : Grid2D
        The cells; ``(x, z)`` is a plan view of a confined aquifer of thickness
        ``thickness`` or a vertical section (``thickness`` = 1 m along strike).
    sources : array_like or None
        ``None`` for no sources (then ``schedule`` is ``None`` too); shape
        ``(n_sources, 2)`` for point sources ``(x, z)`` (wells), or ``(n_sources, 4)`` for
        line sources ``(x0, z0, x1, z1)`` (a screen or a trench, the rate spread evenly
        along the segment; a point is a segment of zero length). Inside the grid.
    schedule : PumpingSchedule or None
        Piecewise-constant rates (m³/s, positive for extraction) of the sources from
        ``t = 0``; ``None`` when there are no sources.
    wells : array_like
        Observation points ``(x, z)``, shape ``(n_wells, 2)``, inside the grid.
    times : array_like
        Observation times (s), ``>= 0`` and strictly increasing.
    storage : float or array_like, optional
        Specific storage S (1/m, ``> 0``) when it is known; not given when
        ``estimate_storage=True``.
    estimate_storage : bool
        Parameters ``m = [log K, log S]`` (length ``2 n_cells``) instead of ``m = log K``.
    data : {"drawdown", "head"}
        Output: drawdown :math:`s = h(0) - h(t)` at the wells (m) or head :math:`h(t)` (m).
    thickness : float
        Out-of-plane thickness ``b`` (m); the 2-D equation is the 3-D one integrated over it.
    initial_head : float or array_like
        :math:`h(0)` per cell (m).
    steps : array_like, optional
        Step sizes (s); every schedule change must be a step boundary and the steps must
        reach the last observation time. By default :func:`graded_steps` from ``dt_min``
        (default ``t_end / 2000``) to ``dt_max`` (default ``t_end / 20``), restarting after
        each schedule change.
    dt_min, dt_max : float, optional
        Bounds of the default graded steps.
    steps_per_level : int
        Steps of each size before doubling, for the default graded steps.
    checkpoint_every : int, optional
        Steps per checkpoint segment of the gradient (see Notes). By default all states are
        kept when they fit in 64 MB (``8 (2N + 1) n`` bytes), else about :math:`\sqrt{N/2}`.

    Notes
    -----
    **Equation.** With :math:`K = e^{m_K}` (m/s) and :math:`S = e^{m_S}` (1/m) per cell,

    .. math::

        S\,∂_t h - ∇·(K∇h) = -\sum_s Q_s(t)\,δ_s, \qquad ∂_n h = 0 \text{ on the boundary},

    discretised with cell-centred finite volumes: :math:`M\dot h = -A h + f(t)` with the
    lumped mass :math:`M = \mathrm{diag}(S_c V_c)`, :math:`A = \sum_f T_f
    (e_a - e_b)(e_a - e_b)^T` with harmonic transmissibilities
    :math:`T_f = 1/(R_a/K_a + R_b/K_b)`, :math:`R = (h/2)/(L b)`, and
    :math:`f = -\sum_s Q_s b_s` with :math:`b_s` the bilinear weights of the source (the
    transpose of the observation weights).

    **Integrator: TR-BDF2** with :math:`γ = 2 - \sqrt 2`. A step :math:`Δt` is a
    trapezoidal stage to :math:`t_n + γΔt` and a BDF2 stage to :math:`t_{n+1}`; with
    :math:`c = γΔt/2` and :math:`B = M + cA`,

    .. math::

        B y = (M - cA) h_n + 2c f_n, \qquad B h_{n+1} = αMy - βMh_n + c f_n,

    :math:`α = 1/(γ(2-γ))`, :math:`β = (1-γ)^2/(γ(2-γ))`. Why this method: it is second
    order and L-stable (its stability function tends to 0 as :math:`zΔt → -∞`, so stiff
    modes — high-K cells, fine cells, early times — are damped, where Crank–Nicolson keeps
    them as slowly decaying oscillations); it is one-step, so variable (graded) steps and
    restarts after a rate change need no special start (BDF2 needs a backward-Euler first
    step and its coefficients change with the step ratio); and for this :math:`γ` both
    stages have the same matrix :math:`B`, so there is **one factorisation per distinct step
    size**, reused by every step of that size and by the adjoint. The forcing is constant
    on each step (steps have boundaries at the schedule changes), so it is integrated
    exactly.

    **Observations** are linear in time between the two step nodes around each time (the
    interpolation error, :math:`O(Δt^2)`, matches the integrator's order) and bilinear in
    space between cell centres. Data are ordered well-major, ``d[w * n_times + i]``.

    **Derivatives.** ``jvp`` differentiates each stage (tangent linear model, the same
    factors); ``vjp`` is the exact adjoint of the discrete time stepping, run backward with
    the same factors (two solves per step, as the forward). The backward sweep needs the
    forward states (two vectors per step). They are all kept when they fit in 64 MB
    (:math:`8(2N + 1)n` bytes for :math:`N` steps and :math:`n` cells); otherwise the
    steps are cut into segments of ``checkpoint_every`` steps, only the state at the start
    of each segment is kept, and each segment is marched again from it just before its
    backward sweep (one more forward march; memory :math:`8(N/C + 2C + 1)n` bytes for
    segments of :math:`C` steps, smallest at :math:`C ≈ \sqrt{N/2}`). ``forward`` and ``jvp``
    keep one segment at a time. Add one Cholesky factor per distinct step size.

    **Compiled gradient.** In a compiled log density the forward hands the gradient its
    state (``forward_state``/``vjp_state``, see :class:`~bayesinv.operators.NumbaKernels`):
    the factors of every step size, the checkpoints and the states of the last segment (all
    the states with one segment), :attr:`forward_state_size` floats, when they take at most
    128 MB (``_base.FORWARD_STATE_BYTES``; otherwise the gradient factorises and marches
    again). The gradient is then the backward sweep alone (plus one march of every segment
    but the last when checkpointing).

    **Failures.** If :math:`e^m` over- or underflows, a transmissibility is not positive and
    finite, or a factorisation fails, ``forward``, ``jvp`` and ``vjp`` return NaN (a sampler
    rejects the proposal). Non-positive ``storage``, K or S given to :meth:`parameters`,
    bad times, wells or sources are a ``ValueError`` naming the argument.

    Examples
    --------
    >>> from bayesinv.operators.transient import PumpingSchedule
    >>> grid = Grid2D(nx=41, nz=41, dx=5.0, dz=5.0, x0=-102.5, z0=-102.5)
    >>> op = TransientDiffusion2D(grid, [[0.0, 0.0]], PumpingSchedule([3600.0], [1e-3]),
    ...                           wells=[[20.0, 0.0]], times=[600.0, 3600.0], storage=1e-4,
    ...                           thickness=10.0)
    >>> s = op.forward(op.parameters(1e-4))
    >>> bool(0.0 < s[0] < s[1])
    True
    """

    def __init__(
        self,
        grid: Grid2D,
        sources,
        schedule,
        wells,
        times,
        *,
        storage=None,
        estimate_storage: bool = False,
        data: str = "drawdown",
        thickness: float = 1.0,
        initial_head=0.0,
        steps=None,
        dt_min: float | None = None,
        dt_max: float | None = None,
        steps_per_level: int = 4,
        checkpoint_every: int | None = None,
    ):
        if not isinstance(grid, Grid2D):
            raise TypeError(f"{_NAME}: grid must be a Grid2D, got {type(grid).__name__}")
        thickness = check_positive(thickness, _NAME, "thickness", units="m")
        self.grid = grid
        mesh = cartesian_mesh(grid.x_edges, grid.z_edges, thickness)
        dist = source_distribution(mesh, sources, _NAME)
        wells = check_points(wells, "wells", _NAME)
        options = dict(
            storage=storage, estimate_storage=estimate_storage, data=data,
            initial_head=initial_head, steps=steps, dt_min=dt_min, dt_max=dt_max,
            steps_per_level=steps_per_level, checkpoint_every=checkpoint_every,
        )  # fmt: skip
        self._setup(mesh, dist, schedule, wells, times, options)
