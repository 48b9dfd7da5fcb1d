"""Helpers for field data in ``bayesinv invert`` and the case studies.

- :func:`flatten_ert_survey`: an ERT line with topography put on a flat surface.
- :func:`add_prior_draws`: a chosen number of prior draws for the report.
"""

from __future__ import annotations

import numpy as np

from bayesinv.io import UserError

__all__ = ["add_prior_draws", "flatten_ert_survey"]


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


def add_prior_draws(idata, model, draws: int, seed: int):
    """Add ``draws`` prior and prior-predictive draws to ``idata`` (the report's prior).

    Each draw costs a forward solve; the report would otherwise draw
    :data:`bayesinv.diagnostics.report.PRIOR_DRAWS` of them.

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

    Returns
    -------
    xarray.DataTree
        A copy with ``prior`` and ``prior_predictive`` groups.
    """
    import pymc as pm

    tree = idata.copy()
    with model:
        prior = pm.sample_prior_predictive(draws=draws, random_seed=seed)
    for group in ("prior", "prior_predictive"):
        if group in prior.children and group not in tree.children:
            tree[group] = prior[group]
    return tree
