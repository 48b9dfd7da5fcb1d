"""Fields of the joint model: a named property on a grid with a prior.

A field prior is any callable ``prior(name, grid) -> flat tensor`` that adds its variables
to the current ``pm.Model`` and registers ``pm.Deterministic(name, ..., dims=field_dims)``.
:class:`IIDNormal` is the simplest; the multiscale priors of :mod:`bayesinv.model.priors` follow
the same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesinv.grid import Grid1D, Grid2D

__all__ = ["BesovField", "Field", "IIDNormal", "MaternField", "field_dims"]


def field_dims(name: str, grid) -> tuple[str, ...]:
    """PyMC dims of a field: ``(name_z, name_x)`` on a Grid2D, ``(name_z,)`` on a Grid1D.

    Parameters
    ----------
    name : str
        Field name.
    grid : Grid2D or Grid1D
        Its grid.

    Returns
    -------
    tuple of str
    """
    if isinstance(grid, Grid2D):
        return (f"{name}_z", f"{name}_x")
    if isinstance(grid, Grid1D):
        return (f"{name}_z",)
    raise TypeError(f"field {name!r}: grid must be a Grid2D or Grid1D, got {type(grid).__name__}")


@dataclass(frozen=True)
class IIDNormal:
    """Independent normal prior on every cell, non-centred.

    Parameters
    ----------
    mu : float
        Prior mean.
    sigma : float
        Prior standard deviation (> 0).

    Notes
    -----
    Adds ``{name}_z_score ~ N(0, 1)`` per cell and ``{name} = mu + sigma * z``. Unlike the
    multiscale priors it is not discretisation invariant: the variance of a regional
    average shrinks as the grid is refined.
    """

    mu: float = 0.0
    sigma: float = 1.0

    def __post_init__(self):
        if not (np.isfinite(self.sigma) and self.sigma > 0) or not np.isfinite(self.mu):
            raise ValueError(
                f"IIDNormal: need finite mu and sigma > 0, got {self.mu}, {self.sigma}"
            )

    def __call__(self, name: str, grid):
        """Add the prior of field ``name`` on ``grid`` and return its flat tensor."""
        import pymc as pm

        dims = field_dims(name, grid)
        z = pm.Normal(f"{name}_z_score", 0.0, 1.0, dims=dims)
        return pm.Deterministic(name, self.mu + self.sigma * z, dims=dims).ravel()


def _value(value, name: str, what: str):
    """Return ``value``, or call it with ``"{name}_{what}"`` to create a PyMC variable."""
    return value(f"{name}_{what}") if callable(value) else value


@dataclass(frozen=True)
class BesovField:
    """Besov wavelet prior on the field (see :func:`bayesinv.model.priors.besov_prior`).

    Parameters
    ----------
    s : float
        Smoothness; point variances converge under refinement for ``s > d / p``.
    p : {1, 2}
        2 gives Gaussian coefficients, 1 Laplace (sparser, blockier fields).
    wavelet : str
        PyWavelets name (``"haar"``, ``"db2"``, ``"db4"``, ...).
    levels : int, optional
        Decomposition levels (default: as many as the grid allows).
    scale : float or callable
        Overall scale κ, or ``f(name) -> PyMC variable`` for a hyperprior (called with
        ``"{field}_scale"``).
    heavy_tail : {None, "student_t", "horseshoe"}
        Heavy-tailed coefficients for blocky bodies.
    mean : float or array_like
        Field mean.
    """

    s: float = 2.0
    p: int = 2
    wavelet: str = "haar"
    levels: int | None = None
    scale: object = 1.0
    heavy_tail: str | None = None
    mean: object = 0.0

    def __call__(self, name: str, grid):
        """Add the prior of field ``name`` on ``grid`` and return its flat tensor."""
        from bayesinv.model.priors import besov_prior
        from bayesinv.multiscale import WaveletField

        wf = WaveletField(grid, self.wavelet, levels=self.levels)
        return besov_prior(
            name,
            wf,
            self.s,
            self.p,
            _value(self.scale, name, "scale"),
            self.heavy_tail,
            mean=self.mean,
            dims=field_dims(name, grid),
        )


@dataclass(frozen=True)
class MaternField:
    """Matérn Gaussian random field on a coarsened grid, prolonged to the field's grid.

    Parameters
    ----------
    variance, length_scale : float or callable
        Marginal variance and length scale (m), or ``f(name) -> PyMC variable`` for
        hierarchical ones (called with ``"{field}_variance"`` / ``"{field}_length_scale"``).
    nu : {0.5, 1.5, 2.5}
        Smoothness.
    coarsening : int
        The GRF lives on a grid ``coarsening`` times coarser (1: on the field's grid), which
        keeps the dense Cholesky factor small.
    kind : {"constant", "bilinear"}
        Prolongation from the coarse grid.
    mean : float or array_like
        Field mean.

    Notes
    -----
    See :func:`bayesinv.model.priors.matern_prior`; the cost of the dense factor grows as the cube
    of the number of coarse cells.
    """

    variance: object = 1.0
    length_scale: object = 1.0
    nu: float = 1.5
    coarsening: int = 1
    kind: str = "bilinear"
    mean: object = 0.0

    def __call__(self, name: str, grid):
        """Add the prior of field ``name`` on ``grid`` and return its flat tensor."""
        from bayesinv.model.priors import matern_prior
        from bayesinv.multiscale import Prolongation, coarsen

        support = grid
        if self.coarsening != 1:
            support = Prolongation(coarsen(grid, self.coarsening), grid, kind=self.kind)
        return matern_prior(
            name,
            support,
            _value(self.variance, name, "variance"),
            _value(self.length_scale, name, "length_scale"),
            self.nu,
            mean=self.mean,
            dims=field_dims(name, grid),
        )


@dataclass(frozen=True)
class Field:
    """A named property on a grid with its prior.

    Parameters
    ----------
    name : str
        Field name (a Python identifier); its variable has dims :func:`field_dims`.
    grid : Grid2D or Grid1D
        The grid.
    prior : callable
        ``prior(name, grid) -> flat tensor`` (default :class:`IIDNormal` ``(0, 1)``).
    """

    name: str
    grid: object
    prior: object = IIDNormal()

    def __post_init__(self):
        from bayesinv.model.modality import check_name

        check_name(self.name, "field")
        field_dims(self.name, self.grid)
        if not callable(self.prior):
            raise TypeError(f"field {self.name!r}: prior must be callable (name, grid) -> tensor")

    def add_to_model(self):
        """Add the field's coords and prior to the current model; return its flat tensor."""
        import pymc as pm

        model = pm.modelcontext(None)
        coords = self.grid.coords(self.name)
        for dim in field_dims(self.name, self.grid):
            model.add_coord(dim, coords[dim])
        flat = self.prior(self.name, self.grid)
        if flat.ndim != 1:
            flat = flat.ravel()
        return flat
