r"""Hyperpriors of the discrepancy GP set from the survey geometry and the noise level.

A GP discrepancy is identifiable only in a window of length scales and amplitudes: a length
scale below the station spacing makes the GP indistinguishable from noise, one far above the
survey length makes it a low-order polynomial whose amplitude and length scale trade off
along a ridge (:math:`η^2/ℓ^{2k}` is all the data see), and an amplitude below the noise
level leaves ℓ unconstrained. The priors here put almost no mass outside that window.
"""

from __future__ import annotations

import numpy as np

from bayesinv._checks import check_positive

__all__ = ["active_columns", "geometry_ranges", "invgamma_from_tails", "positive_pair"]

#: prior mass put below ``low`` and, separately, above ``high`` of a range
TAIL = 0.01


def invgamma_from_tails(low: float, high: float, tail: float = TAIL) -> tuple[float, float]:
    r"""Return α, β of the inverse-gamma with ``tail`` mass below ``low`` and above ``high``.

    Parameters
    ----------
    low, high : float
        ``0 < low < high``.
    tail : float
        Mass in each tail, ``0 < tail < 0.5``.

    Returns
    -------
    tuple of float
        ``(alpha, beta)``.

    Notes
    -----
    Solves :math:`F(\text{low}; α, β) = p` and :math:`1 - F(\text{high}; α, β) = p` for
    :math:`(\log α, \log β)` with the inverse-gamma CDF
    :math:`F(x; α, β) = Q(α, β/x)` (regularised upper incomplete gamma). Its left tail falls as
    :math:`e^{-β/x}`, a hard wall in :math:`\log x`, its right tail as :math:`x^{-α}`
    (Betancourt's recommendation for GP length scales).
    """
    from scipy import optimize, special

    if not (0 < low < high):
        raise ValueError(f"invgamma_from_tails: need 0 < low < high, got ({low!r}, {high!r})")
    if not (0 < tail < 0.5):
        raise ValueError(f"invgamma_from_tails: tail must be in (0, 0.5), got {tail!r}")

    def eqs(p):
        a, b = np.exp(p)
        return [
            np.log(special.gammaincc(a, b / low) + 1e-300) - np.log(tail),
            np.log(special.gammainc(a, b / high) + 1e-300) - np.log(tail),
        ]

    # start from the log-normal with the same tails (mean and variance of 1/x matched)
    z = 2.326
    mu, s = 0.5 * (np.log(low) + np.log(high)), (np.log(high) - np.log(low)) / (2 * z)
    m, v = np.exp(-mu + s**2 / 2), (np.exp(s**2) - 1) * np.exp(-2 * mu + s**2)
    a0 = m**2 / v
    x0 = np.log([max(a0, 0.5), max(a0, 0.5) / m])
    sol = optimize.root(eqs, x0, method="hybr")
    if not sol.success or np.max(np.abs(eqs(sol.x))) > 1e-6:
        raise ValueError(
            f"invgamma_from_tails: no inverse-gamma with {tail:.0%} below {low:g} and above "
            f"{high:g} (the range is too narrow or too wide)"
        )
    a, b = np.exp(sol.x)
    return float(a), float(b)


def geometry_ranges(coords: np.ndarray) -> tuple[float, float]:
    """Return the identifiable length-scale range of a survey, ``(min spacing, extent)``.

    Parameters
    ----------
    coords : numpy.ndarray
        ``(n, k)`` active data coordinates.

    Returns
    -------
    tuple of float
        The smallest positive spacing between neighbouring coordinates along any active
        axis (but at least 1/50 of the extent, so that one close pair does not set it) and
        the largest extent.
    """
    extent = float(np.max(np.ptp(coords, axis=0)))
    diffs = np.diff(np.sort(coords, axis=0), axis=0)
    diffs = diffs[diffs > 0]
    spacing = float(np.min(diffs)) if diffs.size else extent / 10
    return max(spacing, extent / 50), extent


def positive_pair(value, where: str, name: str) -> tuple[float, float]:
    """Check a range ``(low, high)`` with ``0 < low < high``; errors name ``where`` and ``name``.

    Parameters
    ----------
    value : sequence of float
        The pair.
    where, name : str
        The caller (``"Discrepancy"``, a term's description) and the argument.

    Returns
    -------
    tuple of float
    """
    if isinstance(value, str) or np.ndim(value) != 1 or len(value) != 2:
        raise ValueError(f"{where}: {name} must be a pair (low, high), got {value!r}")
    lo = check_positive(value[0], where, f"{name} low")
    hi = check_positive(value[1], where, f"{name} high")
    if not lo < hi:
        raise ValueError(f"{where}: {name} must be (low, high) with 0 < low < high, got {value!r}")
    return lo, hi


def active_columns(coords: np.ndarray, where: str) -> np.ndarray:
    """Drop coordinate columns that are constant (e.g. receivers all at z = 0).

    Parameters
    ----------
    coords : numpy.ndarray
        ``(n, k)`` coordinates.
    where : str
        The caller, for the error message.

    Returns
    -------
    numpy.ndarray
        ``(n, k')`` the columns that vary.
    """
    keep = np.ptp(coords, axis=0) > 0
    if not np.any(keep):
        raise ValueError(f"{where}: all data coordinates coincide")
    return coords[:, keep]
