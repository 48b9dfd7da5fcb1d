"""The one error type of the file formats, and how a loader reports what it masked.

Every problem with a file is a :class:`FormatError` whose message names the file, the line
(1-based, as an editor shows it) and what was expected there, e.g.
``survey.ohm: line 3: expected the number of sensors, got 'x'``. It is a
:class:`bayesinv.io.UserError`, so the ``bayesinv`` command reports it on one line and exits
with status 2.

A reading that is missing (an empty field, ``nan``, ``NA``, ``*``, ``-``, or a datum marked
invalid) is never dropped: the loader keeps its row, sets it to NaN, masks it and reports it
with :func:`report_missing` (a :class:`MissingDataWarning` naming the file and the lines).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from bayesinv.io import UserError

__all__ = ["FormatError", "MissingDataWarning", "report_missing"]


class FormatError(UserError):
    """A file that does not follow its format.

    Parameters
    ----------
    path : str or Path
        The file.
    line : int or None
        1-based line number (``None`` for a problem with the whole file).
    expected : str
        What was expected there, e.g. ``"the number of sensors"``.
    got : object, optional
        What came instead (shown with ``repr``), if it helps.

    Attributes
    ----------
    path, line, expected, got
        As given, for programs that want the parts of the message.

    Examples
    --------
    >>> str(FormatError("a.ohm", 3, "the number of sensors", "x"))
    "a.ohm: line 3: expected the number of sensors, got 'x'"
    """

    def __init__(self, path, line: int | None, expected: str, got=None):
        self.path, self.line, self.expected, self.got = str(path), line, expected, got
        where = f"{self.path}: line {line}: " if line is not None else f"{self.path}: "
        tail = "" if got is None else f", got {got!r}"
        super().__init__(f"{where}expected {expected}{tail}")


class MissingDataWarning(UserWarning):
    """A loader masked readings that are missing or marked invalid (they are kept, as NaN)."""


def report_missing(path, lines, what: str = "reading") -> str | None:
    """Warn that the readings on ``lines`` of ``path`` are masked; return the report line.

    Parameters
    ----------
    path : str or Path
        The file.
    lines : array_like of int
        1-based line numbers of the masked rows.
    what : str
        What was missing (``"reading"``, ``"invalid datum"``, ...).

    Returns
    -------
    str or None
        The report line (also issued as a :class:`MissingDataWarning`), or ``None`` when
        nothing was masked.
    """
    lines = np.asarray(lines, dtype=np.int64).ravel()
    if lines.size == 0:
        return None
    shown = ", ".join(str(v) for v in lines[:10]) + (", ..." if lines.size > 10 else "")
    message = (
        f"{Path(path).name}: {lines.size} {what}(s) masked (kept as NaN with mask=False, "
        f"not dropped) on line(s) {shown}"
    )
    warnings.warn(message, MissingDataWarning, stacklevel=3)
    return message
