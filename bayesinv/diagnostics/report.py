"""A report of an inversion written to a folder: data, tables, figures and one HTML page.

:func:`report` works on any DataTree with a ``posterior`` group (every observed variable is a
modality, every entry of ``fields`` a gridded field) and writes to ``out``:

- ``posterior.nc``: the DataTree (NetCDF, atomic) with provenance and what the report needs to
  be regenerated (field grids and units in root attributes, the truth in a ``truth`` group),
- ``summary.csv``: ArviZ summary of the posterior,
- ``convergence.csv``: R-hat and ESS of the worst parameters,
- ``ppc.csv``, ``loo.csv``: per-modality posterior predictive checks and PSIS-LOO,
- ``truth.csv``: coverage of the known truth and RMSE of the posterior mean,
- ``field_<name>.png``, ``ppc_<name>.png``: maps of each field, data fit of each modality,
- ``discrepancy_<name>.png``: the discrepancy δ's posterior against station position, for
  each modality with ``{name}_discrepancy`` in the posterior,
- ``report.json``: the headline numbers, ``provenance.json``: versions, seed, configuration
  and data hash,
- ``index.html``: one page tying them together.

:func:`regenerate_report` rebuilds the folder from a saved ``posterior.nc``; ``bayesinv report
PATH`` calls it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from bayesinv.diagnostics._page import page_html, text_html
from bayesinv.diagnostics._report_inputs import (
    carry_figures,
    check_figures,
    check_inputs,
    check_kinds,
    check_notes,
    truth_group,
    units_attrs,
)
from bayesinv.grid import Grid2D

__all__ = ["Report", "regenerate_report", "report"]

#: root attributes of the saved tree that carry the report's inputs
FIELDS_ATTR = "bayesinv_fields"
UNITS_ATTR = "bayesinv_units"
RECEIVERS_ATTR = "bayesinv_receivers"
KINDS_ATTR = "bayesinv_kinds"
NOTES_ATTR = "bayesinv_notes"
FIGURES_ATTR = "bayesinv_figures"
TITLE_ATTR = "bayesinv_title"
TRUTH_GROUP = "truth"
PRIOR_DRAWS = 500


@dataclass
class Report:
    """What :func:`report` computed and wrote.

    Attributes
    ----------
    out : Path
        Output folder.
    convergence : ConvergenceReport
        Convergence verdict.
    ppc : pandas.DataFrame or None
        Per-modality posterior predictive checks (``None`` without predictive draws).
    loo : pandas.DataFrame or None
        Per-modality PSIS-LOO (``None`` without a log-likelihood).
    truth : pandas.DataFrame or None
        Coverage of the truth (``None`` without a truth).
    headline : dict
        The numbers in ``report.json``.
    files : list of str
        Files written, relative to ``out``.
    idata : xarray.DataTree or None
        The tree the report was made from, with any groups added from the model.
    """

    out: Path
    convergence: object
    ppc: pd.DataFrame | None
    loo: pd.DataFrame | None
    truth: pd.DataFrame | None
    headline: dict
    files: list[str] = field(default_factory=list)
    idata: xr.DataTree | None = field(default=None, repr=False)


def _complete(idata, model, seed):
    """Add posterior predictive, log-likelihood and prior draws from ``model`` if missing."""
    import pymc as pm

    tree = idata.copy()
    needs_draws = "posterior_predictive" not in tree.children or "prior" not in tree.children
    if needs_draws and seed is None:
        raise ValueError(
            "report: seed is required to draw the posterior predictive or prior from the model"
        )
    with model:
        if "posterior_predictive" not in tree.children:
            pm.sample_posterior_predictive(
                tree, extend_inferencedata=True, random_seed=seed, progressbar=False
            )
        if "log_likelihood" not in tree.children:
            tree["log_likelihood"] = pm.compute_log_likelihood(
                tree, extend_inferencedata=False, progressbar=False
            )
        if "prior" not in tree.children:
            prior = pm.sample_prior_predictive(draws=PRIOR_DRAWS, random_seed=seed)
            for group in ("prior", "prior_predictive"):
                if group in prior.children and group not in tree.children:
                    tree[group] = prior[group]
    return tree


def _headline(conv, ppc, loo, truth_table) -> dict:
    out = {"convergence": conv.as_dict()}
    for key, df in (("ppc", ppc), ("loo", loo), ("truth", truth_table)):
        if df is not None:
            out[key] = json.loads(df.to_json(orient="index"))
    return out


def report(
    idata,
    out,
    *,
    fields: dict | None = None,
    truth: dict | None = None,
    model=None,
    config: dict | None = None,
    seed: int | None = None,
    units: dict | None = None,
    receivers=None,
    thresholds=None,
    title: str = "bayesinv report",
    write_posterior: bool = True,
    kinds: dict | None = None,
    notes=None,
    figures=None,
) -> Report:
    r"""Write a report of an inversion result to a folder.

    Parameters
    ----------
    idata : xarray.DataTree
        Result with a ``posterior`` group; ``observed_data``, ``posterior_predictive``,
        ``log_likelihood``, ``prior`` and ``sample_stats`` are used when present. A tree
        whose root attribute ``inference`` names a Laplace / Gauss-Newton approximation
        holds independent draws: it gets no R-hat or ESS verdict (see
        :func:`~bayesinv.diagnostics.convergence_report`).
    out : str or Path
        Output folder (created if missing).
    fields : dict of str to Grid2D, optional
        Posterior variables that are fields on a grid, mapped to their grids (for maps).
    truth : dict of str to array_like, optional
        Known true values of posterior variables (coverage, RMSE, maps) and noise-free data
        of observed variables (drawn in the data-fit plots).
    model : pymc.Model, optional
        The model; used to add the posterior predictive, the pointwise log-likelihood and
        prior draws (:data:`PRIOR_DRAWS`) when they are missing.
    config : dict, optional
        Run configuration, recorded in the provenance.
    seed : int, optional
        Seed of the run (recorded) and of any draws made here; required when ``model`` is
        given and draws are missing.
    units : dict of str to str, optional
        Labels with units of fields and modalities, e.g. ``{"gravity": "g_z (mGal)"}``;
        also written to ``posterior.nc`` as the variables' ``units`` (the part in
        parentheses) and ``long_name`` (the rest) attributes, in every group.
    receivers : array_like, optional
        ``(n, 2)`` receiver positions drawn on field maps.
    thresholds : Thresholds, optional
        Convergence thresholds (see :func:`~bayesinv.diagnostics.convergence_report`).
    title : str
        Page title.
    write_posterior : bool
        Write ``posterior.nc`` (``False`` when regenerating from it).
    kinds : dict of str to str, optional
        Colour scale of each field's truth and posterior-mean maps: ``"absolute"``
        (sequential, e.g. slowness) or ``"contrast"`` (diverging, centred on 0, e.g. a
        density contrast); a field not named gets ``"contrast"`` only when its values
        straddle 0 (see :func:`~bayesinv.diagnostics.plot_field_maps`).
    notes : sequence of (str, str), optional
        ``(heading, text)`` sections shown at the top of the page, e.g. what a modality's
        posterior predictive check means for this study. Text is plain (escaped), with
        paragraphs separated by blank lines and math between dollar signs (``$\sigma$``,
        matplotlib's mathtext subset, rendered into the page as images: it reads offline).
    figures : sequence of str or (str, str), optional
        Files the study wrote, as paths relative to ``out`` (or ``(path, caption)``
        pairs), e.g. ``["maps.png", ("separate/index.html", "separate inversion")]``:
        images are shown on the page, other files (pages) linked. Any other PNG in ``out``
        is shown too, under "Other figures in this folder", so that no figure is orphaned.

    Returns
    -------
    Report

    Raises
    ------
    ValueError
        If ``fields``, ``truth`` or ``kinds`` name unknown variables, a figure is missing,
        or draws are needed without a seed.
    """
    from bayesinv.diagnostics.convergence import convergence_report
    from bayesinv.io import provenance, write_datatree, write_text

    fields, truth, units = check_inputs(idata, fields, truth, units)
    kinds = check_kinds(kinds, fields)
    notes = check_notes(notes)
    # render the notes first: a note whose math cannot be typeset fails before any writing
    notes_html = [(h, text_html(t, f"report: notes[{i}]")) for i, (h, t) in enumerate(notes)]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    study_figures = check_figures(figures, out)
    tree = _complete(idata, model, seed) if model is not None else idata.copy()
    files: list[str] = []

    # provenance: keep the run's record when regenerating, else make one
    if "provenance" in tree.attrs and config is None:
        prov = json.loads(tree.attrs["provenance"])
    else:
        observed = [tree["observed_data"][v].values for v in _modalities(tree)]
        prov = provenance(config or {}, seed, *observed)
    meta = {
        "provenance": prov,
        FIELDS_ATTR: {k: asdict(g) for k, g in fields.items()},
        UNITS_ATTR: units,
        KINDS_ATTR: kinds,
        NOTES_ATTR: [list(n) for n in notes],
        FIGURES_ATTR: [list(f) for f in study_figures],
        TITLE_ATTR: title,
    }
    if receivers is not None:
        meta[RECEIVERS_ATTR] = np.asarray(receivers, dtype=float).tolist()
    if truth:
        tree[TRUTH_GROUP] = truth_group(tree, truth)
    units_attrs(tree, units)
    if write_posterior:
        write_datatree(tree, out / "posterior.nc", attrs=meta)
        files.append("posterior.nc")
    write_text(out / "provenance.json", json.dumps(prov, indent=2, default=str))
    files.append("provenance.json")

    conv = convergence_report(tree, thresholds=thresholds)
    files += _write_tables(tree, out, conv)
    ppc, loo, truth_table, figs = _checks(tree, out, truth, units, fields, kinds, receivers)
    files += [
        f"{k}.csv"
        for k, df in (("ppc", ppc), ("loo", loo), ("truth", truth_table))
        if df is not None
    ]
    shown = set(figs["ppc"] + figs["fields"]) | {Path(f).as_posix() for f, _ in study_figures}
    figs["study"] = study_figures
    figs["other"] = sorted(p.name for p in out.glob("*.png") if p.name not in shown)
    files += figs["ppc"] + figs["fields"] + [f for f, _ in study_figures] + figs["other"]
    headline = _headline(conv, ppc, loo, truth_table)
    write_text(out / "report.json", json.dumps(headline, indent=2, default=str))
    files.append("report.json")
    page = page_html(title, conv, ppc, loo, truth_table, figs, prov, files, notes_html)
    write_text(out / "index.html", page)
    files.append("index.html")
    return Report(out, conv, ppc, loo, truth_table, headline, files, tree)


def _modalities(tree) -> list[str]:
    from bayesinv.diagnostics.ppc import modality_names

    return modality_names(tree)


def _write_tables(tree, out: Path, conv) -> list[str]:
    """Write ``summary.csv`` (ArviZ) and ``convergence.csv``; return their names."""
    import arviz as az

    from bayesinv.io import write_text

    summary = az.summary(tree, round_to="none")
    write_text(out / "summary.csv", summary.to_csv())
    write_text(out / "convergence.csv", conv.table.to_csv())
    return ["summary.csv", "convergence.csv"]


def _checks(tree, out: Path, truth, units, fields, kinds, receivers):
    """Posterior predictive checks, LOO, truth coverage and their figures, written to ``out``.

    Returns ``(ppc, loo, truth_table, figures)`` with ``figures`` mapping ``"ppc"`` and
    ``"fields"`` to the names of the PNGs written.
    """
    from bayesinv.diagnostics.discrepancy import discrepancy_bands
    from bayesinv.diagnostics.plots import plot_discrepancy, plot_posterior_field, plot_ppc
    from bayesinv.diagnostics.ppc import modality_loo, posterior_predictive_check, ppc_table
    from bayesinv.diagnostics.truth import truth_coverage
    from bayesinv.io import write_text

    figures = {"ppc": [], "fields": []}
    ppc = None
    names = _modalities(tree)
    if "posterior_predictive" in tree.children and names:
        names = [n for n in names if n in tree["posterior_predictive"].data_vars]
        checks = posterior_predictive_check(tree, names)
        ppc = ppc_table(checks)
        write_text(out / "ppc.csv", ppc.to_csv())
        for name, check in checks.items():
            fig = f"ppc_{name}.png"
            plot_ppc(check, out / fig, ylabel=units.get(name, ""), truth=truth.get(name))
            figures["ppc"].append(fig)
    for name, band in discrepancy_bands(tree).items():  # δ against station position
        figures["ppc"].append(plot_discrepancy(band, out / f"discrepancy_{name}.png").name)

    loo = None
    if "log_likelihood" in tree.children:
        loo = modality_loo(tree)
        write_text(out / "loo.csv", loo.to_csv())

    field_truth = {k: v for k, v in truth.items() if k in tree["posterior"].data_vars}
    truth_table = truth_coverage(tree, field_truth) if field_truth else None
    if truth_table is not None:
        write_text(out / "truth.csv", truth_table.to_csv())

    for name, grid in fields.items():
        written = plot_posterior_field(
            tree,
            name,
            grid,
            out / f"field_{name}.png",
            truth=field_truth.get(name),
            units=units.get(name, ""),
            receivers=receivers,
            kind=kinds.get(name),
        )
        figures["fields"] += [p.name for p in written]
    return ppc, loo, truth_table, figures


def regenerate_report(path, out=None, *, title: str | None = None) -> Report:
    """Rebuild a report from a saved ``posterior.nc``.

    The grids, units, colour-scale kinds, notes and study figures given to :func:`report`
    are read back from the file's root attributes. Written to another folder, the study's
    images are copied there and its other files (pages) are linked where they are.

    Parameters
    ----------
    path : str or Path
        The saved tree, or the folder holding ``posterior.nc``.
    out : str or Path, optional
        Output folder (default: the folder of ``path``).
    title : str, optional
        Page title (default: the saved report's title).

    Returns
    -------
    Report

    Raises
    ------
    bayesinv.io.UserError
        If ``path`` is missing, damaged or not a posterior file.
    """
    from bayesinv.io import read_datatree

    path = Path(path)
    if path.is_dir():
        path = path / "posterior.nc"
    tree = read_datatree(path)  # a missing or damaged file is a UserError naming it
    attrs = dict(tree.attrs)
    fields = {k: Grid2D(**v) for k, v in json.loads(attrs.get(FIELDS_ATTR, "{}")).items()}
    units = json.loads(attrs.get(UNITS_ATTR, "{}"))
    receivers = attrs.get(RECEIVERS_ATTR)
    truth = {}
    if TRUTH_GROUP in tree.children:
        truth = {str(k): v.values for k, v in tree[TRUTH_GROUP].data_vars.items()}
        tree = tree.drop_nodes(TRUTH_GROUP)
    prov = json.loads(attrs["provenance"]) if "provenance" in attrs else {}
    out = path.parent if out is None else Path(out)
    same = out.resolve() == path.parent.resolve()
    saved_figures = [tuple(f) for f in json.loads(attrs.get(FIGURES_ATTR, "[]"))]
    return report(
        tree,
        out,
        fields=fields,
        truth=truth,
        seed=prov.get("seed"),
        units=units,
        receivers=None if receivers is None else np.asarray(json.loads(receivers)),
        title=title or attrs.get(TITLE_ATTR, "bayesinv report"),
        write_posterior=not same,
        kinds=json.loads(attrs.get(KINDS_ATTR, "{}")),
        notes=[tuple(n) for n in json.loads(attrs.get(NOTES_ATTR, "[]"))],
        figures=saved_figures if same else carry_figures(saved_figures, path.parent, out),
    )
