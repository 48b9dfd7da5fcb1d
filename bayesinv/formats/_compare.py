"""Field-by-field equality of survey objects (the round-trip tests' and users' ``equals``)."""

from __future__ import annotations

import numpy as np


def same_array(a, b, rtol: float) -> bool:
    """Equal shapes and values: exact for integers and booleans, within ``rtol`` otherwise."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype == bool or np.issubdtype(a.dtype, np.integer):
        return bool(np.array_equal(a, b))
    return bool(np.allclose(a, b, rtol=rtol, atol=0.0, equal_nan=True))


def same_fields(x, y, names, rtol: float) -> bool:
    """Whether ``x`` and ``y`` agree on every attribute in ``names`` (``None`` matches ``None``)."""
    for n in names:
        a, b = getattr(x, n), getattr(y, n)
        if (a is None) != (b is None):
            return False
        if a is not None and not same_array(a, b, rtol):
            return False
    return True
