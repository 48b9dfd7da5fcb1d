"""Checks against a known truth: interval coverage and error of the posterior mean.

For a synthetic problem the true field is known. A calibrated posterior covers it with its
central credible intervals at about the stated rate (50% and 90%), cell by cell; the RMSE of
the posterior mean measures how close the point estimate is. Coverage of a single field is
a rough check (cells are correlated), so read it together with simulation-based calibration.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayesinv.grid import Grid2D

__all__ = [
    "CONTRACTION",
    "central_interval",
    "field_summaries",
    "posterior_draws",
    "truth_coverage",
]


def posterior_draws(idata, name: str, group: str = "posterior") -> np.ndarray:
    """Draws of one variable with chains and draws stacked.

    Parameters
    ----------
    idata : xarray.DataTree
        Result holding ``group``.
    name : str
        Variable name.
    group : str
        Group (``"posterior"`` or ``"prior"``).

    Returns
    -------
    numpy.ndarray
        Shape ``(chains * draws, *variable_shape)``.
    """
    if group not in idata.children or name not in idata[group].data_vars:
        raise ValueError(f"posterior_draws: no variable {name!r} in group {group!r}")
    values = np.asarray(idata[group][name].values, dtype=float)
    return values.reshape(-1, *values.shape[2:])


def central_interval(draws, prob: float) -> tuple[np.ndarray, np.ndarray]:
    """Central credible interval of the given probability, per component.

    Parameters
    ----------
    draws : array_like
        Shape ``(n_draws, ...)``.
    prob : float
        Probability mass in ``(0, 1)``.

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper quantiles ``(1 - prob) / 2`` and ``(1 + prob) / 2``.
    """
    if not 0.0 < prob < 1.0:
        raise ValueError(f"central_interval: prob must be in (0, 1), got {prob!r}")
    lo, hi = np.quantile(np.asarray(draws), [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    return lo, hi


def truth_coverage(idata, truth: dict, probs=(0.5, 0.9)) -> pd.DataFrame:
    """Coverage of a known truth by central credible intervals, and RMSE of the mean.

    Parameters
    ----------
    idata : xarray.DataTree
        Result with a ``posterior`` group.
    truth : dict of str to array_like
        Variable name → true value, with the variable's shape (without chain and draw);
        a flat vector is accepted for a field of the same size.
    probs : sequence of float
        Probabilities of the central intervals.

    Returns
    -------
    pandas.DataFrame
        Indexed by variable, with columns ``n``, ``coverage_50``, ``coverage_90`` (one per
        probability, named by its percentage), ``rmse`` (posterior mean against truth),
        ``mean_sd`` (average posterior standard deviation) and ``rms_z`` (RMS of the error
        in posterior standard deviations; about 1 when the posterior is calibrated).

    Examples
    --------
    >>> import numpy as np, arviz as az
    >>> rng = np.random.default_rng(0)
    >>> idata = az.from_dict({"posterior": {"m": rng.normal(size=(2, 500, 1000))}})
    >>> table = truth_coverage(idata, {"m": rng.normal(size=1000)})
    >>> bool(abs(table.loc["m", "coverage_90"] - 0.9) < 0.05)
    True
    """
    rows = {}
    for name, value in truth.items():
        draws = posterior_draws(idata, name)
        shape = draws.shape[1:]
        value = np.asarray(value, dtype=float)
        if value.shape != shape:
            if value.size == int(np.prod(shape)) and value.ndim == 1:
                value = value.reshape(shape)
            else:
                raise ValueError(
                    f"truth_coverage: truth[{name!r}] has shape {value.shape}, the posterior "
                    f"variable has shape {shape}"
                )
        if not np.all(np.isfinite(value)):
            raise ValueError(f"truth_coverage: truth[{name!r}] has non-finite values")
        mean = draws.mean(axis=0)
        sd = draws.std(axis=0, ddof=1)
        row = {"n": int(value.size)}
        for p in probs:
            lo, hi = central_interval(draws, p)
            row[f"coverage_{round(100 * p)}"] = float(np.mean((value >= lo) & (value <= hi)))
        err = mean - value
        row["rmse"] = float(np.sqrt(np.mean(err**2)))
        row["mean_sd"] = float(np.mean(sd))
        with np.errstate(divide="ignore", invalid="ignore"):
            row["rms_z"] = float(np.sqrt(np.mean((err / sd) ** 2)))
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("variable")


CONTRACTION = "posterior sd / prior sd"


def field_summaries(idata, name: str, grid: Grid2D, truth=None) -> dict[str, np.ndarray]:
    """Posterior summaries of a field on a grid, ready for :func:`plot_field_maps`.

    Parameters
    ----------
    idata : xarray.DataTree
        Result with a ``posterior`` group (and optionally a ``prior`` group).
    name : str
        Field variable; its draws must have ``grid.size`` values.
    grid : Grid2D
        The field's grid.
    truth : array_like, optional
        True field, shown first.

    Returns
    -------
    dict of str to numpy.ndarray
        Panels ``truth`` (if given), ``posterior mean``, ``posterior sd``, ``90% interval
        width`` and, when the prior group holds ``name``, ``posterior sd / prior sd``
        (1 where the data taught nothing), each of shape ``(nz, nx)``.
    """
    draws = posterior_draws(idata, name)
    if int(np.prod(draws.shape[1:])) != grid.size:
        raise ValueError(
            f"field_summaries: {name!r} has {int(np.prod(draws.shape[1:]))} values per draw, "
            f"the grid has {grid.size} cells"
        )
    draws = draws.reshape(-1, *grid.shape)
    panels = {}
    if truth is not None:
        panels["truth"] = grid.unravel(np.asarray(truth, dtype=float).ravel())
    panels["posterior mean"] = draws.mean(axis=0)
    sd = draws.std(axis=0, ddof=1)
    panels["posterior sd"] = sd
    lo, hi = central_interval(draws, 0.9)
    panels["90% interval width"] = hi - lo
    if "prior" in idata.children and name in idata["prior"].data_vars:
        prior = posterior_draws(idata, name, group="prior").reshape(-1, *grid.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            panels[CONTRACTION] = sd / prior.std(axis=0, ddof=1)
    return panels
