"""Comparison of a posterior with a reference section from another inversion.

A field data set often has a published deterministic inversion (a smoothness-regularised
section, say). It is not a truth, so coverage of it says nothing about calibration; what the
comparison can say is where the two images agree within the posterior's uncertainty and
how alike their patterns are.
"""

from __future__ import annotations

import numpy as np

from bayesinv.diagnostics.truth import central_interval

__all__ = ["reference_comparison"]


def reference_comparison(draws, reference, mask=None, prob: float = 0.9) -> dict:
    r"""Where a reference section falls in the posterior, and how alike the two images are.

    Parameters
    ----------
    draws : array_like
        Posterior draws of a field, shape ``(n_draws, *shape)`` with ``n_draws >= 2`` (for
        a resistivity section, draws of log10 resistivity).
    reference : array_like
        The reference section, shape ``shape``, in the same units; NaN where it is not
        defined (such cells are not compared).
    mask : array_like of bool, optional
        Shape ``shape``: the cells to compare (e.g. those above the depth of
        investigation); default all. Cells where ``reference`` is NaN are dropped from it.
    prob : float
        Probability of the central credible interval, in ``(0, 1)``.

    Returns
    -------
    dict
        ``n_cells`` (compared), ``frac_inside`` (fraction of the compared cells whose
        reference value lies in the posterior's central ``prob`` interval), ``corr``
        (Pearson correlation of the reference and the posterior mean over the compared
        cells), ``median_abs_z`` (median of :math:`|z|`), ``median_diff`` (median of
        reference − posterior mean: an overall shift), and the maps ``z`` (reference −
        posterior mean in posterior sds; NaN where the reference is), ``outside``
        (reference outside the interval, False where not compared) and ``compared``.
        With no cell to compare the numbers are NaN and ``n_cells`` is 0.

    Notes
    -----
    With posterior mean :math:`\mu_i`, standard deviation :math:`s_i` and central interval
    :math:`[l_i, u_i]` of cell :math:`i` (the :math:`(1 \mp p)/2` quantiles of the draws),
    and the reference :math:`r_i`,

    .. math::

        z_i = \frac{r_i - \mu_i}{s_i}, \qquad
        \text{frac\_inside} = \frac{1}{|C|} \sum_{i \in C} [\, l_i \le r_i \le u_i \,],
        \qquad
        \text{corr} = \frac{\sum_{i \in C} (r_i - \bar r)(\mu_i - \bar\mu)}
        {\sqrt{\sum_{i \in C} (r_i - \bar r)^2 \sum_{i \in C} (\mu_i - \bar\mu)^2}},

    with :math:`C` the compared cells. A reference drawn from the posterior would fall
    inside about a fraction :math:`p` of the intervals; a deterministic (smoothest-model)
    section is not such a draw, so ``frac_inside`` measures agreement, not calibration. A
    section that is too smooth sits near the posterior mean where the data decide little,
    so restrict ``mask`` to where they do.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> mu = rng.normal(size=(4, 5))
    >>> draws = mu + 0.1 * rng.standard_normal((4000, 4, 5))
    >>> out = reference_comparison(draws, mu + 0.05)
    >>> out["n_cells"], round(out["frac_inside"], 2), round(out["corr"], 3)
    (20, 1.0, 1.0)
    """
    draws = np.asarray(draws, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if draws.ndim < 2 or draws.shape[0] < 2:
        raise ValueError(
            f"reference_comparison: draws must have shape (n_draws >= 2, *shape), got {draws.shape}"
        )
    shape = draws.shape[1:]
    if reference.shape != shape:
        raise ValueError(
            f"reference_comparison: reference has shape {reference.shape}, expected the "
            f"shape of one draw {shape}"
        )
    compared = np.isfinite(reference)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != shape or mask.dtype != bool:
            raise ValueError(
                f"reference_comparison: mask must be a boolean array of shape {shape}, got "
                f"{mask.dtype} of shape {mask.shape}"
            )
        compared &= mask
    mean = draws.mean(axis=0)
    sd = draws.std(axis=0, ddof=1)
    lo, hi = central_interval(draws, prob)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (reference - mean) / sd
    inside = (reference >= lo) & (reference <= hi)
    out = {
        "n_cells": int(compared.sum()),
        "frac_inside": np.nan,
        "corr": np.nan,
        "median_abs_z": np.nan,
        "median_diff": np.nan,
        "z": z,
        "outside": compared & ~inside,
        "compared": compared,
    }
    if out["n_cells"] == 0:
        return out
    r, m = reference[compared], mean[compared]
    out["frac_inside"] = float(inside[compared].mean())
    if out["n_cells"] > 1 and r.std() > 0 and m.std() > 0:
        out["corr"] = float(np.corrcoef(r, m)[0, 1])
    out["median_abs_z"] = float(np.median(np.abs(z[compared])))
    out["median_diff"] = float(np.median(r - m))
    return out
