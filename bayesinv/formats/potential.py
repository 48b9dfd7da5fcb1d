r"""Gravity and magnetic files: UBC-GIF observation files and column files.

Sign conventions. bayesinv's gravity is the vertical attraction :math:`g_z` in mGal,
**positive down** (a mass excess gives a positive anomaly); UBC-GIF GRAV3D/GRAV2D data are
in mGal with the same sign, so values are read as they are (SimPEG, whose :math:`g_z` is
positive up, negates them; bayesinv does not). UBC-GIF elevations are positive up;
bayesinv's :math:`z` is positive down, so :math:`z = -\text{elevation}`. Magnetic data are
total-field anomalies in nT in both, with the inducing field's inclination, declination (in
degrees) and intensity (nT) from the file's first line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bayesinv.formats._compare import same_fields
from bayesinv.formats._errors import FormatError, report_missing
from bayesinv.formats._unified import MISSING
from bayesinv.formats.columns import read_columns, write_columns
from bayesinv.io import _readable, write_text

__all__ = [
    "PotentialSurvey",
    "read_potential_columns",
    "read_ubc_gravity",
    "read_ubc_magnetics",
    "write_potential_columns",
    "write_ubc_gravity",
    "write_ubc_magnetics",
]

_UNIT = {"gravity": "mGal", "magnetics": "nT"}


@dataclass(eq=False)
class PotentialSurvey:
    """Gravity or magnetic readings along a line.

    ``Gravity2D(grid, survey.receivers)`` and ``Magnetics2D(grid, survey.receivers,
    *survey.inducing_field)`` take it directly.

    Attributes
    ----------
    kind : {"gravity", "magnetics"}
        What was measured.
    receivers : numpy.ndarray
        ``(n, 2)`` ``(x, z)`` in m, ``z`` positive down (``-elevation``).
    values : numpy.ndarray
        Gravity in mGal (positive down) or total-field anomaly in nT; NaN where missing.
    error : numpy.ndarray or None
        Standard deviations, same unit (``None`` if the file gave none).
    mask : numpy.ndarray
        ``True`` for usable readings (missing ones are kept, masked and reported).
    line : numpy.ndarray or None
        Survey-line label of each reading (from a ``line`` column), e.g. for a base-level
        offset per line (:class:`bayesinv.model.offsets.Offset`).
    inducing_field : tuple of float or None
        Magnetics: ``(inclination, declination, intensity)`` in degrees, degrees, nT.
    report : list of str
        What the loader did.
    source : str or None
        The file read.
    """

    kind: str
    receivers: np.ndarray
    values: np.ndarray
    error: np.ndarray | None = None
    mask: np.ndarray | None = None
    line: np.ndarray | None = None
    inducing_field: tuple | None = None
    report: list = field(default_factory=list)
    source: str | None = None

    def __post_init__(self):
        if self.kind not in _UNIT:
            raise ValueError(
                f"PotentialSurvey: kind must be 'gravity' or 'magnetics', got {self.kind!r}"
            )
        if self.mask is None:
            self.mask = np.isfinite(self.values)

    @property
    def unit(self) -> str:
        """Unit of ``values`` and ``error`` (``"mGal"`` or ``"nT"``)."""
        return _UNIT[self.kind]

    @property
    def missing(self) -> np.ndarray:
        """Indices of the masked readings."""
        return np.flatnonzero(~self.mask)

    def equals(self, other, rtol: float = 0.0) -> bool:
        """Whether two surveys hold the same kind, positions, values, errors, mask, lines."""
        if self.kind != other.kind or self.inducing_field != other.inducing_field:
            return False
        return same_fields(self, other, ("receivers", "values", "error", "mask", "line"), rtol)


def _finish(kind, path, lines, rx, values, error, *, line=None, field=None):
    mask = np.isfinite(values) & (np.isfinite(error) if error is not None else True)
    report = [r for r in [report_missing(path, lines[~mask], "missing reading")] if r]
    return PotentialSurvey(kind, rx, values, error, mask, line, field, report, str(path))


class _UBC:
    """Lines of a UBC-GIF file without ``!`` comments, with their numbers."""

    def __init__(self, path):
        self.path = Path(path)
        text = _readable(self.path, "a UBC-GIF observation file").read_text()
        self.items = [
            (i + 1, t.split("!")[0].strip())
            for i, t in enumerate(text.splitlines())
            if t.split("!")[0].strip()
        ]
        self.k = 0

    def numbers(self, expected, count=None):
        if self.k >= len(self.items):
            raise FormatError(
                self.path, (self.items[-1][0] + 1) if self.items else 1, expected, "end of file"
            )
        line, text = self.items[self.k]
        self.k += 1
        cells = text.replace(",", " ").split()
        try:
            vals = [np.nan if c.lower() in MISSING else float(c) for c in cells]
        except ValueError:
            raise FormatError(self.path, line, expected, text) from None
        if count is not None and len(vals) not in count:
            raise FormatError(self.path, line, expected, text)
        return line, vals


def _horizontal(path, lines, x, y):
    """Return the coordinate along a profile parallel to x or to y."""
    if np.ptp(y) == 0:
        return x
    if np.ptp(x) == 0:
        return y
    r = int(np.flatnonzero(y != y[0])[0])
    raise FormatError(
        path, int(lines[r]), "a profile along x (constant y) or along y (constant x)", [x[r], y[r]]
    )


def _read_ubc(path, kind, dim, head_rows):
    src = _UBC(path)
    field = None
    if kind == "magnetics":
        _, b = src.numbers("the inducing field: inclination declination intensity", (3,))
        src.numbers("the anomaly projection: inclination declination idir", (3,))
        field = tuple(float(v) for v in b)
    _, n = src.numbers("the number of observations", (1,))
    if not (n[0] >= 1 and float(n[0]).is_integer()):
        raise FormatError(
            src.path, src.items[src.k - 1][0], "the number of observations (an integer >= 1)", n[0]
        )
    ncoord = 3 if dim == 3 else 2
    rows, lines = [], []
    for r in range(int(n[0])):
        what = f"observation {r + 1}: {'x y z' if dim == 3 else 'x z'} value [sd]"
        line, vals = src.numbers(what, (ncoord + 1, ncoord + 2))
        if rows and len(vals) != len(rows[0]):
            raise FormatError(
                src.path, line, f"{what} with {len(rows[0])} numbers as the rows above"
            )
        if not np.all(np.isfinite(vals[:ncoord])):
            raise FormatError(src.path, line, f"{what}: numbers for the position", vals[:ncoord])
        rows.append(vals)
        lines.append(line)
    if src.k < len(src.items):
        raise FormatError(src.path, src.items[src.k][0], "the end of the file", src.items[src.k][1])
    a, lines = np.array(rows), np.asarray(lines)
    x = _horizontal(src.path, lines, a[:, 0], a[:, 1]) if dim == 3 else a[:, 0]
    rx = np.column_stack([x, -a[:, ncoord - 1]])
    error = a[:, ncoord + 1].copy() if a.shape[1] == ncoord + 2 else None
    return _finish(kind, src.path, lines, rx, a[:, ncoord].copy(), error, field=field)


def read_ubc_gravity(path, *, dim: int = 3) -> PotentialSurvey:
    """Read a UBC-GIF gravity observation file (GRAV3D, or GRAV2D with ``dim=2``).

    Parameters
    ----------
    path : str or Path
        The file: the number of observations, then ``x y z g [sd]`` (``dim=3``) or
        ``x z g [sd]`` (``dim=2``) per line; ``!`` starts a comment.
    dim : {2, 3}
        Which layout. A 3-D file must be a straight profile along x or along y.

    Returns
    -------
    PotentialSurvey
        Values in mGal, positive down (as in the file; see the module notes), ``z =
        -elevation``.
    """
    if dim not in (2, 3):
        raise ValueError(f"read_ubc_gravity: dim must be 2 or 3, got {dim!r}")
    return _read_ubc(path, "gravity", dim, 0)


def read_ubc_magnetics(path) -> PotentialSurvey:
    """Read a UBC-GIF MAG3D observation file along a profile.

    Parameters
    ----------
    path : str or Path
        The file: ``incl decl intensity``, ``a_incl a_decl idir``, the number of
        observations, then ``x y z tmi [sd]`` per line (nT).

    Returns
    -------
    PotentialSurvey
        With ``inducing_field = (inclination, declination, intensity)``.
    """
    return _read_ubc(path, "magnetics", 3, 2)


def _write_ubc(path, survey, head, dim):
    out = [*list(head), str(len(survey.values))]
    rx = np.asarray(survey.receivers, dtype=np.float64)
    for i in range(len(survey.values)):
        pos = [rx[i, 0], 0.0, -rx[i, 1]] if dim == 3 else [rx[i, 0], -rx[i, 1]]
        vals = [*pos, survey.values[i]] + ([survey.error[i]] if survey.error is not None else [])
        out.append(" ".join(repr(float(v)) for v in vals))
    return write_text(path, "\n".join(out) + "\n")


def write_ubc_gravity(path, survey: PotentialSurvey, *, dim: int = 3) -> Path:
    """Write gravity as a UBC-GIF observation file (``y = 0`` for ``dim=3``).

    Parameters
    ----------
    path : str or Path
        The file (written atomically).
    survey : PotentialSurvey
        A gravity survey.
    dim : {2, 3}
        Layout (see :func:`read_ubc_gravity`).

    Returns
    -------
    pathlib.Path
    """
    if survey.kind != "gravity":
        raise ValueError(f"write_ubc_gravity: survey must be a gravity survey, got {survey.kind!r}")
    return _write_ubc(path, survey, ["! gravity in mGal, positive down; written by bayesinv"], dim)


def write_ubc_magnetics(path, survey: PotentialSurvey) -> Path:
    """Write magnetics as a UBC-GIF MAG3D observation file (``y = 0``).

    Parameters
    ----------
    path : str or Path
        The file (written atomically).
    survey : PotentialSurvey
        A magnetic survey with ``inducing_field``.

    Returns
    -------
    pathlib.Path
    """
    if survey.kind != "magnetics" or survey.inducing_field is None:
        raise ValueError("write_ubc_magnetics: survey must be magnetics with an inducing_field")
    inc, dec, f = survey.inducing_field
    head = [f"{inc!r} {dec!r} {f!r}", f"{inc!r} {dec!r} 1"]
    return _write_ubc(path, survey, head, 3)


_ALIASES = {
    "elevation": ("elev", "height", "alt", "altitude"),
    "value": ("g", "gz", "gobs", "gravity", "tmi", "anomaly", "data", "obs"),
    "error": ("err", "sd", "std", "sigma", "uncertainty", "stdev"),
    "line": ("line_id", "profile"),
}


def read_potential_columns(
    path, kind: str = "gravity", *, mapping=None, units=None
) -> PotentialSurvey:
    """Read gravity or magnetic readings from a column file (x, z or elevation, value, error).

    Parameters
    ----------
    path : str or Path
        The file (see :mod:`bayesinv.formats.columns`).
    kind : {"gravity", "magnetics"}
        What the values are (gravity in mGal positive down, magnetics in nT unless the
        header states another known unit, e.g. ``gz[uGal]``).
    mapping : dict of str to str, optional
        Canonical name -> header name: ``x``, ``z`` (depth, positive down) or
        ``elevation`` (positive up), ``value``, ``error``, ``line`` (survey-line label).
    units : dict of str to str, optional
        Units of columns whose header states none.

    Returns
    -------
    PotentialSurvey
        A missing value or error becomes NaN, masked and reported.
    """
    if kind not in _UNIT:
        raise ValueError(
            f"read_potential_columns: kind must be 'gravity' or 'magnetics', got {kind!r}"
        )
    quantity = "gravity" if kind == "gravity" else "magnetic"
    fields = {"x": "length", "z": "length", "elevation": "length", "value": quantity}
    fields |= {"error": quantity, "line": "index"}
    c = read_columns(
        path,
        fields,
        required=("x", ("z", "elevation"), "value"),
        aliases=_ALIASES,
        mapping=mapping,
        units=units,
        may_miss=("value", "error"),
        same_units=(("x", "z", "elevation"), ("value", "error")),
    )
    v = c.values
    z = v["z"] if "z" in v else -v["elevation"]
    survey = _finish(
        kind,
        path,
        c.lines,
        np.column_stack([v["x"], z]),
        v["value"],
        v.get("error"),
        line=v.get("line"),
    )
    if c.ignored:
        survey.report.append(f"{Path(path).name}: columns not used: {', '.join(c.ignored)}")
    return survey


def write_potential_columns(path, survey: PotentialSurvey) -> Path:
    """Write a survey as a column file that :func:`read_potential_columns` reads back.

    Parameters
    ----------
    path : str or Path
        The file (written atomically).
    survey : PotentialSurvey
        The survey.

    Returns
    -------
    pathlib.Path
    """
    cols = {"x": survey.receivers[:, 0], "z": survey.receivers[:, 1], "value": survey.values}
    units = {"x": "m", "z": "m", "value": survey.unit, "error": survey.unit}
    if survey.error is not None:
        cols["error"] = survey.error
    if survey.line is not None:
        cols["line"] = survey.line
    return write_columns(path, cols, units=units, comments=(f"{survey.kind} written by bayesinv",))
