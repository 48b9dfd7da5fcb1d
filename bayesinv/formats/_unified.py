"""Reader and writer of the block structure of the unified data format (pyGIMLi/BERT).

A file is a sequence of blocks, each a count line, an optional format line and that many
rows::

    4                # number of sensors
    # x z            # format: the names of the columns, in any order
    0 0
    ...
    3                # number of data
    # a b m n rhoa err/%
    1 2 3 4 102.5 3
    ...
    0                # optional third block: topography points (x z)

``#`` starts a comment anywhere; the first comment line after a count line is its format
line. A token may carry a unit after a slash (``u/mV``, ``err/%``, ``t/ms``); the format
modules convert with :mod:`bayesinv.formats._units`. Both the ERT files (``.ohm``, ``.dat``,
``.shm``) and the travel-time files (``.sgt``) use this structure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bayesinv.formats._errors import FormatError
from bayesinv.io import _readable

__all__ = ["MISSING", "Block", "read_blocks", "write_block"]

#: spellings of a missing reading (case-insensitive); ``nan`` is one too
MISSING = frozenset({"", "*", "-", "na", "n/a", "nan", "none", "missing"})


@dataclass
class Block:
    """One block of a unified-format file.

    Attributes
    ----------
    names : list of str
        Column names in file order, lower case, without units.
    units : list of str or None
        The unit after the slash of each token (``None`` if none was given).
    values : numpy.ndarray
        ``(n_rows, n_columns)`` float64; a missing reading is NaN.
    lines : numpy.ndarray
        1-based line number of each row.
    count_line : int
        Line of the count.
    missing : numpy.ndarray
        ``(n_rows, n_columns)`` bool, True where the file had a missing-reading spelling.
    """

    names: list
    units: list
    values: np.ndarray
    lines: np.ndarray
    count_line: int
    missing: np.ndarray

    def column(self, name: str):
        """Return the column named ``name`` (``None`` if absent)."""
        return self.values[:, self.names.index(name)] if name in self.names else None


def _content(raw: str) -> str:
    return raw.split("#", 1)[0].strip()


def _skip(lines: list, i: int) -> int:
    """Index of the next line with content (not blank, not only a comment)."""
    while i < len(lines) and not _content(lines[i]):
        i += 1
    return i


def _parse_tokens(text: str, path, line: int) -> tuple[list, list]:
    names, units = [], []
    for token in text.replace(",", " ").split():
        name, _, unit = token.partition("/")
        if not name or not (name[0].isalpha() or name[0] == "_"):
            raise FormatError(path, line, "a format line of column names such as '# x z'", text)
        names.append(name.lower())
        units.append(unit if unit else None)
    return names, units


def _convert_rows(rows: list, names: list, path, lines: np.ndarray, what: str):
    """Rows of strings -> float array and a missing mask; errors name the line and column."""
    try:
        values = np.array(rows, dtype=np.float64)
        return values, np.isnan(values)
    except ValueError:
        pass
    values = np.empty((len(rows), len(names)))
    missing = np.zeros(values.shape, dtype=bool)
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            try:
                values[r, c] = float(cell)
                missing[r, c] = values[r, c] != values[r, c]
            except ValueError:
                if cell.strip().lower() not in MISSING:
                    raise FormatError(
                        path, int(lines[r]), f"a number for {names[c]!r} ({what} row {r + 1})", cell
                    ) from None
                values[r, c], missing[r, c] = np.nan, True
    return values, missing


def _read_block(lines: list, i: int, path, what: str, default_names) -> tuple[Block, int]:
    """Read the block whose count line is at index ``i``; return it and the next index."""
    head = _content(lines[i])
    try:
        count = int(head.split()[0])
    except ValueError:
        raise FormatError(path, i + 1, f"the number of {what}", head) from None
    if count < 0 or len(head.split()) != 1:
        raise FormatError(path, i + 1, f"the number of {what} (one integer >= 0)", head)
    j = i + 1
    while j < len(lines) and not lines[j].strip():
        j += 1
    names = units = None
    if j < len(lines) and lines[j].lstrip().startswith("#"):
        text = lines[j].lstrip()[1:].strip()
        if text:
            names, units = _parse_tokens(text, path, j + 1)
        j += 1
    rows, where = [], []
    j = _skip(lines, j)
    while len(rows) < count:
        if j >= len(lines):
            raise FormatError(path, len(lines), f"{count} {what} rows, found {len(rows)}")
        rows.append(_content(lines[j]).split())
        where.append(j + 1)
        j = _skip(lines, j + 1)
    if names is None:
        width = len(rows[0]) if rows else 0
        names = default_names(width) if default_names else None
        if names is None:
            raise FormatError(
                path,
                i + 2,
                f"a format line naming the {width} {what} columns (e.g. '# a b m n rhoa')",
            )
        units = [None] * len(names)
    for r, row in enumerate(rows):
        if len(row) != len(names):
            raise FormatError(
                path,
                where[r],
                f"{what} row {r + 1} to have {len(names)} columns as the format line names "
                f"({' '.join(names)}); it has {len(row)}",
            )
    line_numbers = np.asarray(where, dtype=np.int64)
    values, missing = _convert_rows(rows, names, path, line_numbers, what)
    return Block(
        names,
        units,
        values.reshape(count, len(names)),
        line_numbers,
        i + 1,
        missing.reshape(count, len(names)),
    ), j


def read_blocks(path, whats: tuple, defaults: tuple, *, optional_last: bool = True) -> list:
    """Read the blocks of a unified-format file.

    Parameters
    ----------
    path : str or Path
        The file.
    whats : tuple of str
        What each block holds (``("sensors", "data", "topography points")``), for messages.
    defaults : tuple of callable or None
        Per block, a function from the number of columns to default names when the block has
        no format line (``None``: a format line is required).
    optional_last : bool
        The last block may be absent (the file ends after the one before).

    Returns
    -------
    list of Block
        One per block read (the last is ``None`` when absent).
    """
    path = Path(path)
    try:
        text = _readable(path, f"a file of {whats[0]} and {whats[1]}").read_text()
    except UnicodeDecodeError as err:
        raise FormatError(path, None, "text (UTF-8)", err.reason) from err
    lines = text.splitlines()
    blocks, i = [], _skip(lines, 0)
    for k, (what, default) in enumerate(zip(whats, defaults, strict=True)):
        if i >= len(lines):
            if k == len(whats) - 1 and optional_last:
                blocks.append(None)
                break
            raise FormatError(path, len(lines) + 1, f"the number of {what}", "end of file")
        block, i = _read_block(lines, i, path, what, default)
        blocks.append(block)
    i = _skip(lines, i)
    if i < len(lines):
        raise FormatError(path, i + 1, "the end of the file", _content(lines[i]))
    return blocks


def _cell(v: float, integer: bool) -> str:
    if v != v:
        return "nan"
    return str(int(v)) if integer else repr(float(v))


def write_block(out: list, count_comment: str, tokens: list, columns: list, integer: set):
    """Append one block (count, format line, rows) to the list of output lines.

    Parameters
    ----------
    out : list of str
        Lines written so far.
    count_comment : str
        Comment after the count (e.g. ``"number of sensors"``).
    tokens : list of str
        Format-line tokens (with units).
    columns : list of numpy.ndarray
        One array per token, all of the same length.
    integer : set of str
        Tokens written as integers.
    """
    n = len(columns[0]) if columns else 0
    out.append(f"{n}  # {count_comment}")
    out.append("# " + " ".join(tokens))
    flags = [t.partition("/")[0] in integer for t in tokens]
    cols = [np.asarray(c, dtype=np.float64) for c in columns]
    for r in range(n):
        out.append(" ".join(_cell(c[r], f) for c, f in zip(cols, flags, strict=True)))
