"""Band-limited observation: a zero-phase FIR band-pass (or low-pass) filter on traces."""

from __future__ import annotations

import numpy as np

from bayesinv._checks import check_int, check_positive
from bayesinv.operators.base import ForwardOperator, linear_kernels
from bayesinv.operators.wave._bandpass_numba import fir_adjoint, fir_apply

__all__ = ["BandPass"]


def _check_band(band, dt, where):
    nyquist = 0.5 / dt
    try:
        f_low, f_high = (float(b) for b in band)
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}: band must be a pair (f_low, f_high) in Hz, got {band!r}"
        ) from None
    if not (np.isfinite(f_low) and np.isfinite(f_high) and 0.0 <= f_low < f_high < nyquist):
        raise ValueError(
            f"{where}: band must satisfy 0 <= f_low < f_high < Nyquist = 1/(2 dt) = "
            f"{nyquist:g} Hz, got {tuple(band)!r}"
        )
    return f_low, f_high


class BandPass(ForwardOperator):
    r"""Zero-phase FIR filter applied to every trace: a linear operator with exact adjoint.

    Parameters
    ----------
    n_traces : int
        Number of traces (e.g. ``n_sources * n_receivers`` of a wave operator).
    nt : int
        Samples per trace; data are ordered ``(trace, time)`` as the wave operators'.
    dt : float
        Sample interval (s).
    band : tuple of float
        ``(f_low, f_high)`` in Hz with ``0 <= f_low < f_high < 1 / (2 dt)``; ``f_low = 0``
        gives a low-pass filter.
    numtaps : int, optional
        Odd filter length. By default ``2 ceil(1.65 / (Δf dt)) + 1``, with ``Δf`` the
        narrowest of ``f_low`` (if > 0), ``f_high - f_low`` and ``f_high``: the Hamming
        window's transition width ``3.3 / (numtaps dt)`` is then about ``Δf`` (stop-band
        attenuation about 53 dB); at most ``2 nt - 1``. The cost per trace is
        ``nt * numtaps`` multiply-adds.

    Notes
    -----
    The taps :math:`h_j`, :math:`j = -M..M`, are a Hamming-windowed ideal band-pass
    (``scipy.signal.firwin``); symmetric taps have a real, zero-phase response
    :math:`H(f) = \sum_j h_j e^{-2πi f j Δt}`. Each trace is convolved with them,

    .. math::

        y_n = \sum_{k=0}^{n_t - 1} h_{n-k}\, x_k ,\qquad
        x^{adj}_k = \sum_{n=0}^{n_t - 1} h_{n-k}\, y_n ,

    samples outside the trace being zero, so the adjoint (a correlation) is the exact
    transpose, including the trace ends. Compose with a wave operator as
    ``BandPass(...) @ wave``. Filtering the data is filtering the source wavelet
    (:meth:`filter_wavelet`), since the wave equation is linear and time-invariant, except
    within ``M`` samples of the trace ends; the filter is non-causal, so a wavelet should
    start at least ``M dt`` after ``t = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> f = BandPass(n_traces=2, nt=200, dt=1e-3, band=(0.0, 30.0))
    >>> f.n_params, f.n_data, f.linear
    (400, 400, True)
    """

    linear = True

    def __init__(self, n_traces, nt, dt, band, numtaps=None):
        where = "BandPass"
        self.n_traces = check_int(n_traces, where, "n_traces", low=1)
        self.nt = check_int(nt, where, "nt", low=1)
        self.dt = check_positive(dt, where, "dt", units="s")
        self.band = _check_band(band, self.dt, where)
        f_low, f_high = self.band
        if numtaps is None:
            widths = [f_high - f_low, f_high] + ([f_low] if f_low > 0 else [])
            half = int(np.ceil(1.65 / (min(widths) * self.dt)))
            numtaps = 2 * min(half, self.nt - 1) + 1
        numtaps = check_int(numtaps, where, "numtaps", low=1)
        if numtaps % 2 == 0:
            raise ValueError(f"{where}: numtaps must be odd (zero phase), got {numtaps}")
        from scipy.signal import firwin

        cutoff = [f_low, f_high] if f_low > 0 else f_high
        taps = firwin(numtaps, cutoff, pass_zero=f_low == 0, fs=1.0 / self.dt)
        self.taps = np.ascontiguousarray(0.5 * (taps + taps[::-1]))  # exactly symmetric
        self.taps.flags.writeable = False
        self.n_params = self.n_data = self.n_traces * self.nt

    def frequency_response(self, frequencies) -> np.ndarray:
        r"""Real (zero-phase) response :math:`H(f)` at ``frequencies`` (Hz).

        Parameters
        ----------
        frequencies : array_like
            Frequencies in Hz.

        Returns
        -------
        numpy.ndarray
            :math:`\sum_j h_j \cos(2π f j Δt)`.
        """
        f = np.asarray(frequencies, dtype=np.float64)
        half = (self.taps.size - 1) // 2
        j = np.arange(-half, half + 1)
        return np.cos(2 * np.pi * f[..., None] * j * self.dt) @ self.taps

    def filter_wavelet(self, wavelet) -> np.ndarray:
        """Apply the same filter to a source wavelet (or to each row of an array of them).

        Parameters
        ----------
        wavelet : array_like
            Shape ``(nt,)`` or ``(n, nt)``.

        Returns
        -------
        numpy.ndarray
            The filtered wavelet(s), same shape.
        """
        w = np.asarray(wavelet, dtype=np.float64)
        if w.shape[-1] != self.nt or w.ndim > 2 or not np.all(np.isfinite(w)):
            raise ValueError(
                f"BandPass.filter_wavelet: wavelet must be finite with shape ({self.nt},) or "
                f"(n, {self.nt}), got shape {w.shape}"
            )
        rows = np.ascontiguousarray(w.reshape(-1, self.nt)).ravel()
        return fir_apply(rows, self.taps, rows.size // self.nt, self.nt).reshape(w.shape)

    def _forward(self, m):
        return fir_apply(m, self.taps, self.n_traces, self.nt)

    def _vjp(self, m, dd):
        return fir_adjoint(dd, self.taps, self.n_traces, self.nt)

    def _build_numba_kernels(self):
        args = (self.taps, self.n_traces, self.nt)
        return linear_kernels(fir_apply, fir_adjoint, args)
