"""Argument validators: the one place where bayesinv checks what a caller passed.

Every validator takes the value, the name of the function or class that received it
(``where``) and the argument's name, and either returns the value in canonical form or
raises ``ValueError`` with one message of the form::

    {where}: {name} must be {what was expected}, got {what came!r}

Booleans are refused wherever a number is expected (``True`` is an ``int`` in Python, but
never a meaningful count or scale), and strings are refused with the same message instead
of numpy's.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

__all__ = ["check_array", "check_choice", "check_float", "check_int", "check_positive"]


def _fail(where: str, name: str, expected: str, value) -> ValueError:
    return ValueError(f"{where}: {name} must be {expected}, got {value!r}")


def check_int(value, where: str, name: str, *, low: int | None = None, high: int | None = None):
    """Check an integer argument, optionally within ``low <= value <= high``.

    Parameters
    ----------
    value : object
        What the caller passed.
    where : str
        Function or class that received it (starts the error message).
    name : str
        The argument's name.
    low, high : int, optional
        Inclusive bounds.

    Returns
    -------
    int
        ``value`` as a Python int.

    Raises
    ------
    ValueError
        When ``value`` is not an integer (booleans included) or is out of bounds.
    """
    if low is not None and high is not None:
        expected = f"an integer in {low}..{high}"
    elif low is not None:
        expected = f"an integer >= {low}"
    elif high is not None:
        expected = f"an integer <= {high}"
    else:
        expected = "an integer"
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral):
        raise _fail(where, name, expected, value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise _fail(where, name, expected, value)
    return int(value)


def check_float(
    value,
    where: str,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    units: str = "",
):
    """Check a finite real number, optionally within bounds.

    Parameters
    ----------
    value : object
        What the caller passed.
    where : str
        Function or class that received it.
    name : str
        The argument's name.
    low, high : float, optional
        Bounds.
    low_open, high_open : bool
        Whether the bound itself is excluded.
    units : str
        Units named in the message (e.g. ``"m"``).

    Returns
    -------
    float
        ``value`` as a Python float.

    Raises
    ------
    ValueError
        When ``value`` is not a finite real number (booleans and strings included) or is out
        of bounds.
    """
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    expected = "a finite number" + (" " + " and ".join(parts) if parts else "")
    if units:
        expected += f" ({units})"
    if isinstance(value, bool | np.bool_) or not isinstance(value, Real):
        raise _fail(where, name, expected, value)
    x = float(value)
    if not np.isfinite(x):
        raise _fail(where, name, expected, value)
    if low is not None and (x < low or (low_open and x == low)):
        raise _fail(where, name, expected, value)
    if high is not None and (x > high or (high_open and x == high)):
        raise _fail(where, name, expected, value)
    return x


def check_positive(value, where: str, name: str, *, units: str = ""):
    """Check a finite number > 0 (see :func:`check_float`).

    Parameters
    ----------
    value : object
        What the caller passed.
    where : str
        Function or class that received it.
    name : str
        The argument's name.
    units : str
        Units named in the message.

    Returns
    -------
    float
        ``value`` as a Python float.
    """
    return check_float(value, where, name, low=0.0, low_open=True, units=units)


def check_choice(value, where: str, name: str, choices):
    """Check that ``value`` is one of ``choices``.

    Parameters
    ----------
    value : object
        What the caller passed.
    where : str
        Function or class that received it.
    name : str
        The argument's name.
    choices : iterable
        Allowed values.

    Returns
    -------
    object
        ``value`` unchanged.
    """
    choices = tuple(choices)
    if isinstance(value, bool) or value not in choices:
        raise _fail(where, name, "one of " + ", ".join(repr(c) for c in choices), value)
    return value


def check_array(value, where: str, name: str, *, shape=None, ndim=None, finite: bool = True):
    """Convert to a float64 array and check its shape and finiteness.

    Parameters
    ----------
    value : array_like
        What the caller passed.
    where : str
        Function or class that received it.
    name : str
        The argument's name.
    shape : tuple, optional
        Required shape; ``None`` entries match any length.
    ndim : int, optional
        Required number of dimensions.
    finite : bool
        Refuse NaN and infinite entries.

    Returns
    -------
    numpy.ndarray
        A float64 array.
    """
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise _fail(where, name, "an array of numbers", value) from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{where}: {name} must have {ndim} dimension(s), got shape {arr.shape}")
    if shape is not None:
        ok = arr.ndim == len(shape) and all(
            s is None or s == n for s, n in zip(shape, arr.shape, strict=True)
        )
        if not ok:
            want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{where}: {name} must have shape {want}, got {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: {name} must be finite, got NaN or infinite entries")
    return arr
