"""Electrode arrays for DC resistivity: electrode positions and ``abmn`` index arrays.

A four-electrode measurement injects current between ``A`` and ``B`` and measures the
potential difference between ``M`` and ``N``. Each generator returns an integer array of
shape ``(n_data, 4)`` whose columns are the indices ``(a, b, m, n)`` into an electrode array
(see :func:`surface_electrodes`); ``-1`` stands for a remote electrode (``B`` or ``N`` "at
infinity") in pole configurations, or at the position given to
:class:`~bayesinv.operators.resistivity.DCResistivity2p5D` as ``remote_b`` / ``remote_n``
(one position per column: all ``-1`` in the ``B`` column are that one electrode).
Electrode indices are assumed to be ordered along the line, with equal spacing when the
array's geometry (Wenner, Schlumberger, ...) requires it.
"""

from __future__ import annotations

import numpy as np

from bayesinv._checks import check_int

__all__ = [
    "dipole_dipole",
    "pole_dipole",
    "pole_pole",
    "schlumberger",
    "surface_electrodes",
    "wenner",
]


def _as_abmn(rows: list, name: str) -> np.ndarray:
    if not rows:
        raise ValueError(f"{name}: the requested array has no measurement; add electrodes")
    return np.asarray(rows, dtype=np.int64).reshape(-1, 4)


def surface_electrodes(x, z0: float = 0.0) -> np.ndarray:
    """Electrodes on the ground surface at horizontal positions ``x``.

    Parameters
    ----------
    x : array_like
        Horizontal positions in metres, shape ``(n,)``.
    z0 : float, optional
        Depth of the surface (``z`` positive down); the top of the model grid.

    Returns
    -------
    numpy.ndarray
        Array of shape ``(n, 2)`` holding ``(x, z0)``.

    Examples
    --------
    >>> surface_electrodes([0.0, 5.0, 10.0])
    array([[ 0.,  0.],
           [ 5.,  0.],
           [10.,  0.]])
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if x.size == 0 or not np.all(np.isfinite(x)) or not np.isfinite(z0):
        raise ValueError("surface_electrodes: x must be a non-empty array of finite numbers")
    return np.column_stack([x, np.full_like(x, float(z0))])


def pole_pole(n_electrodes: int, max_separation: int | None = None) -> np.ndarray:
    """Pole-pole array: ``A`` and ``M`` on the line, ``B`` and ``N`` remote.

    Parameters
    ----------
    n_electrodes : int
        Number of electrodes on the line.
    max_separation : int, optional
        Largest separation ``M - A`` in electrode spacings (all by default).

    Returns
    -------
    numpy.ndarray
        ``(n_data, 4)`` array of ``(a, -1, m, -1)`` with ``m > a``.

    Examples
    --------
    >>> pole_pole(3)
    array([[ 0, -1,  1, -1],
           [ 0, -1,  2, -1],
           [ 1, -1,  2, -1]])
    """
    n = check_int(n_electrodes, "pole_pole", "n_electrodes", low=2)
    smax = (
        n - 1
        if max_separation is None
        else check_int(max_separation, "pole_pole", "max_separation", low=1)
    )
    rows = [(a, -1, m, -1) for a in range(n) for m in range(a + 1, min(n, a + smax + 1))]
    return _as_abmn(rows, "pole_pole")


def dipole_dipole(n_electrodes: int, n_max: int = 6, a: int = 1) -> np.ndarray:
    """Dipole-dipole array: ``A B`` then ``M N`` further along the line.

    Parameters
    ----------
    n_electrodes : int
        Number of equally spaced electrodes.
    n_max : int
        Largest dipole separation factor ``n``.
    a : int or sequence of int
        Dipole length(s) in electrode spacings.

    Returns
    -------
    numpy.ndarray
        Rows ``(i, i + a, i + a + n a, i + 2 a + n a)`` for every start ``i``, dipole length
        ``a`` and ``n = 1..n_max`` that fit on the line.

    Examples
    --------
    >>> dipole_dipole(5, n_max=2)
    array([[0, 1, 2, 3],
           [0, 1, 3, 4],
           [1, 2, 3, 4]])
    """
    n = check_int(n_electrodes, "dipole_dipole", "n_electrodes", low=2)
    n_max = check_int(n_max, "dipole_dipole", "n_max", low=1)
    lengths = [check_int(ai, "dipole_dipole", "a", low=1) for ai in np.atleast_1d(a).tolist()]
    rows = []
    for ai in lengths:
        for i in range(n):
            for k in range(1, n_max + 1):
                b, m = i + ai, i + ai + k * ai
                if m + ai < n:
                    rows.append((i, b, m, m + ai))
    return _as_abmn(rows, "dipole_dipole")


def pole_dipole(n_electrodes: int, n_max: int = 6) -> np.ndarray:
    """Pole-dipole array: ``A`` on the line, ``B`` remote, ``M N`` further along.

    Parameters
    ----------
    n_electrodes : int
        Number of equally spaced electrodes.
    n_max : int
        Largest separation ``M - A`` in electrode spacings.

    Returns
    -------
    numpy.ndarray
        Rows ``(i, -1, i + n, i + n + 1)`` for every start ``i`` and ``n = 1..n_max`` that fit.

    Notes
    -----
    With ``B`` at infinity the transfer resistance is ``V(AM) - V(AN)`` and the half-space
    geometric factor ``K = 2π / (1/AM - 1/AN)``.

    Examples
    --------
    >>> pole_dipole(4, n_max=2)
    array([[ 0, -1,  1,  2],
           [ 0, -1,  2,  3],
           [ 1, -1,  2,  3]])
    """
    n = check_int(n_electrodes, "pole_dipole", "n_electrodes", low=3)
    n_max = check_int(n_max, "pole_dipole", "n_max", low=1)
    rows = [(i, -1, i + k, i + k + 1) for i in range(n) for k in range(1, n_max + 1)]
    return _as_abmn([r for r in rows if r[3] < n], "pole_dipole")


def wenner(n_electrodes: int, a_max: int | None = None) -> np.ndarray:
    """Wenner-alpha array: ``A M N B`` equally spaced by ``a``.

    Parameters
    ----------
    n_electrodes : int
        Number of equally spaced electrodes.
    a_max : int, optional
        Largest spacing ``a`` in electrode spacings (all that fit by default).

    Returns
    -------
    numpy.ndarray
        Rows ``(i, i + 3a, i + a, i + 2a)`` for ``a = 1..a_max``.

    Examples
    --------
    >>> wenner(5)
    array([[0, 3, 1, 2],
           [1, 4, 2, 3]])
    """
    n = check_int(n_electrodes, "wenner", "n_electrodes", low=2)
    a_max = (n - 1) // 3 if a_max is None else check_int(a_max, "wenner", "a_max", low=1)
    rows = [
        (i, i + 3 * a, i + a, i + 2 * a)
        for a in range(1, a_max + 1)
        for i in range(n)
        if i + 3 * a < n
    ]
    return _as_abmn(rows, "wenner")


def schlumberger(n_electrodes: int, n_max: int | None = None, a: int = 1) -> np.ndarray:
    """Wenner-Schlumberger array: ``A``, ``B`` at ``n a`` outside an ``M N`` dipole of length ``a``.

    Parameters
    ----------
    n_electrodes : int
        Number of equally spaced electrodes.
    n_max : int, optional
        Largest factor ``n`` (all that fit by default).
    a : int
        Potential dipole length ``MN`` in electrode spacings.

    Returns
    -------
    numpy.ndarray
        Rows ``(i, i + (2n + 1) a, i + n a, i + (n + 1) a)`` for ``n = 1..n_max``.

    Notes
    -----
    For a classical vertical sounding with logarithmically growing ``AB/2`` and fixed ``MN``,
    place the electrodes where needed and write the ``abmn`` rows directly.

    Examples
    --------
    >>> schlumberger(6)
    array([[0, 3, 1, 2],
           [1, 4, 2, 3],
           [2, 5, 3, 4],
           [0, 5, 2, 3]])
    """
    n = check_int(n_electrodes, "schlumberger", "n_electrodes", low=2)
    a = check_int(a, "schlumberger", "a", low=1)
    n_max = n if n_max is None else check_int(n_max, "schlumberger", "n_max", low=1)
    rows = [
        (i, i + (2 * k + 1) * a, i + k * a, i + (k + 1) * a)
        for k in range(1, n_max + 1)
        for i in range(n)
        if i + (2 * k + 1) * a < n
    ]
    return _as_abmn(rows, "schlumberger")
