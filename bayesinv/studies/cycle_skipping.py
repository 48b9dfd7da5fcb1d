"""Cycle-skipping case studies (07, 1-D; 11, 2-D): the methods, rows and table.

A study describes its problem as a :class:`LinearField` (log-velocity of the wave grid and
of the cells the error is measured on, both affine in the coefficients ``θ ~ N(0, I)``, band
``k`` using the first ``sizes[k]`` coefficients) and hands it with its wave operator to
:func:`seed_runs`, which runs, per seed:

single-band MAP (L-BFGS-B and a Laplace approximation on the full band), single-band NUTS
(from that MAP), frequency continuation (MAP + Laplace per low-pass band of
:func:`~bayesinv.inference.continuation.bands.band_levels`, low to high, then NUTS on the
full band) and continuation + SMC (SMC from the prior on the first band, then a MAP + Laplace
per band from SMC's best particle, the first band again first), all through
:func:`~bayesinv.inference.continuation.continuation`.

:func:`rows` and :func:`summary` turn the runs into the results table (true basin: RMS
log-velocity error of the cells below ``threshold``; coverage: share of cells whose truth
lies in the 90% central credible interval of NUTS); the figures are in
:mod:`.cycle_skipping_figures`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bayesinv.studies.config import Key

__all__ = [
    "METHODS",
    "SINGLE_BAND_KEYS",
    "LinearField",
    "SharedBands",
    "rows",
    "seed_runs",
    "summary",
    "verdict",
]

METHODS = ("single-band MAP", "single-band NUTS", "continuation", "continuation + SMC")
# optional study keys read by seed_runs: the single-band NUTS's own draws and tuning steps
# per chain (unset: draws, tune); a study using seed_runs adds them to its OPTIONAL
SINGLE_BAND_KEYS = {
    "single_band_draws": Key(int, default=None, low=1),
    "single_band_tune": Key(int, default=None, low=1),
}
NAME = "traces"


@dataclass(frozen=True)
class LinearField:
    r"""Log-velocity affine in the coefficients: ``m = m0 + B θ`` (wave grid), ``c = c0 + C θ``.

    Attributes
    ----------
    m0 : float
        Log-velocity of the wave grid at ``θ = 0``.
    B : numpy.ndarray, shape (n_wave_cells, n)
        Coefficients to the wave grid's log-velocity.
    c0 : float
        Log-velocity of the error cells at ``θ = 0``.
    C : numpy.ndarray, shape (n_cells, n)
        Coefficients to the log-velocity of the cells the error and coverage are measured on.
    sizes : tuple of int
        Coefficients of each band, lowest first (a prefix of ``θ``; the last is ``n``).
    truth : numpy.ndarray, shape (n_cells,)
        True log-velocity of the error cells.

    Notes
    -----
    The prior is :math:`θ \sim N(0, I)`; band :math:`k` keeps :math:`θ_{1..n_k}` and holds
    the rest at zero (e.g. wavelet levels ``0..ℓ_k``), so each band's model nests in the
    finest one.
    """

    m0: float
    B: np.ndarray
    c0: float
    C: np.ndarray
    sizes: tuple
    truth: np.ndarray

    def cells(self, theta) -> np.ndarray:
        """Cell log-velocity of ``theta`` (shape ``(..., k)`` with ``k <= n``, zero-padded)."""
        theta = np.asarray(theta, dtype=float)
        k = theta.shape[-1]
        return self.c0 + theta @ self.C[:, :k].T

    def error(self, theta) -> float:
        """RMS error of the cell log-velocity."""
        return float(np.sqrt(np.mean((self.cells(theta) - self.truth) ** 2)))

    def true_theta(self) -> np.ndarray:
        """Coefficients of the truth (least squares: exact when the truth is representable)."""
        return np.linalg.lstsq(self.C, self.truth - self.c0, rcond=None)[0]

    def homogeneous(self, u: float) -> np.ndarray:
        """Coefficients of the homogeneous model ``c0 + u`` (least squares)."""
        return np.linalg.lstsq(self.C, np.full(self.C.shape[0], float(u)), rcond=None)[0]


def _compiled_once_model():
    """Return a ``pymc.Model`` compiling ``logp_dlogp_function`` once per arguments (band data)."""
    import pymc as pm

    class CompiledOnce(pm.Model):
        def logp_dlogp_function(self, *args, **kwargs):
            cache = self.__dict__.setdefault("_compiled_once", {})
            key = repr((args, sorted(kwargs.items())))
            if key not in cache:
                cache[key] = super().logp_dlogp_function(*args, **kwargs)
            return cache[key]

    return CompiledOnce()


def _band_matrix(level, nt) -> np.ndarray:
    """``W F`` of one trace as an ``(nt, nt)`` matrix (filter and whitening act per trace)."""
    n = level.bandpass.n_data
    mat = np.empty((nt, nt))
    for j in range(nt):
        e = np.zeros(n)
        e[j] = 1.0
        mat[:, j] = level.whitening.forward(level.bandpass.forward(e))[:nt]
    return mat


def _theta(n, start=None):
    import pymc as pm

    return pm.Normal("theta", 0.0, 1.0, shape=n, initval=None if start is None else start[:n])


def _field(field: LinearField, theta, n):
    import pytensor.tensor as pt

    return field.m0 + pt.dot(pt.constant(field.B[:, :n]), theta)


class SharedBands:
    """One PyMC model for every band of one survey, the band chosen by its data.

    The model observes ``W_k F_k`` applied trace by trace to the unfiltered traces, with the
    band matrix and the band data as ``pm.Data``: its density is compiled once
    (``continuation(..., nested=shared.model)``) and serves every Laplace level of every
    band and method, instead of one compilation per level. :meth:`builder` sets the band's
    data, then returns a prior-only stand-in with the band's ``sizes[k]`` coefficients for
    a Laplace level (evaluated through the shared density, zero-padded), the shared model
    itself for a NUTS level (its nutpie compilation is kept on it and reused with new data)
    and the band's own model for an SMC level.

    Parameters
    ----------
    op : ForwardOperator
        The wave operator (``n_sources * n_receivers`` traces of ``nt`` samples).
    levels : list of BandLevel
        From :func:`~bayesinv.inference.continuation.bands.band_levels`.
    field : LinearField
        The parameterisation.
    """

    def __init__(self, op, levels, field: LinearField):
        import pymc as pm
        import pytensor.tensor as pt

        from bayesinv.ops import ForwardOp

        self.levels, self.field = levels, field
        self.nr, self.nt = op.n_sources * op.n_receivers, op.nt
        self.matrices = [_band_matrix(lev, self.nt) for lev in levels]
        n = field.B.shape[1]
        with _compiled_once_model() as model:
            m = _field(field, _theta(n), n)
            traces = ForwardOp(op)(m).reshape((self.nr, self.nt))
            mat = pm.Data("band_matrix", self.matrices[0])
            obs = pm.Data("band_data", self._data(0))
            pm.Normal(NAME, pt.dot(traces, mat.T), levels[0].noise_sd, observed=obs)
        self.model = model

    def _data(self, band):
        return self.levels[band].data.reshape(self.nr, self.nt)

    def set_band(self, band: int) -> None:
        """Point the shared model at band ``band`` (its matrix and data)."""
        import pymc as pm

        pm.set_data({"band_matrix": self.matrices[band], "band_data": self._data(band)},
                    model=self.model)  # fmt: skip

    def own_builder(self, start=None):
        """``build(k)``: band ``k``'s own model (``sizes[k]`` coefficients) from ``start``."""
        from bayesinv.inference.continuation.bands import band_builder

        sizes = self.field.sizes

        def prior(level):
            return _field(self.field, _theta(sizes[level], start), sizes[level])

        return band_builder(self.levels, prior, name=NAME)

    def builder(self, start, kinds, bands):
        """``build(k)`` for a continuation whose level ``k`` runs ``kinds[k]`` on ``bands[k]``."""
        import pymc as pm

        own = self.own_builder(start)

        def build(k):
            self.set_band(bands[k])
            if kinds[k] == "nuts":
                return self.model
            if kinds[k] != "laplace":
                return own(bands[k])
            with pm.Model() as stand_in:  # the band's free variables, nested in the model
                _theta(self.field.sizes[bands[k]], start)
            return stand_in

        return build


def seed_runs(op, field: LinearField, bands, cfg, seed, sample, start_u, checkpoint=None):
    """All four methods on one seed's data and starting model (NUTS ones if ``sample``).

    ``start_u(rng)`` draws the homogeneous starting model's log-velocity offset from ``c0``;
    ``cfg`` holds ``noise_frac``, ``draws``, ``tune``, ``chains``, ``smc_draws``,
    ``smc_chains`` and optionally ``hessian`` (options of the Laplace levels' Hessian),
    ``map_ftol`` (their L-BFGS-B ``ftol``), ``nuts_adaptation`` (``bayesinv.sample``'s
    ``adaptation``) and ``single_band_draws``, ``single_band_tune`` (the single-band NUTS's
    own lengths; unset: ``draws``, ``tune``).
    With ``checkpoint`` (a folder), each finished level of the three continuations is kept
    in its subfolder ``single``, ``continuation`` or ``smc``
    (``continuation(..., checkpoint=...)``) and read back by a later call.
    """
    from bayesinv._seeds import as_generator, child_seeds
    from bayesinv.inference.continuation import continuation
    from bayesinv.inference.continuation.bands import band_levels

    data_seed, *run_seeds = child_seeds(seed, 4, "cycle-skipping seed")
    rng = as_generator(data_seed, "cycle-skipping study")
    clean = op.forward(field.m0 + field.B @ field.true_theta())
    sd = cfg["noise_frac"] * float(np.abs(clean).max())
    observed = clean + rng.normal(0.0, sd, clean.size)
    u = float(start_u(rng))
    start = field.homogeneous(u)
    levels = band_levels(op, observed, sd, bands, n_traces=op.n_sources * op.n_receivers,
                         nt=op.nt, dt=op.dt)  # fmt: skip
    nb = len(levels)
    shared = SharedBands(op, levels, field)
    nuts = {"draws": cfg["draws"], "tune": cfg["tune"], "chains": cfg["chains"]}
    if cfg.get("nuts_adaptation") is not None:
        nuts["adaptation"] = cfg["nuts_adaptation"]
    smc = {"draws": cfg["smc_draws"], "chains": cfg["smc_chains"], "progressbar": False}
    laplace = {"hessian": dict(cfg.get("hessian") or {})}
    if cfg.get("map_ftol") is not None:
        laplace["optimizer"] = {"ftol": cfg["map_ftol"]}
    nuts_single = nuts | {
        key: cfg[f"single_band_{key}"]
        for key in ("draws", "tune")
        if cfg.get(f"single_band_{key}") is not None
    }
    last = ["nuts"] if sample else []
    runs = []  # (kinds, bands, options) of single band, continuation, continuation + SMC
    runs.append((["laplace", *last], [nb - 1] * (1 + sample), {"nuts": nuts_single}))
    runs.append((["laplace"] * nb + last, [*range(nb), nb - 1][: nb + sample], {"nuts": nuts}))
    runs.append((["smc"] + ["laplace"] * nb, [0, *range(nb)], {"smc": smc}))
    folders = [None if checkpoint is None else Path(checkpoint) / name
               for name in ("single", "continuation", "smc")]  # fmt: skip
    single, cont, with_smc = (
        continuation(
            shared.builder(start, kinds, bands),
            len(kinds),
            random_seed=seed_k,
            method=kinds,
            options=options | {"laplace": laplace},
            nested=shared.model,
            checkpoint=folder,
        )
        for (kinds, bands, options), seed_k, folder in zip(runs, run_seeds, folders, strict=True)
    )
    return {
        "u": u,
        "sd": sd,
        "levels": levels,
        "observed": observed,
        "model": shared.own_builder()(nb - 1),  # the full band's, for the report
        "runs": {
            METHODS[0]: (single.levels[:1], None),
            METHODS[2]: (cont.levels, cont.final.result if sample else None),
            METHODS[3]: (with_smc.levels, None),
        }
        | ({METHODS[1]: (single.levels, single.final.result)} if sample else {}),
    }


def _nuts_summary(tree, field: LinearField):
    """Posterior mean theta, 90% coverage of the true cells, R-hat, bulk ESS."""
    import arviz as az

    x = np.asarray(tree["posterior"]["theta"].values)  # (chain, draw, coefficient)
    cells = field.cells(x.reshape(-1, x.shape[-1]))
    lo, hi = np.quantile(cells, [0.05, 0.95], axis=0)
    cover = float(np.mean((field.truth >= lo) & (field.truth <= hi)))
    rhat = float(np.max(np.asarray(az.rhat(x)))) if x.shape[0] > 1 else np.nan
    ess = float(np.min(np.asarray(az.ess(x, method="bulk"))))
    return x.mean(axis=(0, 1)), cover, rhat, ess


def rows(seed_index, out, field: LinearField, threshold):
    """One row per method of one seed (:func:`seed_runs`' ``out``)."""
    table = []
    for method, (levels, tree) in out["runs"].items():
        row = {"seed": seed_index, "start": round(out["u"], 3), "method": method}
        seconds = sum(r.seconds for r in levels)
        if tree is None:
            theta, cover, rhat, ess = levels[-1].point["theta"], np.nan, np.nan, np.nan
        else:
            theta, cover, rhat, ess = _nuts_summary(tree, field)
        err = field.error(theta)
        table.append(row | {"error": err, "in_basin": bool(err < threshold),
                            "coverage_90": cover, "max_rhat": rhat, "min_ess_bulk": ess,
                            "seconds": seconds})  # fmt: skip
    return table


def summary(all_rows):
    """Return the results table: one row per method over all seeds."""
    table = []
    for method in METHODS:
        mine = [r for r in all_rows if r["method"] == method]
        ok = [r for r in mine if r["in_basin"]]
        sampled = [r for r in ok if np.isfinite(r["coverage_90"])]
        row = {
            "method": method,
            "true_basin": f"{len(ok)}/{len(mine)}",
            "median_error": round(float(np.median([r["error"] for r in mine])), 4) if mine else "—",
            "coverage_90": "—",
            "max_rhat": "—",
            "min_ess_bulk": "—",
            "mean_seconds": round(float(np.mean([r["seconds"] for r in mine])), 1) if mine else "—",
        }
        if sampled:
            row["coverage_90"] = round(float(np.mean([r["coverage_90"] for r in sampled])), 3)
            row["max_rhat"] = round(float(np.nanmax([r["max_rhat"] for r in sampled])), 4)
            row["min_ess_bulk"] = round(float(np.min([r["min_ess_bulk"] for r in sampled])), 1)
        table.append(row)
    return table


def verdict(table, n: int, rhat_max=None, ess_min=None, coverage=(0.80, 0.98)) -> str | None:
    """Return the issue's verdict on the results table of ``n`` seeds.

    Parameters
    ----------
    table : list of dict
        :func:`summary`'s rows.
    n : int
        Seeds in the study; below 10 there is no verdict (``None``: the quick smoke test).
    rhat_max, ess_min : float, optional
        Convergence goals of the continuation's NUTS (max R-hat below ``rhat_max``, min bulk
        ESS at least ``ess_min``); judged only if given and the continuation was sampled.
    coverage : tuple of float
        Goal interval of the continuation posterior's 90% coverage of the true cells
        (averaged over the sampled seeds in the true basin), judged where it was sampled.

    Returns
    -------
    str or None
        ``"PASS: ..."`` or ``"FAIL: ..."`` naming every criterion and its value.

    Notes
    -----
    PASS needs: the full-band MAP in the true basin on at most ``n / 2`` seeds, the
    continuation on at least ``0.9 n``, and, if the continuation's NUTS ran on seeds in the
    basin, ``coverage[0] <= c <= coverage[1]`` for its mean 90% coverage ``c``,
    ``max R-hat < rhat_max`` and ``min ESS >= ess_min``.
    """
    if n < 10:  # the criterion needs at least 10 seeds (not the quick smoke test)
        return None
    by = {r["method"]: r for r in table}
    single_ok = int(by[METHODS[0]]["true_basin"].split("/")[0])
    cont = by[METHODS[2]]
    cont_ok = int(cont["true_basin"].split("/")[0])
    passed = single_ok <= n / 2 and cont_ok >= 0.9 * n
    parts = [
        f"full-band MAP {single_ok}/{n} (goal <= half)",
        f"continuation {cont_ok}/{n} (goal >= 9 in 10)",
    ]
    if cont["coverage_90"] != "—":
        c = cont["coverage_90"]
        passed &= coverage[0] <= c <= coverage[1]
        parts.append(f"its 90% coverage {c:.3g} (goal {coverage[0]:g}-{coverage[1]:g})")
        if rhat_max is not None:
            passed &= cont["max_rhat"] < rhat_max
            parts.append(f"its NUTS max R-hat {cont['max_rhat']:.4g} (goal < {rhat_max:g})")
        if ess_min is not None:
            passed &= cont["min_ess_bulk"] >= ess_min
            parts.append(f"min bulk ESS {cont['min_ess_bulk']:.4g} (goal >= {ess_min:g})")
    return ("PASS" if passed else "FAIL") + ": " + ", ".join(parts)
