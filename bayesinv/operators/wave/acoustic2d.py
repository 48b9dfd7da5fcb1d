"""2-D acoustic waves: traces of point sources recorded at point receivers."""

from __future__ import annotations

from bayesinv.grid import Grid2D
from bayesinv.operators._points import check_points
from bayesinv.operators.wave._base import AcousticWaveBase

__all__ = ["AcousticWave2D"]


def check_inside(points, grid: Grid2D, name: str, where: str):
    """Raise unless every point lies in the closed model extent."""
    xe, ze = grid.x_edges, grid.z_edges
    x, z = points[:, 0], points[:, 1]
    out = (x < xe[0]) | (x > xe[-1]) | (z < ze[0]) | (z > ze[-1])
    if out.any():
        i = int(out.nonzero()[0][0])
        raise ValueError(
            f"{where}: {name} {i} at (x, z) = {tuple(float(c) for c in points[i])} lies "
            f"outside the grid "
            f"x in [{xe[0]:g}, {xe[-1]:g}], z in [{ze[0]:g}, {ze[-1]:g}]"
        )


class AcousticWave2D(AcousticWaveBase):
    r"""Pressure traces of 2-D constant-density acoustic waves; the unknown is log-velocity.

    Parameters
    ----------
    grid : Grid2D
        The model: one velocity per cell, ``m = log(v / (1 m/s))`` flat in C order. The
        wavefield lives on the cell centres.
    sources, receivers : array_like, shape (n, 2)
        ``(x, z)`` of the point sources (one shot each) and of the receivers (recorded in
        every shot), anywhere in the closed grid extent (not only on nodes).
    dt : float
        Time step (s); also the sample interval of the traces.
    duration : float
        Length of the traces (s); ``nt = floor(duration / dt) + 1`` samples ``t_n = n dt``.
    wavelet : array_like
        Source time function at ``t_n``, shape ``(nt,)`` or ``(n_sources, nt)`` (e.g.
        :func:`~bayesinv.operators.wave.ricker`).
    pad : int, optional
        Nodes of absorbing layer added on each of the four sides (default 12; thicker for
        waves much longer than 12 cells, see Notes).
    reference_velocity : float, optional
        Velocity (m/s) the absorbing layer is tuned for (near the velocity at the model's
        edges); the largest stable velocity :attr:`max_velocity` by default.
    checkpoint_interval : int, optional
        Time steps between stored forward wavefields in the gradient (default
        ``ceil(2 sqrt(nt - 1))``).

    Notes
    -----
    **Equation.** :math:`\frac{1}{v^2} \partial_t^2 u - \nabla^2 u = w(t)\, δ(\mathbf{x} -
    \mathbf{x}_s)`, zero initial conditions. Its Green's function is
    :math:`H(t - r/v) / (2π \sqrt{t^2 - r^2/v^2})`.

    **Discretisation.** Second order in time, fourth order in space (leapfrog):

    .. math::

        u^{n+1} = A \left(2u^n - B u^{n-1} + k\,(L u^n + q^n)\right),\qquad
        k = v^2 Δt^2,

    with :math:`L` the fourth-order Laplacian
    (:math:`(-\tfrac{1}{12}, \tfrac{4}{3}, -\tfrac{5}{2}, \tfrac{4}{3}, -\tfrac{1}{12})/h^2`
    along each axis), :math:`q^n = w(t_n)\, \sum_j ω_j δ_j / (Δx Δz)` the source spread on
    the 4 x 4 nearest nodes with cubic Lagrange weights :math:`ω_j` (exact for polynomials
    of degree 3), and traces :math:`d^n = \sum_j ω_j u^n_j` with the receivers' weights.
    Stability needs :math:`v Δt \sqrt{1/Δx^2 + 1/Δz^2} \le \sqrt{3}/2`; the Python API
    raises :class:`ValueError` naming the limit, the numba kernels return NaN (a rejected
    proposal during sampling).

    **Absorbing layer (PML).** ``pad`` nodes on each side, where the velocity copies the
    nearest model cell and the coordinates are complex-stretched,
    :math:`\partial_x \to \partial_x / (1 + ζ_x / s)` (Grote and Sim's unsplit form for the
    second-order equation, two auxiliary fields :math:`p_x, p_z`):

    .. math::

        \partial_t^2 u + (ζ_x + ζ_z)\partial_t u + ζ_x ζ_z u
            = v^2 (\nabla^2 u + \partial_x p_x + \partial_z p_z + q),\quad
        \partial_t p_x = -ζ_x p_x + (ζ_z - ζ_x)\partial_x u

    (and :math:`x \leftrightarrow z`), discretised with centred time differences
    (:math:`A = 1/(1 + (ζ_x + ζ_z)Δt/2)`, :math:`B = 1 - (ζ_x + ζ_z)Δt/2`, fourth-order
    first differences), :math:`ζ = ζ_{max} (d/L)^2` with :math:`d` the depth into the layer
    of thickness :math:`L` and :math:`ζ_{max} = 3 v_{ref} \ln(10^3) / (2L)`. Beyond the
    layer the field is zero. With the default ``pad = 12`` the tests measure reflections
    below 0.5% of the incident amplitude (8 points per wavelength at 2.5 times the Ricker
    peak frequency, 10 Hz with 10 m cells); 0.7% at 4 Hz (50 cells per peak wavelength,
    4 of them in the layer) and 0.2% at 20 Hz. ``pad = 20`` halves these and costs 30% more
    time per step (101 x 101 cells).

    **Unknown.** Log-velocity: positive velocities for every real parameter (no boundary
    for the sampler), fast and slow anomalies of the same ratio are symmetric, and the
    Jacobian :math:`\partial k / \partial m = 2k` is as simple as for velocity.

    **Adjoint.** The exact transpose of the time stepping (discrete adjoint), backward:
    :math:`μ^n = A(R^T r^n + 2μ^{n+1} - Bμ^{n+2} + L(k μ^{n+1}))`, gradient
    :math:`\partial/\partial k = \sum_n (L u^n + q^n) μ^{n+1}`, then the chain rule to the
    cells. The forward state is stored every ``checkpoint_interval`` steps (four fields)
    and each segment recomputed before its backward pass, so a shot's gradient stores
    :math:`4 n_t / c + c` fields instead of :math:`n_t` at the cost of one more forward
    run (:meth:`gradient_memory_bytes`). For as many of the last segments as fit in 30 MiB
    the forward also keeps the nodes outside the interior box (the PML, where most of a
    step's cost is) at every step, and their recomputation steps only the interior again
    (the same wavefield to the last bit, for about a quarter of the cost). Shots run in
    parallel (``prange``).

    Examples
    --------
    >>> import numpy as np
    >>> from bayesinv import Grid2D
    >>> from bayesinv.operators.wave import AcousticWave2D, ricker, time_samples
    >>> grid = Grid2D(nx=20, nz=20, dx=10.0, dz=10.0)
    >>> t = time_samples(1e-3, 0.1)
    >>> op = AcousticWave2D(grid, [[100.0, 20.0]], [[50.0, 10.0], [150.0, 10.0]],
    ...                     dt=1e-3, duration=0.1, wavelet=ricker(25.0, t), pad=10)
    >>> op.n_params, op.n_data
    (400, 202)
    """

    def __init__(
        self,
        grid: Grid2D,
        sources,
        receivers,
        *,
        dt,
        duration,
        wavelet,
        pad: int = 12,
        reference_velocity=None,
        checkpoint_interval=None,
    ):
        if not isinstance(grid, Grid2D):
            raise TypeError(f"AcousticWave2D: grid must be a Grid2D, got {type(grid).__name__}")
        src = check_points(sources, "sources", self.name)
        rec = check_points(receivers, "receivers", self.name)
        check_inside(src, grid, "source", self.name)
        check_inside(rec, grid, "receiver", self.name)
        self.grid = grid
        self.sources, self.receivers = src, rec
        self._z0, self._x0 = grid.z0, grid.x0
        self._setup(
            (grid.nz, grid.nx),
            (grid.dz, grid.dx),
            (src[:, 1], src[:, 0]),
            (rec[:, 1], rec[:, 0]),
            dt,
            duration,
            wavelet,
            pad,
            reference_velocity,
            checkpoint_interval,
        )
