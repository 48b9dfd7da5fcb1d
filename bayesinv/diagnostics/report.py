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
- ``report.json``: the headline numbers, ``provenance.json``: versions, seed, configuration
  and data hash,
- ``index.html``: one page tying them together.

:func:`regenerate_report` rebuilds the folder from a saved ``posterior.nc``; ``bayesinv report
PATH`` calls it.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from bayesinv.grid import Grid2D

__all__ = ["Report", "regenerate_report", "report"]

#: root attributes of the saved tree that carry the report's inputs
FIELDS_ATTR = "bayesinv_fields"
UNITS_ATTR = "bayesinv_units"
RECEIVERS_ATTR = "bayesinv_receivers"
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


def _check_inputs(idata, fields, truth, units):
    if not isinstance(idata, xr.DataTree) or "posterior" not in idata.children:
        raise ValueError("report: idata must be a DataTree with a 'posterior' group")
    fields = dict(fields or {})
    for name, grid in fields.items():
        if not isinstance(grid, Grid2D):
            raise ValueError(f"report: fields[{name!r}] must be a Grid2D, got {type(grid)}")
        if name not in idata["posterior"].data_vars:
            raise ValueError(f"report: field {name!r} is not a posterior variable")
    truth = {k: np.asarray(v, dtype=float) for k, v in (truth or {}).items()}
    known = set(idata["posterior"].data_vars)
    if "observed_data" in idata.children:
        known |= set(idata["observed_data"].data_vars)
    unknown = sorted(set(truth) - known)
    if unknown:
        raise ValueError(
            f"report: truth has {unknown}, which are neither posterior variables nor "
            "observed variables"
        )
    return fields, truth, dict(units or {})


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


def _truth_group(idata, truth) -> xr.DataTree:
    """Truth as a Dataset whose variables have the dims of the matching posterior/data."""
    data_vars = {}
    for name, value in truth.items():
        if name in idata["posterior"].data_vars:
            ref = idata["posterior"][name]
            dims = ref.dims[2:]
            shape = ref.shape[2:]
        else:
            ref = idata["observed_data"][name]
            dims, shape = ref.dims, ref.shape
        if value.size != int(np.prod(shape)):
            raise ValueError(
                f"report: truth[{name!r}] has {value.size} values, {name!r} has shape {shape}"
            )
        data_vars[name] = xr.DataArray(
            value.reshape(shape),
            dims=dims,
            coords={d: ref.coords[d] for d in dims if d in ref.coords},
        )
    return xr.DataTree(xr.Dataset(data_vars))


def _table_html(df: pd.DataFrame | None, floatfmt: str = "{:.4g}") -> str:
    if df is None or df.empty:
        return "<p><em>not available</em></p>"

    def fmt(v):
        if isinstance(v, float | np.floating):
            return floatfmt.format(v)
        return str(v)

    return df.to_html(formatters=dict.fromkeys(df.columns, fmt), escape=True, border=0)


_CSS = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0 1em; }
th, td { padding: 0.2em 0.7em; border-bottom: 1px solid #ddd; text-align: right; }
.pass { background: #e6f4e6; border-left: 6px solid #2a7; padding: 0.6em; }
.fail { background: #fbe9e9; border-left: 6px solid #c33; padding: 0.6em; }
.warn { color: #a40; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.8em; }
"""


def _html(title, conv, ppc, loo, truth_table, figures, prov, files) -> str:
    e = html.escape
    t = conv.thresholds
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        "<h2>Convergence</h2>",
        f'<p class="{"pass" if conv.passed else "fail"}">{e(conv.verdict)}</p>',
        f"<p>Thresholds: R-hat &lt; {t.rhat_max}, bulk ESS &ge; {t.ess_bulk_min:.0f}, "
        f"tail ESS &ge; {t.ess_tail_min:.0f}, divergences &le; {t.max_divergences}, "
        f"E-BFMI &gt; {t.bfmi_min}. Worst parameters:</p>",
        _table_html(conv.table),
        "<h2>Posterior predictive checks (per modality)</h2>",
        "<p>RMS z: root-mean-square standardised residual (about 1 for a good fit); "
        "coverage: share of data inside the 50% / 90% predictive bands; frac_extreme: share "
        "of data with two-sided tail probability &lt; 5%; p_value: tail probability of the "
        "squared-residual discrepancy (near 0: misfit; near 1 is usual when the model has "
        "more parameters than data, since the data are used twice).</p>",
        _table_html(ppc),
    ]
    for name in figures["ppc"]:
        parts.append(f'<img src="{e(name)}" alt="{e(name)}">')
    parts += ["<h2>Leave-one-out cross-validation (PSIS-LOO, per modality)</h2>"]
    parts.append(_table_html(None if loo is None else loo.drop(columns="warning")))
    if loo is not None:
        for name, msg in loo["warning"].items():
            if msg:
                parts.append(f'<p class="warn">{e(str(name))}: {e(msg)}</p>')
    parts += ["<h2>Known truth</h2>", _table_html(truth_table)]
    parts += ["<h2>Fields</h2>"]
    if not figures["fields"]:
        parts.append("<p><em>no gridded fields given</em></p>")
    for name in figures["fields"]:
        parts.append(f'<img src="{e(name)}" alt="{e(name)}">')
    parts += [
        "<h2>Files</h2><ul>",
        *[f'<li><a href="{e(f)}">{e(f)}</a></li>' for f in files],
        "</ul>",
        "<h2>Provenance</h2>",
        f"<pre>{e(json.dumps(prov, indent=2, default=str))}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)


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
) -> Report:
    """Write a report of an inversion result to a folder.

    Parameters
    ----------
    idata : xarray.DataTree
        Result with a ``posterior`` group; ``observed_data``, ``posterior_predictive``,
        ``log_likelihood``, ``prior`` and ``sample_stats`` are used when present.
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
        Labels with units of fields and modalities, e.g. ``{"gravity": "g_z (mGal)"}``.
    receivers : array_like, optional
        ``(n, 2)`` receiver positions drawn on field maps.
    thresholds : Thresholds, optional
        Convergence thresholds (see :func:`~bayesinv.diagnostics.convergence_report`).
    title : str
        Page title.
    write_posterior : bool
        Write ``posterior.nc`` (``False`` when regenerating from it).

    Returns
    -------
    Report

    Raises
    ------
    ValueError
        If ``fields`` or ``truth`` name unknown variables, or draws are needed without a seed.
    """
    import arviz as az

    from bayesinv.diagnostics.convergence import convergence_report
    from bayesinv.diagnostics.plots import plot_posterior_field
    from bayesinv.diagnostics.ppc import (
        modality_loo,
        modality_names,
        plot_ppc,
        posterior_predictive_check,
        ppc_table,
    )
    from bayesinv.diagnostics.truth import truth_coverage
    from bayesinv.io import provenance, write_datatree, write_text

    fields, truth, units = _check_inputs(idata, fields, truth, units)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tree = _complete(idata, model, seed) if model is not None else idata.copy()
    files: list[str] = []

    # provenance: keep the run's record when regenerating, else make one
    if "provenance" in tree.attrs and config is None:
        prov = json.loads(tree.attrs["provenance"])
    else:
        observed = [tree["observed_data"][v].values for v in modality_names(tree)]
        prov = provenance(config or {}, seed, *observed)
    meta = {
        "provenance": prov,
        FIELDS_ATTR: {k: asdict(g) for k, g in fields.items()},
        UNITS_ATTR: units,
    }
    if receivers is not None:
        meta[RECEIVERS_ATTR] = np.asarray(receivers, dtype=float).tolist()
    if truth:
        tree[TRUTH_GROUP] = _truth_group(tree, truth)
    if write_posterior:
        write_datatree(tree, out / "posterior.nc", attrs=meta)
        files.append("posterior.nc")
    write_text(out / "provenance.json", json.dumps(prov, indent=2, default=str))
    files.append("provenance.json")

    summary = az.summary(tree, round_to="none")
    write_text(out / "summary.csv", summary.to_csv())
    files.append("summary.csv")

    conv = convergence_report(tree, thresholds=thresholds)
    write_text(out / "convergence.csv", conv.table.to_csv())
    files.append("convergence.csv")

    figures = {"ppc": [], "fields": []}
    ppc = None
    if "posterior_predictive" in tree.children and modality_names(tree):
        names = [n for n in modality_names(tree) if n in tree["posterior_predictive"].data_vars]
        checks = posterior_predictive_check(tree, names)
        ppc = ppc_table(checks)
        write_text(out / "ppc.csv", ppc.to_csv())
        files.append("ppc.csv")
        for name, check in checks.items():
            fig = f"ppc_{name}.png"
            plot_ppc(check, out / fig, ylabel=units.get(name, ""), truth=truth.get(name))
            figures["ppc"].append(fig)

    loo = None
    if "log_likelihood" in tree.children:
        loo = modality_loo(tree)
        write_text(out / "loo.csv", loo.to_csv())
        files.append("loo.csv")

    field_truth = {k: v for k, v in truth.items() if k in tree["posterior"].data_vars}
    truth_table = truth_coverage(tree, field_truth) if field_truth else None
    if truth_table is not None:
        write_text(out / "truth.csv", truth_table.to_csv())
        files.append("truth.csv")

    for name, grid in fields.items():
        written = plot_posterior_field(
            tree,
            name,
            grid,
            out / f"field_{name}.png",
            truth=field_truth.get(name),
            units=units.get(name, ""),
            receivers=receivers,
        )
        figures["fields"] += [p.name for p in written]

    files += figures["ppc"] + figures["fields"]
    headline = _headline(conv, ppc, loo, truth_table)
    write_text(out / "report.json", json.dumps(headline, indent=2, default=str))
    files.append("report.json")
    write_text(out / "index.html", _html(title, conv, ppc, loo, truth_table, figures, prov, files))
    files.append("index.html")
    return Report(out, conv, ppc, loo, truth_table, headline, files, tree)


def regenerate_report(path, out=None, *, title: str = "bayesinv report") -> Report:
    """Rebuild a report from a saved ``posterior.nc``.

    Parameters
    ----------
    path : str or Path
        The saved tree, or the folder holding ``posterior.nc``.
    out : str or Path, optional
        Output folder (default: the folder of ``path``).
    title : str
        Page title.

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
    return report(
        tree,
        out,
        fields=fields,
        truth=truth,
        seed=prov.get("seed"),
        units=units,
        receivers=None if receivers is None else np.asarray(json.loads(receivers)),
        title=title,
        write_posterior=not same,
    )
