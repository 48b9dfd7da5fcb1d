"""1-D acoustic waves in a layered medium: traces of sources and receivers in depth."""

from __future__ import annotations

import numpy as np

from bayesinv.grid import Grid1D
from bayesinv.operators.wave._base import AcousticWaveBase

__all__ = ["AcousticWave1D"]


def _depths(values, grid: Grid1D, name: str, where: str) -> np.ndarray:
    try:
        z = np.array(values, dtype=np.float64, ndmin=1)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} must be an array of depths (m)") from None
    if z.ndim != 1 or z.size == 0:
        raise ValueError(f"{where}: {name} must be a 1-D array of depths, got shape {z.shape}")
    ze = grid.z_edges
    bad = ~np.isfinite(z) | (z < ze[0]) | (z > ze[-1])
    if bad.any():
        i = int(bad.nonzero()[0][0])
        raise ValueError(
            f"{where}: {name}[{i}] = {float(z[i])!r} lies outside the grid "
            f"z in [{ze[0]:g}, {ze[-1]:g}]"
        )
    return z


class AcousticWave1D(AcousticWaveBase):
    r"""Traces of 1-D (plane-wave, normal-incidence) acoustic waves in a layered medium.

    The unknown is the log-velocity of each layer, ``m = log(v / (1 m/s))``.

    Parameters
    ----------
    grid : Grid1D
        The layers; the wavefield lives on the layer centres.
    sources, receivers : array_like
        Depths (m) of the sources (one shot each) and receivers (recorded in every shot),
        anywhere in the closed grid extent.
    dt, duration, wavelet, pad, reference_velocity, checkpoint_interval
        As for :class:`~bayesinv.operators.wave.AcousticWave2D`; the absorbing layer is
        added at the top and at the bottom.

    Notes
    -----
    Solves :math:`\frac{1}{v^2} \partial_t^2 u - \partial_z^2 u = w(t)\, δ(z - z_s)` with
    the scheme, absorbing layer, adjoint and checkpointing of
    :class:`~bayesinv.operators.wave.AcousticWave2D` on one column (the same numba
    kernels, with the horizontal stencil weights set to zero). The Green's function is
    :math:`\frac{v}{2} H(t - |z - z_s| / v)`, and a wave from layer 1 meets a step to
    layer 2 with reflection coefficient :math:`(v_2 - v_1)/(v_2 + v_1)`. Stability needs
    :math:`v Δt / Δz \le \sqrt{3}/2`.

    Examples
    --------
    >>> from bayesinv import Grid1D
    >>> from bayesinv.operators.wave import AcousticWave1D, ricker, time_samples
    >>> grid = Grid1D(nz=50, dz=5.0)
    >>> t = time_samples(1e-3, 0.2)
    >>> op = AcousticWave1D(grid, [10.0], [10.0, 200.0], dt=1e-3, duration=0.2,
    ...                     wavelet=ricker(20.0, t))
    >>> op.n_params, op.n_data
    (50, 402)
    """

    def __init__(
        self,
        grid: Grid1D,
        sources,
        receivers,
        *,
        dt,
        duration,
        wavelet,
        pad: int = 20,
        reference_velocity=None,
        checkpoint_interval=None,
    ):
        if not isinstance(grid, Grid1D):
            raise TypeError(f"AcousticWave1D: grid must be a Grid1D, got {type(grid).__name__}")
        self.grid = grid
        self.sources = _depths(sources, grid, "sources", self.name)
        self.receivers = _depths(receivers, grid, "receivers", self.name)
        self._z0, self._x0 = grid.z0, 0.0
        self._setup(
            (grid.nz, 1),
            (grid.dz, None),
            (self.sources, None),
            (self.receivers, None),
            dt,
            duration,
            wavelet,
            pad,
            reference_velocity,
            checkpoint_interval,
        )
