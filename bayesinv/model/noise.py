"""Noise models of a modality: known, scaled (hierarchical), or a full covariance.

Each noise model adds its variables to the current ``pm.Model`` under the modality's name
and returns either per-datum standard deviations or a covariance matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CovarianceNoise", "HierarchicalNoise", "KnownNoise", "Noise", "ScaledNoise"]


def _positive_vector(values, n: int, modality: str, argument: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(
            f"modality {modality!r}: {argument} must be a scalar or have length {n}, "
            f"got shape {arr.shape}"
        )
    bad = ~np.isfinite(arr) | (arr <= 0)
    if np.any(bad):
        raise ValueError(
            f"modality {modality!r}: {argument} must be finite and > 0; "
            f"bad at index {np.flatnonzero(bad)[:10].tolist()}"
        )
    return arr


class Noise:
    """Base class of noise models.

    Subclasses implement :meth:`build`, returning ``("sd", sd)`` with a vector of standard
    deviations, or ``("cov", cov)`` with a covariance matrix, for the data kept by the mask.
    """

    def build(self, name: str, n: int, used: np.ndarray):
        """Add the noise variables to the current model.

        Parameters
        ----------
        name : str
            Modality name (prefix of the variables).
        n : int
            Total number of data of the modality (before masking).
        used : numpy.ndarray
            Indices of the data kept by the mask.

        Returns
        -------
        tuple
            ``("sd", tensor_or_array)`` or ``("cov", tensor_or_array)``.
        """
        raise NotImplementedError

    def validate(self, name: str, n: int) -> None:
        """Check the noise against the modality's number of data (raises ``ValueError``).

        Parameters
        ----------
        name : str
            Modality name for error messages.
        n : int
            Number of data.
        """
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class KnownNoise(Noise):
    """Independent Gaussian noise with known standard deviation(s).

    Parameters
    ----------
    sigma : float or array_like
        Standard deviation, scalar or one per datum, > 0.
    """

    sigma: object

    def validate(self, name, n):
        """Validate ``sigma``."""
        _positive_vector(self.sigma, n, name, "noise sigma")

    def build(self, name, n, used):
        """Return the known standard deviations of the used data."""
        return "sd", _positive_vector(self.sigma, n, name, "noise sigma")[used]


@dataclass(frozen=True, eq=False)
class ScaledNoise(Noise):
    r"""Given per-datum errors times an unknown common scale factor (the usual hierarchy).

    Parameters
    ----------
    errors : float or array_like
        Reported standard errors, > 0.
    prior_sd : float
        The scale factor ``{name}_sigma`` has a ``LogNormal(0, prior_sd)`` prior (median 1:
        the reported errors are right on average; ``prior_sd = 0.5`` allows factors of
        about 0.4–2.7 at 95%).

    Notes
    -----
    :math:`σ_i = s\, e_i`, :math:`s \sim \mathrm{LogNormal}(0, τ)`; ``{name}_sigma`` is ``s``.
    """

    errors: object
    prior_sd: float = 0.5

    def validate(self, name, n):
        """Validate the errors and the prior."""
        _positive_vector(self.errors, n, name, "noise errors")
        if not (np.isfinite(self.prior_sd) and self.prior_sd > 0):
            raise ValueError(f"modality {name!r}: noise prior_sd must be > 0")

    def build(self, name, n, used):
        """Add ``{name}_sigma`` (the scale factor) and return ``s * errors``."""
        import pymc as pm

        errors = _positive_vector(self.errors, n, name, "noise errors")[used]
        scale = pm.LogNormal(f"{name}_sigma", mu=0.0, sigma=self.prior_sd)
        return "sd", scale * errors


@dataclass(frozen=True, eq=False)
class HierarchicalNoise(Noise):
    """A common unknown noise level ``{name}_sigma ~ HalfNormal(prior_scale)``.

    Parameters
    ----------
    prior_scale : float
        Scale of the half-normal prior, in data units.
    """

    prior_scale: float

    def validate(self, name, n):
        """Validate the prior scale."""
        if not (np.isfinite(self.prior_scale) and self.prior_scale > 0):
            raise ValueError(f"modality {name!r}: noise prior_scale must be > 0")

    def build(self, name, n, used):
        """Add ``{name}_sigma`` and return it broadcast over the used data."""
        import pymc as pm
        import pytensor.tensor as pt

        sigma = pm.HalfNormal(f"{name}_sigma", sigma=self.prior_scale)
        return "sd", sigma * pt.ones(len(used))


@dataclass(frozen=True, eq=False)
class CovarianceNoise(Noise):
    """Gaussian noise with a known full covariance matrix.

    Parameters
    ----------
    cov : array_like
        Symmetric positive-definite ``(n, n)`` covariance.
    """

    cov: object

    def _matrix(self, name, n):
        cov = np.asarray(self.cov, dtype=np.float64)
        if cov.shape != (n, n):
            raise ValueError(f"modality {name!r}: noise cov must be ({n}, {n}), got {cov.shape}")
        if not np.all(np.isfinite(cov)) or not np.allclose(cov, cov.T, rtol=1e-10, atol=0):
            raise ValueError(f"modality {name!r}: noise cov must be finite and symmetric")
        try:
            np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise ValueError(f"modality {name!r}: noise cov is not positive definite") from None
        return cov

    def validate(self, name, n):
        """Validate the covariance."""
        self._matrix(name, n)

    def build(self, name, n, used):
        """Return the covariance of the used data."""
        return "cov", self._matrix(name, n)[np.ix_(used, used)]
