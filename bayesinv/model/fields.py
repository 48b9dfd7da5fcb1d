"""Fields of the joint model and their prior specs.

A :class:`Field` is a named property on a grid with a prior. A prior spec is an object with
``add_to_model(name, grid, *, model=None) -> flat tensor`` (PyMC's ``Deterministic`` style:
it adds named variables to the model in context, or to ``model``, and registers
``pm.Deterministic(name, ..., dims=field_dims(name, grid))``). The specs here are
:class:`IIDNormal`, :class:`BesovPrior` and :class:`MaternPrior`; the last two call the prior
functions of :mod:`bayesinv.model.priors`.

``MaternField`` and ``BesovField`` are the 0.1 names of :class:`MaternPrior` and
:class:`BesovPrior` (they are priors, not fields); they still resolve, with a
``DeprecationWarning``, until bayesinv 0.3.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from bayesinv._checks import check_choice, check_float, check_int, check_positive
from bayesinv.grid import Grid1D, Grid2D

__all__ = ["BesovPrior", "Field", "IIDNormal", "MaternPrior", "Prior", "field_dims"]

#: deprecated name -> current name (removed in bayesinv 0.3)
_RENAMED = {"MaternField": "MaternPrior", "BesovField": "BesovPrior"}


def __getattr__(name):
    if name in _RENAMED:
        new = _RENAMED[name]
        warnings.warn(
            f"bayesinv.model.fields.{name} is deprecated and will be removed in bayesinv 0.3; "
            f"use {new} (it is a prior, not a field)",
            DeprecationWarning,
            stacklevel=2,
        )
        return globals()[new]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f"{old} is deprecated and will be removed in bayesinv 0.3; use {new}",
        DeprecationWarning,
        stacklevel=3,
    )


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


def _add_field_coords(model, name: str, grid) -> None:
    """Add the coords of the field's dims to ``model`` (those it does not have yet)."""
    coords = grid.coords(name)
    for dim in field_dims(name, grid):
        if dim not in model.coords:
            model.add_coord(dim, coords[dim])


class Prior:
    """Base class of prior specs.

    A subclass implements :meth:`add_to_model`. Calling a spec, ``spec(name, grid)``, is the
    0.1 spelling of ``spec.add_to_model(name, grid)`` and warns.
    """

    def add_to_model(self, name: str, grid, *, model=None):
        """Add the prior of field ``name`` on ``grid`` to the model; return its flat tensor.

        Parameters
        ----------
        name : str
            Field name: the registered ``pm.Deterministic`` and the prefix of the latent
            variables.
        grid : Grid2D or Grid1D
            The field's grid; the field gets dims :func:`field_dims`.
        model : pymc.Model, optional
            Defaults to the model in context.

        Returns
        -------
        TensorVariable
            The field as a flat vector of length ``grid.size`` (C order).
        """
        raise NotImplementedError

    def __call__(self, name: str, grid):
        """Add the prior to the model in context (deprecated: use :meth:`add_to_model`)."""
        cls = type(self).__name__
        _deprecated(f"calling a prior spec, {cls}(...)(name, grid),", f"{cls}.add_to_model")
        return self.add_to_model(name, grid)


def _number_or_callable(value, where: str, argument: str):
    """Check a hyperparameter given as a positive number or a ``f(name) -> variable``."""
    if not callable(value):
        check_positive(value, where, argument)


def _value(value, name: str, what: str, model):
    """Return ``value``, or call it with ``"{name}_{what}"`` in ``model`` to create a variable."""
    if not callable(value):
        return value
    with model:
        return value(f"{name}_{what}")


@dataclass(frozen=True)
class IIDNormal(Prior):
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
        check_float(self.mu, "IIDNormal", "mu")
        check_positive(self.sigma, "IIDNormal", "sigma")

    def add_to_model(self, name: str, grid, *, model=None):
        """Add ``{name}_z_score`` and the field ``name``; return the flat field.

        Parameters
        ----------
        name : str
            Field name.
        grid : Grid2D or Grid1D
            The field's grid.
        model : pymc.Model, optional
            Defaults to the model in context.

        Returns
        -------
        TensorVariable
            Flat field of length ``grid.size``.
        """
        import pymc as pm

        model = pm.modelcontext(model)
        dims = field_dims(name, grid)
        _add_field_coords(model, name, grid)
        with model:
            z = pm.Normal(f"{name}_z_score", 0.0, 1.0, dims=dims)
            return pm.Deterministic(name, self.mu + self.sigma * z, dims=dims).ravel()


@dataclass(frozen=True)
class BesovPrior(Prior):
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

    def __post_init__(self):
        from bayesinv.model.priors import HEAVY_TAILS

        check_positive(self.s, "BesovPrior", "s")
        check_choice(self.p, "BesovPrior", "p", (1, 2))
        if not isinstance(self.wavelet, str):
            raise ValueError(f"BesovPrior: wavelet must be a name, got {self.wavelet!r}")
        if self.levels is not None:
            check_int(self.levels, "BesovPrior", "levels", low=1)
        _number_or_callable(self.scale, "BesovPrior", "scale")
        check_choice(self.heavy_tail, "BesovPrior", "heavy_tail", HEAVY_TAILS)

    def add_to_model(self, name: str, grid, *, model=None):
        """Add the Besov prior of field ``name`` on ``grid``; return the flat field.

        Parameters
        ----------
        name : str
            Field name.
        grid : Grid2D or Grid1D
            The field's grid.
        model : pymc.Model, optional
            Defaults to the model in context.

        Returns
        -------
        TensorVariable
            Flat field of length ``grid.size``.
        """
        import pymc as pm

        from bayesinv.model.priors import besov_prior
        from bayesinv.multiscale import WaveletField

        model = pm.modelcontext(model)
        wf = WaveletField(grid, self.wavelet, levels=self.levels)
        return besov_prior(
            name,
            wf,
            self.s,
            self.p,
            _value(self.scale, name, "scale", model),
            self.heavy_tail,
            mean=self.mean,
            dims=field_dims(name, grid),
            model=model,
        )


@dataclass(frozen=True)
class MaternPrior(Prior):
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
    See :func:`bayesinv.model.priors.matern_prior`; the cost of the dense factor grows as the
    cube of the number of coarse cells.
    """

    variance: object = 1.0
    length_scale: object = 1.0
    nu: float = 1.5
    coarsening: int = 1
    kind: str = "bilinear"
    mean: object = 0.0

    def __post_init__(self):
        from bayesinv.model.priors import MATERN_NU
        from bayesinv.multiscale.prolongation import KINDS

        _number_or_callable(self.variance, "MaternPrior", "variance")
        _number_or_callable(self.length_scale, "MaternPrior", "length_scale")
        check_choice(self.nu, "MaternPrior", "nu", MATERN_NU)
        check_int(self.coarsening, "MaternPrior", "coarsening", low=1)
        check_choice(self.kind, "MaternPrior", "kind", KINDS)

    def add_to_model(self, name: str, grid, *, model=None):
        """Add the Matérn prior of field ``name`` on ``grid``; return the flat field.

        Parameters
        ----------
        name : str
            Field name.
        grid : Grid2D or Grid1D
            The field's grid.
        model : pymc.Model, optional
            Defaults to the model in context.

        Returns
        -------
        TensorVariable
            Flat field of length ``grid.size``.
        """
        import pymc as pm

        from bayesinv.model.priors import matern_prior
        from bayesinv.multiscale import Prolongation, coarsen

        model = pm.modelcontext(model)
        support = grid
        if self.coarsening != 1:
            support = Prolongation(coarsen(grid, self.coarsening), grid, kind=self.kind)
        return matern_prior(
            name,
            support,
            _value(self.variance, name, "variance", model),
            _value(self.length_scale, name, "length_scale", model),
            self.nu,
            mean=self.mean,
            dims=field_dims(name, grid),
            model=model,
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
    prior : Prior
        A prior spec, any object with ``add_to_model(name, grid, *, model=None)`` (default
        :class:`IIDNormal` ``(0, 1)``). A plain function ``prior(name, grid)`` is the 0.1
        protocol: still accepted until bayesinv 0.3, with a ``DeprecationWarning``.
    """

    name: str
    grid: object
    prior: object = IIDNormal()

    def __post_init__(self):
        from bayesinv.model.modality import check_name

        check_name(self.name, "field")
        field_dims(self.name, self.grid)
        if not hasattr(self.prior, "add_to_model"):
            if not callable(self.prior):
                raise TypeError(
                    f"field {self.name!r}: prior must be a prior spec with "
                    f"add_to_model(name, grid, *, model=None), got {type(self.prior).__name__}"
                )
            _deprecated(
                f"field {self.name!r}: a prior given as a function prior(name, grid)",
                "an object with add_to_model(name, grid, *, model=None), e.g. a subclass of "
                "bayesinv.model.fields.Prior",
            )

    def add_to_model(self, *, model=None):
        """Add the field's coords and prior to the model; return its flat tensor.

        Parameters
        ----------
        model : pymc.Model, optional
            Defaults to the model in context.

        Returns
        -------
        TensorVariable
            The field as a flat vector of length ``grid.size`` (C order).
        """
        import pymc as pm

        model = pm.modelcontext(model)
        _add_field_coords(model, self.name, self.grid)
        if hasattr(self.prior, "add_to_model"):
            flat = self.prior.add_to_model(self.name, self.grid, model=model)
        else:
            with model:
                flat = self.prior(self.name, self.grid)
        if flat.ndim != 1:
            flat = flat.ravel()
        return flat
