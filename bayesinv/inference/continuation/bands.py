"""Frequency continuation: continuation levels defined by frequency bands (low to high).

For data that are traces (a wave operator's, or any modality whose data are time series),
:func:`band_levels` makes one level per band — the band-pass filtered, whitened operator
and data (:class:`~bayesinv.operators.wave.BandPass`,
:class:`~bayesinv.operators.wave.TraceWhitening`) — and :func:`band_builder` turns them into
the ``build(level)`` of :func:`~bayesinv.inference.continuation.continuation`, with the
parameterisation of each level chosen by the caller (a coarse grid or wavelet levels
``0..ℓ`` matching the band's resolution).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bayesinv._checks import check_int, check_positive
from bayesinv.operators.base import ForwardOperator

__all__ = ["BandLevel", "band_builder", "band_levels", "lowpass_bands"]


@dataclass(frozen=True)
class BandLevel:
    """One level of a frequency continuation.

    Attributes
    ----------
    band : tuple of float
        ``(f_low, f_high)`` in Hz.
    operator : ForwardOperator
        ``TraceWhitening @ BandPass @ forward``: the model parameters to whitened band data.
    data : numpy.ndarray
        The observed traces, filtered and whitened the same way.
    noise_sd : float
        The noise standard deviation of ``data`` (that of the unfiltered samples).
    bandpass, whitening : ForwardOperator
        The filter and the whitening operator.
    """

    band: tuple
    operator: ForwardOperator
    data: np.ndarray
    noise_sd: float
    bandpass: ForwardOperator
    whitening: ForwardOperator


def lowpass_bands(f_start: float, f_stop: float, n: int) -> list[tuple[float, float]]:
    r"""``n`` low-pass bands ``(0, f_k)`` with ``f_k`` geometric from ``f_start`` to ``f_stop``.

    Parameters
    ----------
    f_start, f_stop : float
        Highest frequencies (Hz) of the first and last band, ``0 < f_start <= f_stop``.
    n : int
        Number of bands (``>= 1``).

    Returns
    -------
    list of tuple
        :math:`(0, f_k)`, :math:`f_k = f_{start} (f_{stop}/f_{start})^{k/(n-1)}`.

    Notes
    -----
    Bunks et al. (1995): a band whose highest frequency :math:`f` keeps the predicted and
    observed waves within half a period :math:`1/(2f)` of each other has one valley of the
    misfit around the truth; each band's estimate must then be within half a period of the
    next band's. A factor of about 1.5–2 between successive bands is usual.
    """
    f_start = check_positive(f_start, "lowpass_bands", "f_start", units="Hz")
    f_stop = check_positive(f_stop, "lowpass_bands", "f_stop", units="Hz")
    n = check_int(n, "lowpass_bands", "n", low=1)
    if f_stop < f_start:
        raise ValueError(f"lowpass_bands: f_stop must be >= f_start = {f_start}, got {f_stop}")
    if n == 1:
        return [(0.0, f_stop)]
    return [(0.0, float(f)) for f in np.geomspace(f_start, f_stop, n)]


def band_levels(
    forward: ForwardOperator,
    observed,
    noise_sd: float,
    bands: Sequence,
    *,
    n_traces: int,
    nt: int,
    dt: float,
    nugget: float = 1e-2,
    numtaps: int | None = None,
) -> list[BandLevel]:
    r"""Return the filtered and whitened operator and data of each band, lowest first.

    Parameters
    ----------
    forward : ForwardOperator
        Model parameters to traces ordered ``(trace, time)``: ``n_traces * nt`` values.
    observed : array_like
        The observed traces (same ordering), noise sd ``noise_sd`` per sample (white).
    noise_sd : float
        Noise standard deviation of the unfiltered samples.
    bands : sequence of (float, float)
        ``(f_low, f_high)`` in Hz, from low to high (e.g. :func:`lowpass_bands`).
    n_traces, nt : int
        Traces and samples per trace.
    dt : float
        Sample interval (s).
    nugget : float, optional
        Relative variance of :class:`~bayesinv.operators.wave.TraceWhitening` (default
        ``1e-2``).
    numtaps : int, optional
        Filter length (by default :class:`~bayesinv.operators.wave.BandPass`'s).

    Returns
    -------
    list of BandLevel

    Notes
    -----
    Level :math:`k` observes :math:`W_k F_k d` with :math:`F_k` the band-pass filter and
    :math:`W_k` the whitening of :math:`σ^2 (F_k F_k^T + ε I)`, so its likelihood
    :math:`N(W_k F_k d;\, W_k F_k f(m),\, σ^2 I)` is that of the band's information (not
    the overconfident one of treating filtered noise as white; see
    :class:`~bayesinv.operators.wave.TraceWhitening`).
    """
    from bayesinv.operators.wave import BandPass, TraceWhitening

    where = "band_levels"
    if not isinstance(forward, ForwardOperator):
        raise TypeError(f"{where}: forward must be a ForwardOperator, got {type(forward)}")
    n_traces = check_int(n_traces, where, "n_traces", low=1)
    nt = check_int(nt, where, "nt", low=1)
    noise_sd = check_positive(noise_sd, where, "noise_sd")
    d = np.asarray(observed, dtype=np.float64).ravel()
    if d.size != n_traces * nt or forward.n_data != d.size:
        raise ValueError(
            f"{where}: observed must have n_traces * nt = {n_traces * nt} values, as many as "
            f"forward gives ({forward.n_data}); got {d.size}"
        )
    if len(bands) == 0:
        raise ValueError(f"{where}: bands must name at least one band")
    highs = [float(b[1]) for b in bands]
    if any(h1 < h0 for h0, h1 in itertools.pairwise(highs)):
        raise ValueError(f"{where}: bands must go from low to high, got highs {highs}")
    levels = []
    for band in bands:
        filt = BandPass(n_traces, nt, dt, band, numtaps=numtaps)
        white = TraceWhitening(filt, noise_sd, nugget=nugget)
        levels.append(
            BandLevel(
                band=filt.band,
                operator=white @ filt @ forward,
                data=white.forward(filt.forward(d)),
                noise_sd=noise_sd,
                bandpass=filt,
                whitening=white,
            )
        )
    return levels


def band_builder(levels: Sequence[BandLevel], prior: Callable, name: str = "traces"):
    r"""``build(level)`` for :func:`~bayesinv.inference.continuation.continuation`.

    Parameters
    ----------
    levels : sequence of BandLevel
        From :func:`band_levels`.
    prior : callable
        ``prior(level) -> tensor`` of the forward operator's parameters, called inside the
        level's model context; it declares the level's prior at the resolution matching the
        band (e.g. ``besov_prior(..., max_level=ℓ)``, then ``nested=True`` in
        ``continuation``; or a coarse grid prolonged to the fine one).
    name : str
        Name of the observed variable.

    Returns
    -------
    callable
        ``build(level) -> pymc.Model`` with ``pm.Normal(name, ForwardOp(op_k)(m), σ,
        observed=data_k)``.
    """
    import pymc as pm

    from bayesinv.ops import ForwardOp

    levels = list(levels)

    def build(level: int) -> pm.Model:
        if not 0 <= level < len(levels):
            raise ValueError(f"band_builder: level must be in 0..{len(levels) - 1}, got {level}")
        lev = levels[level]
        with pm.Model() as model:
            m = prior(level)
            pm.Normal(name, ForwardOp(lev.operator)(m), lev.noise_sd, observed=lev.data)
        return model

    return build
