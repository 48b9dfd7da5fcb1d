"""Res2DInv 2-D data files: the common array types and the general array, with IP and topography.

Layout read (Loke's Res2DInv manual): a title line, the unit electrode spacing, the array
type, then for the common arrays the number of data, the type of x-location and the IP
flag; for the general array (type 11) a sub-array type, an optional text line, the type of
measurement (0 apparent resistivity, 1 resistance), the number of data, the type of
x-location and the IP flag. With IP, three lines follow (quantity, unit, delay and
integration times). Then one line per datum, commas or spaces between numbers, then an
optional topography section and trailing zero lines.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bayesinv.formats._errors import FormatError
from bayesinv.formats._ert_survey import ERTSurvey, finish_survey
from bayesinv.formats._unified import MISSING
from bayesinv.io import _readable, write_text

__all__ = ["ARRAY_TYPES", "read_res2dinv", "write_res2dinv"]

#: Res2DInv array codes read, and the electrode offsets (in spacings ``a``) of A, B, M, N
#: relative to the leftmost electrode, as a function of ``n`` (``None`` = remote)
ARRAY_TYPES = {
    1: "Wenner",
    2: "pole-pole",
    3: "dipole-dipole",
    6: "pole-dipole",
    7: "Wenner-Schlumberger",
    11: "general array",
}
_SPLIT = re.compile(r"[,\s]+")


def _offsets(code: int, n: float):
    if code == 1:
        return (0.0, 3.0, 1.0, 2.0), 3.0
    if code == 2:
        return (0.0, None, 1.0, None), 1.0
    if code == 3:
        return (0.0, 1.0, n + 1.0, n + 2.0), n + 2.0
    if code == 7:
        return (0.0, 2.0 * n + 1.0, n, n + 1.0), 2.0 * n + 1.0
    if n > 0:  # pole-dipole, forward: A then M N
        return (0.0, None, n, n + 1.0), n + 1.0
    return (1.0 - n, None, 0.0, 1.0), 1.0 - n  # reverse: M N then A


class _Lines:
    """Non-empty lines with their 1-based numbers, read one at a time."""

    def __init__(self, path: Path):
        try:
            text = _readable(path, "a Res2DInv data file").read_text(errors="strict")
        except UnicodeDecodeError as err:
            raise FormatError(path, None, "text (UTF-8)", err.reason) from err
        self.path = path
        self.items = [(i + 1, t.strip()) for i, t in enumerate(text.splitlines()) if t.strip()]
        self.k = 0

    def peek(self):
        return self.items[self.k] if self.k < len(self.items) else (None, None)

    def next(self, expected: str):
        if self.k >= len(self.items):
            last = self.items[-1][0] + 1 if self.items else 1
            raise FormatError(self.path, last, expected, "end of file")
        self.k += 1
        return self.items[self.k - 1]

    def number(self, expected: str, kind=float, choices=None):
        line, text = self.next(expected)
        token = _SPLIT.split(text)[0]
        try:
            value = kind(float(token)) if kind is int and float(token).is_integer() else kind(token)
        except ValueError:
            raise FormatError(self.path, line, expected, text) from None
        if choices is not None and value not in choices:
            raise FormatError(self.path, line, expected, text)
        return value

    def numbers(self, expected: str):
        line, text = self.next(expected)
        cells = [v for v in _SPLIT.split(text.strip(", ")) if v]
        try:
            return line, [np.nan if v.lower() in MISSING else float(v) for v in cells]
        except ValueError:
            raise FormatError(self.path, line, expected, text) from None


def _header(src: _Lines) -> dict:
    src.next("a title line")
    h = {"spacing": src.number("the unit electrode spacing (a number)")}
    codes = sorted(ARRAY_TYPES)
    h["code"] = src.number(
        f"an array type among {codes} ({', '.join(ARRAY_TYPES.values())})", int, codes
    )
    h["measure"] = 0
    if h["code"] == 11:
        h["sub"] = src.number("the sub-array type (an integer)", int)
        _, text = src.peek()
        if text is not None and not text[0].isdigit():
            src.next("the type of measurement line")
        h["measure"] = src.number(
            "the type of measurement (0 = apparent resistivity, 1 = resistance)", int, (0, 1)
        )
    h["n"] = src.number("the number of data (an integer >= 1)", int)
    if h["n"] < 1:
        raise FormatError(
            src.path, src.items[src.k - 1][0], "the number of data (an integer >= 1)", h["n"]
        )
    h["xloc"] = src.number(
        "the type of x-location (0 first electrode, 1 midpoint, 2)", int, (0, 1, 2)
    )
    h["ip"] = src.number("the IP flag (0 or 1)", int, (0, 1))
    if h["ip"]:
        h["ip_name"] = src.next("the IP quantity (e.g. Chargeability)")[1]
        h["ip_unit"] = src.next("the IP unit (e.g. mV/V, msec, mrad)")[1]
        h["ip_times"] = src.numbers("the IP delay and integration times")[1]
    return h


def _read_rows(src: _Lines, h: dict):
    rows, lines = [], []
    width = {1: 3, 2: 3, 3: 4, 6: 4, 7: 4}.get(h["code"])
    for r in range(h["n"]):
        what = f"data row {r + 1} of {h['n']}"
        line, vals = src.numbers(f"{what} (numbers)")
        want = width if width else 2 * int(vals[0]) + 2 if vals and vals[0] in (2, 3, 4) else None
        if want is None:
            raise FormatError(
                src.path, line, f"{what}: the number of electrodes (2, 3 or 4) first", vals[:1]
            )
        want += h["ip"]
        if len(vals) != want:
            raise FormatError(
                src.path,
                line,
                f"{what} to have {want} numbers for this array type; it has {len(vals)}",
            )
        n_geometry = want - 1 - h["ip"]
        if not np.all(np.isfinite(vals[:n_geometry])):
            raise FormatError(
                src.path,
                line,
                f"{what}: numbers for every position (only the reading may be missing)",
                vals[:n_geometry],
            )
        rows.append(vals)
        lines.append(line)
    return rows, np.asarray(lines, dtype=np.int64)


def _topography(src: _Lines):
    """Topography section after the data (``None`` if absent)."""
    line, text = src.peek()
    if text is not None and text[0].isalpha():
        src.next("a topography heading")
        line, text = src.peek()
    if text is None or all(float(v) == 0 for v in _SPLIT.split(text.strip(", ")) if _is_num(v)):
        return None
    flag = src.number("the topography flag (0 none, 2 true horizontal distances)", int, (0, 1, 2))
    if flag == 1:
        raise FormatError(
            src.path,
            line,
            "topography flag 2 (true horizontal distances); flag 1 "
            "(distances along the ground) is not supported: convert the x-locations",
            1,
        )
    if flag == 0:
        return None
    n = src.number("the number of topography points", int)
    pts = []
    for _ in range(n):
        tl, vals = src.numbers("a topography point (x, elevation)")
        if len(vals) != 2:
            raise FormatError(src.path, tl, "a topography point: two numbers (x, elevation)", vals)
        pts.append(vals)
    src.number("the electrode number of the first topography point", int)
    return np.array(pts, dtype=np.float64).reshape(-1, 2)


def _is_num(v):
    try:
        float(v)
        return True
    except ValueError:
        return False


def _positions(rows, h):
    """Per datum the ``(x, depth)`` of A, B, M, N (NaN for a remote electrode)."""
    pos = np.full((len(rows), 4, 2), np.nan)
    a = h["spacing"]
    for r, vals in enumerate(rows):
        if h["code"] == 11:
            k = int(vals[0])
            xy = np.asarray(vals[1 : 1 + 2 * k]).reshape(k, 2)
            slots = {4: (0, 1, 2, 3), 3: (0, 2, 3), 2: (0, 2)}[k]
            pos[r, list(slots)] = xy
            continue
        x, sep = vals[0], vals[1]
        n = vals[2] if h["code"] in (3, 6, 7) else 1.0
        offs, span = _offsets(h["code"], n)
        left = x if h["xloc"] == 0 else x - 0.5 * span * sep
        for j, o in enumerate(offs):
            if o is not None:
                pos[r, j] = (left + o * sep, 0.0)
    del a
    return pos


def read_res2dinv(path) -> ERTSurvey:
    r"""Read a Res2DInv 2-D data file (common array types or the general array).

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    ERTSurvey
        Electrodes are the distinct positions, sorted by ``x``; apparent resistivities (or
        resistances, general array with measurement type 1) with the half-space geometric
        factors of :func:`~bayesinv.formats.ert.geometric_factors`; ``ip`` and
        ``ip_unit`` when the IP flag is set (the IP quantity, delay and integration times
        are listed in ``report``); ``error`` is ``None`` (Res2DInv files carry none).

    Notes
    -----
    **Common arrays** (data lines ``x a [n] value``): Wenner (1), pole-pole (2),
    dipole-dipole (3), pole-dipole (6; ``n < 0`` is the reverse array, A to the right of
    M N) and Wenner-Schlumberger (7). With spacing :math:`a` and leftmost electrode
    :math:`x_0`, A, B, M, N sit at :math:`x_0 + a\,(0, 3, 1, 2)` (Wenner),
    :math:`(0, ∞, 1, ∞)` (pole-pole), :math:`(0, 1, n+1, n+2)` (dipole-dipole),
    :math:`(0, 2n+1, n, n+1)` (Schlumberger), :math:`(0, ∞, n, n+1)` (pole-dipole).
    The x-location is :math:`x_0` (type 0) or the middle of the outermost electrodes that
    are not remote (types 1 and 2).

    **General array** (``k x1 z1 ... xk zk value``, k = 4: C1 C2 P1 P2; 3: C1 P1 P2; 2:
    C1 P1): the ``z`` of an electrode is read as its depth below the ground surface
    (0 on the surface, positive down).

    **Topography** (flag 2, true horizontal distances): the surface points ``(x,
    elevation)``; an electrode's bayesinv :math:`z` is its depth minus the surface
    elevation interpolated at its :math:`x`. Flag 1 (distances along the ground) is refused
    with a message rather than converted.
    """
    path = Path(path)
    src = _Lines(path)
    h = _header(src)
    rows, lines = _read_rows(src, h)
    topo = _topography(src)
    while src.peek()[1] is not None:
        line, text = src.next("trailing zeros")
        if not all(_is_num(v) and float(v) == 0 for v in _SPLIT.split(text.strip(", ")) if v):
            raise FormatError(path, line, "the end of the file (or lines of zeros)", text)
    pos = np.round(_positions(rows, h), 9)
    present = np.isfinite(pos).all(axis=2)
    electrodes = np.unique(pos[present], axis=0)
    electrodes = electrodes[np.lexsort((electrodes[:, 1], electrodes[:, 0]))]
    lookup = {tuple(p): i for i, p in enumerate(electrodes.tolist())}
    abmn = np.full((len(rows), 4), -1, dtype=np.int64)
    for r, k in zip(*np.nonzero(present), strict=True):
        abmn[r, k] = lookup[tuple(pos[r, k].tolist())]
    topography = None
    if topo is not None:
        elevation = np.interp(electrodes[:, 0], *topo[np.argsort(topo[:, 0])].T)
        electrodes = np.column_stack([electrodes[:, 0], electrodes[:, 1] - elevation])
        topography = np.column_stack([topo[:, 0], -topo[:, 1]])
    ip = np.array([v[-1] for v in rows]) if h["ip"] else None
    value = np.array([v[-1 - h["ip"]] for v in rows])
    cols = {"r": value} if h["measure"] == 1 else {"rhoa": value}
    survey = finish_survey(
        path,
        lines,
        electrodes,
        abmn,
        cols,
        error=None,
        valid=None,
        ip=ip,
        ip_unit=h.get("ip_unit"),
        topo=topography,
        extra={},
    )
    survey.report.insert(
        0, f"{path.name}: Res2DInv {ARRAY_TYPES[h['code']]} file, {len(rows)} data"
    )
    if h["ip"]:
        survey.report.append(
            f"{path.name}: IP column read as {h['ip_name']} in {h['ip_unit']} "
            f"(delay, integration times {h['ip_times']})"
        )
    return survey


def _fmt(v: float) -> str:
    return repr(float(v))


def write_res2dinv(path, survey: ERTSurvey, *, title: str = "written by bayesinv") -> Path:
    """Write a survey as a Res2DInv general-array file (type 11) that reads back equal.

    Parameters
    ----------
    path : str or Path
        The file (written atomically).
    survey : ERTSurvey
        The survey; masked data are written with their NaN readings, ``error`` and
        ``extra`` columns are not (the format has no place for them).
    title : str
        The title line.

    Returns
    -------
    pathlib.Path
    """
    e = np.asarray(survey.electrodes, dtype=np.float64)
    depth = e[:, 1].copy()
    topo = survey.topography
    if topo is not None:
        order = np.argsort(topo[:, 0])
        depth = depth + np.interp(e[:, 0], topo[order, 0], -topo[order, 1])
    ip = survey.ip is not None
    out = [title, "1.0", "11", "0", "Type of measurement (0=app. resistivity,1=resistance)", "0"]
    out += [str(survey.n_data), "0", "1" if ip else "0"]
    if ip:
        out += ["Chargeability", survey.ip_unit or "mV/V", "0.0,1.0"]
    for r, idx in enumerate(np.asarray(survey.abmn)):
        used = [i for i in idx if i >= 0]
        cells = [str(len(used))] + [f"{_fmt(e[i, 0])},{_fmt(depth[i])}" for i in used]
        cells.append(_fmt(survey.apparent_resistivity[r]))
        if ip:
            cells.append(_fmt(survey.ip[r]))
        out.append(",".join(cells))
    if topo is not None:
        out += ["2", str(len(topo))]
        out += [f"{_fmt(x)},{_fmt(-z)}" for x, z in np.asarray(topo, dtype=np.float64)]
        out.append("1")
    out += ["0", "0", "0", "0"]
    return write_text(path, "\n".join(out) + "\n")
