"""Convergence verdict of an MCMC run: R-hat, bulk and tail ESS, divergences, E-BFMI.

Every number is computed by ArviZ (``arviz.rhat``, ``arviz.ess``, ``arviz.bfmi``); this
module only applies stated thresholds and words the verdict. It works on any DataTree with
a ``posterior`` group; sampler checks (divergences, E-BFMI) run when ``sample_stats`` holds
``diverging`` and ``energy`` and are reported as "not available" otherwise.

Parameters are named as users know them: ``density[z=2, x=5]`` (the variable, then each
named dim without the variable's prefix and the cell's index along it). Internal helper
variables that feed a user-facing one (``density_raw`` or ``density_z_score`` feeding the
deterministic ``density``, PyMC's transformed ``sigma_log__``) are left out of the verdict
and the table when the variable they feed is in the posterior, and marked ``(internal)``
otherwise.

Draws that are independent by construction (a Laplace / Gauss-Newton approximation, whose
tree says so in its ``inference`` attribute) get no R-hat or ESS verdict: those diagnose
Markov chains. Their verdict is that of the approximation itself (did Gauss-Newton
converge) and says "independent draws from a Gaussian approximation".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayesinv.diagnostics._names import (
    INDEPENDENT_DRAWS,
    draws_are_independent,
    helper_variables,
    parameter_labels,
)

__all__ = [
    "ConvergenceReport",
    "Thresholds",
    "convergence_report",
    "draws_are_independent",
    "helper_variables",
    "parameter_table",
]

COLUMNS = ["r_hat", "ess_bulk", "ess_tail"]


@dataclass(frozen=True)
class Thresholds:
    """Thresholds of :func:`convergence_report`.

    Attributes
    ----------
    rhat_max : float
        Largest accepted rank-normalised split R-hat (strictly below, Vehtari et al. 2021).
    ess_bulk_min, ess_tail_min : float
        Smallest accepted bulk and tail effective sample sizes.
    max_divergences : int
        Largest accepted number of divergent transitions.
    bfmi_min : float
        Smallest accepted E-BFMI of any chain (strictly above).
    """

    rhat_max: float = 1.01
    ess_bulk_min: float = 400.0
    ess_tail_min: float = 400.0
    max_divergences: int = 0
    bfmi_min: float = 0.3


@dataclass(frozen=True)
class ConvergenceReport:
    """Outcome of :func:`convergence_report`.

    Attributes
    ----------
    passed : bool
        Whether every check passed.
    verdict : str
        One line: ``"PASS: ..."`` or ``"FAIL: ..."`` with the reasons.
    failures : list of str
        Each failed check in words.
    table : pandas.DataFrame
        The worst parameters (highest R-hat, then lowest ESS), indexed by ``name[i, j]``,
        with columns ``r_hat``, ``ess_bulk``, ``ess_tail``.
    max_rhat, min_ess_bulk, min_ess_tail : float
        Extremes over all checked scalar parameters.
    n_divergent : int or None
        Divergent transitions (``None`` when the sampler does not report them).
    bfmi : numpy.ndarray or None
        E-BFMI per chain (``None`` when ``sample_stats`` has no ``energy``).
    n_parameters : int
        Number of scalar parameters checked.
    thresholds : Thresholds
        The thresholds applied.
    draws : {"mcmc", "independent"}
        ``"independent"`` for draws from a Gaussian approximation (no R-hat or ESS check;
        the table is empty and the extremes are NaN).
    left_out : dict of str to str
        Internal variables left out of the check, each mapped to the user-facing variable
        it feeds.
    """

    passed: bool
    verdict: str
    failures: list[str]
    table: pd.DataFrame = field(repr=False)
    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    n_divergent: int | None
    bfmi: np.ndarray | None = field(repr=False)
    n_parameters: int
    thresholds: Thresholds
    draws: str = "mcmc"
    left_out: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Scalar results as a JSON-serialisable dict.

        Returns
        -------
        dict
            ``passed``, ``verdict``, ``draws``, ``max_rhat``, ``min_ess_bulk``,
            ``min_ess_tail``, ``n_divergent``, ``min_bfmi`` and ``n_parameters``.
        """
        return {
            "passed": self.passed,
            "verdict": self.verdict,
            "draws": self.draws,
            "max_rhat": self.max_rhat,
            "min_ess_bulk": self.min_ess_bulk,
            "min_ess_tail": self.min_ess_tail,
            "n_divergent": self.n_divergent,
            "min_bfmi": None if self.bfmi is None else float(np.min(self.bfmi)),
            "n_parameters": self.n_parameters,
        }


def _flatten(tree, var_names) -> dict[str, np.ndarray]:
    """Per-variable values of a reduced ArviZ result (DataTree or Dataset), flattened."""
    ds = tree.to_dataset() if hasattr(tree, "to_dataset") else tree
    return {name: np.asarray(ds[name].values, dtype=float) for name in var_names}


def _posterior_var_names(idata, var_names, caller: str) -> list[str]:
    if "posterior" not in idata.children:
        raise ValueError(f"{caller}: idata has no 'posterior' group")
    post = idata["posterior"]
    available = [str(v) for v in post.data_vars]
    if var_names is None:
        return available
    if isinstance(var_names, str):
        var_names = [var_names]
    missing = [v for v in var_names if v not in available]
    if missing:
        raise ValueError(
            f"{caller}: var_names {missing} are not in the posterior (it has {available})"
        )
    return list(var_names)


def parameter_table(idata, var_names=None) -> pd.DataFrame:
    """R-hat, bulk ESS and tail ESS of every scalar parameter, computed by ArviZ.

    Parameters
    ----------
    idata : xarray.DataTree
        Result with a ``posterior`` group (dims ``chain``, ``draw``, ...).
    var_names : str or list of str, optional
        Variables to include (default: all posterior variables).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``name``, ``name[i, j]`` or, when the variable's dims are named,
        ``name[z=i, x=j]`` (each dim without the ``name_`` prefix; C order), with columns
        ``r_hat``, ``ess_bulk``, ``ess_tail``; internal helper variables are marked
        ``(internal)``.
    """
    import arviz as az

    names = _posterior_var_names(idata, var_names, "parameter_table")
    with np.errstate(invalid="ignore", divide="ignore"):  # constant draws give NaN
        rhat = _flatten(az.rhat(idata, var_names=names), names)
        bulk = _flatten(az.ess(idata, var_names=names, method="bulk"), names)
        tail = _flatten(az.ess(idata, var_names=names, method="tail"), names)
    post = idata["posterior"]
    rows, index = [], []
    for name in names:
        shape = tuple(post[name].shape[2:])
        index += parameter_labels(name, post[name].dims[2:], shape)
        rows.append(np.column_stack([rhat[name].ravel(), bulk[name].ravel(), tail[name].ravel()]))
    table = np.concatenate(rows) if rows else np.empty((0, 3))
    return pd.DataFrame(table, index=pd.Index(index, name="parameter"), columns=COLUMNS)


def convergence_report(
    idata, var_names=None, thresholds: Thresholds | None = None, n_worst: int = 10
) -> ConvergenceReport:
    """Check an MCMC run against stated thresholds and return a verdict.

    Parameters
    ----------
    idata : xarray.DataTree
        Result with a ``posterior`` group; ``sample_stats`` with ``diverging`` and
        ``energy`` enables the sampler checks.
    var_names : str or list of str, optional
        Variables to check (default: every user-facing posterior variable, see Notes).
    thresholds : Thresholds, optional
        Defaults: R-hat < 1.01, bulk and tail ESS >= 400, no divergences, E-BFMI > 0.3.
    n_worst : int
        Rows of the table of worst parameters.

    Returns
    -------
    ConvergenceReport

    Notes
    -----
    A parameter whose draws are all equal has undefined R-hat and ESS (NaN in ArviZ); such
    parameters are counted as failures ("not defined"), since a constant chain is more often
    a stuck sampler than a constant quantity. Exclude deterministic constants through
    ``var_names``.

    By default internal helper variables (:func:`helper_variables`: ``density_raw``
    feeding ``density``, ``sigma_log__`` feeding ``sigma``) are left out in favour of the
    user-facing variable they feed; they are listed in ``left_out``.

    When :func:`draws_are_independent` (a Laplace / Gauss-Newton result), R-hat, ESS and
    the sampler checks do not apply: the verdict passes when the approximation's root
    attribute ``converged`` is true (or absent) and all draws are finite, and says that the
    draws are independent draws from a Gaussian approximation.

    Examples
    --------
    >>> import numpy as np, arviz as az
    >>> rng = np.random.default_rng(0)
    >>> idata = az.from_dict({"posterior": {"x": rng.normal(size=(4, 1000))}})
    >>> convergence_report(idata).passed
    True
    """
    th = thresholds or Thresholds()
    names = _posterior_var_names(idata, var_names, "convergence_report")
    left_out = {}
    if var_names is None:
        left_out = helper_variables(names)
        names = [n for n in names if n not in left_out]
    if draws_are_independent(idata):
        return _independent_report(idata, names, th, left_out)
    table = parameter_table(idata, names)
    failures, extremes = _chain_failures(table, th)
    n_div, bfmi = _sampler_checks(idata)
    if n_div is not None and n_div > th.max_divergences:
        failures.append(f"{n_div} divergent transition(s) (> {th.max_divergences})")
    if bfmi is not None and np.any(bfmi <= th.bfmi_min):
        bad = np.flatnonzero(bfmi <= th.bfmi_min)
        failures.append(
            f"E-BFMI {float(np.min(bfmi)):.2f} <= {th.bfmi_min} in chain(s) {bad.tolist()}"
        )

    undefined = table.isna().any(axis=1)
    worst = table.assign(_nan=undefined).sort_values(
        ["_nan", "r_hat", "ess_bulk"], ascending=[False, False, True]
    )
    worst = worst.drop(columns="_nan").head(max(int(n_worst), 0))

    max_rhat, min_bulk, min_tail = extremes
    extras = ["divergences n/a" if n_div is None else f"{n_div} divergences"]
    if bfmi is not None:
        extras.append(f"min E-BFMI {float(np.min(bfmi)):.2f}")
    summary = (
        f"{len(table)} parameters, max R-hat {max_rhat:.3f}, min bulk ESS {min_bulk:.0f}, "
        f"min tail ESS {min_tail:.0f}, " + ", ".join(extras)
    )
    verdict = ("FAIL: " + "; ".join(failures)) if failures else ("PASS: " + summary)
    return ConvergenceReport(
        passed=not failures,
        verdict=verdict,
        failures=failures,
        table=worst,
        max_rhat=max_rhat,
        min_ess_bulk=min_bulk,
        min_ess_tail=min_tail,
        n_divergent=n_div,
        bfmi=bfmi,
        n_parameters=len(table),
        thresholds=th,
        left_out=left_out,
    )


def _chain_failures(table: pd.DataFrame, th: Thresholds):
    """Failed R-hat / ESS checks in words, and (max R-hat, min bulk ESS, min tail ESS)."""
    failures: list[str] = []
    undefined = table.isna().any(axis=1)
    if undefined.any():
        failures.append(
            f"R-hat/ESS not defined (constant draws) for {int(undefined.sum())} parameter(s), "
            f"e.g. {table.index[undefined][0]}"
        )
    finite = table[~undefined]
    max_rhat = float(finite["r_hat"].max()) if len(finite) else float("nan")
    min_bulk = float(finite["ess_bulk"].min()) if len(finite) else float("nan")
    min_tail = float(finite["ess_tail"].min()) if len(finite) else float("nan")
    n_rhat = int((finite["r_hat"] >= th.rhat_max).sum())
    if n_rhat:
        failures.append(
            f"R-hat {max_rhat:.3f} >= {th.rhat_max} ({n_rhat} parameter(s), worst "
            f"{finite['r_hat'].idxmax()})"
        )
    for col, label, limit, value in (
        ("ess_bulk", "bulk ESS", th.ess_bulk_min, min_bulk),
        ("ess_tail", "tail ESS", th.ess_tail_min, min_tail),
    ):
        n_low = int((finite[col] < limit).sum())
        if n_low:
            failures.append(
                f"{label} {value:.0f} < {limit:.0f} ({n_low} parameter(s), worst "
                f"{finite[col].idxmin()})"
            )
    return failures, (max_rhat, min_bulk, min_tail)


def _independent_report(idata, names, th: Thresholds, left_out) -> ConvergenceReport:
    """Judge independent draws: the approximation converged and the draws are finite."""
    post = idata["posterior"]
    n_params = sum(int(np.prod(post[n].shape[2:])) for n in names)
    n_draws = int(post.sizes.get("chain", 1) * post.sizes.get("draw", 1))
    method = str(idata.attrs.get("inference", "Laplace approximation"))
    failures = []
    converged = idata.attrs.get("converged")
    if converged is not None and not bool(int(converged)):
        failures.append(f"the {method} iterations did not converge (attribute converged=0)")
    bad = [n for n in names if not np.all(np.isfinite(np.asarray(post[n].values, float)))]
    if bad:
        failures.append(f"non-finite draws in {bad}")
    what = f"{n_draws} {INDEPENDENT_DRAWS} ({method}), {n_params} parameters"
    verdict = (
        "FAIL: " + "; ".join(failures) + f" ({what})"
        if failures
        else f"PASS: {what}; R-hat and ESS do not apply"
    )
    nan = float("nan")
    return ConvergenceReport(
        passed=not failures,
        verdict=verdict,
        failures=failures,
        table=pd.DataFrame(columns=COLUMNS, index=pd.Index([], name="parameter"), dtype=float),
        max_rhat=nan,
        min_ess_bulk=nan,
        min_ess_tail=nan,
        n_divergent=None,
        bfmi=None,
        n_parameters=n_params,
        thresholds=th,
        draws="independent",
        left_out=left_out,
    )


def _sampler_checks(idata) -> tuple[int | None, np.ndarray | None]:
    import arviz as az

    if "sample_stats" not in idata.children:
        return None, None
    stats = idata["sample_stats"]
    n_div = int(stats["diverging"].values.sum()) if "diverging" in stats.data_vars else None
    bfmi = None
    if "energy" in stats.data_vars:
        value = az.bfmi(idata)
        ds = value.to_dataset() if hasattr(value, "to_dataset") else value
        bfmi = np.atleast_1d(np.asarray(ds["energy"].values, dtype=float))
    return n_div, bfmi
