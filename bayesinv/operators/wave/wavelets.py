"""Source wavelets: the Ricker wavelet, time axes and the validation of user wavelets."""

from __future__ import annotations

import numpy as np

from bayesinv._checks import check_float, check_positive

__all__ = ["check_wavelet", "ricker", "time_samples"]


def time_samples(dt, duration, where: str = "time_samples") -> np.ndarray:
    """Sample times ``t_n = n dt`` covering ``[0, duration]``.

    Parameters
    ----------
    dt : float
        Time step (s), > 0.
    duration : float
        Length of the record (s), > 0 and at least ``dt``.
    where : str
        Name used in error messages.

    Returns
    -------
    numpy.ndarray
        ``t_n = n dt`` for ``n = 0 .. nt - 1`` with ``nt = floor(duration / dt) + 1``.

    Raises
    ------
    ValueError
        When ``dt`` or ``duration`` is not a positive finite number or ``duration < dt``.
    """
    dt = check_positive(dt, where, "dt", units="s")
    duration = check_positive(duration, where, "duration", units="s")
    if duration < dt:
        raise ValueError(f"{where}: duration must be >= dt = {dt:g} s, got {duration!r}")
    nt = int(np.floor(duration / dt + 1e-9)) + 1
    return dt * np.arange(nt)


def ricker(peak_frequency, times, delay=None) -> np.ndarray:
    r"""Ricker wavelet (second derivative of a Gaussian, sign flipped) at ``times``.

    Parameters
    ----------
    peak_frequency : float
        Peak frequency :math:`f_p` (Hz), > 0.
    times : array_like
        Sample times (s).
    delay : float, optional
        Time of the central peak (s); ``1.5 / f_p`` by default, so that the wavelet is
        below ``1e-9`` of its peak at ``t = 0``.

    Returns
    -------
    numpy.ndarray
        :math:`w(t) = (1 - 2 π^2 f_p^2 τ^2)\, e^{-π^2 f_p^2 τ^2}` with :math:`τ = t - t_0`.

    Notes
    -----
    The amplitude spectrum is :math:`|W(f)| ∝ (f/f_p)^2 e^{-f^2/f_p^2}`: it peaks at
    :math:`f_p` and falls below 1% of the peak above about :math:`2.9 f_p`. Its time
    integral is :math:`τ e^{-π^2 f_p^2 τ^2}` (used by the 1-D analytic solution).
    """
    f = check_positive(peak_frequency, "ricker", "peak_frequency", units="Hz")
    t0 = 1.5 / f if delay is None else check_float(delay, "ricker", "delay", units="s")
    tau = np.asarray(times, dtype=np.float64) - t0
    a = (np.pi * f * tau) ** 2
    return (1.0 - 2.0 * a) * np.exp(-a)


def check_wavelet(wavelet, nt: int, n_sources: int, where: str) -> np.ndarray:
    """Validate a source wavelet and broadcast it to one row per source.

    Parameters
    ----------
    wavelet : array_like
        Shape ``(nt,)`` (the same wavelet for every source) or ``(n_sources, nt)``.
    nt : int
        Number of time samples.
    n_sources : int
        Number of sources (shots).
    where : str
        Name used in error messages.

    Returns
    -------
    numpy.ndarray
        Read-only C-contiguous float64 array of shape ``(n_sources, nt)``.

    Raises
    ------
    ValueError
        When the shape is wrong, an entry is NaN or infinite, or the wavelet is all zeros.
    """
    try:
        w = np.array(wavelet, dtype=np.float64, ndmin=1)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: wavelet must be an array of numbers") from None
    if w.ndim == 1:
        w = np.broadcast_to(w, (n_sources, w.shape[0]))
    if w.ndim != 2 or w.shape != (n_sources, nt):
        raise ValueError(
            f"{where}: wavelet must have shape ({nt},) or ({n_sources}, {nt}) "
            f"(nt samples of the time axis), got {np.shape(wavelet)}"
        )
    bad = ~np.isfinite(w)
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{where}: wavelet has NaN or infinite entries (first at {idx})")
    if not np.any(w):
        raise ValueError(f"{where}: wavelet is zero everywhere")
    w = np.ascontiguousarray(w)
    w.flags.writeable = False
    return w
