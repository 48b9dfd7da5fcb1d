"""Travel-time files: the ``.sgt`` unified format (shot, geophone, time) and column files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bayesinv.formats._compare import same_fields
from bayesinv.formats._errors import FormatError, report_missing
from bayesinv.formats._unified import read_blocks, write_block
from bayesinv.formats._units import factor
from bayesinv.formats.columns import read_columns, write_columns
from bayesinv.io import write_text

__all__ = [
    "TravelTimeSurvey",
    "read_sgt",
    "read_traveltime_columns",
    "write_sgt",
    "write_traveltime_columns",
]


@dataclass(eq=False)
class TravelTimeSurvey:
    """First-arrival travel times: one ray per datum from a source to a receiver.

    ``StraightRayTomography(grid, survey.sources, survey.receivers)`` takes it directly.

    Attributes
    ----------
    sources, receivers : numpy.ndarray
        ``(n_data, 2)`` float64 ``(x, z)`` in m, ``z`` positive down (``-elevation``).
    times : numpy.ndarray
        Travel times in s (NaN where missing).
    error : numpy.ndarray or None
        Standard deviations in s (``None`` if the file gave none).
    mask : numpy.ndarray
        ``True`` for usable data (missing or invalid ones are kept and masked).
    sensors : numpy.ndarray or None
        ``(n_sensors, 2)`` positions of an ``.sgt`` file, and ``sg`` the 0-based
        ``(shot, geophone)`` indices of each datum (kept so a writer reproduces the file).
    sg : numpy.ndarray or None
        See ``sensors``.
    report : list of str
        What the loader did (masked rows).
    source : str or None
        The file read.
    """

    sources: np.ndarray
    receivers: np.ndarray
    times: np.ndarray
    error: np.ndarray | None = None
    mask: np.ndarray | None = None
    sensors: np.ndarray | None = None
    sg: np.ndarray | None = None
    report: list = field(default_factory=list)
    source: str | None = None

    def __post_init__(self):
        if self.mask is None:
            self.mask = np.isfinite(self.times)

    @property
    def n_data(self) -> int:
        """Number of data (masked ones included)."""
        return self.times.size

    @property
    def missing(self) -> np.ndarray:
        """Indices of the masked data."""
        return np.flatnonzero(~self.mask)

    def equals(self, other, rtol: float = 0.0) -> bool:
        """Whether two surveys hold the same rays, times, errors and mask."""
        return same_fields(
            self, other, ("sources", "receivers", "times", "error", "mask", "sensors", "sg"), rtol
        )


def _mask(path, lines, times, error, valid, report):
    mask = np.isfinite(times) & (np.isfinite(error) if error is not None else True)
    line = report_missing(path, lines[~mask], "missing travel time")
    if line:
        report.append(line)
    if valid is not None:
        line = report_missing(path, lines[mask & ~(valid > 0)], "datum marked invalid")
        if line:
            report.append(line)
        mask &= valid > 0
    return mask


def read_sgt(path) -> TravelTimeSurvey:
    r"""Read a travel-time file in the unified format (``.sgt``, pyGIMLi).

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    TravelTimeSurvey

    Notes
    -----
    A sensor block (``# x z`` or ``# x y``, the second coordinate the elevation, as in
    :func:`bayesinv.formats.ert.read_unified`), then a data block naming ``s g t`` in any
    order (1-based shot and geophone indices, time in s, ``t/ms`` in ms) and optionally
    ``err`` (s, same unit rules) and ``valid``. Missing times (``nan``, ``*``, ``-``) and
    ``valid = 0`` are kept, masked and reported. bayesinv's :math:`z = -\text{elevation}`.
    """
    from bayesinv.formats.ert import _vertical

    path = Path(path)
    sensors, data = read_blocks(
        path,
        ("sensors", "data"),
        (lambda w: ["x", "z"] if w == 2 else None, None),
        optional_last=False,
    )
    x, elev = _vertical(sensors, path, "sensor")
    pos = np.column_stack([x, -elev])
    for need in ("s", "g", "t"):
        if need not in data.names:
            raise FormatError(
                path, data.count_line + 1, "data tokens s g t (any order)", " ".join(data.names)
            )
    sg = np.column_stack([data.column("s"), data.column("g")])
    bad = ~np.isfinite(sg).all(axis=1) | np.any(
        (sg < 1) | (sg > len(pos)) | (sg != np.round(sg)), axis=1
    )
    if np.any(bad):
        r = int(np.flatnonzero(bad)[0])
        raise FormatError(
            path, int(data.lines[r]), f"shot and geophone indices in 1..{len(pos)}", sg[r].tolist()
        )
    sg = sg.astype(np.int64) - 1
    head = data.count_line + 1
    units = dict(zip(data.names, data.units, strict=True))
    if units.get("err") and units.get("t") and units["err"].lower() != units["t"].lower():
        raise FormatError(
            path, head, "t and err in one unit (mixed units)", [units["t"], units["err"]]
        )
    times = data.column("t") * factor(units["t"], "time", path, head, "t")
    error = data.column("err")
    if error is not None:
        error = error * factor(units["err"], "time", path, head, "err")
    report = []
    mask = _mask(path, data.lines, times, error, data.column("valid"), report)
    return TravelTimeSurvey(
        pos[sg[:, 0]], pos[sg[:, 1]], times, error, mask, pos, sg, report, str(path)
    )


def write_sgt(path, survey: TravelTimeSurvey) -> Path:
    """Write a survey as an ``.sgt`` file that :func:`read_sgt` reads back equal.

    Parameters
    ----------
    path : str or Path
        The file (written atomically).
    survey : TravelTimeSurvey
        The survey; without ``sensors`` the distinct source and receiver positions are used.

    Returns
    -------
    pathlib.Path
    """
    if survey.sensors is None:
        both = np.concatenate([survey.sources, survey.receivers])
        sensors, inverse = np.unique(both, axis=0, return_inverse=True)
        sg = inverse.reshape(2, -1).T
    else:
        sensors, sg = survey.sensors, survey.sg
    out = ["# written by bayesinv.formats.write_sgt"]
    write_block(out, "number of sensors", ["x", "z"], [sensors[:, 0], -sensors[:, 1]], set())
    tokens, cols = ["s", "g", "t"], [sg[:, 0] + 1, sg[:, 1] + 1, survey.times]
    if survey.error is not None:
        tokens.append("err")
        cols.append(survey.error)
    if not np.all(survey.mask):
        tokens.append("valid")
        cols.append(np.asarray(survey.mask, dtype=np.float64))
    write_block(out, "number of data", tokens, cols, {"s", "g", "valid"})
    return write_text(path, "\n".join(out) + "\n")


_FIELDS = {k: "length" for k in ("sx", "sz", "rx", "rz", "s_elevation", "r_elevation")}
_FIELDS |= {"t": "time", "err": "time", "valid": "index"}
_ALIASES = {"t": ("time", "traveltime"), "err": ("error", "sd", "std", "sigma")}


def read_traveltime_columns(path, *, mapping=None, units=None) -> TravelTimeSurvey:
    """Read travel times from a column file (``sx, sz, rx, rz, t, err``).

    Parameters
    ----------
    path : str or Path
        The file (see :mod:`bayesinv.formats.columns`).
    mapping : dict of str to str, optional
        Canonical name -> header name. Canonical names: ``sx``, ``sz`` (or
        ``s_elevation``), ``rx``, ``rz`` (or ``r_elevation``), ``t``, ``err``, ``valid``;
        ``z`` is positive down, an elevation positive up.
    units : dict of str to str, optional
        Units of columns whose header states none (default m and s).

    Returns
    -------
    TravelTimeSurvey
    """
    c = read_columns(
        path,
        _FIELDS,
        required=("sx", ("sz", "s_elevation"), "rx", ("rz", "r_elevation"), "t"),
        aliases=_ALIASES,
        mapping=mapping,
        units=units,
        may_miss=("t", "err"),
        same_units=(("sx", "sz", "rx", "rz", "s_elevation", "r_elevation"), ("t", "err")),
    )
    v = c.values
    sz = v["sz"] if "sz" in v else -v["s_elevation"]
    rz = v["rz"] if "rz" in v else -v["r_elevation"]
    report = []
    mask = _mask(path, c.lines, v["t"], v.get("err"), v.get("valid"), report)
    return TravelTimeSurvey(
        np.column_stack([v["sx"], sz]),
        np.column_stack([v["rx"], rz]),
        v["t"],
        v.get("err"),
        mask,
        report=report,
        source=str(path),
    )


def write_traveltime_columns(path, survey: TravelTimeSurvey) -> Path:
    """Write a survey as a column file that :func:`read_traveltime_columns` reads back.

    Parameters
    ----------
    path : str or Path
        The file (written atomically).
    survey : TravelTimeSurvey
        The survey (``sensors`` and ``sg`` are not written: a column file has no sensor list).

    Returns
    -------
    pathlib.Path
    """
    cols = {"sx": survey.sources[:, 0], "sz": survey.sources[:, 1]}
    cols |= {"rx": survey.receivers[:, 0], "rz": survey.receivers[:, 1], "t": survey.times}
    if survey.error is not None:
        cols["err"] = survey.error
    if not np.all(survey.mask):
        cols["valid"] = np.asarray(survey.mask, dtype=np.float64)
    units = {k: "m" for k in ("sx", "sz", "rx", "rz")} | {"t": "s", "err": "s"}
    return write_columns(path, cols, units=units, comments=("travel times written by bayesinv",))
