"""Axisymmetric (radial) transient diffusion around a pumping well."""

from __future__ import annotations

import numpy as np

from bayesinv._checks import check_array
from bayesinv.operators._points import check_points
from bayesinv.operators.transient._base import TransientBase
from bayesinv.operators.transient._mesh import radial_mesh

__all__ = ["RadialTransientDiffusion", "log_radii"]

_NAME = "RadialTransientDiffusion"


def log_radii(r_well: float, r_max: float, n: int) -> np.ndarray:
    """``n + 1`` log-spaced radial cell edges from the well radius to ``r_max``.

    Parameters
    ----------
    r_well, r_max : float
        Well radius and outer radius (m), ``0 < r_well < r_max``.
    n : int
        Number of radial cells.

    Returns
    -------
    numpy.ndarray
        Edges ``r_well q^i``, ``q = (r_max / r_well)^(1/n)``.
    """
    if not (0.0 < r_well < r_max):
        raise ValueError(
            f"log_radii: need 0 < r_well < r_max, got {float(r_well)!r}, {float(r_max)!r}"
        )
    return np.geomspace(r_well, r_max, int(n) + 1)


class RadialTransientDiffusion(TransientBase):
    r"""Drawdown around a pumping well in an axisymmetric aquifer (radial flow, layers).

    Parameters
    ----------
    r_edges : array_like
        Radial cell edges (m), strictly increasing, the first ``> 0`` (the well radius; the
        well face is a no-flow boundary and the well's rate is injected into the first
        radial cells). :func:`log_radii` makes a log-spaced set.
    z_edges : array_like
        Layer edges (depth, m), strictly increasing.
    schedule : PumpingSchedule
        Rates of the one well (m³/s, positive for extraction).
    wells : array_like
        Observation points ``(r, z)``, shape ``(n_wells, 2)``, inside the mesh.
    times : array_like
        Observation times (s), ``>= 0`` and strictly increasing.
    screen : tuple of float, optional
        ``(z_top, z_bottom)`` of the well screen; the whole thickness by default. The rate
        is shared among the layers in proportion to their screened length.
    storage, estimate_storage, data, initial_head, steps, dt_min, dt_max, steps_per_level
        As for :class:`TransientDiffusion2D`.
    checkpoint_every : int, optional
        As for :class:`TransientDiffusion2D`.

    Notes
    -----
    Cell :math:`(i_z, i_r)` is the ring :math:`r_i < r < r_{i+1}` of layer :math:`i_z`;
    unknowns are :math:`\log K` and optionally :math:`\log S` per ring, in C order
    (``iz * n_r + ir``). The equation

    .. math::

        S\,∂_t h - \frac1r ∂_r(rK∂_r h) - ∂_z(K∂_z h) = 0, \qquad
        2π r_w \int K ∂_r h\,dz = Q(t) \text{ at the well},

    is discretised as in :class:`TransientDiffusion2D` with volumes
    :math:`V = π(r_{i+1}^2 - r_i^2)Δz`, radial half-cell resistances
    :math:`R = \ln(r_f/r_c)/(2πΔz)` (exact for steady radial flow, :math:`r_c =
    \sqrt{r_i r_{i+1}}`) and vertical ones :math:`(Δz/2)/(π(r_{i+1}^2 - r_i^2))`. The
    same TR-BDF2 stepping, observations (linear in :math:`\log r` and in :math:`z`) and exact
    adjoint are used. For a homogeneous confined aquifer and a fully screened well this
    reproduces the Theis solution :math:`s = \frac{Q}{4πT}W(u)`,
    :math:`u = r^2 S_b / (4 T t)`, with :math:`T = Kb`, :math:`S_b = Sb` (tested).

    Examples
    --------
    >>> from bayesinv.operators.transient import PumpingSchedule
    >>> op = RadialTransientDiffusion(log_radii(0.1, 5000.0, 60), [0.0, 10.0],
    ...                               PumpingSchedule([86400.0], [0.01]),
    ...                               wells=[[30.0, 5.0]], times=[3600.0, 86400.0],
    ...                               storage=1e-5)
    >>> s = op.forward(op.parameters(1e-4))
    >>> bool(0.0 < s[0] < s[1])
    True
    """

    def __init__(
        self,
        r_edges,
        z_edges,
        schedule,
        wells,
        times,
        *,
        screen=None,
        storage=None,
        estimate_storage: bool = False,
        data: str = "drawdown",
        initial_head=0.0,
        steps=None,
        dt_min: float | None = None,
        dt_max: float | None = None,
        steps_per_level: int = 4,
        checkpoint_every: int | None = None,
    ):
        r = _edges(r_edges, "r_edges")
        z = _edges(z_edges, "z_edges")
        if not r[0] > 0.0:
            raise ValueError(
                f"{_NAME}: r_edges[0] (the well radius) must be > 0, got {float(r[0])!r}"
            )
        mesh = radial_mesh(r, z)
        top, bottom = (z[0], z[-1]) if screen is None else _screen(screen, z)
        overlap = np.clip(np.minimum(z[1:], bottom) - np.maximum(z[:-1], top), 0.0, None)
        dist = np.zeros((1, mesh.size))
        dist[0, np.arange(z.size - 1) * (r.size - 1)] = overlap / overlap.sum()
        wells = check_points(wells, "wells", _NAME)
        options = dict(
            storage=storage, estimate_storage=estimate_storage, data=data,
            initial_head=initial_head, steps=steps, dt_min=dt_min, dt_max=dt_max,
            steps_per_level=steps_per_level, checkpoint_every=checkpoint_every,
        )  # fmt: skip
        self._setup(mesh, dist, schedule, wells, times, options)

    @property
    def name(self) -> str:
        """``"RadialTransientDiffusion"``."""
        return _NAME


def _edges(edges, name: str) -> np.ndarray:
    e = check_array(edges, _NAME, name, ndim=1)
    if e.size < 2 or np.any(np.diff(e) <= 0.0):
        raise ValueError(f"{_NAME}: {name} must hold at least 2 strictly increasing values")
    return e


def _screen(screen, z: np.ndarray):
    s = check_array(screen, _NAME, "screen", shape=(2,))
    top, bottom = float(s[0]), float(s[1])
    if not (z[0] <= top < bottom <= z[-1]):
        raise ValueError(
            f"{_NAME}: screen must satisfy {z[0]:g} <= z_top < z_bottom <= {z[-1]:g}, "
            f"got ({float(top)!r}, {float(bottom)!r})"
        )
    return top, bottom
