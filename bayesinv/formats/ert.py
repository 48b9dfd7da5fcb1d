"""ERT (DC resistivity) files: the unified data format of pyGIMLi/BERT and column files.

Res2DInv files are read by :mod:`bayesinv.formats.res2dinv`. Every reader returns an
:class:`~bayesinv.formats._ert_survey.ERTSurvey` whose ``electrodes`` and ``abmn`` the
resistivity operator takes directly, with resistances, apparent resistivities and geometric
factors filled in consistently (see :func:`read_unified`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bayesinv.formats._errors import FormatError
from bayesinv.formats._ert_survey import ERTSurvey, finish_survey, geometric_factors
from bayesinv.formats._unified import read_blocks, write_block
from bayesinv.formats._units import factor
from bayesinv.formats.columns import read_columns, write_columns
from bayesinv.io import write_text

__all__ = [
    "ERTSurvey",
    "geometric_factors",
    "read_ert_columns",
    "read_unified",
    "write_ert_columns",
    "write_unified",
]

#: data tokens with their quantity (for units); others are kept in ``extra`` as read
_DATA_TOKENS = {
    "r": "resistance",
    "rhoa": "resistivity",
    "k": "geometric",
    "err": "fraction",
    "u": "voltage",
    "i": "current",
    "valid": "index",
}
_INDEX = ("a", "b", "m", "n")


def _vertical(block, path, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, elevation)`` of a sensor or topography block (see :func:`read_unified`)."""
    names = block.names
    unknown = [t for t in names if t not in ("x", "y", "z")]
    if unknown or "x" not in names:
        raise FormatError(
            path, block.count_line + 1, f"{what} columns among x, y, z", " ".join(names)
        )
    f = {
        t: factor(u, "length", path, block.count_line + 1, t)
        for t, u in zip(names, block.units, strict=True)
    }
    if len({u.lower() for u in block.units if u}) > 1:
        raise FormatError(
            path, block.count_line + 1, f"one length unit for the {what} (mixed units)", block.units
        )
    if np.any(block.missing):
        r = int(np.flatnonzero(block.missing.any(axis=1))[0])
        raise FormatError(path, int(block.lines[r]), f"a number in every {what} column")
    x = block.column("x") * f["x"]
    if "z" in names:
        y = block.column("y")
        if y is not None and np.ptp(y) > 0:
            r = int(np.flatnonzero(y != y[0])[0])
            raise FormatError(
                path, int(block.lines[r]), f"the same y for every {what} (a 2-D line)", float(y[r])
            )
        return x, block.column("z") * f["z"]
    y = block.column("y")
    return x, (y * f["y"] if y is not None else np.zeros_like(x))  # pyGIMLi 2-D: y is vertical


def _abmn(block, n_sensors: int, path) -> np.ndarray:
    missing = [t for t in _INDEX if t not in block.names]
    if missing:
        raise FormatError(
            path, block.count_line + 1, "data tokens a b m n (any order)", " ".join(block.names)
        )
    idx = np.column_stack([block.column(t) for t in _INDEX])
    bad = ~np.isfinite(idx).all(axis=1) | np.any(idx != np.round(idx), axis=1)
    bad |= np.any((idx < 0) | (idx > n_sensors), axis=1) | (idx[:, 0] == 0) | (idx[:, 2] == 0)
    if np.any(bad):
        r = int(np.flatnonzero(bad)[0])
        raise FormatError(
            path,
            int(block.lines[r]),
            f"electrode indices a, m in 1..{n_sensors} and b, n in 0..{n_sensors} (0 = remote)",
            block.values[r, [block.names.index(t) for t in _INDEX]].tolist(),
        )
    abmn = idx.astype(np.int64) - 1
    _check_pairs(abmn, block.lines, path)
    return abmn


def _check_pairs(abmn, lines, path):
    a, b, m, n = abmn.T
    bad = (a == b) | (m == n) | (m == a) | (m == b) | ((n >= 0) & ((n == a) | (n == b)))
    if np.any(bad):
        r = int(np.flatnonzero(bad)[0])
        raise FormatError(
            path, int(lines[r]), "four distinct electrodes A, B, M, N", (abmn[r] + 1).tolist()
        )


def read_unified(path) -> ERTSurvey:
    r"""Read an ERT file in the unified data format (``.ohm``, ``.dat``, ``.shm``).

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    ERTSurvey

    Notes
    -----
    **Layout.** A sensor block (count, format line such as ``# x z``, rows), a data block
    (count, format line naming ``a b m n`` and readings in any order, rows) and an optional
    topography block (count, ``# x z``, rows). Indices are 1-based; ``0`` is a remote
    electrode. With a ``z`` column it is the elevation (``y``, if present, must be constant
    along a 2-D line); with ``x y`` only, ``y`` is the elevation (pyGIMLi's 2-D habit).
    bayesinv's depth is :math:`z = -\text{elevation}`.

    **Readings.** Tokens ``r`` (Ω), ``rhoa`` (Ω·m), ``k`` (m), ``err`` (relative, a
    fraction; ``err/%`` in per cent), ``u`` (V), ``i`` (A), ``ip`` (unit as given, e.g.
    ``ip/mrad``), ``valid`` (0 or 1); a unit after a slash converts (``u/mV``, ``i/mA``), an
    unknown unit is an error. Other tokens are kept in ``extra``. Then
    :math:`R = U/I` if only ``u`` and ``i`` are given; :math:`K` is the file's, else
    :math:`ρ_a/R` when both are given, else the half-space factor of
    :func:`geometric_factors` (reported); the missing one of :math:`R`, :math:`ρ_a` is
    computed with it; given ``r``, ``rhoa`` and ``k`` must agree to 0.1 %.

    **Missing data.** A reading written as ``nan``, ``*``, ``-`` or ``NA``, or a datum with
    ``valid = 0``, is kept, masked (``mask = False``) and reported.
    """
    path = Path(path)
    sensors, data, topo = read_blocks(
        path,
        ("sensors", "data", "topography points"),
        (
            lambda w: ["x", "z", "y"][:w] if w in (1, 2) else ["x", "y", "z"] if w == 3 else None,
            lambda w: list(_INDEX) if w == 4 else None,
            lambda w: ["x", "z"] if w == 2 else None,
        ),
    )
    x, elev = _vertical(sensors, path, "sensor")
    electrodes = np.column_stack([x, -elev])
    topography = None
    if topo is not None and topo.values.shape[0] > 0:
        tx, tz = _vertical(topo, path, "topography")
        topography = np.column_stack([tx, -tz])
    abmn = _abmn(data, electrodes.shape[0], path)
    cols, extra, ip, ip_unit = {}, {}, None, None
    for j, (tok, unit) in enumerate(zip(data.names, data.units, strict=True)):
        if tok in _INDEX:
            continue
        column = data.values[:, j]
        if tok == "ip":
            ip, ip_unit = column.copy(), unit
            factor(unit, "chargeability", path, data.count_line + 1, tok)
        elif tok in _DATA_TOKENS:
            cols[tok] = column * factor(unit, _DATA_TOKENS[tok], path, data.count_line + 1, tok)
        else:
            extra[tok if unit is None else f"{tok}/{unit}"] = column.copy()
    for tok in ("u", "i"):
        if tok in cols:
            extra[tok] = cols[tok]
    return finish_survey(
        path,
        data.lines,
        electrodes,
        abmn,
        cols,
        error=cols.get("err"),
        valid=cols.get("valid"),
        ip=ip,
        ip_unit=ip_unit,
        topo=topography,
        extra=extra,
    )


def write_unified(path, survey: ERTSurvey) -> Path:
    """Write a survey in the unified data format; :func:`read_unified` reads it back equal.

    Parameters
    ----------
    path : str or Path
        The file (written atomically).
    survey : ERTSurvey
        The survey (any object with the same attributes).

    Returns
    -------
    pathlib.Path

    Notes
    -----
    Writes ``# x z`` (elevation ``-z``), then ``a b m n r rhoa k`` and, when present,
    ``err``, ``ip/<unit>``, ``valid`` (when some data are masked) and the extra columns,
    with every float in full precision (``repr``), and the topography block if any.
    """
    out = ["# written by bayesinv.formats.write_unified"]
    e = np.asarray(survey.electrodes, dtype=np.float64)
    write_block(out, "number of sensors", ["x", "z"], [e[:, 0], -e[:, 1]], set())
    abmn = np.asarray(survey.abmn) + 1
    tokens = [*_INDEX, "r", "rhoa", "k"]
    columns = [*abmn.T, survey.resistance, survey.apparent_resistivity, survey.geometric_factor]
    if survey.error is not None:
        tokens.append("err")
        columns.append(survey.error)
    if survey.ip is not None:
        tokens.append("ip" if survey.ip_unit is None else f"ip/{survey.ip_unit}")
        columns.append(survey.ip)
    if not np.all(survey.mask):
        tokens.append("valid")
        columns.append(np.asarray(survey.mask, dtype=np.float64))
    for name, column in survey.extra.items():
        tokens.append(name)
        columns.append(column)
    write_block(out, "number of data", tokens, columns, {*_INDEX, "valid"})
    if survey.topography is not None:
        t = np.asarray(survey.topography, dtype=np.float64)
        write_block(out, "number of topography points", ["x", "z"], [t[:, 0], -t[:, 1]], set())
    return write_text(path, "\n".join(out) + "\n")


_POSITIONS = tuple(f"{e}{c}" for e in "abmn" for c in "xz")
_COLUMN_FIELDS = {p: "length" for p in _POSITIONS} | {k: v for k, v in _DATA_TOKENS.items()}
_COLUMN_FIELDS["ip"] = "chargeability"


def read_ert_columns(path, *, mapping=None, units=None) -> ERTSurvey:
    """Read an ERT column file: electrode positions and readings, one datum per row.

    Parameters
    ----------
    path : str or Path
        The file (see :mod:`bayesinv.formats.columns` for the layout).
    mapping : dict of str to str, optional
        Canonical name -> header name: ``ax az bx bz mx mz nx nz`` (positions in m, ``z``
        positive down; empty ``b``/``n`` positions mean a remote electrode), ``r``,
        ``rhoa``, ``k``, ``err`` (relative), ``u``, ``i``, ``ip``, ``valid``.
    units : dict of str to str, optional
        Units of columns whose header states none.

    Returns
    -------
    ERTSurvey
        Electrodes are the distinct positions, sorted by ``x`` then ``z``.
    """
    c = read_columns(
        path,
        _COLUMN_FIELDS,
        required=("ax", "az", "mx", "mz", ("r", "rhoa", "u")),
        mapping=mapping,
        units=units,
        may_miss=("bx", "bz", "nx", "nz", "r", "rhoa", "err", "u", "i", "ip"),
        same_units=(_POSITIONS,),
    )
    n = c.lines.size
    pos = np.full((n, 4, 2), np.nan)
    for k, e in enumerate("abmn"):
        for j, axis in enumerate("xz"):
            if f"{e}{axis}" in c.values:
                pos[:, k, j] = c.values[f"{e}{axis}"]
    present = np.isfinite(pos).all(axis=2)
    flat = pos[present]
    electrodes = np.unique(flat, axis=0)
    electrodes = electrodes[np.lexsort((electrodes[:, 1], electrodes[:, 0]))]
    abmn = np.full((n, 4), -1, dtype=np.int64)
    lookup = {tuple(p): i for i, p in enumerate(electrodes.tolist())}
    for r, k in zip(*np.nonzero(present), strict=True):
        abmn[r, k] = lookup[tuple(pos[r, k].tolist())]
    _check_pairs(abmn, c.lines, path)
    cols = {k: c.values[k] for k in ("r", "rhoa", "k", "u", "i") if k in c.values}
    extra = {k: cols[k] for k in ("u", "i") if k in cols}
    survey = finish_survey(
        path,
        c.lines,
        electrodes,
        abmn,
        cols,
        error=c.values.get("err"),
        valid=c.values.get("valid"),
        ip=c.values.get("ip"),
        ip_unit=(c.units.get("ip") if "ip" in c.values else None),
        topo=None,
        extra=extra,
    )
    if c.ignored:
        survey.report.append(f"{Path(path).name}: columns not used: {', '.join(c.ignored)}")
    return survey


def write_ert_columns(path, survey: ERTSurvey) -> Path:
    """Write a survey as an ERT column file that :func:`read_ert_columns` reads back equal.

    Parameters
    ----------
    path : str or Path
        The file (written atomically).
    survey : ERTSurvey
        The survey (electrodes sorted by ``x`` then ``z`` for an exact round trip).

    Returns
    -------
    pathlib.Path
    """
    e = np.asarray(survey.electrodes, dtype=np.float64)
    cols, units = {}, {}
    for k, name in enumerate("abmn"):
        idx = np.asarray(survey.abmn)[:, k]
        for j, axis in enumerate("xz"):
            cols[f"{name}{axis}"] = np.where(idx >= 0, e[np.maximum(idx, 0), j], np.nan)
            units[f"{name}{axis}"] = "m"
    cols |= {
        "r": survey.resistance,
        "rhoa": survey.apparent_resistivity,
        "k": survey.geometric_factor,
    }
    units |= {"r": "ohm", "rhoa": "ohmm", "k": "m"}
    if survey.error is not None:
        cols["err"] = survey.error
    if survey.ip is not None:
        cols["ip"], units["ip"] = survey.ip, survey.ip_unit
    if not np.all(survey.mask):
        cols["valid"] = np.asarray(survey.mask, dtype=np.float64)
    for name in ("u", "i"):
        if name in survey.extra:
            cols[name], units[name] = survey.extra[name], {"u": "V", "i": "A"}[name]
    return write_columns(path, cols, units=units, comments=("ERT data written by bayesinv",))
