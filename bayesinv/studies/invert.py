"""``bayesinv invert CONFIG.toml``: a user's own inversion from data files and a checked config.

A configuration names the data files (read by :mod:`bayesinv.formats`), the grid (from the
data extent by default), the prior of the fields (``[prior]``: independent normal, Matérn
or Besov; mean and sd per modality), data terms (offset, trend), the noise
model and the inference method, and the output folder. Every key is checked by
:mod:`bayesinv.studies.config` (unknown keys are errors with a suggestion). The run writes
the report of :func:`bayesinv.diagnostics.report` (posterior maps with the sensors drawn,
data fits, posterior predictive checks per modality, convergence verdict), a depth of
investigation map (posterior sd / prior sd) and ``posterior.nc``.

This first version inverts one field per physical property with no coupling between
fields, with NUTS or a Laplace approximation; couplings, continuation and SMC are open.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bayesinv.io import UserError, read_toml
from bayesinv.studies.config import Key, check_table
from bayesinv.studies.field_data import (
    PYTHON_MODE,
    add_prior_draws,
    check_flat_ground,
    check_prior_on_grid,
    field_prior,
    flatten_ert_survey,
)

__all__ = [
    "KINDS",
    "SCHEMA",
    "add_prior_draws",
    "build_inversion",
    "flatten_ert_survey",
    "load_invert_config",
    "run_invert",
]

#: per data kind: field name, prior mean and sd, report label
KINDS = {
    "gravity": ("density", 0.0, 200.0, "g_z (mGal)"),
    "magnetics": ("susceptibility", 0.0, 0.01, "total-field anomaly (nT)"),
    "traveltime": ("slowness", 5e-4, 2e-4, "travel time (s)"),
    "ert": ("log_conductivity", None, 1.0, "apparent resistivity (ohm m)"),
}
FORMATS = ("auto", "columns", "unified", "res2dinv", "sgt", "ubc", "ubc2d")
#: prior kinds of the ``[prior]`` table (see :func:`~bayesinv.studies.field_data.field_prior`)
PRIORS = ("iid", "matern", "besov")

SCHEMA = {
    "output": {"folder": Key(str, default="output/invert"), "title": Key(str, default="")},
    "grid": {
        "nx": Key(int, default=40, low=2),
        "nz": Key(int, default=15, low=1),
        "depth": Key(float, default=None, low=0.0, low_open=True),
        "padding": Key(float, default=0.1, low=0.0),
    },
    "prior": {
        "kind": Key(str, default="iid", choices=PRIORS),
        "length_scale": Key(float, default=None, low=0.0, low_open=True),
        "nu": Key(float, default=1.5, choices=(0.5, 1.5, 2.5)),
        "coarsening": Key(int, default=1, low=1),
        "s": Key(float, default=2.0, low=0.0, low_open=True),
        "p": Key(int, default=2, choices=(1, 2)),
        "wavelet": Key(str, default="haar", nonempty=True),
        "levels": Key(int, default=None, low=1),
    },
    "inference": {
        "method": Key(str, default="nuts", choices=("nuts", "laplace")),
        "draws": Key(int, default=1000, low=1),
        "tune": Key(int, default=1000, low=0),
        "chains": Key(int, default=4, low=1),
        "seed": Key(int, default=1, low=0),
        "prior_draws": Key(int, default=500, low=1),
        # Oldenburg–Li index: references at the prior mean -/+ doi_shift prior sd; 0: off
        "doi_shift": Key(float, default=0.0, low=0.0),
    },
}
MODALITY = {
    "kind": Key(str, choices=tuple(KINDS)),
    "file": Key(str, nonempty=True),
    "format": Key(str, default="auto", choices=FORMATS),
    "error": Key(float, default=None, low=0.0, low_open=True),
    "noise": Key(str, default="scaled", choices=("known", "scaled")),
    "offset": Key(bool, default=False),
    "flatten": Key(bool, default=False),
    "offset_sd": Key(float, default=1.0, low=0.0, low_open=True),
    "offset_per_line": Key(bool, default=False),
    "trend_sd": Key(float, default=0.0, low=0.0),
    "prior_sd": Key(float, default=None, low=0.0, low_open=True),
    "prior_mean": Key(float, default=None),
    "inclination": Key(float, default=None),
    "declination": Key(float, default=None),
    "intensity": Key(float, default=None),
}


@dataclass
class InvertConfig:
    """A checked configuration: the tables of :data:`SCHEMA` and the modality tables."""

    path: Path
    tables: dict
    modalities: dict
    raw: dict


def load_invert_config(path) -> InvertConfig:
    """Read and check an ``invert`` configuration (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The TOML file; data files are relative to its folder.

    Returns
    -------
    InvertConfig
    """
    path = Path(path)
    raw = read_toml(path)
    modalities = raw.get("modality", {})
    tables = check_table(
        {k: v for k, v in raw.items() if k != "modality"}, SCHEMA, source=str(path)
    )
    if not isinstance(modalities, dict) or not modalities:
        raise UserError(f"{path}: modality is missing; expected at least one [modality.NAME] table")
    checked = {}
    for name, table in modalities.items():
        if not str(name).isidentifier():
            raise UserError(f"{path}: modality.{name}: the name must be an identifier")
        checked[name] = check_table(table, MODALITY, source=str(path), prefix=f"modality.{name}.")
    return InvertConfig(path, tables, checked, raw)


def _read(cfg: dict, base: Path, name: str, source: str):
    """Read a modality's data file with the loader its kind and format select."""
    from bayesinv import formats

    if cfg["flatten"] and cfg["kind"] != "ert":
        raise UserError(f"{source}: modality.{name}.flatten: only for ert data, not {cfg['kind']}")
    file = base / cfg["file"]
    fmt, kind, suffix = cfg["format"], cfg["kind"], file.suffix.lower()
    if fmt == "auto":
        fmt = {".ohm": "unified", ".shm": "unified", ".sgt": "sgt", ".obs": "ubc"}.get(
            suffix, "columns"
        )
        if kind == "ert" and suffix == ".dat":
            fmt = "res2dinv" if not file.is_file() or not _is_unified(file) else "unified"
    readers = {
        ("ert", "unified"): formats.read_unified,
        ("ert", "res2dinv"): formats.read_res2dinv,
        ("ert", "columns"): formats.read_ert_columns,
        ("traveltime", "sgt"): formats.read_sgt,
        ("traveltime", "columns"): formats.read_traveltime_columns,
        ("gravity", "ubc"): formats.read_ubc_gravity,
        ("gravity", "ubc2d"): lambda p: formats.read_ubc_gravity(p, dim=2),
        ("gravity", "columns"): lambda p: formats.read_potential_columns(p, "gravity"),
        ("magnetics", "ubc"): formats.read_ubc_magnetics,
        ("magnetics", "columns"): lambda p: formats.read_potential_columns(p, "magnetics"),
    }
    if (kind, fmt) not in readers:
        raise UserError(f"{source}: modality.{name}.format: {fmt!r} is not a format of {kind} data")
    survey = readers[(kind, fmt)](file)
    if kind == "ert" and cfg["flatten"]:
        return flatten_ert_survey(survey)
    if kind == "ert":
        check_flat_ground(survey, f"{source}: modality.{name}", file.name)
    return survey


def _is_unified(path: Path) -> bool:
    first = next(
        (t for t in path.read_text().splitlines() if t.strip() and not t.startswith("#")), ""
    )
    return first.split("#")[0].strip().isdigit()


def _positions(kind: str, survey) -> np.ndarray:
    if kind == "ert":
        return survey.electrodes
    if kind == "traveltime":
        return np.vstack([survey.sources, survey.receivers])
    return survey.receivers


def _grid(tables: dict, surveys: dict):
    """Return the grid over the data extent (``grid`` table), shared by every field."""
    from bayesinv.grid import Grid2D

    g = tables["grid"]
    pos = np.vstack([_positions(kind, s) for kind, s in surveys.values()])
    xmin, xmax = pos[:, 0].min(), pos[:, 0].max()
    width = max(xmax - xmin, 1.0)
    pad = g["padding"] * width
    kinds = {kind for kind, _ in surveys.values()}
    ert = [s.electrodes[:, 1] for kind, s in surveys.values() if kind == "ert"]
    if "traveltime" in kinds:
        top = pos[:, 1].min()
    elif ert:  # the (flat) ground: the shallowest electrode; buried ones lie below it
        top = float(np.concatenate(ert).min())
    else:
        top = pos[:, 1].max()
    depth = g["depth"] if g["depth"] is not None else width / 3.0
    if "magnetics" in kinds:  # a station on a cell corner is singular: start just below
        top += 1e-3 * depth / g["nz"]
    return Grid2D(
        g["nx"], g["nz"], (width + 2 * pad) / g["nx"], depth / g["nz"], x0=xmin - pad, z0=top
    )


def _operator(kind: str, grid, survey, cfg: dict, where: str):
    from bayesinv.operators import Gravity2D, Magnetics2D, StraightRayTomography
    from bayesinv.operators.resistivity import from_survey

    if kind == "gravity":
        return Gravity2D(grid, survey.receivers)
    if kind == "traveltime":
        return StraightRayTomography(grid, survey.sources, survey.receivers)
    if kind == "ert":
        return from_survey(grid, survey, data="apparent_resistivity")
    field = survey.inducing_field or tuple(
        cfg[k] for k in ("inclination", "declination", "intensity")
    )
    if any(v is None for v in field):
        raise UserError(
            f"{where}: inclination, declination and intensity are needed (not in the file)"
        )
    return Magnetics2D(grid, survey.receivers, *field)


def _data(kind: str, survey, cfg: dict, where: str):
    """Observed values, stated errors (sd) and the mask of a survey."""
    if kind == "ert":
        values, relative = survey.apparent_resistivity, survey.error
        if relative is None:
            relative = None if cfg["error"] is None else np.full(values.size, cfg["error"])
        errors = None if relative is None else relative * np.abs(values)
    else:
        values = survey.values if kind != "traveltime" else survey.times
        errors = survey.error
        if errors is None and cfg["error"] is not None:
            errors = np.full(values.size, cfg["error"])
    if errors is None:
        raise UserError(f"{where}.error: the file gives no errors; state one (error = ...)")
    mask = np.asarray(survey.mask, dtype=bool) & np.isfinite(errors) & (errors > 0)
    return values, np.where(mask, errors, 1.0), mask


def build_inversion(config: InvertConfig):
    """Read the data and build the :class:`~bayesinv.model.JointInversion` of a config.

    Parameters
    ----------
    config : InvertConfig
        From :func:`load_invert_config`.

    Returns
    -------
    tuple
        ``(inversion, grid, surveys, units)``: surveys by modality name as
        ``(kind, survey)``, report labels by variable.
    """
    from bayesinv.model import JointInversion, KnownNoise, LinearTrend, Modality, Offset
    from bayesinv.model.noise import ScaledNoise

    source = str(config.path)
    surveys = {
        n: (c["kind"], _read(c, config.path.parent, n, source))
        for n, c in config.modalities.items()
    }
    grid = _grid(config.tables, surveys)
    pos = np.vstack([_positions(kind, s) for kind, s in surveys.values()])
    width = max(float(np.ptp(pos[:, 0])), 1.0)
    given = config.raw.get("prior", {})
    inv, units = JointInversion(), {}
    for name, cfg in config.modalities.items():
        kind, survey = surveys[name]
        where = f"{source}: modality.{name}"
        field, mean, sd, label = KINDS[kind]
        values, errors, mask = _data(kind, survey, cfg, where)
        if kind == "ert" and mean is None:
            mean = float(-np.log(np.median(values[mask])))
        mean = cfg["prior_mean"] if cfg["prior_mean"] is not None else mean
        sd = cfg["prior_sd"] or sd
        if field not in inv.fields:
            prior = field_prior(
                config.tables["prior"], given, mean, sd, width, where=f"{source}: prior"
            )
            check_prior_on_grid(prior, grid, f"{source}: prior")
            inv.add_field(field, grid, prior)
        op = _operator(kind, grid, survey, cfg, where)
        noise = ScaledNoise(errors) if cfg["noise"] == "scaled" else KnownNoise(errors)
        coords = (
            _positions(kind, survey)[: values.size] if kind != "ert" else np.arange(values.size)
        )
        inv.add_modality(Modality(name, op, values, noise, field=field, coords=coords, mask=mask))
        if cfg["offset"]:
            groups = getattr(survey, "line", None) if cfg["offset_per_line"] else None
            if cfg["offset_per_line"] and groups is None:
                raise UserError(f"{where}.offset_per_line: the file has no line column")
            inv.add_offset(name, Offset(cfg["offset_sd"], groups=groups))
        if cfg["trend_sd"] > 0:
            inv.add_offset(name, LinearTrend(cfg["trend_sd"]))
        units[name] = label
    return inv, grid, surveys, units


def run_invert(config: InvertConfig, out=None) -> dict:
    """Run an inversion from a checked configuration and write its report.

    Parameters
    ----------
    config : InvertConfig
        From :func:`load_invert_config`.
    out : str or Path, optional
        Output folder (default: ``output.folder`` of the config).

    Returns
    -------
    dict
        The report's headline (with ``verdict``).
    """
    from bayesinv.diagnostics.report import report
    from bayesinv.studies.invert_doi import doi_figures, oldenburg_li_doi, sd_ratio_figures

    inv, _, surveys, units = build_inversion(config)
    model = inv.build()
    inf = config.tables["inference"]
    out = Path(out if out is not None else config.tables["output"]["folder"])
    out.mkdir(parents=True, exist_ok=True)
    idata = _infer(model, inf)
    doi = None
    if inf["doi_shift"] > 0:
        doi = oldenburg_li_doi(inv, shift=inf["doi_shift"], random_seed=inf["seed"])
    idata = add_prior_draws(idata, model, inf["prior_draws"], inf["seed"])
    figures = sd_ratio_figures(idata, inv, out)
    if doi is not None:
        figures += doi_figures(doi, inv, out, inf["doi_shift"])
        np.savez(out / "doi_oldenburg_li.npz", **doi)
    receivers = np.vstack([_positions(k, s) for k, s in surveys.values()])
    title = config.tables["output"]["title"] or f"bayesinv invert: {config.path.name}"
    result = report(
        idata,
        out,
        fields={n: f.grid for n, f in inv.fields.items()},
        model=model,
        config=config.raw,
        seed=inf["seed"],
        units=units,
        receivers=receivers,
        title=title,
        figures=figures,
    )
    return result.headline | _doi_headline(doi)


def _doi_headline(doi) -> dict:
    """Median Oldenburg–Li index of the top and bottom rows of each field."""
    out = {}
    for name, values in (doi or {}).items():
        out[f"doi_{name}_top_row"] = float(np.median(values[0]))
        out[f"doi_{name}_bottom_row"] = float(np.median(values[-1]))
    return out


def _infer(model, inf: dict):
    """Draws of the configured method (Laplace: graphs in :data:`PYTHON_MODE`)."""
    from bayesinv.inference import laplace, sample
    from bayesinv.inference.optimize import find_map

    if inf["method"] == "laplace":
        return laplace(
            model,
            find_map(model, random_seed=inf["seed"], mode=PYTHON_MODE),
            draws=inf["draws"],
            chains=inf["chains"],
            random_seed=inf["seed"],
            mode=PYTHON_MODE,
        ).idata
    return sample(
        model,
        draws=inf["draws"],
        tune=inf["tune"],
        chains=inf["chains"],
        random_seed=inf["seed"],
        progressbar=False,
    )
