"""Helpers for field data in ``bayesinv invert`` and the case studies.

- :func:`flatten_ert_survey`: an ERT line with topography put on a flat surface.
- :func:`add_prior_draws`: a chosen number of prior draws, the posterior predictive and
  the log-likelihood for the report, without compiling a graph with numba.
- :func:`field_prior`: the prior spec of a field from the ``[prior]`` table of an
  ``invert`` configuration (independent normal, Matérn or Besov).
"""

from __future__ import annotations

import numpy as np

from bayesinv.io import UserError

__all__ = [
    "PRIOR_KEYS",
    "PYTHON_MODE",
    "add_prior_draws",
    "check_flat_ground",
    "check_prior_on_grid",
    "field_prior",
    "flatten_ert_survey",
]

#: keys of the ``[prior]`` table that only one prior kind takes
PRIOR_KEYS = {
    "matern": ("length_scale", "nu", "coarsening"),
    "besov": ("s", "p", "wavelet", "levels"),
}


def flatten_ert_survey(survey):
    r"""Put the electrodes of a surface ERT line with topography on a flat surface.

    The operator :class:`~bayesinv.operators.resistivity.DCResistivity2p5D` takes surface
    electrodes on a flat top only. This keeps the distances along the ground: electrode
    ``i`` goes to ``x_i = x_0 + Σ_{j<i} |e_{j+1} - e_j|`` (electrodes in file order along the
    line), ``z_i = 0``; the geometric factors are recomputed for the flat line and the
    apparent resistivities with them (:math:`ρ_a = K_{flat} R`); resistances are unchanged.

    Parameters
    ----------
    survey : bayesinv.formats.ERTSurvey
        A surface line (electrodes in order along it).

    Returns
    -------
    bayesinv.formats.ERTSurvey
        A new survey; ``report`` says what was done and the largest elevation difference.

    Notes
    -----
    This is the usual "no topography" approximation (what a flat-earth inversion of a
    Res2DInv file does): the section is drawn against distance along the ground and depth
    below it. The error it makes grows with the slopes; a survey on steep ground needs an
    operator with topography.
    """
    import dataclasses

    from bayesinv.formats import geometric_factors

    e = np.asarray(survey.electrodes, dtype=np.float64)
    if e.shape[0] > 1 and np.any(np.diff(e[:, 0]) <= 0):
        raise UserError(
            f"{survey.source}: flatten: the electrodes must be in order along the line "
            "(increasing x)"
        )
    step = np.hypot(np.diff(e[:, 0]), np.diff(e[:, 1]))
    flat = np.column_stack([e[0, 0] + np.concatenate([[0.0], np.cumsum(step)]), np.zeros(len(e))])
    k = geometric_factors(flat, survey.abmn)
    relief = float(e[:, 1].max() - e[:, 1].min())
    note = (
        f"electrodes put on a flat line at their distance along the ground "
        f"(elevations spanned {relief:.3g} m); geometric factors recomputed for it"
    )
    return dataclasses.replace(
        survey,
        electrodes=flat,
        geometric_factor=k,
        apparent_resistivity=k * survey.resistance,
        topography=None,
        k_source="half-space",
        report=[*survey.report, note],
    )


#: PyTensor mode of the draws and Laplace gradients of ``invert``: the graph runs in Python
#: and calls the operators' numba kernels, so nothing is numba-compiled per graph (3 s each,
#: more than the few hundred evaluations of these steps cost)
PYTHON_MODE = "FAST_COMPILE"


def check_flat_ground(survey, where: str, filename: str) -> None:
    """Refuse an ERT survey on topography unless it is flattened (see ``flatten``).

    Parameters
    ----------
    survey : ERTSurvey
        As read from the file.
    where : str
        The configuration entry, for the message.
    filename : str
        The data file, for the message.

    Raises
    ------
    UserError
        If the ground's relief exceeds 1e-9 of the line's length.

    Notes
    -----
    The ground is the file's topography block, else the line through the shallowest
    electrode at each distinct ``x`` (the readers' convention). The ERT operator would take
    it as ``topography`` and make the cells above it air, which are then not parameters; a
    field of the builder covers every cell of its grid, so the two cannot be joined yet.
    """
    topo = survey.topography
    if topo is not None and len(topo) > 0:
        heights = np.asarray(topo)[:, 1]
    else:
        x, z = survey.electrodes[:, 0], survey.electrodes[:, 1]
        heights = np.array([z[x == v].min() for v in np.unique(x)])
    relief = float(np.ptp(heights))
    if relief > 1e-9 * max(1.0, float(np.ptp(survey.electrodes[:, 0]))):
        raise UserError(
            f"{where}: the ground of {filename} is not flat ({relief:.3g} m of relief); "
            "with topography the cells above the ground are air, not parameters, and a "
            "field of bayesinv invert covers every grid cell, so topography is not "
            "supported yet: set flatten = true (electrodes on a flat line at their distance "
            "along the ground, geometric factors recomputed: the no-topography approximation)"
        )


def add_prior_draws(idata, model, draws: int, seed: int, *, predictive: bool = True):
    """Add prior draws and the posterior predictive and log-likelihood groups to ``idata``.

    Each draw costs a forward solve; the report would otherwise draw
    :data:`bayesinv.diagnostics.report.PRIOR_DRAWS` of them. The graphs run in
    :data:`PYTHON_MODE` (no numba compilation of the graph; the operators' kernels are
    compiled once either way), which for these few hundred evaluations is several times
    faster than compiling; the draws are those :func:`~bayesinv.diagnostics.report.report`
    would make with the same seed.

    Parameters
    ----------
    idata : xarray.DataTree
        The inference result.
    model : pymc.Model
        The model.
    draws : int
        Number of prior draws.
    seed : int
        Seed of the draws.
    predictive : bool
        Also add ``posterior_predictive`` and ``log_likelihood`` (when missing).

    Returns
    -------
    xarray.DataTree
        A copy with ``prior`` and ``prior_predictive`` groups (and the predictive ones).
    """
    import pymc as pm

    tree = idata.copy()
    mode = {"mode": PYTHON_MODE}
    with model:
        prior = pm.sample_prior_predictive(draws=draws, random_seed=seed, compile_kwargs=mode)
        if predictive and "posterior_predictive" not in tree.children:
            pm.sample_posterior_predictive(
                tree,
                extend_inferencedata=True,
                random_seed=seed,
                progressbar=False,
                compile_kwargs=mode,
            )
        if predictive and "log_likelihood" not in tree.children:
            tree["log_likelihood"] = pm.compute_log_likelihood(
                tree, extend_inferencedata=False, progressbar=False, compile_kwargs=mode
            )
    for group in ("prior", "prior_predictive"):
        if group in prior.children and group not in tree.children:
            tree[group] = prior[group]
    return tree


def field_prior(table: dict, given, mean: float, sd: float, width: float, *, where: str):
    r"""Return the prior spec of a field from the checked ``[prior]`` table of a config.

    Parameters
    ----------
    table : dict
        The ``[prior]`` table with defaults filled in (``kind``, ``length_scale``, ``nu``,
        ``coarsening``, ``s``, ``p``, ``wavelet``, ``levels``).
    given : iterable of str
        The keys written in the file (a key of another kind is an error).
    mean, sd : float
        Prior mean and standard deviation (``sd``: the marginal sd of the iid and Matérn
        priors, the overall scale :math:`\kappa` of the Besov series).
    width : float
        x-range of the data (m); the default Matérn length scale is ``width / 8``.
    where : str
        ``"FILE: prior"``, starting every message.

    Returns
    -------
    IIDNormal, MaternPrior or BesovPrior

    Raises
    ------
    UserError
        For a key of another prior kind, naming the key, the file and the kind it belongs to.

    Notes
    -----
    - ``kind = "iid"``: :math:`m_i \sim N(\mu, \sigma^2)` independently per cell.
    - ``kind = "matern"``: a Gaussian field with covariance
      :math:`\sigma^2 k_\nu(\lVert x_i - x_j \rVert / \ell)`
      (:class:`~bayesinv.model.MaternPrior`), on a grid ``coarsening`` times coarser,
      prolonged bilinearly.
    - ``kind = "besov"``: the wavelet series
      :math:`m = \mu + \kappa \sum_{j,k} 2^{-j(s + d/2 - d/p)} \xi_{jk} \psi_{jk}`
      (:class:`~bayesinv.model.BesovPrior`), Gaussian for ``p = 2``, Laplace (blocky) for
      ``p = 1``.
    """
    from bayesinv.model import BesovPrior, IIDNormal, MaternPrior

    kind = table["kind"]
    for other, keys in PRIOR_KEYS.items():
        wrong = [k for k in keys if k in given and other != kind]
        if wrong:
            raise UserError(
                f"{where}.{wrong[0]}: only for kind = {other!r}, the prior here is kind = {kind!r}"
            )
    if kind == "iid":
        return IIDNormal(mean, sd)
    if kind == "matern":
        ell = table["length_scale"] or width / 8.0
        return MaternPrior(sd**2, ell, table["nu"], table["coarsening"], mean=mean)
    return BesovPrior(
        table["s"], table["p"], table["wavelet"], table["levels"], scale=sd, mean=mean
    )


def check_prior_on_grid(prior, grid, where: str) -> None:
    """Check that a prior spec fits the grid before the model is built.

    Parameters
    ----------
    prior : IIDNormal, MaternPrior or BesovPrior
        From :func:`field_prior`.
    grid : Grid2D
        The field's grid.
    where : str
        ``"FILE: prior"``, starting the message.

    Raises
    ------
    UserError
        When the Matérn ``coarsening`` does not divide ``[grid] nx`` and ``nz``, or the
        wavelet ``levels`` (or ``wavelet``) do not fit the grid, naming the key.
    """
    from bayesinv.model import BesovPrior, MaternPrior
    from bayesinv.multiscale import WaveletField, coarsen

    try:
        if isinstance(prior, MaternPrior) and prior.coarsening > 1:
            coarsen(grid, prior.coarsening)
        if isinstance(prior, BesovPrior):
            WaveletField(grid, prior.wavelet, levels=prior.levels)
    except ValueError as err:
        key = "coarsening" if isinstance(prior, MaternPrior) else "levels (or wavelet)"
        raise UserError(
            f"{where}.{key}: does not fit the grid nx = {grid.nx}, nz = {grid.nz} ({err})"
        ) from None
