"""The flagship demo's record: units, survey geometry on the data dims, and the page's words.

:func:`annotate` puts the units of every field and datum (variable attribute ``units``) and
the survey geometry (non-dimension coordinates on each modality's ``{name}_obs`` dim) into
the result tree, so that ``posterior.nc`` describes itself. :func:`page_notes` writes the
sections the report page shows under its tables: what each modality's posterior predictive
check measures and what to conclude from it here, what the coverage of the known truth
says, and what to believe when a check fails.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

#: axis labels with units of the fields and modalities, for reports and figures
UNITS = {
    "density": "density contrast (kg/m³)",
    "slowness": "slowness (s/m)",
    "gravity": "g_z (mGal)",
    "traveltime": "travel time (s)",
}

#: colour scale of each field's truth and mean maps (absolute: sequential; contrast: diverging)
KINDS = {"density": "contrast", "slowness": "absolute"}

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


def _ppc_words(name: str, row, what: str) -> str:
    """One modality's check in words, with its numbers (plain text, paragraphs)."""
    n, rms, zmax, p = int(row["n_data"]), row["rms_z"], row["max_abs_z"], row["p_value"]
    cov = row["coverage_90"]
    # the largest |z| of n standard normals rarely exceeds sqrt(2 ln n) + 1
    zlim = float(np.sqrt(2.0 * np.log(max(n, 2))) + 1.0)
    ok = p >= 0.05 and zmax <= zlim
    verdict = (
        "Conclusion: the posterior reproduces these data within their noise; nothing here "
        "contradicts the model."
        if ok
        else "Conclusion: this check FAILS. The model does not reproduce these data within "
        "their noise; do not trust this run's uncertainties (see 'What to believe when a "
        "check fails')."
    )
    return "\n\n".join(
        [
            f"{name} ({what}; {n} data). For each datum $i$, "
            r"$z_i = (d_i - \bar{d}_i) / s_i$: the observed value minus the posterior "
            "predictive mean, over the predictive standard deviation (noise plus parameter "
            f"uncertainty). Here RMS z = {rms:.2f}, max |z| = {zmax:.2f}, {100 * cov:.0f}% "
            f"of the data lie inside their 90% predictive band, and p = {p:.2f}.",
            "p is the share of replicated data sets (drawn from the posterior predictive) "
            "whose sum of squared z exceeds the observed one. p near 0 is a misfit that no "
            "replicate shows; p near 1 is usual for a posterior predictive check, because "
            "the same data fitted the model (RMS z below 1 for the same reason). With "
            f"{n} data, max |z| above about {zlim:.1f} flags single outliers.",
            verdict,
        ]
    )


_MODALITY_WORDS = {
    "gravity": "vertical attraction at surface stations, known noise sd",
    "traveltime": "straight-ray first-arrival times between boreholes and from surface shots, "
    "known noise sd",
}

WHEN_FAILS = """A failed predictive check means that the model (physics, noise and prior \
together) cannot produce the observed data. Its posterior then answers the wrong question: \
the intervals are too narrow and miss the truth (this demo's slowness intervals covered 54% \
of the truth when its travel-time check failed).

Find the cause before using the result, in this order: (1) the noise sd (estimate it \
instead of fixing it, if in doubt); (2) the physics (does the forward operator match how \
the data were made?); (3) the parameterisation and prior (can any field the prior allows \
fit the data? A least-squares fit of the noise-free or observed data within the prior's \
parameter space answers that). Where the large |z| sit (the predictive-check figure plots \
them against station position or ray) points at the cause. Do not inflate the noise to \
make a check pass: that hides the misfit and widens every interval.

A failed convergence verdict (R-hat, ESS, divergences) means that the draws do not yet \
represent the posterior: rerun with more --tune and --draws before reading anything else \
on the page."""

WHY_FINE = """Both fields have a Matérn (nu = 3/2) prior on the model grid itself. An \
earlier default put the prior on a grid twice coarser, prolonged bilinearly: there the \
travel-time check failed (p = 0, max |z| = 11) and the slowness intervals covered 54% of \
the truth. The physics and the noise were not the cause (the synthetic times come from the \
same straight-ray operator, with the noise sd the inversion knows): the least-squares best \
fit of the noise-free times by any field of the coarse space left residuals up to 11 ms, 11 \
noise sds, because the rays resolve the bodies' edges more finely than a 100 m bilinear \
field can follow. On the model grid the best fit is exact, and the check and the coverage \
pass."""


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
        ``(heading, text)`` pairs for :func:`~bayesinv.diagnostics.report.report`'s
        ``notes``: plain text, paragraphs separated by blank lines, math between dollars.
    """
    checks = "\n\n".join(
        _ppc_words(name, row, _MODALITY_WORDS.get(name, "")) for name, row in ppc.iterrows()
    )
    cover = ", ".join(
        f"{name} {100 * row['coverage_90']:.0f}%" for name, row in truth_table.iterrows()
    )
    coupling = (
        "The joint inversion adds a cross-gradient term that favours density and slowness "
        "changing across the same boundaries; compare its maps and sd panels with the "
        "separate inversion (separate/index.html)."
        if label == "joint"
        else "This is the separate inversion (no coupling): each field sees only its own data."
    )
    truth_words = (
        f"The 90% posterior intervals cover the true field in {cover} of the cells (a "
        "calibrated posterior gives about 90%; 80-98% is this demo's acceptance band). The "
        "truth is two bodies with sharp edges, which a smooth Gaussian prior does not "
        "generate: expect the misses at the bodies' edges (the boundary-band RMSE in "
        f"headline.json) and a little more than 90% coverage in the flat background. {coupling}"
    )
    return [
        ("What the posterior predictive checks say", checks),
        ("What the known truth says", truth_words + "\n\n" + WHY_FINE),
        ("What to believe when a check fails", WHEN_FAILS),
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
        notes=page_notes(
            ppc_table(posterior_predictive_check(tree)),
            truth_coverage(tree, survey.truth),
            label,
        ),
        figures=figures,
        kinds=KINDS,
    )


def _map_style(name: str) -> dict:
    """Colour-scale arguments of :func:`plot_field_maps` for one field's maps."""
    means = ("truth", "separate: mean", "joint: mean")
    sds = ("separate: sd", "joint: sd")
    kind = KINDS[name]
    return {
        "kinds": dict.fromkeys(means, kind) | dict.fromkeys(sds, "absolute"),
        "shared": [means, sds],
    }


def write_figures(out, survey, trees) -> None:
    """Write ``maps.png``, ``maps_slowness.png`` and ``data_fit.png``.

    Parameters
    ----------
    out : Path
        The demo's output folder.
    survey : DemoSurvey
        Truth, data and geometry.
    trees : dict of str to xarray.DataTree
        The ``"separate"`` and ``"joint"`` results, with posterior predictive draws.

    Notes
    -----
    Density contrast: truth and means on one diverging scale centred on 0; slowness: on one
    sequential scale of absolute slowness; the sd panels of both inversions share one
    sequential scale, so that equal colours are equal uncertainties.
    """
    from bayesinv.diagnostics import plot_data_fit, plot_field_maps

    post = {label: tree["posterior"] for label, tree in trees.items()}
    for name, fname in (("density", "maps.png"), ("slowness", "maps_slowness.png")):
        mean = {k: p[name].mean(("chain", "draw")).values for k, p in post.items()}
        sd = {k: p[name].std(("chain", "draw")).values for k, p in post.items()}
        plot_field_maps(
            survey.grid,
            {
                "truth": survey.truth[name],
                "separate: mean": mean["separate"],
                "joint: mean": mean["joint"],
                "separate: sd": sd["separate"],
                "joint: sd": sd["joint"],
            },
            out / fname,
            units=UNITS[name],
            receivers=survey.receivers if name == "density" else None,
            **_map_style(name),
        )
    plot_data_fit(
        survey.receivers[:, 0],
        survey.data["gravity"],
        trees["joint"]["posterior_predictive"]["gravity"].values,
        out / "data_fit.png",
        ylabel=UNITS["gravity"],
        title="gravity: data and joint posterior predictive",
        truth=survey.clean["gravity"],
    )


def table_rows(results, survey, walls) -> list[dict]:
    """One headline row per inversion and field: errors, coverage and convergence.

    Parameters
    ----------
    results : dict of str to Report
        The ``"separate"`` and ``"joint"`` reports.
    survey : DemoSurvey
        Truth and body shape.
    walls : dict of str to float
        Seconds each inversion took (Laplace preconditioning and sampling).

    Returns
    -------
    list of dict
        ``inversion``, ``field``, ``rmse``, ``boundary_rmse`` (over
        :func:`~bayesinv.studies.demo.boundary_band`), ``coverage_90``, ``max_rhat``,
        ``min_ess_bulk``, ``divergences``, ``sampling_s``.
    """
    from bayesinv.studies._demo_survey import boundary_band

    band = boundary_band(survey.shape)
    rows = []
    for label, result in results.items():
        conv = result.convergence
        for name in ("density", "slowness"):
            mean = result.idata["posterior"][name].mean(("chain", "draw")).values
            rows.append(
                {
                    "inversion": label,
                    "field": name,
                    "rmse": float(result.truth.loc[name, "rmse"]),
                    "boundary_rmse": float(
                        np.sqrt(np.mean((mean - survey.truth[name])[band] ** 2))
                    ),
                    "coverage_90": float(result.truth.loc[name, "coverage_90"]),
                    "max_rhat": conv.max_rhat,
                    "min_ess_bulk": conv.min_ess_bulk,
                    "divergences": conv.n_divergent,
                    "sampling_s": round(walls[label], 1),
                }
            )
    return rows
