"""Per-datum errors of DC resistivity data: validation and the reciprocal-error model.

A measurement ``(A, B, M, N)`` and its reciprocal ``(M, N, A, B)`` have the same transfer
resistance in theory (reciprocity); their difference in the field measures the data error.
The usual model (e.g. Slater et al. 2000; Tso et al. 2017) is linear in ``|R|``,
``e = a + b |R|``, fitted to the reciprocal differences ``|R_normal - R_reciprocal|``
against the mean ``|R|`` of each pair, and applied to every datum.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from bayesinv.operators.resistivity._survey import check_abmn

__all__ = ["check_errors", "reciprocal_error_model"]


def check_errors(errors, n_data: int, where: str = "check_errors") -> np.ndarray:
    """Validate per-datum errors (standard deviations): finite, positive, one per datum.

    Parameters
    ----------
    errors : array_like
        Standard deviation of each datum, shape ``(n_data,)``.
    n_data : int
        Number of data.
    where : str
        Name of the calling function or class, used in error messages.

    Returns
    -------
    numpy.ndarray
        ``errors`` as float64.

    Raises
    ------
    ValueError
        If the shape is wrong, or an error is negative, zero or not finite (naming the
        first offending index).

    Examples
    --------
    >>> check_errors([0.1, 0.2], 2)
    array([0.1, 0.2])
    """
    arr = np.asarray(errors, dtype=np.float64)
    if arr.shape != (n_data,):
        raise ValueError(f"{where}: errors must have shape ({n_data},), got {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr) | (arr <= 0.0))
    if bad.size:
        raise ValueError(
            f"{where}: errors must be finite and positive; errors[{bad[0]}] = {arr[bad[0]]} "
            f"({bad.size} bad value(s))"
        )
    return arr


def reciprocal_error_model(abmn, resistance):
    r"""Fit ``e = a + b |R|`` to reciprocal pairs and return an error for every datum.

    Parameters
    ----------
    abmn : array_like of int
        ``(n_data, 4)`` electrode indices of the measurements (``-1`` remote).
    resistance : array_like
        Measured transfer resistances ``R`` (Ω), one per row of ``abmn``.

    Returns
    -------
    a, b : float
        Non-negative coefficients of the model (Ω and dimensionless).
    errors : numpy.ndarray
        ``a + b |R|`` for every datum (Ω).

    Raises
    ------
    ValueError
        If ``resistance`` has the wrong length or non-finite values, if no reciprocal pair
        is present, or if the fitted errors are not positive.

    Notes
    -----
    The reciprocal of row :math:`(A, B, M, N)` is the row :math:`(M, N, A, B)`, or
    :math:`(N, M, B, A)` (the same value); :math:`(M, N, B, A)` and :math:`(N, M, A, B)` are
    reciprocals with the sign of :math:`R` reversed and are matched too. For each pair
    :math:`i` with values :math:`R_i, R'_i` (sign-aligned), :math:`ε_i = |R_i - R'_i|` and
    :math:`\bar R_i = (|R_i| + |R'_i|)/2`; :math:`(a, b) \ge 0` minimise
    :math:`\sum_i (a + b \bar R_i - ε_i)^2` (non-negative least squares). A reciprocal
    difference is one realisation of the difference of two errors, so this is the usual
    practical estimate rather than an unbiased one.

    Examples
    --------
    >>> abmn = [[0, 1, 2, 3], [2, 3, 0, 1], [0, 1, 3, 4], [3, 4, 0, 1]]
    >>> a, b, e = reciprocal_error_model(abmn, [1.0, 1.02, 0.5, 0.49])
    >>> e.shape
    (4,)
    """
    name = "reciprocal_error_model"
    arr = check_abmn(abmn, int(np.max(abmn)) + 1, name)
    R = np.asarray(resistance, dtype=np.float64)
    if R.shape != (arr.shape[0],):
        raise ValueError(f"{name}: resistance must have shape ({arr.shape[0]},), got {R.shape}")
    bad = np.flatnonzero(~np.isfinite(R))
    if bad.size:
        raise ValueError(f"{name}: resistance[{bad[0]}] is not finite")
    index = {tuple(row): i for i, row in enumerate(arr.tolist())}
    eps, mean = [], []
    for i, (a, b, m, n) in enumerate(arr.tolist()):
        for key, sign in (((m, n, a, b), 1.0), ((n, m, b, a), 1.0), ((m, n, b, a), -1.0)):
            j = index.get(key)
            if j is not None and j > i:
                eps.append(abs(R[i] - sign * R[j]))
                mean.append(0.5 * (abs(R[i]) + abs(R[j])))
                break
    if not eps:
        raise ValueError(f"{name}: abmn holds no reciprocal pair (row (A,B,M,N) and (M,N,A,B))")
    design = np.column_stack([np.ones(len(mean)), mean])
    (a_fit, b_fit), _ = nnls(design, np.asarray(eps))
    errors = a_fit + b_fit * np.abs(R)
    check_errors(errors, R.size, name)
    return float(a_fit), float(b_fit), errors
