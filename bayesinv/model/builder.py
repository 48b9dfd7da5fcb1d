"""The joint-inversion builder: fields + modalities + couplings → a plain ``pm.Model``."""

from __future__ import annotations

import warnings

from bayesinv.model.fields import Field, IIDNormal
from bayesinv.model.modality import Modality

__all__ = ["JointInversion"]


class JointInversion:
    """Declare fields, modalities and couplings; build one hierarchical PyMC model.

    Parameters
    ----------
    name : str, optional
        Name of the model (used in reports).

    Notes
    -----
    Every term (field and prior, coupling, modality with its noise and discrepancy) is added
    through its ``add_to_model(..., *, model=None)``; :meth:`add_to_model` adds them all to
    a model of the user's, and :meth:`build` to a new one. :meth:`build` returns an ordinary
    ``pm.Model``: field variables with dims
    ``(name_z, name_x)``, each modality's observed variable ``{modality}`` with dim
    ``{modality}_obs`` and its noise and discrepancy variables, and coupling potentials.
    Users can add their own terms to it and sample it with any PyMC tool.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesinv import Grid2D
    >>> from bayesinv.model.fields import IIDNormal
    >>> from bayesinv.model.noise import KnownNoise
    >>> from bayesinv.operators import Gravity2D
    >>> grid = Grid2D(nx=4, nz=2, dx=10.0, dz=10.0)
    >>> op = Gravity2D(grid, [[5.0, 0.0], [35.0, 0.0]])
    >>> inv = JointInversion()
    >>> inv = inv.add_field("density", grid, IIDNormal(0.0, 100.0))
    >>> inv = inv.add_modality(Modality("gravity", op, np.zeros(2), KnownNoise(0.01)))
    >>> model = inv.build()
    >>> sorted(model.named_vars)[:3]
    ['density', 'density_z_score', 'gravity']
    """

    def __init__(self, name: str = "joint_inversion"):
        self.name = name
        self.fields: dict[str, Field] = {}
        self.modalities: dict[str, Modality] = {}
        self.couplings: list = []
        self.cross_discrepancies: list = []

    def _check_new_name(self, name: str, what: str):
        if name in self.fields or name in self.modalities:
            other = "field" if name in self.fields else "modality"
            raise ValueError(f"{what} name {name!r} is already used by a {other}")

    def add_field(self, name: str, grid, prior=None) -> JointInversion:
        """Declare a field.

        Parameters
        ----------
        name : str
            Field name.
        grid : Grid2D or Grid1D
            Its grid.
        prior : Prior, optional
            A prior spec (``IIDNormal``, ``BesovPrior``, ``MaternPrior`` or any object with
            ``add_to_model(name, grid, *, model=None)``); default ``IIDNormal(0, 1)``.

        Returns
        -------
        JointInversion
            ``self``, for chaining.
        """
        self._check_new_name(name, "field")
        self.fields[name] = Field(name, grid, prior if prior is not None else IIDNormal())
        return self

    def add_modality(self, modality: Modality) -> JointInversion:
        """Declare a modality (a data set and its likelihood).

        Parameters
        ----------
        modality : Modality
            The modality; its ``field`` must name a declared field (or be ``None`` when there
            is exactly one field at build time).

        Returns
        -------
        JointInversion
            ``self``, for chaining.
        """
        if not isinstance(modality, Modality):
            raise TypeError(f"add_modality: expected a Modality, got {type(modality).__name__}")
        self._check_new_name(modality.name, "modality")
        self.modalities[modality.name] = modality
        return self

    def add_offset(self, modality: str, term) -> JointInversion:
        """Give a declared modality an additive data term: a base level or a linear trend.

        Parameters
        ----------
        modality : str
            Name of a declared modality.
        term : Offset or LinearTrend
            See :mod:`bayesinv.model.offsets`; several terms add up.

        Returns
        -------
        JointInversion
            ``self``, for chaining.
        """
        if modality not in self.modalities:
            raise ValueError(
                f"add_offset: no modality {modality!r}; modalities are {sorted(self.modalities)}"
            )
        target = self.modalities[modality]
        if not hasattr(term, "add_to_model") or not hasattr(term, "validate"):
            raise TypeError(
                f"add_offset: term must be an Offset or LinearTrend, got {type(term).__name__}"
            )
        term.validate(modality, target.operator.n_data)
        target.offsets = (*target.offsets, term)
        return self

    def add_discrepancy(self, term) -> JointInversion:
        """Declare a discrepancy shared by several modalities (issue 20).

        Parameters
        ----------
        term : CrossModalDiscrepancy
            See :mod:`bayesinv.model.discrepancy.coregional`; its modalities are then observed
            jointly (one chained Gaussian term each, under their own names).

        Returns
        -------
        JointInversion
            ``self``, for chaining.
        """
        from bayesinv.model.discrepancy.coregional import CrossModalDiscrepancy

        if not isinstance(term, CrossModalDiscrepancy):
            raise TypeError(
                f"add_discrepancy: expected a CrossModalDiscrepancy, got {type(term).__name__}"
            )
        self.cross_discrepancies.append(term)
        return self

    def add_coupling(self, coupling) -> JointInversion:
        """Declare a coupling between fields (see :mod:`bayesinv.model.coupling`).

        Parameters
        ----------
        coupling : CrossGradient, Petrophysical or Homogenization
            Any object with ``fields`` and ``add_to_model(tensors, grids, *, model=None)``
            (an object with only the 0.1 method ``add(tensors, grids)`` still works, with a
            ``DeprecationWarning``, until bayesinv 0.3).

        Returns
        -------
        JointInversion
            ``self``, for chaining.
        """
        if not hasattr(coupling, "fields"):
            raise TypeError(
                "add_coupling: a coupling needs `fields` and "
                "`add_to_model(tensors, grids, *, model=None)`"
            )
        if not hasattr(coupling, "add_to_model"):
            if not hasattr(coupling, "add"):
                raise TypeError(
                    "add_coupling: a coupling needs `add_to_model(tensors, grids, *, model=None)`"
                )
            warnings.warn(
                f"add_coupling: {type(coupling).__name__} has only add(tensors, grids), the "
                "0.1 spelling, which is deprecated and will be removed in bayesinv 0.3; "
                "implement add_to_model(tensors, grids, *, model=None)",
                DeprecationWarning,
                stacklevel=2,
            )
        self.couplings.append(coupling)
        return self

    def _field_of(self, modality: Modality) -> str:
        if modality.field is None:
            if len(self.fields) != 1:
                raise ValueError(
                    f"modality {modality.name!r}: say which field it observes (field=...); "
                    f"fields are {sorted(self.fields)}"
                )
            return next(iter(self.fields))
        if modality.field not in self.fields:
            raise ValueError(
                f"modality {modality.name!r} observes field {modality.field!r}, which is not "
                f"declared; fields are {sorted(self.fields)}"
            )
        return modality.field

    def _check(self):
        if not self.fields:
            raise ValueError("JointInversion: declare at least one field")
        if not self.modalities:
            raise ValueError("JointInversion: declare at least one modality")
        for modality in self.modalities.values():
            grid = self.fields[self._field_of(modality)].grid
            if modality.operator.n_params != grid.size:
                raise ValueError(
                    f"modality {modality.name!r}: operator takes {modality.operator.n_params} "
                    f"values but field {self._field_of(modality)!r} has {grid.size} cells"
                )
        for coupling in self.couplings:
            missing = [f for f in coupling.fields if f not in self.fields]
            if missing:
                raise ValueError(f"{type(coupling).__name__} needs undeclared field(s) {missing}")
        seen: set = set()
        for term in self.cross_discrepancies:
            missing = [m for m in term.modalities if m not in self.modalities]
            if missing:
                raise ValueError(
                    f"{term.where}: modality {missing} is not declared; modalities are "
                    f"{sorted(self.modalities)}"
                )
            twice = seen.intersection(term.modalities)
            if twice:
                raise ValueError(f"{term.where}: modality {sorted(twice)} is already in a term")
            seen.update(term.modalities)

    def add_to_model(self, *, model=None, marginalize: bool = False) -> dict:
        """Add every declared term to a PyMC model.

        Parameters
        ----------
        model : pymc.Model, optional
            Defaults to the model in context.
        marginalize : bool
            Integrate the fields and the discrepancies out exactly (see :meth:`build`).

        Returns
        -------
        dict of str to TensorVariable
            The flat field tensors by field name (empty with ``marginalize=True``: the fields
            are not in the model).
        """
        import pymc as pm

        self._check()
        model = pm.modelcontext(model)
        if not isinstance(marginalize, bool):
            raise TypeError(
                f"JointInversion: marginalize must be True or False, got {marginalize!r}"
            )
        if marginalize:
            from bayesinv.model.discrepancy.marginal import add_marginal

            add_marginal(self, model)
            return {}
        tensors = {name: f.add_to_model(model=model) for name, f in self.fields.items()}
        grids = {name: f.grid for name, f in self.fields.items()}
        for coupling in self.couplings:
            if hasattr(coupling, "add_to_model"):
                coupling.add_to_model(tensors, grids, model=model)
            else:  # a 0.1 coupling, warned about in add_coupling
                with model:
                    coupling.add(tensors, grids)
        joint = {m for term in self.cross_discrepancies for m in term.modalities}
        for modality in self.modalities.values():
            if modality.name not in joint:
                modality.add_to_model(tensors[self._field_of(modality)], model=model)
        for term in self.cross_discrepancies:
            fields = {m: tensors[self._field_of(self.modalities[m])] for m in term.modalities}
            term.add_to_model(self.modalities, fields, model=model)
        return tensors

    def build(self, *, marginalize: bool = False):
        r"""Build a new PyMC model holding every declared term (see :meth:`add_to_model`).

        Parameters
        ----------
        marginalize : bool
            ``False`` (default): the fields' latent variables are sampled. ``True``: the
            fields and the discrepancies are integrated out exactly, so the model holds only
            the hyperparameters (noise, discrepancy η and ℓ, offsets, coregionalization) and
            one observed variable per modality; after sampling, :meth:`recover_marginals`
            draws the fields and δ from their exact conditionals. Needs every field that a
            modality observes to have a Gaussian prior with fixed hyperparameters, linear
            operators, normal likelihoods and no couplings (otherwise a ``ValueError`` names
            the offending field, modality or coupling).

        Returns
        -------
        pymc.Model

        Notes
        -----
        With :math:`m = \bar m + B z`, :math:`z \sim N(0, I)` and linear physics :math:`G`,
        the stacked data are :math:`d \mid θ \sim N(G\bar m + \text{offsets},\;
        (GB)(GB)^T + K_δ(θ) + Σ(θ))`; see :mod:`bayesinv.model.discrepancy.marginal`.
        """
        import pymc as pm

        self._check()
        with pm.Model() as model:
            self.add_to_model(model=model, marginalize=marginalize)
        return model

    def recover_marginals(self, idata, *, random_seed):
        """Draw the fields and discrepancies of a marginalised model's posterior.

        Parameters
        ----------
        idata : xarray.DataTree
            The result of sampling ``build(marginalize=True)``.
        random_seed : int or numpy.random.Generator
            Seed (same seed, same draws).

        Returns
        -------
        xarray.DataTree
            ``idata`` whose ``posterior`` also holds each field and its latent variables
            (names and dims of ``build()``'s model, so :meth:`posterior_predictive` works on
            it) and ``{modality}_discrepancy`` (δ at the used data), one exact conditional
            draw per posterior draw.
        """
        from bayesinv.model.discrepancy.marginal import recover

        self._check()
        return recover(self, idata, random_seed=random_seed)

    def prior_predictive(self, draws: int = 500, *, random_seed, model=None):
        """Draw from the prior predictive distribution.

        Parameters
        ----------
        draws : int
            Number of draws.
        random_seed : int or numpy.random.Generator
            Seed.
        model : pymc.Model, optional
            A model from :meth:`build` (built anew if not given).

        Returns
        -------
        xarray.DataTree
            With ``prior`` and ``prior_predictive`` groups.
        """
        import pymc as pm

        model = model or self.build()
        with model:
            return pm.sample_prior_predictive(draws=draws, random_seed=random_seed)

    def posterior_predictive(self, idata, *, random_seed, model=None):
        """Draw from the posterior predictive distribution and add it to ``idata``.

        Parameters
        ----------
        idata : xarray.DataTree
            Result of sampling a model built by :meth:`build`.
        random_seed : int or numpy.random.Generator
            Seed.
        model : pymc.Model, optional
            The model that was sampled (built anew if not given; same names and dims).

        Returns
        -------
        xarray.DataTree
            ``idata`` with a ``posterior_predictive`` group.
        """
        import pymc as pm

        model = model or self.build()
        with model:
            return pm.sample_posterior_predictive(
                idata, random_seed=random_seed, extend_inferencedata=True, progressbar=False
            )
