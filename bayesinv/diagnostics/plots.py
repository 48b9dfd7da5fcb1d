"""Figures drawn from diagnostics: field maps, posterior field panels and data-fit plots (PNG)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from bayesinv._checks import check_choice
from bayesinv.diagnostics.truth import CONTRACTION, field_summaries
from bayesinv.grid import Grid2D
from bayesinv.io import atomic_path

__all__ = [
    "field_kind",
    "plot_data_fit",
    "plot_discrepancy",
    "plot_field_maps",
    "plot_posterior_field",
    "plot_ppc",
]

#: colour-scale kinds of a field: sequential (``"absolute"``) or diverging about 0
#: (``"contrast"``)
KINDS = ("absolute", "contrast")


def field_kind(values) -> str:
    """Default colour-scale kind of a field: ``"contrast"`` if its values straddle 0.

    Parameters
    ----------
    values : array_like
        Field values (NaN ignored).

    Returns
    -------
    str
        ``"contrast"`` when some values are below 0 and some above, else ``"absolute"``.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return "contrast" if v.size and v.min() < 0.0 < v.max() else "absolute"


def _scale_groups(fields, kinds, shared, where):
    """Colour scale of each panel: ``{title: (group_index, kind, vmin, vmax)}``."""
    if isinstance(kinds, str) or kinds is None:
        kinds = dict.fromkeys(fields, kinds)
    kinds = dict(kinds)
    for title, kind in kinds.items():
        if title not in fields:
            raise ValueError(f"{where}: kinds names {title!r}, which is not a panel")
        if kind is not None:
            check_choice(kind, where, f"kinds[{title!r}]", KINDS)
    groups, seen = [], set()
    for group in shared:
        group = [group] if isinstance(group, str) else list(group)
        unknown = [g for g in group if g not in fields]
        if unknown:
            raise ValueError(f"{where}: shared names {unknown}, which are not panels")
        overlap = seen.intersection(group)
        if overlap:
            raise ValueError(f"{where}: panels {sorted(overlap)} are in two shared groups")
        seen.update(group)
        groups.append(group)
    groups += [[t] for t in fields if t not in seen]
    scales = {}
    for index, group in enumerate(groups):
        values = np.concatenate([np.ravel(fields[t]) for t in group])
        finite = values[np.isfinite(values)]
        explicit = [kinds.get(t) for t in group if kinds.get(t) is not None]
        if explicit:
            kind = "contrast" if "contrast" in explicit else "absolute"
        else:
            kind = field_kind(finite)
        if kind == "contrast":
            vmax = float(np.max(np.abs(finite))) if finite.size else 1.0
            vmax = vmax or 1.0
            scale = (-vmax, vmax)
        else:
            scale = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        for t in group:
            scales[t] = (index, kind, *scale)
    return scales


def plot_field_maps(
    grid: Grid2D,
    panels: dict[str, np.ndarray],
    path,
    *,
    units="",
    kinds=None,
    shared=(),
    receivers=None,
    shared_scale: tuple[str, ...] = (),
) -> Path:
    """Plot fields on a grid one above the other and save a PNG.

    Parameters
    ----------
    grid : Grid2D
        Grid of every panel.
    panels : dict of str to array_like
        Title → field (shape ``(nz, nx)`` or flat).
    path : str or Path
        Output PNG (written atomically).
    units : str or dict of str to str
        Colour-bar label (with units), or one per panel title.
    kinds : {"absolute", "contrast"} or dict of str to str, optional
        Colour scale of every panel, or per panel title. ``"absolute"``: a sequential map
        (viridis) from the smallest to the largest value, for quantities whose zero is not
        special (slowness, conductivity, standard deviations); ``"contrast"``: a diverging
        map (RdBu_r) centred on 0, symmetric, for contrasts and anomalies (density
        contrast, slowness minus host). Default per panel: ``"contrast"`` when its values
        straddle 0 (:func:`field_kind`), else ``"absolute"``.
    shared : sequence of sequence of str
        Groups of panel titles that are compared, e.g. ``[("truth", "joint: mean",
        "separate: mean"), ("joint: sd", "separate: sd")]``: the panels of a group share
        one colour scale (the range of all of them; symmetric about 0 if any panel of the
        group is a contrast) and one colour bar, so equal colours mean equal values.
        Panels in no group get their own scale and colour bar.
    receivers : array_like, optional
        ``(n, 2)`` receiver positions drawn as markers.
    shared_scale : tuple of str
        Deprecated (use ``shared=[titles]`` and ``kinds``): titles of panels that share
        one symmetric (contrast) scale.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    Truth and posterior means of an absolute field on one sequential scale, the two
    standard deviations on another:

    >>> plot_field_maps(  # doctest: +SKIP
    ...     grid,
    ...     {"truth": t, "separate: mean": m1, "joint: mean": m2,
    ...      "separate: sd": s1, "joint: sd": s2},
    ...     "maps_slowness.png",
    ...     units="slowness (s/m)",
    ...     kinds="absolute",
    ...     shared=[("truth", "separate: mean", "joint: mean"), ("separate: sd", "joint: sd")],
    ... )
    """
    where = "plot_field_maps"
    fields = {k: grid.unravel(np.asarray(v, dtype=float).ravel()) for k, v in panels.items()}
    shared = list(shared)
    if shared_scale:
        warnings.warn(
            "plot_field_maps: shared_scale= is deprecated; use shared=[titles] and kinds=",
            DeprecationWarning,
            stacklevel=2,
        )
        group = tuple(k for k in shared_scale if k in fields)
        shared.append(group)
        base = kinds if isinstance(kinds, dict) else dict.fromkeys(fields, kinds)
        kinds = {**base, **dict.fromkeys(group, "contrast")}
    scales = _scale_groups(fields, kinds, shared, where)
    labels = units if isinstance(units, dict) else dict.fromkeys(fields, units)
    n = len(fields)
    aspect = grid.nz * grid.dz / (grid.nx * grid.dx)
    # a bare Figure (no pyplot): no global backend state, safe in notebooks and threads
    fig = Figure(figsize=(7, 1.0 + n * (5.6 * aspect + 0.6)), layout="constrained")
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    images = {}
    for ax, (title, field) in zip(axes, fields.items(), strict=True):
        _, kind, vmin, vmax = scales[title]
        cmap = "RdBu_r" if kind == "contrast" else "viridis"
        images[title] = ax.imshow(field, extent=grid.extent, cmap=cmap, vmin=vmin, vmax=vmax)
        if receivers is not None:
            rx = np.asarray(receivers)
            ax.plot(rx[:, 0], np.clip(rx[:, 1], grid.z0, None), "kv", ms=3, clip_on=False)
        ax.set_title(title)
        ax.set_ylabel("depth z (m)")
    axes[-1].set_xlabel("x (m)")
    for index in sorted({s[0] for s in scales.values()}):
        titles = [t for t in fields if scales[t][0] == index]
        group_axes = [axes[list(fields).index(t)] for t in titles]
        fig.colorbar(
            images[titles[0]],
            ax=group_axes,
            label=labels.get(titles[0], ""),
            shrink=0.9 if len(titles) == 1 else 0.95,
        )
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return Path(path)


def plot_data_fit(
    x, observed, predictive, path, *, ylabel: str = "", title: str = "", truth=None
) -> Path:
    """Plot observed data against posterior predictive bands (50% and 90%) and save a PNG.

    Parameters
    ----------
    x : array_like
        Data coordinate (e.g. receiver x), length ``n``.
    observed : array_like
        Observed data, length ``n``.
    predictive : array_like
        Predictive draws, shape ``(..., n)``.
    path : str or Path
        Output PNG (written atomically).
    ylabel, title : str
        Labels.
    truth : array_like, optional
        Noise-free data, drawn as a line.

    Returns
    -------
    Path
        The written file.
    """
    x = np.asarray(x)
    pred = np.asarray(predictive).reshape(-1, x.size)
    q05, q25, q50, q75, q95 = np.quantile(pred, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    fig = Figure(figsize=(7, 3.2))
    ax = fig.subplots()
    ax.fill_between(x, q05, q95, color="C0", alpha=0.2, label="90% predictive")
    ax.fill_between(x, q25, q75, color="C0", alpha=0.4, label="50% predictive")
    ax.plot(x, q50, color="C0", lw=1)
    if truth is not None:
        ax.plot(x, truth, "k--", lw=1, label="noise-free")
    ax.plot(x, observed, "k.", ms=4, label="observed")
    ax.set_xlabel("x (m)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return Path(path)


def plot_posterior_field(
    idata,
    name: str,
    grid: Grid2D,
    path,
    *,
    truth=None,
    units: str = "",
    receivers=None,
    kind: str | None = None,
) -> list[Path]:
    """Save maps of a posterior field (see :func:`field_summaries`) as PNGs.

    Parameters
    ----------
    idata : xarray.DataTree
        Result with a ``posterior`` group.
    name : str
        Field variable.
    grid : Grid2D
        The field's grid.
    path : str or Path
        Output PNG of the panels in field units (written atomically). When the prior is
        known, the dimensionless ``posterior sd / prior sd`` map goes to a second PNG next
        to it, ``<stem>_contraction.png``.
    truth : array_like, optional
        True field; truth and posterior mean then share one colour scale and colour bar.
    units : str
        Colour-bar label of the field.
    receivers : array_like, optional
        ``(n, 2)`` receiver positions drawn as markers.
    kind : {"absolute", "contrast"}, optional
        Colour scale of the truth and posterior mean (see :func:`plot_field_maps`); default
        ``"contrast"`` when their values straddle 0, else ``"absolute"``. Standard
        deviations, interval widths and the contraction are always absolute.

    Returns
    -------
    list of Path
        The written files.
    """
    if kind is not None:
        check_choice(kind, "plot_posterior_field", "kind", KINDS)
    panels = field_summaries(idata, name, grid, truth)
    ratio = panels.pop(CONTRACTION, None)
    titles = {k: f"{name}: {k}" for k in panels}
    compared = tuple(titles[k] for k in ("truth", "posterior mean") if k in panels)
    path = Path(path)
    spreads = dict.fromkeys(titles.values(), "absolute")
    written = [
        plot_field_maps(
            grid,
            {titles[k]: v for k, v in panels.items()},
            path,
            units=units,
            kinds={**spreads, **dict.fromkeys(compared, kind)},
            shared=[compared],
            receivers=receivers,
        )
    ]
    if ratio is not None:
        written.append(
            plot_field_maps(
                grid,
                {f"{name}: {CONTRACTION} (1: data taught nothing)": ratio},
                path.with_name(f"{path.stem}_contraction{path.suffix}"),
                units="ratio",
                kinds="absolute",
                receivers=receivers,
            )
        )
    return written


def plot_ppc(check, path, *, ylabel: str = "", truth=None) -> Path:
    """Plot a modality's data against its predictive bands, with standardised residuals.

    Parameters
    ----------
    check : ModalityCheck
        One entry of :func:`~bayesinv.diagnostics.ppc.posterior_predictive_check`.
    path : str or Path
        Output PNG (written atomically).
    ylabel : str
        Data label (with units).
    truth : array_like, optional
        Noise-free data, drawn as a dashed line.

    Returns
    -------
    Path
        The written file.
    """
    order = np.argsort(check.x, kind="stable")
    x = check.x[order]
    fig = Figure(figsize=(7, 4.8))
    ax, axz = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1]})
    for p, alpha, width in ((0.9, 0.25, 1.5), (0.5, 0.55, 3.5)):
        lo, hi = check.bands[p]
        label = f"{p:.0%} predictive"
        if check.x_scattered:  # one interval per datum: neighbours in x are not neighbours
            ax.vlines(x, lo[order], hi[order], color="C0", alpha=alpha, lw=width, label=label)
        else:
            ax.fill_between(x, lo[order], hi[order], color="C0", alpha=alpha, lw=0, label=label)
    line = "_" if check.x_scattered else "-"
    ax.plot(x, check.mean[order], line, color="C0", lw=1, ms=6)
    if truth is not None:
        truth = np.asarray(truth, dtype=float).ravel()[order]
        ax.plot(x, truth, "kx" if check.x_scattered else "k--", lw=1, ms=3, label="noise-free")
    ax.plot(x, check.observed[order], "k.", ms=4, label="observed")
    ax.set_ylabel(ylabel or check.name)
    s = check.summary()
    ax.set_title(
        f"{check.name}: 90% band covers {s['coverage_90']:.0%}, "
        f"RMS z = {s['rms_z']:.2f}, p = {s['p_value']:.2f}"
    )
    ax.legend(fontsize=8, ncol=2)
    axz.axhspan(-2, 2, color="0.9")
    axz.axhline(0.0, color="0.5", lw=0.8)
    axz.plot(x, check.z[order], "k.", ms=4)
    axz.set_ylabel("standardised\nresidual")
    axz.set_xlabel(check.x_label)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return Path(path)


def plot_discrepancy(band, path, *, ylabel: str = "") -> Path:
    """Plot a modality's discrepancy δ: posterior mean and 50%/90% bands against position.

    Parameters
    ----------
    band : DiscrepancyBand
        One entry of :func:`~bayesinv.diagnostics.discrepancy.discrepancy_bands`.
    path : str or Path
        Output PNG (written atomically).
    ylabel : str
        Data units.

    Returns
    -------
    Path
        The written file.
    """
    order = np.argsort(band.x, kind="stable")
    ax = (fig := Figure(figsize=(7, 3.2))).subplots()
    for p, alpha in ((0.9, 0.25), (0.5, 0.55)):
        lo, hi = (b[order] for b in band.bands[p])
        ax.fill_between(band.x[order], lo, hi, color="C1", alpha=alpha, lw=0)
    ax.plot(band.x[order], band.mean[order], "C1.-", lw=1, ms=3)
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.set(xlabel=band.x_label, ylabel=f"δ ({ylabel})" if ylabel else "δ")
    ax.set_title(f"{band.name}: model discrepancy δ at the data (50% and 90% bands)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return Path(path)
