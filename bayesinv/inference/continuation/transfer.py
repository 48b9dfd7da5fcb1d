"""Transfers: how a coarse level's estimate starts the next finer level.

``transfer(level, point, fine_model) -> initial values`` of level ``level + 1``:
:func:`zero_pad_transfer` (the nesting rule of :mod:`bayesinv.inference._model_space`, for
wavelet coefficients ordered coarsest first) or :func:`prolong_transfer` (coarse-grid fields
prolonged to the next grid).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pymc as pm

from bayesinv.inference._model_space import free_shapes, zero_pad
from bayesinv.multiscale.hierarchy import GridHierarchy

__all__ = ["Transfer", "prolong_transfer", "zero_pad_transfer"]

#: ``transfer(level, point, fine_model) -> initial values`` for level ``level + 1``
Transfer = Callable[[int, dict, pm.Model], dict]


def zero_pad_transfer(level: int, point: dict, fine_model: pm.Model) -> dict:
    """Carry a coarse level's estimate to the next level, zero-padding longer vectors.

    Variables of the same name and shape are copied (e.g. hyperparameters); a 1-D variable
    that is longer in the fine model gets the coarse values first and zeros after. This is
    the transfer for wavelet coefficients ordered coarsest first (:func:`~bayesinv.model.
    priors.besov_prior` with ``max_level=level``): the finer levels start at zero.

    Parameters
    ----------
    level : int
        The coarse level the point comes from.
    point : dict
        Its estimate of the free variables (constrained, by name).
    fine_model : pymc.Model
        The model of level ``level + 1``.

    Returns
    -------
    dict
        Initial values for the fine model's free variables that the point covers.
    """
    return zero_pad(point, free_shapes(fine_model), "zero_pad_transfer")


def prolong_transfer(hierarchies: Mapping[str, GridHierarchy], kind: str = "constant") -> Transfer:
    """Make a transfer that prolongs coarse-grid field variables to the next grid.

    Parameters
    ----------
    hierarchies : mapping of str to GridHierarchy
        For each free variable that is a field on ``hierarchy[level]`` at level ``level``,
        its grid hierarchy (the model's levels are the hierarchy's levels).
    kind : {"constant", "bilinear"}
        Interpolation (see :class:`~bayesinv.multiscale.Prolongation`).

    Returns
    -------
    callable
        ``transfer(level, point, fine_model)``: the named fields are prolonged from grid
        ``level`` to grid ``level + 1``; other variables as in :func:`zero_pad_transfer`.
    """
    hierarchies = dict(hierarchies)

    def transfer(level: int, point: dict, fine_model: pm.Model) -> dict:
        rest = {k: v for k, v in point.items() if k not in hierarchies}
        out = zero_pad_transfer(level, rest, fine_model)
        for name, hierarchy in hierarchies.items():
            if name not in point:
                raise ValueError(f"prolong_transfer: variable {name!r} is not in the point")
            P = hierarchy.prolongation(level, level + 1, kind=kind)
            out[name] = P.forward(np.ravel(point[name]))
        return out

    return transfer
