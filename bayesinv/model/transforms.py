"""Means and transforms of prior fields.

:func:`field_mean` builds a mean field (a constant, a depth profile or layers between
interfaces) to add to a zero-mean prior; :func:`positive_transform` and
:func:`bounded_transform` map an unbounded field to a positive or bounded property.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from bayesinv._checks import check_float
from bayesinv.grid import Grid1D, Grid2D
from bayesinv.model._priors_common import positive_scalar

__all__ = ["bounded_transform", "field_mean", "positive_transform"]


def field_mean(grid, value, interfaces=None):
    """Mean field on a grid: a constant, a depth profile, or layers between interfaces.

    Parameters
    ----------
    grid : Grid2D or Grid1D
        The field's grid.
    value : float, array_like or TensorVariable
        A scalar (constant mean); with ``interfaces=None`` a vector of length ``nz`` (one
        value per depth row); with ``interfaces`` a vector of ``len(interfaces) + 1`` layer
        values (top layer first). May be PyMC variables.
    interfaces : array_like, optional
        Strictly increasing interface depths (m, positive down). A cell belongs to the layer
        containing its centre (a centre exactly on an interface goes to the deeper layer).

    Returns
    -------
    TensorVariable
        Flat vector of length ``grid.size`` (C order), to add to a zero-mean prior field.
    """
    if not isinstance(grid, Grid2D | Grid1D):
        raise ValueError(f"field_mean: grid must be a Grid2D or Grid1D, got {type(grid).__name__}")
    value = pt.as_tensor_variable(value)
    if value.ndim > 1:
        raise ValueError(f"field_mean: value must be a scalar or a vector, got {value.ndim} dims")
    nx = 1 if isinstance(grid, Grid1D) else grid.nx
    if interfaces is None:
        if value.ndim == 0:
            return pt.ones(grid.size) * value
        row = np.arange(grid.nz)
        n_expected = grid.nz
    else:
        z = np.asarray(interfaces, dtype=np.float64)
        if z.ndim != 1 or z.size == 0 or not np.all(np.isfinite(z)) or np.any(np.diff(z) <= 0):
            raise ValueError(
                f"field_mean: interfaces must be a non-empty, finite, strictly increasing 1-D "
                f"array of depths, got {interfaces!r}"
            )
        if value.ndim != 1:
            raise ValueError("field_mean: with interfaces, value must hold one value per layer")
        row = np.searchsorted(z, grid.z_centers, side="right")
        n_expected = z.size + 1
    static = value.type.shape[0]
    if static is not None and static != n_expected:
        raise ValueError(f"field_mean: value has length {static}, expected {n_expected}")
    return value[np.repeat(row, nx)]


def positive_transform(field, reference=1.0, lower=0.0):
    r"""Map an unbounded field to a positive property, ``lower + reference * exp(field)``.

    Parameters
    ----------
    field : TensorVariable
        Unbounded field, e.g. a log-conductivity or log-velocity perturbation.
    reference : float or TensorVariable
        Positive reference value (the property where ``field = 0``, above ``lower``).
    lower : float
        Lower bound (e.g. a minimum velocity); ``0`` for conductivity.

    Returns
    -------
    TensorVariable
        Property strictly greater than ``lower``.

    Examples
    --------
    Conductivity from log-conductivity is ``positive_transform(log_sigma)``; a velocity of
    at least 300 m/s around 1500 m/s is ``positive_transform(m, reference=1200.0,
    lower=300.0)``.
    """
    reference = positive_scalar(reference, "positive_transform", "reference")
    lower = check_float(lower, "positive_transform", "lower")
    return lower + reference * pt.exp(field)


def bounded_transform(field, lower: float, upper: float):
    r"""Map an unbounded field into ``(lower, upper)`` with a logistic function.

    Parameters
    ----------
    field : TensorVariable
        Unbounded field.
    lower, upper : float
        Bounds, ``lower < upper``.

    Returns
    -------
    TensorVariable
        :math:`\mathrm{lower} + (\mathrm{upper} - \mathrm{lower})\, σ(\mathrm{field})` with
        :math:`σ(x) = 1 / (1 + e^{-x})`.
    """
    lower = check_float(lower, "bounded_transform", "lower")
    upper = check_float(upper, "bounded_transform", "upper")
    if not lower < upper:
        raise ValueError(
            f"bounded_transform: need finite lower < upper, got lower={lower}, upper={upper}"
        )
    return lower + (upper - lower) * pt.sigmoid(field)
