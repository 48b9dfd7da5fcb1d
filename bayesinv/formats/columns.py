"""The shared reader and writer of plain column files (CSV or whitespace-separated text).

A column file has one header line naming the columns, then one row per reading::

    # gravity line 3, base-station corrected
    station,x[m],elevation[m],gz[mGal],sd[mGal]
    1,0.0,101.2,0.513,0.02
    2,25.0,101.9,,0.02          <- missing reading: kept, masked and reported

Comment lines start with ``#``. The delimiter is a comma if the header has one, else a
semicolon if it has one, else whitespace. A column's unit may follow its name in brackets
or parentheses (``gz[mGal]``, ``gz (mGal)``); otherwise the caller's ``units`` apply, and
otherwise bayesinv's units (m, mGal, nT, s). Which header column holds which quantity is
found from the canonical name and its aliases, or given by ``mapping`` (``{"value": "gz"}``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bayesinv.formats._errors import FormatError
from bayesinv.formats._unified import MISSING
from bayesinv.formats._units import factor
from bayesinv.io import _readable

__all__ = ["Columns", "read_columns", "write_columns"]

_UNIT = re.compile(r"^\s*(.*?)\s*(?:\[([^\]]*)\]|\(([^)]*)\))\s*$")


@dataclass
class Columns:
    """What :func:`read_columns` found.

    Attributes
    ----------
    path : str
        The file.
    values : dict of str to numpy.ndarray
        Each found canonical column, converted to bayesinv's units (NaN where missing).
    units : dict of str to str or None
        The unit each column had in the file (``None``: none stated, bayesinv's assumed).
    missing : dict of str to numpy.ndarray
        Per column, True where the reading was missing.
    lines : numpy.ndarray
        1-based line number of each row.
    header_line : int
        Line of the header.
    ignored : list of str
        Header columns that no requested quantity uses (reported, not an error).
    """

    path: str
    values: dict
    units: dict
    missing: dict
    lines: np.ndarray
    header_line: int
    ignored: list = field(default_factory=list)


def _split_header(cell: str) -> tuple[str, str | None]:
    m = _UNIT.match(cell)
    if m:
        return m.group(1).strip(), (m.group(2) if m.group(2) is not None else m.group(3)).strip()
    return cell.strip(), None


def _delimiter(header: str) -> str | None:
    return "," if "," in header else (";" if ";" in header else None)


def _locate(names, fields, aliases, mapping, path, line) -> dict:
    """Header index of each canonical column that is present."""
    lower = [n.lower() for n in names]
    where = {}
    for canon in fields:
        if mapping and canon in mapping:
            want = str(mapping[canon]).lower()
            if want not in lower:
                raise FormatError(
                    path,
                    line,
                    f"a column {mapping[canon]!r} (mapped to {canon!r}) in the header",
                    ", ".join(names),
                )
            where[canon] = lower.index(want)
            continue
        for spelling in (canon, *aliases.get(canon, ())):
            if spelling.lower() in lower:
                where[canon] = lower.index(spelling.lower())
                break
    return where


def _read_rows(lines, start, delim, width, path):
    rows, numbers = [], []
    for i in range(start, len(lines)):
        raw = lines[i]
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cells = raw.split(delim) if delim else raw.split()
        if len(cells) != width:
            raise FormatError(
                path,
                i + 1,
                f"data row {len(rows) + 1} to have {width} columns as the header names; "
                f"it has {len(cells)}",
            )
        rows.append(cells)
        numbers.append(i + 1)
    return rows, np.asarray(numbers, dtype=np.int64)


def _numbers(rows, c, name, lines, path, may_miss):
    out = np.empty(len(rows))
    miss = np.zeros(len(rows), dtype=bool)
    for r, row in enumerate(rows):
        cell = row[c].strip()
        try:
            out[r] = float(cell)
            miss[r] = out[r] != out[r]
        except ValueError:
            if cell.lower() not in MISSING:
                raise FormatError(
                    path, int(lines[r]), f"a number in column {name!r}", cell
                ) from None
            out[r], miss[r] = np.nan, True
        if miss[r] and not may_miss:
            raise FormatError(
                path, int(lines[r]), f"a number in column {name!r} (it cannot be missing)", cell
            )
    return out, miss


def read_columns(
    path,
    fields: dict,
    *,
    required=(),
    aliases=None,
    mapping=None,
    units=None,
    may_miss=(),
    same_units=(),
) -> Columns:
    """Read a column file into canonical quantities in bayesinv's units.

    Parameters
    ----------
    path : str or Path
        The file.
    fields : dict of str to str
        Canonical column name -> quantity (a key of :data:`bayesinv.formats._units.UNITS`).
    required : sequence of str
        Canonical columns that must be present (a tuple inside means "one of these").
    aliases : dict of str to sequence of str, optional
        Other header spellings of each canonical name (case-insensitive).
    mapping : dict of str to str, optional
        Canonical name -> the header name in this file (overrides the aliases).
    units : dict of str to str, optional
        Units of columns whose header states none.
    may_miss : sequence of str
        Columns where a missing reading is allowed (it becomes NaN and is reported by the
        caller); elsewhere it is an error.
    same_units : sequence of tuple of str
        Groups of columns that must share one unit (positions, a value and its error).

    Returns
    -------
    Columns
    """
    path = Path(path)
    if mapping:
        unknown = sorted(set(mapping) - set(fields))
        if unknown:
            raise ValueError(
                f"read_columns: mapping has unknown name(s) {unknown}; known: {sorted(fields)}"
            )
    try:
        lines = _readable(path, "a column file").read_text().splitlines()
    except UnicodeDecodeError as err:
        raise FormatError(path, None, "text (UTF-8)", err.reason) from err
    h = next((i for i, t in enumerate(lines) if t.strip() and not t.lstrip().startswith("#")), None)
    if h is None:
        raise FormatError(path, len(lines) + 1, "a header line naming the columns", "end of file")
    delim = _delimiter(lines[h])
    cells = lines[h].split(delim) if delim else lines[h].split()
    names, file_units = zip(*(_split_header(c) for c in cells), strict=True)
    where = _locate(names, fields, aliases or {}, mapping, path, h + 1)
    for need in required:
        options = need if isinstance(need, tuple) else (need,)
        if not any(o in where for o in options):
            raise FormatError(
                path,
                h + 1,
                f"a column {' or '.join(map(repr, options))} in the header",
                lines[h].strip(),
            )
    rows, numbers = _read_rows(lines, h + 1, delim, len(names), path)
    values, units_out, missing = {}, {}, {}
    for canon, c in where.items():
        unit = file_units[c]
        given = (units or {}).get(canon)
        if unit is not None and given is not None and unit.lower() != str(given).lower():
            raise FormatError(
                path,
                h + 1,
                f"column {names[c]!r} in {given} as the caller says (mixed units)",
                unit,
            )
        unit = unit if unit is not None else given
        f = factor(unit, fields[canon], path, h + 1, names[c])
        v, miss = _numbers(rows, c, names[c], numbers, path, canon in may_miss)
        values[canon], units_out[canon], missing[canon] = v * f, unit, miss
    for group in same_units:
        stated = {units_out[g].lower() for g in group if units_out.get(g)}
        if len(stated) > 1:
            raise FormatError(
                path,
                h + 1,
                f"one unit for columns {', '.join(g for g in group if g in where)} (mixed units)",
                sorted(stated),
            )
    ignored = [names[i] for i in range(len(names)) if i not in where.values()]
    return Columns(str(path), values, units_out, missing, numbers, h + 1, ignored)


def write_columns(path, columns: dict, *, units=None, comments=()) -> Path:
    """Write a comma-separated column file that :func:`read_columns` reads back exactly.

    Parameters
    ----------
    path : str or Path
        The file (written atomically).
    columns : dict of str to array_like
        Header name -> values (NaN is written as an empty cell: a missing reading).
    units : dict of str to str, optional
        Unit written after a column's name (``x[m]``).
    comments : sequence of str
        Lines written first, each as a comment (after a ``#`` and a space).

    Returns
    -------
    pathlib.Path
    """
    from bayesinv.io import write_text

    units = units or {}
    header = ",".join(f"{k}[{units[k]}]" if units.get(k) else k for k in columns)
    arrays = [np.asarray(v, dtype=np.float64) for v in columns.values()]
    out = [f"# {c}" for c in comments] + [header]
    for r in range(len(arrays[0]) if arrays else 0):
        out.append(",".join("" if a[r] != a[r] else repr(float(a[r])) for a in arrays))
    return write_text(path, "\n".join(out) + "\n")
