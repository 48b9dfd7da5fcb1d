r"""Cheap data terms: an unknown base level (per modality or per survey line) and a linear trend.

Field data often carry a constant of their own: a gravity survey tied to an arbitrary base
station, magnetics after an unknown regional removal, travel times with a trigger delay;
and a smooth regional field from sources outside the section. Two cheap parameters model
them, added to a modality's prediction:

.. math::

    d_i = F(m)_i + c_{g(i)} + \mathbf{b}^T(\mathbf{x}_i - \bar{\mathbf{x}}) + ε_i,

with an offset :math:`c_g \sim N(μ_c, s_c^2)` per group :math:`g` (one group: the whole
modality; or one per survey line) and slopes :math:`\mathbf{b} \sim N(0, s_b^2)` over data
coordinates :math:`\mathbf{x}_i` centred at :math:`\bar{\mathbf{x}}`. Being linear with
Gaussian priors, they keep a linear-Gaussian problem Gaussian and cost one parameter each.

When the discrepancy GP (:class:`~bayesinv.model.discrepancy.Discrepancy`) is worth its
cost: when the residual structure is not a constant or a plane (a curved regional, a
terrain-correction error varying along the line, an unmodelled body) and there are enough
data to learn a length scale. Start with an offset and a trend; add the GP only if the
posterior predictive residuals, plotted against station position, still show structure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesinv._checks import check_float, check_positive
from bayesinv.model.noise import numeric_array

__all__ = ["DataTerm", "LinearTrend", "Offset"]


class DataTerm:
    """Base of the additive data terms a :class:`~bayesinv.model.modality.Modality` takes.

    A subclass implements ``validate(modality, n)`` (checks against the number of data) and
    ``add_to_model(modality, coords, used, *, model=None)`` returning a tensor of length
    ``used.size`` added to the modality's prediction.
    """

    def validate(self, modality: str, n: int) -> None:
        """Check the term against a modality of ``n`` data (raise ``ValueError``)."""

    def add_to_model(self, modality: str, coords, used, *, model=None):  # pragma: no cover
        """Add the term's variables; return its contribution to the used data."""
        raise NotImplementedError


@dataclass(eq=False)
class Offset(DataTerm):
    r"""An unknown base level, one per modality or one per group (e.g. survey line).

    Parameters
    ----------
    sd : float
        Prior standard deviation :math:`s_c` of each offset, in data units.
    mean : float
        Prior mean :math:`μ_c`.
    groups : array_like, optional
        A label per datum (all data, masked ones included); one offset per distinct label,
        in sorted order. ``None``: one offset for the whole modality.
    name : str
        Variable suffix: the offsets are ``"{modality}_{name}"`` (with dim
        ``"{modality}_{name}_group"`` when grouped).

    Notes
    -----
    Adds :math:`c_g \sim N(μ_c, s_c^2)` and returns :math:`c_{g(i)}` for the used data.

    Examples
    --------
    >>> Offset(1.0, groups=[1, 1, 2]).n_groups
    2
    """

    sd: float = 1.0
    mean: float = 0.0
    groups: object = None
    name: str = "offset"

    def __post_init__(self):
        self.sd = check_positive(self.sd, "Offset", "sd")
        self.mean = check_float(self.mean, "Offset", "mean")
        if self.groups is not None:
            labels = np.asarray(self.groups)
            if labels.ndim != 1 or labels.size == 0:
                raise ValueError(
                    f"Offset: groups must be a 1-D array of labels, got {labels.shape}"
                )
            self.labels, self.index = np.unique(labels, return_inverse=True)

    @property
    def n_groups(self) -> int:
        """Number of offsets."""
        return 1 if self.groups is None else self.labels.size

    def validate(self, modality: str, n: int) -> None:
        """Check that ``groups`` has one label per datum."""
        if self.groups is not None and self.index.size != n:
            raise ValueError(
                f"modality {modality!r}: Offset groups must have one label per datum ({n}), "
                f"got {self.index.size}"
            )

    def add_to_model(self, modality: str, coords, used, *, model=None):
        """Add ``"{modality}_{name}"``; return the offset of each used datum."""
        import pymc as pm

        model = pm.modelcontext(model)
        var = f"{modality}_{self.name}"
        with model:
            if self.groups is None:
                return pm.Normal(var, self.mean, self.sd) + np.zeros(len(used))
            dim = f"{var}_group"
            model.add_coord(dim, [str(v) for v in self.labels])
            c = pm.Normal(var, self.mean, self.sd, dims=dim)
            return c[self.index[np.asarray(used)]]


@dataclass(eq=False)
class LinearTrend(DataTerm):
    r"""A linear regional trend over the data coordinates.

    Parameters
    ----------
    sd : float or array_like
        Prior standard deviation :math:`s_b` of each slope, in data units per coordinate
        unit (e.g. mGal/m); one value or one per coordinate column.
    coords : array_like, optional
        ``(n,)`` or ``(n, k)`` coordinates of the data (all data); default the modality's
        ``coords`` (e.g. station positions).
    columns : sequence of int, optional
        Which coordinate columns to use (default: the first, e.g. ``x`` along a line).
    reference : float or array_like, optional
        The centre :math:`\bar{\mathbf{x}}` (default the mean over the used data), so the
        trend does not trade off with an offset.
    name : str
        Variable suffix: slopes ``"{modality}_{name}"`` with dim ``"{modality}_{name}_coord"``.

    Notes
    -----
    Adds :math:`\mathbf{b} \sim N(0, \mathrm{diag}(s_b^2))` and returns
    :math:`(\mathbf{x}_i - \bar{\mathbf{x}})^T \mathbf{b}` for the used data.
    """

    sd: object = 1.0
    coords: object = None
    columns: tuple = (0,)
    reference: object = None
    name: str = "trend"

    def __post_init__(self):
        sd = numeric_array(self.sd, "LinearTrend", "sd")
        if np.any(~np.isfinite(sd) | (sd <= 0)):
            raise ValueError(f"LinearTrend: sd must be finite and > 0, got {self.sd!r}")
        self.columns = tuple(int(c) for c in np.atleast_1d(self.columns))
        self._sd = np.broadcast_to(sd, (len(self.columns),)).astype(np.float64)

    def _design(self, coords, used) -> np.ndarray:
        x = coords if self.coords is None else numeric_array(self.coords, "LinearTrend", "coords")
        x = x[:, None] if x.ndim == 1 else x
        if max(self.columns) >= x.shape[1]:
            raise ValueError(f"LinearTrend: columns {self.columns} but coords have {x.shape[1]}")
        x = x[np.asarray(used)][:, list(self.columns)]
        ref = (
            x.mean(axis=0)
            if self.reference is None
            else np.broadcast_to(
                numeric_array(self.reference, "LinearTrend", "reference"), (x.shape[1],)
            )
        )
        return x - ref

    def validate(self, modality: str, n: int) -> None:
        """Check that ``coords``, if given, has one row per datum."""
        if self.coords is not None and len(np.asarray(self.coords)) != n:
            raise ValueError(
                f"modality {modality!r}: LinearTrend coords must have {n} rows, "
                f"got {len(np.asarray(self.coords))}"
            )

    def design(self, coords, used) -> np.ndarray:
        """Return the centred design matrix :math:`X` (used data x slopes)."""
        return self._design(np.asarray(coords, dtype=np.float64), used)

    def add_to_model(self, modality: str, coords, used, *, model=None):
        r"""Add ``"{modality}_{name}"``; return :math:`X\mathbf{b}` for the used data."""
        import pymc as pm
        import pytensor.tensor as pt

        model = pm.modelcontext(model)
        var = f"{modality}_{self.name}"
        X = self.design(coords, used)
        with model:
            dim = f"{var}_coord"
            model.add_coord(dim, [f"c{c}" for c in self.columns])
            b = pm.Normal(var, 0.0, self._sd, dims=dim)
            return pt.dot(pt.as_tensor(X), b)
