r"""Per-modality posterior predictive checks and leave-one-out cross-validation.

Each observed random variable of a model is a modality (``gravity``, ``traveltime``, ...):
it has a variable in ``observed_data`` and, after :func:`pymc.sample_posterior_predictive`,
one in ``posterior_predictive``. For each modality we report

- the predictive mean, standard deviation and 50% / 90% central bands,
- standardised residuals :math:`z_i = (y_i - E[\tilde y_i]) / \mathrm{sd}[\tilde y_i]`,
- per-datum tail probabilities :math:`p_i = P(\tilde y_i \ge y_i)` and the coverage of the
  predictive bands (about 50% and 90% when the model fits),
- an omnibus tail probability :math:`P(T(\tilde y) \ge T(y))` of the discrepancy
  :math:`T(y) = \sum_i z_i^2` (the predictive draws are standardised with the same mean and
  sd), which is near 0 when the model does not fit and near 1 when noise is overestimated.

These checks use the data twice (to fit and to check), so they are conservative: a model
with more parameters than data (a gridded field) reproduces its data closely and shows
RMS z well below 1 and a tail probability near 1 without any fault. A low tail probability
is the informative signal; LOO below is the check on held-out data.

LOO is ArviZ's PSIS-LOO (``arviz.loo``) run on each modality's pointwise log-likelihood, with
its Pareto-k diagnostic: observations whose k exceeds ArviZ's sample-size-dependent threshold
``good_k`` make that modality's estimate unreliable.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayesinv.diagnostics.plots import plot_ppc  # drawn in plots, exported here too

__all__ = [
    "ModalityCheck",
    "modality_loo",
    "modality_names",
    "plot_ppc",
    "posterior_predictive_check",
    "ppc_table",
]


def modality_names(idata) -> list[str]:
    """Names of the observed variables (modalities) of a result.

    Parameters
    ----------
    idata : xarray.DataTree
        Result with an ``observed_data`` group.

    Returns
    -------
    list of str
        Variables of ``observed_data`` (empty when the group is missing).
    """
    if "observed_data" not in idata.children:
        return []
    return [str(v) for v in idata["observed_data"].data_vars]


@dataclass(frozen=True)
class ModalityCheck:
    r"""Posterior predictive check of one modality.

    Attributes
    ----------
    name : str
        Observed variable.
    x : numpy.ndarray
        Position of each datum for plots, flattened: the station position (non-dimension
        coordinate ``{name}_x``, or ``{name}_z`` when x is constant), for rays the
        source-receiver distance (coordinates ``{name}_source_x``, ``{name}_source_z``,
        ``{name}_receiver_x``, ``{name}_receiver_z``) or the receiver position, else the
        observation dim's numeric coordinate, else the datum index.
    x_label : str
        Name of that position, with units.
    observed : numpy.ndarray
        Observed data, flattened.
    mean, sd : numpy.ndarray
        Predictive mean and standard deviation per datum.
    bands : dict of float to tuple of numpy.ndarray
        Central predictive intervals ``{0.5: (lo, hi), 0.9: (lo, hi)}``.
    z : numpy.ndarray
        Standardised residuals.
    tail_prob : numpy.ndarray
        :math:`P(\tilde y_i \ge y_i)` per datum.
    p_value : float
        Omnibus tail probability of the standardised squared-residual discrepancy.
    draws : numpy.ndarray
        Predictive draws, shape ``(n_draws, n_data)``.
    x_scattered : bool
        Whether data close in ``x`` need not be neighbours (rays): plots then draw each
        datum's interval instead of bands along ``x``.
    """

    name: str
    x: np.ndarray = field(repr=False)
    x_label: str
    observed: np.ndarray = field(repr=False)
    mean: np.ndarray = field(repr=False)
    sd: np.ndarray = field(repr=False)
    bands: dict = field(repr=False)
    z: np.ndarray = field(repr=False)
    tail_prob: np.ndarray = field(repr=False)
    p_value: float
    draws: np.ndarray = field(repr=False)
    x_scattered: bool = False

    def summary(self) -> dict:
        """Scalar summary of the check.

        Returns
        -------
        dict
            ``n_data``, ``rms_z`` (about 1 for a good fit), ``max_abs_z``, ``coverage_50``,
            ``coverage_90``, ``frac_extreme`` (share of data with two-sided per-datum tail
            probability below 5%, about 0.05 for a good fit) and ``p_value``.
        """
        inside = {
            p: float(np.mean((self.observed >= lo) & (self.observed <= hi)))
            for p, (lo, hi) in self.bands.items()
        }
        two_sided = 2.0 * np.minimum(self.tail_prob, 1.0 - self.tail_prob)
        return {
            "n_data": int(self.observed.size),
            "rms_z": float(np.sqrt(np.mean(self.z**2))),
            "max_abs_z": float(np.max(np.abs(self.z))),
            "coverage_50": inside.get(0.5, np.nan),
            "coverage_90": inside.get(0.9, np.nan),
            "frac_extreme": float(np.mean(two_sided < 0.05)),
            "p_value": self.p_value,
        }


def _varying(da, key: str):
    """Values of coordinate ``key`` of ``da`` if present, numeric, finite and not constant."""
    if key not in da.coords or da.coords[key].dims != da.dims:
        return None
    values = np.asarray(da.coords[key].values)
    if not np.issubdtype(values.dtype, np.number):
        return None
    values = values.astype(float).ravel()
    if not np.all(np.isfinite(values)) or np.ptp(values) == 0.0:
        return None
    return values


def _plot_coordinate(da, n: int) -> tuple[np.ndarray, str, bool]:
    """Position of each datum for plots: (values, label, scattered).

    In order of preference: station position from the non-dimension coordinates
    ``{name}_x`` (or ``{name}_z`` when x is constant, e.g. a borehole); for rays, the
    source-receiver distance from ``{name}_source_x/z`` and ``{name}_receiver_x/z`` (travel
    time grows with ray length, so the data line up), or the receiver position; the data
    dim's own numeric coordinate; the datum index. ``scattered`` is true when neighbouring
    values need not be neighbouring data (rays), so plots draw per-datum intervals.
    """
    name = str(da.name)
    if da.ndim == 1:
        for key, label in ((f"{name}_x", "station x (m)"), (f"{name}_z", "station depth z (m)")):
            values = _varying(da, key)
            if values is not None:
                return values, label, False
        ends = [f"{name}_{end}_{axis}" for end in ("source", "receiver") for axis in "xz"]
        if all(k in da.coords for k in ends):
            sx, sz, rx, rz = (np.asarray(da.coords[k].values, dtype=float).ravel() for k in ends)
            distance = np.hypot(rx - sx, rz - sz)
            if np.all(np.isfinite(distance)) and np.ptp(distance) > 0:
                return distance, "source-receiver distance (m)", True
        for key, label in (
            (f"{name}_receiver_x", "receiver x (m)"),
            (f"{name}_receiver_z", "receiver depth z (m)"),
        ):
            values = _varying(da, key)
            if values is not None:
                return values, label, True
        dim = str(da.dims[0])
        if dim in da.coords and dim != f"{name}_dim_0":  # ArviZ's default dim: an index
            values = np.asarray(da.coords[dim].values)
            if np.issubdtype(values.dtype, np.number) and np.unique(values).size == n:
                return values.astype(float), str(dim), False
    return np.arange(n, dtype=float), "datum index", False


def posterior_predictive_check(
    idata, var_names=None, group: str = "posterior_predictive"
) -> dict[str, ModalityCheck]:
    """Posterior predictive check of each modality.

    Parameters
    ----------
    idata : xarray.DataTree
        Result with ``observed_data`` and ``posterior_predictive`` (or ``group``).
    var_names : str or list of str, optional
        Modalities to check (default: every observed variable).
    group : str
        Group holding the predictive draws (``"prior_predictive"`` for a prior check).

    Returns
    -------
    dict of str to ModalityCheck
        One check per modality, in the order of ``observed_data``.

    Raises
    ------
    ValueError
        If the groups or variables are missing or their shapes disagree.
    """
    names = modality_names(idata)
    if not names:
        raise ValueError("posterior_predictive_check: idata has no 'observed_data' group")
    if group not in idata.children:
        raise ValueError(
            f"posterior_predictive_check: idata has no {group!r} group "
            "(run pymc.sample_posterior_predictive(idata, extend_inferencedata=True))"
        )
    if var_names is not None:
        var_names = [var_names] if isinstance(var_names, str) else list(var_names)
        missing = [v for v in var_names if v not in names]
        if missing:
            raise ValueError(
                f"posterior_predictive_check: var_names {missing} are not observed "
                f"variables (observed: {names})"
            )
        names = var_names
    pred_group = idata[group]
    checks = {}
    for name in names:
        if name not in pred_group.data_vars:
            raise ValueError(f"posterior_predictive_check: {name!r} is not in group {group!r}")
        obs_da = idata["observed_data"][name]
        y = np.asarray(obs_da.values, dtype=float).ravel()
        pred = np.asarray(pred_group[name].values, dtype=float)
        if pred.shape[2:] != obs_da.shape:
            raise ValueError(
                f"posterior_predictive_check: {name!r} predictive draws have data shape "
                f"{pred.shape[2:]}, observed data have {obs_da.shape}"
            )
        draws = pred.reshape(-1, y.size)
        checks[name] = _check(name, obs_da, y, draws)
    return checks


def _check(name, obs_da, y, draws) -> ModalityCheck:
    mean = draws.mean(axis=0)
    sd = draws.std(axis=0, ddof=1) if draws.shape[0] > 1 else np.zeros_like(mean)
    if np.any(sd <= 0):
        raise ValueError(
            f"posterior_predictive_check: {name!r} has data with zero predictive spread "
            "(is the likelihood missing its noise?)"
        )
    q = np.quantile(draws, [0.05, 0.25, 0.75, 0.95], axis=0)
    z = (y - mean) / sd
    tail = (np.sum(draws > y, axis=0) + 0.5 * np.sum(draws == y, axis=0)) / draws.shape[0]
    t_obs = np.sum(z**2)
    t_rep = np.sum(((draws - mean) / sd) ** 2, axis=1)
    p_value = float(np.mean(t_rep >= t_obs))
    x, x_label, scattered = _plot_coordinate(obs_da, y.size)
    return ModalityCheck(
        name=name,
        x=x,
        x_label=x_label,
        observed=y,
        mean=mean,
        sd=sd,
        bands={0.5: (q[1], q[2]), 0.9: (q[0], q[3])},
        z=z,
        tail_prob=tail,
        p_value=p_value,
        draws=draws,
        x_scattered=scattered,
    )


def ppc_table(checks: dict[str, ModalityCheck]) -> pd.DataFrame:
    """Table of :meth:`ModalityCheck.summary`, one row per modality.

    Parameters
    ----------
    checks : dict of str to ModalityCheck
        Output of :func:`posterior_predictive_check`.

    Returns
    -------
    pandas.DataFrame
        Indexed by modality.
    """
    rows = {name: check.summary() for name, check in checks.items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("modality")


def modality_loo(idata, model=None, var_names=None) -> pd.DataFrame:
    """PSIS-LOO of each modality, with its Pareto-k diagnostic.

    Parameters
    ----------
    idata : xarray.DataTree
        Result with ``posterior``; its ``log_likelihood`` group is used when present.
    model : pymc.Model, optional
        Used to compute the pointwise log-likelihood (``pymc.compute_log_likelihood``) when
        ``idata`` has no ``log_likelihood`` group (``idata`` is not modified).
    var_names : str or list of str, optional
        Modalities (default: every variable of the log-likelihood).

    Returns
    -------
    pandas.DataFrame
        Indexed by modality, with columns ``elpd_loo``, ``se``, ``p_loo``, ``n_data``,
        ``n_constant`` (data whose log-likelihood is the same in every draw: counted exactly,
        with Pareto k = -inf), ``good_k``, ``max_k``, ``n_bad_k`` (observations with k above
        ``good_k``) and ``warning`` (a sentence, empty when the estimate is reliable).

    Raises
    ------
    ValueError
        If there is no log-likelihood and no model to compute it.
    """
    tree = idata
    if "log_likelihood" not in idata.children:
        if model is None:
            raise ValueError(
                "modality_loo: idata has no 'log_likelihood' group; pass the model to compute it"
            )
        import pymc as pm

        ll = pm.compute_log_likelihood(
            idata, model=model, extend_inferencedata=False, progressbar=False
        )
        tree = idata.copy()
        tree["log_likelihood"] = ll
    have = [str(v) for v in tree["log_likelihood"].data_vars]
    observed = modality_names(tree)  # report in the order of observed_data
    available = [v for v in observed if v in have] + [v for v in have if v not in observed]
    names = [var_names] if isinstance(var_names, str) else var_names
    names = available if names is None else list(names)
    missing = [v for v in names if v not in available]
    if missing:
        raise ValueError(f"modality_loo: no log-likelihood for {missing} (have {available})")
    rows = {}
    for name in names:
        elpd_i, p_loo, k, good_k = _pointwise_loo(tree, name)
        n_bad = int(np.sum(k > good_k))
        warning = ""
        if n_bad:
            warning = (
                f"{n_bad} of {k.size} observations have Pareto k > {good_k:.2f} "
                f"(max {np.max(k):.2f}): the PSIS-LOO estimate of {name!r} is unreliable"
            )
        n = elpd_i.size
        rows[name] = {
            "elpd_loo": float(np.sum(elpd_i)),
            "se": float(np.sqrt(n * np.var(elpd_i, ddof=1))) if n > 1 else 0.0,
            "p_loo": p_loo,
            "n_data": int(n),
            "n_constant": int(np.sum(k == -np.inf)),
            "good_k": good_k,
            "max_k": float(np.max(k)),
            "n_bad_k": n_bad,
            "warning": warning,
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("modality")


def _pointwise_loo(tree, name):
    """Pointwise PSIS-LOO ``elpd_i``, ``p_loo``, Pareto ``k``, ``good_k`` of ``name``.

    A datum whose log-likelihood spreads over the draws by at most ``1e-9 max(1, |log p|)``
    (round-off: it does not depend on the parameters) is counted exactly, ``elpd_i = log
    mean_s p(y_i | θ_s)`` with ``k = -inf`` (PSIS is undefined there); PSIS runs on the rest.
    """
    import arviz as az
    import xarray as xr
    from scipy.special import logsumexp

    ll = np.asarray(tree["log_likelihood"][name].values, dtype=float)
    flat = ll.reshape(ll.shape[0], ll.shape[1], -1)
    n_samples = flat.shape[0] * flat.shape[1]
    const = np.ptp(flat, axis=(0, 1)) <= 1e-9 * np.maximum(1.0, np.abs(flat[0, 0, :]))
    exact = logsumexp(flat.reshape(n_samples, -1), axis=0) - np.log(n_samples)
    elpd_i = np.where(const, exact, np.nan)
    k = np.full(const.size, -np.inf)
    good_k, p_loo = min(1.0 - 1.0 / np.log10(n_samples), 0.7), 0.0
    if not np.all(const):
        sub = tree
        if np.any(const):
            sub = tree.copy()
            dims = ("chain", "draw", f"{name}_varying")
            sub["log_likelihood"] = xr.Dataset({name: xr.DataArray(flat[:, :, ~const], dims=dims)})
        with warnings.catch_warnings():  # the Pareto-k warning is reported in the table
            warnings.simplefilter("ignore", UserWarning)
            res = az.loo(sub, var_name=name, pointwise=True)
        elpd_i[~const] = np.asarray(res.elpd_i.values, dtype=float).ravel()
        k[~const] = np.asarray(res.pareto_k.values, dtype=float).ravel()
        good_k, p_loo = float(res.good_k), float(res.p)
    return elpd_i, p_loo, k, good_k
