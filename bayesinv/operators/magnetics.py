"""2-D magnetics: total-field anomaly of an induced-magnetization section (infinite strike)."""

from __future__ import annotations

import numpy as np

from bayesinv._checks import check_float, check_positive
from bayesinv.grid import Grid2D
from bayesinv.operators._magnetics_numba import magnetics_matrix
from bayesinv.operators._points import check_outside_cells, check_points
from bayesinv.operators.matrix import MatrixOperator

__all__ = ["Magnetics2D", "section_field_direction"]


def section_field_direction(
    inclination: float, declination: float, strike: float = 0.0
) -> tuple[float, float]:
    """Components of the unit ambient-field vector in the ``(x, z)`` section plane.

    Parameters
    ----------
    inclination : float
        Inclination of the field in degrees, positive below the horizontal.
    declination : float
        Declination in degrees, clockwise from north.
    strike : float, optional
        Azimuth of the strike direction (the infinite, out-of-section axis) in degrees
        clockwise from north; the profile axis ``x`` points to azimuth ``strike + 90``.

    Returns
    -------
    fx, fz : float
        ``fx = cos(I) sin(D - strike)`` along the profile and ``fz = sin(I)`` downward.

    Examples
    --------
    >>> fx, fz = section_field_direction(0.0, 90.0)  # horizontal field pointing east
    >>> round(fx, 12), round(fz, 12)
    (1.0, 0.0)
    """
    inc, dec, st = np.radians([inclination, declination, strike])
    return float(np.cos(inc) * np.sin(dec - st)), float(np.sin(inc))


class Magnetics2D(MatrixOperator):
    r"""Total-field magnetic anomaly of a 2-D susceptibility section (induced magnetization).

    Each cell of ``grid`` is a rectangular prism of infinite extent along strike with a
    uniform susceptibility (SI), magnetized by the ambient field only (no remanence, no
    demagnetization: valid for susceptibilities well below 1). The data are total-field
    anomalies :math:`ΔT` in nT at each receiver.

    Parameters
    ----------
    grid : Grid2D
        The section; ``z`` is depth, positive downward.
    receivers : array_like
        Receiver positions, shape ``(n, 2)`` holding ``(x, z)``. Receivers must lie outside
        the interior of the grid; points on the grid boundary are allowed (the field there is
        the limit from outside the grid) except the corners of cells, where the field of a
        single cell is singular (put receivers at sensor height, e.g. ``z = -1``).
    inclination : float
        Inclination ``I`` of the ambient field in degrees, in ``[-90, 90]``, positive when
        the field points below the horizontal (northern hemisphere).
    declination : float
        Declination ``D`` in degrees, clockwise from geographic north.
    intensity : float
        Ambient field intensity ``F`` in nT (> 0).
    strike : float, optional
        Azimuth ``s`` (degrees clockwise from north) of the strike direction, the infinite
        axis perpendicular to the section. The profile axis ``x`` points to azimuth
        ``s + 90``: with the default ``s = 0`` bodies strike north and ``x`` points east.

    Notes
    -----
    **Field direction in the section.** In (north, east, down) coordinates the unit field
    vector is :math:`(\cos I \cos D, \cos I \sin D, \sin I)`. Its components along the
    profile (azimuth :math:`s + 90°`), along strike and down are

    .. math::

        f_x = \cos I \sin(D - s), \qquad f_y = \cos I \cos(D - s), \qquad f_z = \sin I .

    Only :math:`D - s` matters. A magnetization along strike produces no field outside a
    2-D body, and the anomalous field has no strike component, so only the in-section part
    :math:`\mathbf f_p = (f_x, f_z)` enters: the effective inclination in the section is
    :math:`I' = \operatorname{atan2}(\sin I, \cos I \sin(D - s))` and the anomaly scales
    with :math:`|\mathbf f_p|^2 = \sin^2 I + \cos^2 I \sin^2(D - s)`. For ``D = s`` (field
    along strike) only the vertical component acts; for :math:`I = ±90°` neither
    declination nor strike matters.

    **Kernel.** A 2-D body with magnetization :math:`\mathbf M = χ \mathbf F / μ_0` has
    scalar potential :math:`φ = \frac{1}{2π} \mathbf M \cdot \nabla Ψ` with
    :math:`Ψ(\mathbf r) = \iint_{\text{cell}} \ln|\mathbf r - \mathbf r'|\, dA'`, so the
    anomalous field is :math:`\mathbf B = -\frac{χ}{2π} (\nabla\nabla Ψ)\, \mathbf F_p` and

    .. math::

        ΔT = \hat{\mathbf f} \cdot \mathbf B
           = -\frac{χ F}{2π} \left( f_x^2 Ψ_{xx} + 2 f_x f_z Ψ_{xz} + f_z^2 Ψ_{zz} \right).

    With :math:`u = x' - x_r`, :math:`v = z' - z_r` (cell :math:`[u_1, u_2] \times
    [v_1, v_2]`) the second derivatives have closed forms

    .. math::

        Ψ_{xx} &= \Big[\arctan\tfrac{v_2}{u} - \arctan\tfrac{v_1}{u}\Big]_{u_1}^{u_2}, \qquad
        Ψ_{zz} = \Big[\arctan\tfrac{u_2}{v} - \arctan\tfrac{u_1}{v}\Big]_{v_1}^{v_2}, \\
        Ψ_{xz} &= \tfrac12 \ln \frac{(u_2^2 + v_2^2)(u_1^2 + v_1^2)}
                                  {(u_1^2 + v_2^2)(u_2^2 + v_1^2)},

    each arctan difference evaluated as one ``atan2`` (the angle the cell side subtends).
    For a receiver on the grid boundary beside a cell side (e.g. :math:`u = 0` with
    :math:`v_1 < 0 < v_2`) that angle jumps by :math:`2π` across the side; the limit from
    outside the grid is used (:math:`+π` for a receiver on the left or top boundary,
    :math:`-π` on the right or bottom), so boundary data equal those just outside.
    Far from a cell the kernel tends to the 2-D line dipole
    :math:`ΔT = \frac{χ F A}{2π R^2} \left[ 2 (\mathbf f_p \cdot \hat{\mathbf R})^2
    - |\mathbf f_p|^2 \right]` (:math:`A` the cell area, :math:`\mathbf R` from the cell to
    the receiver); for :math:`I = 90°` this is :math:`χ F A (Z^2 - X^2) / (2π R^4)`,
    positive above the body. The matrix (``n_receivers × n_cells``) is computed once and
    stored dense, as in :class:`~bayesinv.operators.Gravity2D`.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesinv import Grid2D
    >>> grid = Grid2D(nx=20, nz=10, dx=10.0, dz=10.0)
    >>> rx = np.column_stack([np.linspace(0, 200, 5), np.full(5, -1.0)])
    >>> op = Magnetics2D(grid, rx, inclination=60.0, declination=10.0, intensity=50000.0)
    >>> op.n_params, op.n_data
    (200, 5)
    """

    def __init__(
        self,
        grid: Grid2D,
        receivers,
        inclination: float,
        declination: float,
        intensity: float,
        strike: float = 0.0,
    ):
        if not isinstance(grid, Grid2D):
            raise TypeError(f"Magnetics2D: grid must be a Grid2D, got {type(grid).__name__}")
        rx = check_points(receivers, "receivers", "Magnetics2D")
        name = "Magnetics2D"
        inclination = check_float(inclination, name, "inclination", low=-90.0, high=90.0)
        declination = check_float(declination, name, "declination", units="degrees")
        strike = check_float(strike, name, "strike", units="degrees")
        intensity = check_positive(intensity, name, "intensity", units="nT")
        check_outside_cells(rx, grid, "receiver", "Magnetics2D")
        xe, ze = grid.x_edges, grid.z_edges
        at_vertex = np.isin(rx[:, 0], xe) & np.isin(rx[:, 1], ze)
        if np.any(at_vertex):
            idx = np.flatnonzero(at_vertex)
            raise ValueError(
                f"Magnetics2D: receiver(s) {idx[:10].tolist()} sit on a cell corner (first at "
                f"(x, z) = {tuple(rx[idx[0]])}), where the field of a magnetized cell is "
                "singular; move them off the grid vertices (e.g. to sensor height z < z0)"
            )
        fx, fz = section_field_direction(inclination, declination, strike)
        self.grid = grid
        self.receivers = rx
        self.inclination = inclination
        self.declination = declination
        self.intensity = intensity
        self.strike = strike
        self.field_direction = (fx, fz)
        super().__init__(magnetics_matrix(xe, ze, rx, fx, fz, intensity), name="Magnetics2D")
