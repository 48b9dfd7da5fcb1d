"""Shared test data of the ``invert`` tests: a CSV gravity line over a buried block."""

import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.operators import Gravity2D


def _write_gravity_line(path, n, seed, contrast, *, offset=0.0, missing=(), units=False):
    """Write a gravity line of ``n`` stations over 0–100 m above a block; return ``path``.

    The block (``contrast`` kg/m³) fills rows 1–2 and columns 4–5 of a 10 x 4 grid of 10 m
    cells; readings are ``g + offset`` plus 0.01 mGal noise from ``seed``, stations 1 m
    above the ground. ``missing`` readings are left blank; ``units`` writes a station column
    and units in the header (``x[m]``, ...).
    """
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 100.0, n)
    grid = Grid2D(10, 4, 10.0, 10.0)
    m = np.zeros((4, 10))
    m[1:3, 4:6] = contrast
    g = Gravity2D(grid, np.column_stack([x, np.full(n, -1.0)])).forward(m.ravel())
    d = g + offset + 0.01 * rng.standard_normal(n)
    values = ["" if i in missing else repr(float(d[i])) for i in range(n)]
    if units:
        rows = ["station,x[m],elevation[m],gz[mGal],sd[mGal]"]
        rows += [f"{i},{float(x[i])!r},1.0,{values[i]},0.01" for i in range(n)]
    else:
        rows = ["x,elevation,gz,sd"] + [f"{float(x[i])!r},1.0,{values[i]},0.01" for i in range(n)]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def gravity_line():
    """The writer of a test gravity line (:func:`_write_gravity_line`)."""
    return _write_gravity_line
