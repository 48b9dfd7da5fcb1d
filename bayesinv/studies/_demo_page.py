"""The flagship demo's record: units, survey geometry on the data dims, and the page's words.

:func:`annotate` puts the units of every field and datum (variable attribute ``units``) and
the survey geometry (non-dimension coordinates on each modality's ``{name}_obs`` dim) into
the result tree, so that ``posterior.nc`` describes itself. :func:`page_notes` writes the
sections the report page shows under its tables: what each modality's posterior predictive
check measures and what to conclude from it here, what the coverage of the known truth
says, and what to believe when a check fails.
"""

from __future__ import annotations

import html
import inspect
from dataclasses import asdict

import numpy as np

#: axis labels with units of the fields and modalities, for reports and figures
UNITS = {
    "density": "density contrast (kg/m³)",
    "slowness": "slowness (s/m)",
    "gravity": "g_z (mGal)",
    "traveltime": "travel time (s)",
}

#: the ``units`` attribute of each variable in ``posterior.nc``
UNIT_ATTRS = {"density": "kg/m³", "slowness": "s/m", "gravity": "mGal", "traveltime": "s"}


def geometry_coords(survey) -> dict[str, dict[str, np.ndarray]]:
    """Survey geometry of each modality, one value per datum.

    Parameters
    ----------
    survey : DemoSurvey
        The demo's survey.

    Returns
    -------
    dict of str to dict of str to numpy.ndarray
        For ``gravity``: station ``gravity_x`` and ``gravity_z``; for ``traveltime``: ray
        ends ``traveltime_source_x``, ``traveltime_source_z``, ``traveltime_receiver_x`` and
        ``traveltime_receiver_z`` (m, depth positive downward).
    """
    src, rec = survey.traveltime.sources, survey.traveltime.receivers
    return {
        "gravity": {"gravity_x": survey.receivers[:, 0], "gravity_z": survey.receivers[:, 1]},
        "traveltime": {
            "traveltime_source_x": src[:, 0],
            "traveltime_source_z": src[:, 1],
            "traveltime_receiver_x": rec[:, 0],
            "traveltime_receiver_z": rec[:, 1],
        },
    }


def annotate(tree, survey):
    """Return a copy of a result tree with units and survey geometry attached.

    Parameters
    ----------
    tree : xarray.DataTree
        Result of one of the demo's models (any groups).
    survey : DemoSurvey
        The survey the data came from.

    Returns
    -------
    xarray.DataTree
        Every variable named in :data:`UNIT_ATTRS` carries a ``units`` attribute; every
        group with a ``{modality}_obs`` dim carries that modality's
        :func:`geometry_coords` as non-dimension coordinates (attribute ``units = "m"``).

    Raises
    ------
    ValueError
        If a modality's obs dim does not have one entry per datum of the survey.
    """
    tree = tree.copy()
    geometry = geometry_coords(survey)
    for path in [node.path for node in tree.subtree if node.has_data]:
        ds = tree[path].to_dataset()
        for name, unit in UNIT_ATTRS.items():
            if name in ds.data_vars:
                ds[name].attrs["units"] = unit
        for modality, coords in geometry.items():
            dim = f"{modality}_obs"
            if dim not in ds.dims:
                continue
            n = ds.sizes[dim]
            for values in coords.values():
                if values.size != n:
                    raise ValueError(
                        f"annotate: group {path!r} has {n} entries on {dim!r}, the survey has "
                        f"{values.size} {modality} data"
                    )
            ds = ds.assign_coords({k: (dim, v, {"units": "m"}) for k, v in coords.items()})
        tree[path] = ds
    return tree


_P = "<p>{}</p>"


def _ppc_words(name: str, row, what: str) -> str:
    """One modality's check in words, with its numbers."""
    n, rms, zmax, p = int(row["n_data"]), row["rms_z"], row["max_abs_z"], row["p_value"]
    cov = row["coverage_90"]
    # the largest |z| of n standard normals exceeds sqrt(2 ln n) + 1 rarely
    zlim = float(np.sqrt(2.0 * np.log(max(n, 2))) + 1.0)
    ok = p >= 0.05 and zmax <= zlim
    verdict = (
        "The posterior reproduces these data within their noise: nothing here contradicts the "
        "model."
        if ok
        else "This check fails: the model does not reproduce these data within their noise. "
        "Do not trust this run's uncertainties for this modality (see below)."
    )
    return "".join(
        [
            _P.format(
                f"<b>{html.escape(name)}</b> ({what}; {n} data). For each datum, z is the "
                "observed value minus the posterior predictive mean, divided by the predictive "
                f"standard deviation (noise plus parameter uncertainty). Here RMS z = {rms:.2f}, "
                f"max |z| = {zmax:.2f}, {100 * cov:.0f}% of the data lie inside their 90% "
                f"predictive band, and p = {p:.2f}."
            ),
            _P.format(
                "p is the share of replicated data sets (drawn from the posterior predictive) "
                "whose sum of squared z exceeds that of the observed data. p near 0 means a "
                "misfit no replicate shows; p near 1 is usual for a posterior predictive check, "
                "because the same data fitted the model (RMS z below 1 for the same reason). "
                f"With {n} data, max |z| above about {zlim:.1f} flags single outliers."
            ),
            _P.format(verdict),
        ]
    )


_MODALITY_WORDS = {
    "gravity": "vertical attraction at surface stations, known noise sd",
    "traveltime": "straight-ray first-arrival times between boreholes and from surface shots, "
    "known noise sd",
}

_WHEN_FAILS = (
    "<p>A failed predictive check means the model (physics, noise, prior together) cannot "
    "produce the observed data. Its posterior then answers the wrong question: intervals are "
    "too narrow and miss the truth (this demo's slowness coverage fell to 54% when its travel "
    "times failed). Find the cause before using the result, in this order: (1) the noise sd "
    "(estimate it instead of fixing it, if in doubt); (2) the physics (does the forward "
    "operator match how the data were made?); (3) the parameterisation and prior (can any "
    "field the prior allows fit the data? try a least-squares fit of the data within the "
    "prior's parameter space). Look at where the large |z| sit (the predictive-check figure "
    "plots them against station position or ray): a pattern points at the cause. Do not "
    "inflate the noise to make a check pass: that hides the misfit and widens every "
    "interval.</p>"
    "<p>A failed convergence verdict (R-hat, ESS, divergences) means the draws do not yet "
    "represent the posterior: rerun with more <code>--tune</code> and <code>--draws</code> "
    "before reading anything else on the page.</p>"
)

_WHY_FINE = (
    "<p>Both fields use a Matérn (ν = 3/2) prior on the model grid itself. An earlier default "
    "put the prior on a grid twice coarser and prolonged it bilinearly: there the travel-time "
    "check failed (p = 0, max |z| = 11) and only 54% of the slowness cells were covered. The "
    "physics and the noise were not the cause (the synthetic times come from the same "
    "straight-ray operator, with the noise sd the inversion knows): the least-squares best fit "
    "of the noise-free times by any field of the coarse space left residuals up to 11 ms, 11 "
    "noise sds. The rays resolve the bodies' edges better than a 100 m bilinear field can "
    "follow. On the model grid the best fit is exact, and the check and the coverage pass.</p>"
)


def page_notes(ppc, truth_table, label: str) -> list[tuple[str, str]]:
    """Sections of words for one of the demo's report pages.

    Parameters
    ----------
    ppc : pandas.DataFrame
        :func:`~bayesinv.diagnostics.ppc.ppc_table` of the run (index: modality).
    truth_table : pandas.DataFrame
        :func:`~bayesinv.diagnostics.truth.truth_coverage` of the run (index: field).
    label : str
        ``"separate"`` or ``"joint"``.

    Returns
    -------
    list of (str, str)
        ``(heading, html)`` pairs for :func:`~bayesinv.diagnostics.report.report`'s ``notes``.
    """
    checks = "".join(
        _ppc_words(name, row, _MODALITY_WORDS.get(name, "")) for name, row in ppc.iterrows()
    )
    cover = ", ".join(
        f"{html.escape(str(name))} {100 * row['coverage_90']:.0f}%"
        for name, row in truth_table.iterrows()
    )
    coupling = (
        "The joint inversion adds a cross-gradient term that favours density and slowness "
        "changing across the same boundaries; compare its maps and sd panels with the "
        '<a href="separate/index.html">separate inversion</a>.'
        if label == "joint"
        else "This is the separate inversion (no coupling): each field sees only its own data."
    )
    truth_words = (
        f"<p>90% posterior intervals cover the true field at {cover} of the cells (a calibrated "
        "posterior gives about 90%; 80–98% is this demo's acceptance band). The truth is two "
        "bodies with sharp edges, which a smooth Gaussian prior does not generate: expect the "
        "misses at the bodies' edges (the boundary-band RMSE in headline.json) and a little "
        f"more than 90% coverage in the flat background. {coupling}</p>"
    )
    return [
        ("What the posterior predictive checks say", checks),
        ("What the known truth says", truth_words + _WHY_FINE),
        ("What to believe when a check fails", _WHEN_FAILS),
    ]


#: the study's own figures, linked from the joint page (paths relative to the output folder)
FIGURES = ["maps.png", "maps_slowness.png", "data_fit.png", "separate/index.html"]


def write_report(tree, folder, model, survey, config, label: str, seed: int, figures):
    """Write one inversion's report page, with the demo's words and figure links.

    Parameters
    ----------
    tree : xarray.DataTree
        The inversion's result, with predictive draws (see :func:`annotate`).
    folder : Path
        Output folder of the page.
    model : pymc.Model
        The inversion's model.
    survey : DemoSurvey
        Truth, data and geometry.
    config : DemoConfig
        Settings (recorded in the provenance).
    label : {"separate", "joint"}
        Which inversion.
    seed : int
        The inversion's seed (recorded).
    figures : list of str
        The study's own files to link, relative to ``folder``.

    Returns
    -------
    bayesinv.diagnostics.report.Report
    """
    from bayesinv.diagnostics.ppc import posterior_predictive_check, ppc_table
    from bayesinv.diagnostics.report import report
    from bayesinv.diagnostics.truth import truth_coverage

    extra = {
        "notes": page_notes(
            ppc_table(posterior_predictive_check(tree)),
            truth_coverage(tree, survey.truth),
            label,
        ),
        "figures": figures,
    }
    # TODO(issue 13): drop this filter once the report branch (notes=, figures=) is merged
    extra = {k: v for k, v in extra.items() if k in inspect.signature(report).parameters}
    return report(
        tree,
        folder,
        fields={"density": survey.grid, "slowness": survey.grid},
        truth={**survey.truth, **survey.clean},
        model=model,
        config=asdict(config) | {"inversion": label},
        seed=seed,
        units=UNITS,
        receivers=survey.receivers,
        title=f"bayesinv demo (case study 01): {label} inversion, gravity + travel time",
        **extra,
    )


def write_figures(out, survey, results, background_slowness: float) -> None:
    """Write ``maps.png``, ``maps_slowness.png`` and ``data_fit.png``.

    Parameters
    ----------
    out : Path
        The demo's output folder.
    survey : DemoSurvey
        Truth, data and geometry.
    results : dict of str to Report
        The ``"separate"`` and ``"joint"`` reports (their trees hold the draws).
    background_slowness : float
        Host slowness (s/m); the slowness maps show the anomaly about it.
    """
    from bayesinv.diagnostics import plot_data_fit, plot_field_maps

    post = {label: r.idata["posterior"] for label, r in results.items()}
    # plot_field_maps centres every shared scale on 0, so slowness is drawn as a contrast
    offsets = {"density": 0.0, "slowness": background_slowness}
    labels = {"density": UNITS["density"], "slowness": "slowness − host slowness (s/m)"}
    for name, fname in (("density", "maps.png"), ("slowness", "maps_slowness.png")):
        mean = {k: p[name].mean(("chain", "draw")).values for k, p in post.items()}
        sd = {k: p[name].std(("chain", "draw")).values for k, p in post.items()}
        plot_field_maps(
            survey.grid,
            {
                "truth": survey.truth[name] - offsets[name],
                "separate: mean": mean["separate"] - offsets[name],
                "joint: mean": mean["joint"] - offsets[name],
                "separate: sd": sd["separate"],
                "joint: sd": sd["joint"],
            },
            out / fname,
            units=labels[name],
            shared_scale=("truth", "separate: mean", "joint: mean"),
            receivers=survey.receivers if name == "density" else None,
        )
    plot_data_fit(
        survey.receivers[:, 0],
        survey.data["gravity"],
        results["joint"].idata["posterior_predictive"]["gravity"].values,
        out / "data_fit.png",
        ylabel=UNITS["gravity"],
        title="gravity: data and joint posterior predictive",
        truth=survey.clean["gravity"],
    )
