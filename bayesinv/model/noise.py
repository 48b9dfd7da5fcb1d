"""Noise models of a modality: known, scaled (hierarchical), or a full covariance.

Each noise model's ``add_to_model(name, n, used, *, model=None)`` adds its variables to the
model under the modality's name and returns either per-datum standard deviations or a
covariance matrix.
"""

from __future__ import annotations

import reprlib
import warnings
from dataclasses import dataclass

import numpy as np

from bayesinv._checks import check_positive

__all__ = ["CovarianceNoise", "HierarchicalNoise", "KnownNoise", "Noise", "ScaledNoise"]


def numeric_array(values, where: str, argument: str) -> np.ndarray:
    """Convert to a float64 array, refusing strings, booleans and other non-numbers.

    Parameters
    ----------
    values : array_like
        What the caller passed.
    where : str
        Who received it (``"KnownNoise"``, ``"modality 'gravity'"``, ...).
    argument : str
        The argument's name.

    Returns
    -------
    numpy.ndarray
        ``values`` as float64 (NaN and infinities are left to the caller).

    Raises
    ------
    ValueError
        Naming ``where`` and ``argument`` when ``values`` is not made of numbers (numpy would
        silently convert ``"1.0"`` and ``True``, or fail with a message naming neither).
    """
    try:
        kind = np.asarray(values).dtype.kind
    except (TypeError, ValueError):
        kind = "O"
    if kind not in "iuf":
        raise ValueError(
            f"{where}: {argument} must be a number or an array of numbers, "
            f"got {reprlib.repr(values)}"
        )
    return np.asarray(values, dtype=np.float64)


def _positive_vector(values, n: int, modality: str, argument: str) -> np.ndarray:
    arr = numeric_array(values, f"modality {modality!r}", argument)
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

    Subclasses implement :meth:`add_to_model`, returning ``("sd", sd)`` with a vector of
    standard deviations, or ``("cov", cov)`` with a covariance matrix, for the data kept by
    the mask, and :meth:`validate`. ``build(name, n, used)`` is the 0.1 spelling of
    ``add_to_model``: calling it warns, and a subclass that still implements only ``build``
    keeps working (with a ``DeprecationWarning``) until bayesinv 0.3.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "build" in vars(cls) and "add_to_model" not in vars(cls):
            # a subclass written for bayesinv 0.1: its build becomes its add_to_model
            cls.add_to_model = _legacy_add_to_model

    def add_to_model(self, name: str, n: int, used: np.ndarray, *, model=None):
        """Add the noise variables to the model.

        Parameters
        ----------
        name : str
            Modality name (prefix of the variables).
        n : int
            Total number of data of the modality (before masking).
        used : numpy.ndarray
            Indices of the data kept by the mask.
        model : pymc.Model, optional
            Defaults to the model in context.

        Returns
        -------
        tuple
            ``("sd", tensor_or_array)`` or ``("cov", tensor_or_array)``.
        """
        raise NotImplementedError

    def build(self, name: str, n: int, used: np.ndarray):
        """Add the noise variables to the current model (deprecated: :meth:`add_to_model`).

        Parameters
        ----------
        name : str
            Modality name.
        n : int
            Number of data.
        used : numpy.ndarray
            Indices of the used data.

        Returns
        -------
        tuple
            As :meth:`add_to_model`.
        """
        warnings.warn(
            f"{type(self).__name__}.build is deprecated and will be removed in bayesinv 0.3; "
            "use add_to_model(name, n, used, *, model=None)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.add_to_model(name, n, used)

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


def _legacy_add_to_model(self, name, n, used, *, model=None):
    import pymc as pm

    warnings.warn(
        f"{type(self).__name__}.build is deprecated and will be removed in bayesinv 0.3; "
        "implement add_to_model(name, n, used, *, model=None)",
        DeprecationWarning,
        stacklevel=2,
    )
    with pm.modelcontext(model):
        return self.build(name, n, used)


@dataclass(frozen=True, eq=False)
class KnownNoise(Noise):
    """Independent Gaussian noise with known standard deviation(s).

    Parameters
    ----------
    sigma : float or array_like
        Standard deviation, scalar or one per datum, > 0.
    """

    sigma: object

    def __post_init__(self):
        numeric_array(self.sigma, "KnownNoise", "sigma")

    def validate(self, name, n):
        """Validate ``sigma``."""
        _positive_vector(self.sigma, n, name, "noise sigma")

    def add_to_model(self, name, n, used, *, model=None):
        """Return the known standard deviations of the used data (no variables)."""
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

    def __post_init__(self):
        numeric_array(self.errors, "ScaledNoise", "errors")
        check_positive(self.prior_sd, "ScaledNoise", "prior_sd")

    def validate(self, name, n):
        """Validate the errors."""
        _positive_vector(self.errors, n, name, "noise errors")

    def add_to_model(self, name, n, used, *, model=None):
        """Add ``{name}_sigma`` (the scale factor) and return ``s * errors``."""
        import pymc as pm

        errors = _positive_vector(self.errors, n, name, "noise errors")[used]
        with pm.modelcontext(model):
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

    def __post_init__(self):
        check_positive(self.prior_scale, "HierarchicalNoise", "prior_scale")

    def validate(self, name, n):
        """Nothing depends on the modality (the prior scale is checked on construction)."""

    def add_to_model(self, name, n, used, *, model=None):
        """Add ``{name}_sigma`` and return it broadcast over the used data."""
        import pymc as pm
        import pytensor.tensor as pt

        with pm.modelcontext(model):
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

    def __post_init__(self):
        numeric_array(self.cov, "CovarianceNoise", "cov")

    def _matrix(self, name, n):
        cov = numeric_array(self.cov, f"modality {name!r}", "noise cov")
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

    def add_to_model(self, name, n, used, *, model=None):
        """Return the covariance of the used data (no variables)."""
        return "cov", self._matrix(name, n)[np.ix_(used, used)]


def typical_sd(sd) -> float | None:
    """Median of a numeric noise standard deviation; ``None`` when it is learned.

    Parameters
    ----------
    sd : numpy.ndarray, float or TensorVariable
        A noise standard deviation (a tensor when it is a model variable).

    Returns
    -------
    float or None
    """
    if isinstance(sd, np.ndarray | float | int):
        return float(np.median(sd))
    return None
