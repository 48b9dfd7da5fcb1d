"""Helpers shared by the prior functions and the mean and transform helpers.

Used by :mod:`bayesinv.model.priors` and :mod:`bayesinv.model.transforms`: argument checks,
the mean of a field and the registration of a field as a named ``pm.Deterministic``.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayesinv._checks import check_positive
from bayesinv.grid import Grid1D, Grid2D


def positive_scalar(x, function: str, argument: str):
    """Positive finite number (as a float), or a PyTensor/PyMC scalar left to the user.

    Parameters
    ----------
    x : float, numpy scalar, 0-d array or TensorVariable
        The value.
    function, argument : str
        Named in the error message.

    Returns
    -------
    float or TensorVariable
    """
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x.item()
    if isinstance(x, Real | str | bytes | bool | np.generic | np.ndarray | list | tuple):
        return check_positive(x, function, argument)
    x = pt.as_tensor_variable(x)
    if x.ndim != 0:
        raise ValueError(f"{function}: {argument} must be a scalar, got {x.ndim} dimensions")
    return x


def register_field(name: str, m, grid, dims, model: pm.Model, function: str):
    """Register ``pm.Deterministic(name, m)`` with dims; return the flat field."""
    if dims is None:
        return pm.Deterministic(name, m, model=model)
    dims = (dims,) if isinstance(dims, str) else tuple(dims)
    if len(dims) == 1:
        values = grid.z_centers if isinstance(grid, Grid1D) else np.arange(grid.size)
        shaped = m
    elif len(dims) == 2 and isinstance(grid, Grid2D):
        values = None
        shaped = m.reshape(grid.shape)
    else:
        raise ValueError(
            f"{function}: dims must name one flat dim or, on a Grid2D, two dims (z, x); got {dims}"
        )
    coord_values = [values] if values is not None else [grid.z_centers, grid.x_centers]
    for dim, vals in zip(dims, coord_values, strict=True):
        if dim not in model.coords:
            model.add_coord(dim, vals)
        elif len(model.coords[dim]) != len(vals):
            raise ValueError(
                f"{function}: dim {dim!r} has {len(model.coords[dim])} coords, "
                f"the field needs {len(vals)}"
            )
    pm.Deterministic(name, shaped, dims=dims, model=model)
    return m


def add_mean(m, mean, n: int, function: str):
    """Return ``m + mean``, the mean being a finite scalar, a length-``n`` vector or a tensor."""
    if isinstance(mean, pt.Variable):
        return m + mean
    try:
        arr = np.asarray(mean, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{function}: mean must be a number, an array of numbers or a tensor, got {mean!r}"
        ) from None
    if arr.ndim not in (0, 1) or (arr.ndim == 1 and arr.shape[0] != n):
        raise ValueError(f"{function}: mean must be a scalar or have length {n}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{function}: mean must be finite")
    return m if (arr.ndim == 0 and arr == 0.0) else m + arr


def latent_dims(name: str, n: int, dims, model: pm.Model):
    """Dims of a prior's latent vector: ``("{name}_coeff",)`` when the field has dims."""
    if dims is None:
        return None
    dim = f"{name}_coeff"
    if dim not in model.coords:
        model.add_coord(dim, np.arange(n))
    return (dim,)
