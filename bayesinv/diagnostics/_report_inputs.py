"""Checks of what :func:`bayesinv.diagnostics.report.report` is given, and file helpers.

Every message starts with ``report:`` and names the argument (and its key or index).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import xarray as xr

from bayesinv._checks import check_choice
from bayesinv.diagnostics._page import IMAGE_SUFFIXES
from bayesinv.diagnostics.plots import KINDS
from bayesinv.grid import Grid2D


def check_inputs(idata, fields, truth, units):
    """Check the tree, the field grids and the truth; return ``(fields, truth, units)``."""
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


def check_kinds(kinds, fields) -> dict:
    """Check the colour-scale kind of each named field."""
    kinds = dict(kinds or {})
    for name, kind in kinds.items():
        if name not in fields:
            raise ValueError(
                f"report: kinds names {name!r}, which is not one of the fields {sorted(fields)}"
            )
        check_choice(kind, "report", f"kinds[{name!r}]", KINDS)
    return kinds


def check_notes(notes) -> list[tuple[str, str]]:
    """Check that notes are ``(heading, text)`` pairs of strings."""
    checked = []
    for i, note in enumerate(notes or ()):
        if (
            not isinstance(note, tuple | list)
            or len(note) != 2
            or not all(isinstance(x, str) for x in note)
        ):
            raise ValueError(f"report: notes[{i}] must be a (heading, text) pair of strings")
        checked.append((note[0], note[1]))
    return checked


def check_figures(figures, out: Path) -> list[tuple[str, str]]:
    """``(path, caption)`` pairs; each path relative to ``out`` and existing there."""
    checked = []
    for i, entry in enumerate(figures or ()):
        path, caption = entry if isinstance(entry, tuple | list) else (entry, "")
        if not isinstance(path, str | os.PathLike) or not isinstance(caption, str):
            raise ValueError(
                f"report: figures[{i}] must be a path or a (path, caption) pair, got {entry!r}"
            )
        rel = Path(path)
        if rel.is_absolute():
            raise ValueError(
                f"report: figures[{i}] must be a path relative to the output folder, got "
                f"{str(path)!r}"
            )
        if not (out / rel).exists():
            raise ValueError(f"report: figures[{i}] {rel.as_posix()!r} does not exist in {out}")
        checked.append((rel.as_posix(), caption))
    return checked


def units_attrs(tree: xr.DataTree, units: dict) -> None:
    """Set ``units`` and ``long_name`` attributes of every variable named in ``units``."""
    for label_of, label in units.items():
        match = re.fullmatch(r"\s*(.*?)\s*\(([^()]*)\)\s*", label)
        attrs = {"units": label} if match is None else {"units": match[2]}
        if match is not None and match[1]:
            attrs["long_name"] = match[1]
        for node in tree.subtree:
            if label_of in node.data_vars:
                node[label_of].attrs.update(attrs)


def carry_figures(figures, source: Path, out: Path) -> list[tuple[str, str]]:
    """Copy a study's images from ``source`` to ``out``; point to its other files."""
    import shutil

    out.mkdir(parents=True, exist_ok=True)
    carried = []
    for rel, caption in figures:
        if not (source / rel).exists():
            continue  # gone since the report was written: nothing to show
        if rel.lower().endswith(IMAGE_SUFFIXES):
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / rel, out / rel)
            carried.append((rel, caption))
        else:
            target = os.path.relpath((source / rel).resolve(), out.resolve())
            carried.append((Path(target).as_posix(), caption))
    return carried


def truth_group(idata, truth) -> xr.DataTree:
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
