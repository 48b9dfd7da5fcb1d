r"""Couplings between fields: structural (cross-gradient), petrophysical and two-scale links.

The simplest coupling needs no object: two modalities that name the same ``field`` see the
same property (a *shared field*). The classes here add ``pm.Potential`` terms to the model:

- :class:`CrossGradient`: penalises :math:`\sum |∇a × ∇b|^2` (structural similarity);
- :class:`Petrophysical`: ``target ≈ g(source)`` with a Gaussian scatter (soft constraint);
- :class:`Homogenization`: a coarse property ≈ an average of a fine one over each coarse
  cell (arithmetic, harmonic or geometric: the Wiener bounds and the geometric mean of
  effective-medium theory), with a Gaussian scatter.

Each coupling has ``fields`` (the names it needs) and
``add_to_model(tensors, grids, *, model=None)`` that adds its terms to the model given the
flat field tensors and their grids (``add(tensors, grids)`` is the deprecated 0.1 spelling).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bayesinv._checks import check_choice, check_positive
from bayesinv.grid import Grid2D

__all__ = [
    "Coupling",
    "CrossGradient",
    "Homogenization",
    "Petrophysical",
    "archie",
    "linear",
    "power_law",
]


class Coupling:
    """Base class of couplings: a term linking fields, added with :meth:`add_to_model`."""

    @property
    def fields(self) -> tuple[str, ...]:
        """Names of the coupled fields."""
        raise NotImplementedError

    def add_to_model(self, tensors: dict, grids: dict, *, model=None):
        """Add the coupling's terms to the model; return the ``pm.Potential``.

        Parameters
        ----------
        tensors : dict of str to TensorVariable
            Flat field tensors by field name (at least :attr:`fields`).
        grids : dict of str to Grid2D or Grid1D
            Their grids.
        model : pymc.Model, optional
            Defaults to the model in context.

        Returns
        -------
        TensorVariable
            The potential added to the model.
        """
        import pymc as pm

        with pm.modelcontext(model):
            return self._potential(tensors, grids)

    def add(self, tensors: dict, grids: dict):
        """Add the terms to the current model (deprecated: use :meth:`add_to_model`).

        Parameters
        ----------
        tensors, grids : dict
            As in :meth:`add_to_model`.

        Returns
        -------
        TensorVariable
            The potential.
        """
        warnings.warn(
            f"{type(self).__name__}.add is deprecated and will be removed in bayesinv 0.3; "
            "use add_to_model(tensors, grids, *, model=None)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.add_to_model(tensors, grids)

    def _potential(self, tensors: dict, grids: dict):
        raise NotImplementedError


def _two_names(a, b, where: str, labels: tuple[str, str]) -> None:
    for label, value in zip(labels, (a, b), strict=True):
        if not isinstance(value, str):
            raise ValueError(f"{where}: {label} must be a field name, got {value!r}")
    if a == b:
        raise ValueError(f"{where}: needs two different fields, got {a!r} twice")


@dataclass(frozen=True)
class CrossGradient(Coupling):
    r"""Cross-gradient structural coupling of two fields on the same grid.

    Parameters
    ----------
    a, b : str
        Field names.
    weight : float
        Weight ``w`` of the penalty (> 0).
    scales : tuple of float
        Typical magnitudes ``(s_a, s_b)`` of the two fields; the cross-gradient is computed on
        ``a / s_a`` and ``b / s_b`` so that ``w`` does not depend on units.

    Notes
    -----
    Adds ``pm.Potential("cross_gradient_{a}_{b}", -w Σ t²)`` with
    ``t = CrossGradient2D(grid)([a / s_a; b / s_b])`` (see
    :class:`~bayesinv.operators.crossgradient.CrossGradient2D`, whose numba kernels give the
    gradient), times the cell area ``Δx Δz`` so that the penalty approximates
    :math:`w \int |∇a × ∇b|^2 dA` and keeps its meaning under refinement.
    """

    a: str
    b: str
    weight: float
    scales: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self):
        _two_names(self.a, self.b, "CrossGradient", ("a", "b"))
        check_positive(self.weight, "CrossGradient", "weight")
        scales = self.scales
        if isinstance(scales, str) or np.ndim(scales) != 1 or len(scales) != 2:
            raise ValueError(
                "CrossGradient: scales must be a pair (s_a, s_b), one typical magnitude per "
                f"field ({self.a!r}, {self.b!r}), got {scales!r}"
            )
        check_positive(scales[0], "CrossGradient", f"scales[0] (field {self.a!r})")
        check_positive(scales[1], "CrossGradient", f"scales[1] (field {self.b!r})")

    @property
    def fields(self) -> tuple[str, ...]:
        """Names of the coupled fields."""
        return (self.a, self.b)

    def operator(self, grid):
        """Return the cross-gradient operator on ``grid``."""
        from bayesinv.operators.crossgradient import CrossGradient2D

        return CrossGradient2D(grid)

    def _potential(self, tensors: dict, grids: dict):
        import pymc as pm
        import pytensor.tensor as pt

        from bayesinv.ops import forward

        ga, gb = grids[self.a], grids[self.b]
        if ga != gb or not isinstance(ga, Grid2D):
            raise ValueError(
                f"CrossGradient: fields {self.a!r} and {self.b!r} must share one Grid2D"
            )
        m = pt.concatenate([tensors[self.a] / self.scales[0], tensors[self.b] / self.scales[1]])
        t = forward(self.operator(ga), m)
        penalty = self.weight * ga.dx * ga.dz * pt.sum(t**2)
        return pm.Potential(f"cross_gradient_{self.a}_{self.b}", -penalty)


def linear(slope, intercept) -> Callable:
    """Linear relation ``target = slope * source + intercept``.

    Parameters
    ----------
    slope, intercept : float or TensorVariable
        Coefficients (PyMC variables make them hierarchical).

    Returns
    -------
    callable
    """
    return lambda x: slope * x + intercept


def power_law(factor, exponent) -> Callable:
    """Power law ``target = factor * source ** exponent`` (e.g. Gardner ρ = a V^b).

    Parameters
    ----------
    factor, exponent : float or TensorVariable
        Coefficients; ``source`` must be positive.

    Returns
    -------
    callable
    """
    return lambda x: factor * x**exponent


def archie(log_fluid_conductivity, cementation) -> Callable:
    """Archie's law in log form: ``log σ = log σ_w + m log φ`` (source: porosity φ in (0, 1)).

    Parameters
    ----------
    log_fluid_conductivity : float or TensorVariable
        ``log σ_w`` of the pore fluid (S/m).
    cementation : float or TensorVariable
        Cementation exponent ``m`` (typically 1.3–2.5).

    Returns
    -------
    callable
        Maps porosity to log-conductivity.
    """
    import pytensor.tensor as pt

    return lambda phi: log_fluid_conductivity + cementation * pt.log(phi)


@dataclass(frozen=True)
class Petrophysical(Coupling):
    """Soft petrophysical link ``target ~ N(g(source), scatter²)`` cell by cell.

    Parameters
    ----------
    source, target : str
        Field names (same grid).
    relation : callable
        ``g``: maps the source tensor to the expected target (:func:`linear`,
        :func:`power_law`, :func:`archie`, or any PyTensor expression).
    scatter : float
        Standard deviation of the target about the relation (> 0).

    Notes
    -----
    Adds ``pm.Potential("petrophysics_{source}_{target}", Σ log N(target | g(source), s²))``.
    Both fields keep their own priors; the potential ties them together.
    """

    source: str
    target: str
    relation: Callable
    scatter: float

    def __post_init__(self):
        _two_names(self.source, self.target, "Petrophysical", ("source", "target"))
        if not callable(self.relation):
            raise TypeError("Petrophysical: relation must be callable")
        check_positive(self.scatter, "Petrophysical", "scatter")

    @property
    def fields(self) -> tuple[str, ...]:
        """Names of the coupled fields."""
        return (self.source, self.target)

    def _potential(self, tensors: dict, grids: dict):
        import pymc as pm

        if grids[self.source] != grids[self.target]:
            raise ValueError(
                f"Petrophysical: fields {self.source!r} and {self.target!r} must share a grid"
            )
        expected = self.relation(tensors[self.source])
        logp = pm.logp(pm.Normal.dist(expected, self.scatter), tensors[self.target]).sum()
        return pm.Potential(f"petrophysics_{self.source}_{self.target}", logp)


_AVERAGES = ("arithmetic", "harmonic", "geometric")


@dataclass(frozen=True)
class Homogenization(Coupling):
    r"""Two-scale link: each coarse cell ≈ an average of the fine cells it contains.

    Parameters
    ----------
    fine, coarse : str
        Field names; the coarse grid covers the fine one with cells ``factor`` times larger
        along both axes.
    kind : {"arithmetic", "harmonic", "geometric"}
        The average (arithmetic and harmonic are the Wiener bounds of an effective
        property; geometric lies between them).
    scatter : float
        Standard deviation of the coarse field about the average (> 0), in the units of the
        coarse field.
    log : bool
        Whether both fields hold the logarithm of the property (e.g. log-conductivity). The
        average is then taken of ``exp(fine)`` and compared with the coarse field through
        ``log``; the geometric average becomes the plain mean of ``fine``.

    Notes
    -----
    For fine values :math:`p_1..p_N` in a coarse cell: arithmetic :math:`\bar p = Σ p_i/N`,
    harmonic :math:`\bar p = N / Σ p_i^{-1}`, geometric :math:`\bar p = \exp(Σ \log p_i/N)`.
    Adds ``pm.Potential("homogenization_{fine}_{coarse}", Σ log N(coarse | avg, s²))``.
    """

    fine: str
    coarse: str
    kind: str = "geometric"
    scatter: float = 0.1
    log: bool = True

    def __post_init__(self):
        _two_names(self.fine, self.coarse, "Homogenization", ("fine", "coarse"))
        check_choice(self.kind, "Homogenization", "kind", _AVERAGES)
        check_positive(self.scatter, "Homogenization", "scatter")
        if not isinstance(self.log, bool):
            raise ValueError(f"Homogenization: log must be True or False, got {self.log!r}")

    @property
    def fields(self) -> tuple[str, ...]:
        """Names of the coupled fields."""
        return (self.fine, self.coarse)

    def average(self, fine, fine_grid: Grid2D, coarse_grid: Grid2D):
        """Block average of the flat fine tensor onto the coarse grid (flat).

        Parameters
        ----------
        fine : TensorVariable
            Flat fine field.
        fine_grid, coarse_grid : Grid2D
            Grids; the coarse one must be an exact coarsening of the fine one.

        Returns
        -------
        TensorVariable
            Flat coarse tensor (in the fields' units: log if ``log=True``).
        """
        import pytensor.tensor as pt

        f = _coarsening_factor(fine_grid, coarse_grid, self)
        blocks = fine.reshape((coarse_grid.nz, f, coarse_grid.nx, f))
        if self.log:
            if self.kind == "geometric":
                return blocks.mean(axis=(1, 3)).ravel()
            values = pt.exp(blocks)
        else:
            values = blocks
        if self.kind == "arithmetic":
            avg = values.mean(axis=(1, 3))
        elif self.kind == "harmonic":
            avg = 1.0 / (1.0 / values).mean(axis=(1, 3))
        else:
            avg = pt.exp(pt.log(values).mean(axis=(1, 3)))
        return (pt.log(avg) if self.log else avg).ravel()

    def _potential(self, tensors: dict, grids: dict):
        import pymc as pm

        avg = self.average(tensors[self.fine], grids[self.fine], grids[self.coarse])
        logp = pm.logp(pm.Normal.dist(avg, self.scatter), tensors[self.coarse]).sum()
        return pm.Potential(f"homogenization_{self.fine}_{self.coarse}", logp)


def _coarsening_factor(fine: Grid2D, coarse: Grid2D, who) -> int:
    if not (isinstance(fine, Grid2D) and isinstance(coarse, Grid2D)):
        raise ValueError(f"{type(who).__name__}: both fields must be on Grid2D grids")
    f = fine.nx // coarse.nx if coarse.nx else 0
    ok = (
        f >= 1
        and coarse.nx * f == fine.nx
        and coarse.nz * f == fine.nz
        and np.isclose(coarse.dx, f * fine.dx)
        and np.isclose(coarse.dz, f * fine.dz)
        and np.isclose(coarse.x0, fine.x0)
        and np.isclose(coarse.z0, fine.z0)
    )
    if not ok:
        raise ValueError(
            f"{type(who).__name__}: grid of {who.coarse!r} is not an exact coarsening of the "
            f"grid of {who.fine!r} (same origin, cells an integer factor larger)"
        )
    return f
