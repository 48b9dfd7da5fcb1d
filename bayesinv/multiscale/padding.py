"""Zero-padding of a coefficient vector: the coarse part of a multiscale parameterization."""

from __future__ import annotations

import numba
import numpy as np

from bayesinv.operators.base import ForwardOperator, NumbaKernels

__all__ = ["ZeroPadding"]


class ZeroPadding(ForwardOperator):
    """Embed ``k`` leading coefficients in a vector of length ``n`` filled with zeros.

    Parameters
    ----------
    k : int
        Number of kept coefficients (``1 <= k <= n``).
    n : int
        Length of the padded vector.

    Notes
    -----
    ``forward(θ) = [θ; 0]`` and its adjoint keeps the first ``k`` entries,
    ``vjp(·, d) = d[:k]``. Composed after a wavelet synthesis, it restricts the field to the
    coarse levels (see :meth:`bayesinv.multiscale.WaveletField.coarse_operator`).

    Examples
    --------
    >>> ZeroPadding(2, 4).forward([1.0, 2.0])
    array([1., 2., 0., 0.])
    """

    linear = True

    def __init__(self, k: int, n: int):
        for arg, v in (("k", k), ("n", n)):
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ValueError(f"ZeroPadding: {arg} must be a positive integer, got {v!r}")
        if k > n:
            raise ValueError(f"ZeroPadding: k={k} must not exceed n={n}")
        self.n_params = int(k)
        self.n_data = int(n)

    def _forward(self, m):
        out = np.zeros(self.n_data)
        out[: self.n_params] = m
        return out

    def _vjp(self, m, dd):
        return dd[: self.n_params].copy()

    def _build_numba_kernels(self):
        k, n = self.n_params, self.n_data

        @numba.njit(nogil=True)
        def forward(m):
            out = np.zeros(n)
            out[:k] = m
            return out

        @numba.njit(nogil=True)
        def jvp(m, dm):
            return forward(dm)

        @numba.njit(nogil=True)
        def vjp(m, dd):
            return dd[:k].copy()

        return NumbaKernels(forward, jvp, vjp)
