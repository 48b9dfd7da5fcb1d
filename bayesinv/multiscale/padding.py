"""Zero-padding of a coefficient vector: the coarse part of a multiscale parameterization."""

from __future__ import annotations

from bayesinv._checks import check_int
from bayesinv.multiscale._padding_numba import pad, truncate
from bayesinv.operators.base import ForwardOperator, linear_kernels

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
        k = check_int(k, "ZeroPadding", "k", low=1)
        n = check_int(n, "ZeroPadding", "n", low=1)
        if k > n:
            raise ValueError(f"ZeroPadding: k={k} must not exceed n={n}")
        self.n_params = int(k)
        self.n_data = int(n)

    def _forward(self, m):
        return pad(m, self.n_data)

    def _vjp(self, m, dd):
        return truncate(dd, self.n_params)

    def _build_numba_kernels(self):
        return linear_kernels(pad, truncate, (self.n_data,), (self.n_params,))
