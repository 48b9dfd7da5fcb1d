"""Whitening of band-limited traces: the likelihood of filtered data with correlated noise."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import prange

from bayesinv._checks import check_positive
from bayesinv._numba import njit
from bayesinv.operators._cholesky_numba import (
    CholeskyPattern,
    cholesky_solve_lower,
    cholesky_solve_upper,
)
from bayesinv.operators.base import ForwardOperator, linear_kernels
from bayesinv.operators.wave._bandpass_numba import SERIAL_TRACES

__all__ = ["TraceWhitening"]


@njit(nogil=True, cache=True)
def _half_solve(x, first, ptr, L, t, upper):
    """Trace ``t`` of ``x`` overwritten by L^{-T} x[t] (``upper``) or L^{-1} x[t]."""
    if upper:
        cholesky_solve_upper(first, ptr, L, x[t])  # scatters within the trace
    else:
        cholesky_solve_lower(first, ptr, L, x[t])  # gathers


@njit(nogil=True, cache=True, parallel=True)
def _solve_threads(y, first, ptr, L, n_traces, nt, upper):
    x = y.copy().reshape((n_traces, nt))
    for t in prange(n_traces):  # traces are independent
        _half_solve(x, first, ptr, L, t, upper)
    return x.ravel()


@njit(nogil=True, cache=True)
def _solve_serial(y, first, ptr, L, n_traces, nt, upper):
    x = y.copy().reshape((n_traces, nt))
    for t in range(n_traces):
        _half_solve(x, first, ptr, L, t, upper)
    return x.ravel()


@njit(nogil=True, cache=True)
def _solve_lower(y, first, ptr, L, n_traces, nt):
    """X = L^{-1} y per trace (shared Cholesky half-solve; threads from ``SERIAL_TRACES`` on)."""
    if n_traces < SERIAL_TRACES:
        return _solve_serial(y, first, ptr, L, n_traces, nt, False)
    return _solve_threads(y, first, ptr, L, n_traces, nt, False)


@njit(nogil=True, cache=True)
def _solve_upper(x, first, ptr, L, n_traces, nt):
    """Z = L^{-T} x per trace (the adjoint of :func:`_solve_lower`)."""
    if n_traces < SERIAL_TRACES:
        return _solve_serial(x, first, ptr, L, n_traces, nt, True)
    return _solve_threads(x, first, ptr, L, n_traces, nt, True)


class TraceWhitening(ForwardOperator):
    r"""Whitening operator of band-pass filtered white noise, trace by trace.

    Parameters
    ----------
    bandpass : BandPass
        The filter applied to the data (its taps, ``n_traces`` and ``nt`` are used).
    noise_sd : float
        Standard deviation :math:`σ` of the white noise on the *unfiltered* samples.
    nugget : float, optional
        Relative variance :math:`ε` of an extra white term (default ``1e-2``): the assumed
        covariance of one filtered trace is :math:`σ^2 (F F^T + ε I)`.

    Notes
    -----
    Observed traces are :math:`d = f(m) + e`, :math:`e \sim N(0, σ^2 I)`; a modality that
    sees :math:`F d` (``F`` the ``BandPass`` matrix of one trace, banded Toeplitz with
    bandwidth :math:`M`) sees noise :math:`F e \sim N(0, σ^2 F F^T)`, which is strongly
    correlated: treating it as white misstates the noise power in the band by the factor
    :math:`1 / (2 f_{high} Δt)` and the posterior is far too narrow. With the Cholesky
    factor :math:`σ^2 (F F^T + ε I) = σ^2 L L^T` (banded, bandwidth :math:`2M`), this
    operator is :math:`W = L^{-1}` per trace, so that

    .. math::

        W F d = W F f(m) + σ\, η ,\qquad η \sim N(0, \text{close to } I),

    and the modality uses ``TraceWhitening @ BandPass @ wave`` with data
    ``W.forward(F.forward(d))`` and noise sd :math:`σ`. The nugget is required, not a
    convenience: a FIR filter is invertible, so with :math:`ε \to 0` the whitened filtered
    data carry the full-band information again (stop-band components of size
    :math:`|H| \sim 2 \cdot 10^{-3}` are amplified back), which defeats frequency
    continuation. With :math:`ε` a frequency :math:`f` keeps the weight
    :math:`|H(f)|^2 / (|H(f)|^2 + ε)` — about :math:`1 - ε` in the pass band and
    :math:`|H|^2/ε` in the stop band — so the posterior of the band's information is
    exact up to a variance inflation of :math:`1 + ε` (slightly conservative).
    ``L`` is the envelope Cholesky factor of the shared SPD solver
    (``bayesinv/operators/_cholesky_numba.py``) in time order; ``W`` and ``W^T = L^{-T}``
    are its two half-solves (``nt * 2M`` operations per trace); ``prange`` runs over
    traces.

    Examples
    --------
    >>> from bayesinv.operators.wave import BandPass
    >>> f = BandPass(n_traces=2, nt=200, dt=1e-3, band=(0.0, 30.0))
    >>> w = TraceWhitening(f, noise_sd=0.1)
    >>> w.n_params, w.n_data
    (400, 400)
    """

    linear = True

    def __init__(self, bandpass, noise_sd, nugget=1e-2):
        from bayesinv.operators.wave.bandpass import BandPass

        where = "TraceWhitening"
        if not isinstance(bandpass, BandPass):
            raise TypeError(f"{where}: bandpass must be a BandPass, got {type(bandpass).__name__}")
        self.noise_sd = check_positive(noise_sd, where, "noise_sd")
        self.nugget = check_positive(nugget, where, "nugget")
        self.n_traces, self.nt = bandpass.n_traces, bandpass.nt
        self.n_params = self.n_data = self.n_traces * self.nt
        # the banded covariance of one trace, factorised by the shared envelope Cholesky in
        # the time order (perm = identity, so that W = L^-1 is lower triangular: causal)
        cov = _band_covariance(bandpass.taps, self.nt, self.nugget).tocoo()
        pattern = CholeskyPattern(cov.row, cov.col, self.nt, perm=np.arange(self.nt))
        L = pattern.factor(cov.data).L
        L.flags.writeable = False
        self._factor = (pattern.first, pattern.ptr, L)

    @staticmethod
    def trace_covariance(taps, nt, nugget=0.0) -> np.ndarray:
        """Covariance ``F F^T + nugget I`` of one filtered trace of unit white noise.

        Parameters
        ----------
        taps : array_like
            Odd-length symmetric FIR taps (``BandPass.taps``).
        nt : int
            Samples per trace.
        nugget : float, optional
            Added to the diagonal.

        Returns
        -------
        numpy.ndarray
            ``(nt, nt)``; ``F[n, k] = taps[n - k + M]`` for ``|n - k| <= M``.
        """
        return _band_covariance(taps, int(nt), nugget).toarray()

    def _forward(self, m):
        return _solve_lower(np.ascontiguousarray(m), *self._factor, self.n_traces, self.nt)

    def _vjp(self, m, dd):
        return _solve_upper(np.ascontiguousarray(dd), *self._factor, self.n_traces, self.nt)

    def _build_numba_kernels(self):
        args = (*self._factor, self.n_traces, self.nt)
        return linear_kernels(_solve_lower, _solve_upper, args)


def _band_covariance(taps, nt, nugget):
    """``F F^T + nugget I`` of one trace as a sparse matrix (bandwidth ``2M``)."""
    taps = np.asarray(taps, dtype=np.float64)
    half = (taps.size - 1) // 2
    offsets = [j for j in range(-half, half + 1) if abs(j) < nt]
    # F[n, n - j] = taps[j + half]: diagonal -j
    f = sp.diags([np.full(nt - abs(j), taps[j + half]) for j in offsets],
                 [-j for j in offsets], shape=(nt, nt), format="csr")  # fmt: skip
    return (f @ f.T + nugget * sp.identity(nt, format="csr")).tocsr()
