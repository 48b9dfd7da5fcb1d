r"""A diagonal times a low-rank change of the identity, as a linear operator."""

from __future__ import annotations

import numpy as np

from bayesinv.operators._lowrank_numba import lowrank_apply
from bayesinv.operators.base import ForwardOperator, linear_kernels

__all__ = ["LowRankUpdate"]


class LowRankUpdate(ForwardOperator):
    r"""Linear map :math:`A z = \mathrm{diag}(s)\,(z + U\,\mathrm{diag}(c)\,U^T z)`.

    Parameters
    ----------
    scale : array_like, shape (n,)
        The diagonal :math:`s`.
    basis : array_like, shape (n, r)
        :math:`U`; only its non-zero rows are stored and used.
    coefficients : array_like, shape (r,)
        :math:`c`.
    name : str, optional
        Name used in error messages.

    Notes
    -----
    ``forward`` applies :math:`A` and ``vjp`` applies
    :math:`A^T = (I + U \mathrm{diag}(c) U^T)\mathrm{diag}(s)`, each in :math:`O(n + k r)`
    operations for a basis with ``k`` non-zero rows. With :math:`U` orthonormal and
    :math:`c = σ - 1` this is the factor of the covariance
    :math:`\mathrm{diag}(s)(I + U \mathrm{diag}(σ^2 - 1) U^T)\mathrm{diag}(s)` (see
    :mod:`bayesinv.inference.preconditioning`).
    """

    linear = True

    def __init__(self, scale, basis, coefficients, name: str = "LowRankUpdate"):
        scale = np.array(scale, dtype=np.float64).ravel()
        n = scale.size
        basis = np.asarray(basis, dtype=np.float64)
        coefficients = np.array(coefficients, dtype=np.float64).ravel()
        if basis.ndim != 2 or basis.shape[0] != n or basis.shape[1] != coefficients.size:
            raise ValueError(
                f"{name}: basis must have shape ({n}, {coefficients.size}) to match scale and "
                f"coefficients, got {basis.shape}"
            )
        for label, value in (("scale", scale), ("basis", basis), ("coefficients", coefficients)):
            if not np.all(np.isfinite(value)):
                raise ValueError(f"{name}: {label} contains non-finite values")
        self.rows = np.flatnonzero(np.any(basis != 0.0, axis=1)).astype(np.int64)
        self.basis = np.ascontiguousarray(basis[self.rows])
        self.scale, self.coefficients = scale, coefficients
        for value in (self.rows, self.basis, self.scale, self.coefficients):
            value.setflags(write=False)
        self.n_data = self.n_params = n
        self._name = name

    @property
    def name(self) -> str:
        """Name used in error messages."""
        return self._name

    def _factors(self):
        return self.scale, self.rows, self.basis, self.coefficients

    def _forward(self, m):
        return lowrank_apply(m, *self._factors(), False)

    def _vjp(self, m, dd):
        return lowrank_apply(dd, *self._factors(), True)

    def _build_numba_kernels(self):
        factors = self._factors()
        return linear_kernels(lowrank_apply, lowrank_apply, (*factors, False), (*factors, True))
