"""Units the loaders accept, and their factors to bayesinv's units (SI unless stated).

A unit is given in a file (``u/mV`` in a unified-format token, ``value[mGal]`` in a column
header) or by the caller. A unit not in these tables is an error, never a guess; a file
whose related columns use different units (positions in m and km, a value and its error in
different units) is an error too ("mixed units"), so nothing is converted silently.
"""

from __future__ import annotations

from bayesinv.formats._errors import FormatError

__all__ = ["UNITS", "factor"]

#: quantity -> {unit spelling (lower case) -> factor to the bayesinv unit}
UNITS: dict[str, dict[str, float]] = {
    "length": {"m": 1.0, "km": 1e3, "cm": 1e-2},
    "gravity": {"mgal": 1.0, "ugal": 1e-3, "µgal": 1e-3, "m/s2": 1e5, "m/s^2": 1e5},
    "magnetic": {"nt": 1.0, "pt": 1e-3},
    "time": {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6},
    "resistance": {"ohm": 1.0, "ω": 1.0, "kohm": 1e3, "mohm": 1e-3},
    "resistivity": {"ohmm": 1.0, "ohm.m": 1.0, "ohm*m": 1.0, "ohm-m": 1.0, "ω·m": 1.0, "ωm": 1.0},
    "voltage": {"v": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6},
    "current": {"a": 1.0, "ma": 1e-3, "ua": 1e-6, "µa": 1e-6},
    "fraction": {"": 1.0, "1": 1.0, "%": 1e-2, "frac": 1.0},
    "geometric": {"m": 1.0},
    "chargeability": {"mrad": 1.0, "mv/v": 1.0, "ms": 1.0, "%": 1.0},
    "index": {"": 1.0},
}

#: the bayesinv unit of each quantity (what the factors convert to)
BASE = {
    "length": "m",
    "gravity": "mGal",
    "magnetic": "nT",
    "time": "s",
    "resistance": "Ohm",
    "resistivity": "Ohm m",
    "voltage": "V",
    "current": "A",
    "fraction": "",
    "geometric": "m",
    "chargeability": "(as in the file)",
    "index": "",
}


def factor(unit: str | None, quantity: str, path, line, what: str) -> float:
    """Factor from ``unit`` to bayesinv's unit of ``quantity``; an unknown unit is an error.

    Parameters
    ----------
    unit : str or None
        The unit as written (``None`` or empty: the bayesinv unit).
    quantity : str
        A key of :data:`UNITS`.
    path, line
        File and line, for the error message.
    what : str
        The column or token, for the error message.

    Returns
    -------
    float
    """
    table = UNITS[quantity]
    if unit is None or (unit == "" and "" not in table):
        return 1.0
    key = unit.strip().lower().replace(" ", "")
    if key not in table:
        known = ", ".join(repr(u) for u in table if u)
        raise FormatError(path, line, f"a known {quantity} unit for {what!r} ({known})", unit)
    return table[key]
