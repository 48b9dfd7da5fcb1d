"""Coarse-to-fine continuation: solve a coarse model, start the next finer one from it.

``build(level)`` returns the model at a resolution level (``0`` = coarsest); each level is
solved by MAP (``pm.find_MAP``), a Laplace approximation (MAP plus the low-rank Hessian)
or NUTS, and its result is mapped to the next level by a *transfer*: zero-padding wavelet
coefficients (:func:`zero_pad_transfer`, the default) or prolonging coarse-grid fields
(:func:`prolong_transfer`). Laplace and NUTS levels also hand a *mass-matrix guess* to the
next level: a :class:`~bayesinv.inference.preconditioning.Preconditioner` (the level's
posterior mean and covariance in its leading directions, zero-padded), with which the next
level's optimiser and NUTS run in standardised coordinates. Each level's result and
diagnostics are kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pymc as pm

from bayesinv.inference.preconditioning import (
    Preconditioner,
    hessian_preconditioner,
    nested_indices,
    precondition,
    unconstrained_layout,
)
from bayesinv.multiscale.hierarchy import GridHierarchy

__all__ = [
    "ContinuationResult",
    "LevelResult",
    "continuation",
    "prolong_transfer",
    "zero_pad_transfer",
]

#: ``transfer(level, point, fine_model) -> initial values`` for level ``level + 1``
Transfer = Callable[[int, dict, pm.Model], dict]


@dataclass(frozen=True)
class LevelResult:
    r"""Outcome of one level of a continuation.

    Attributes
    ----------
    level : int
        Resolution level (``0`` = coarsest).
    n_free : int
        Number of free (unobserved) scalar parameters of the level's model.
    point : dict
        The level's estimate of every free random variable (constrained space, keyed by
        variable name): the MAP (``"map"``, ``"laplace"``), or the posterior mean
        (``"nuts"``).
    initial_point : dict
        The initial values it started from (transferred from the previous level; empty
        for level 0).
    logp : float
        Log density of the level's model at ``point``.
    seconds : float
        Wall time of the level (compilation included).
    diagnostics : dict
        ``method``; MAP and Laplace: ``success``, ``n_iterations``, ``message``,
        ``grad_norm``; Laplace also ``rank``, ``n_gradients``, ``min_eig``, ``max_eig`` (of
        the Hessian of :math:`-\log p`); NUTS: ``max_rhat``, ``min_ess_bulk``,
        ``n_divergent``, ``n_steps`` (leapfrog steps, warm-up included); Laplace and NUTS:
        ``preconditioned`` (whether a guess from the level before was used).
    result : object
        ``"map"``: what ``pm.find_MAP(return_inferencedata=True)`` returned;
        ``"laplace"``: the :class:`scipy.optimize.OptimizeResult`; ``"nuts"``: the
        sampler's DataTree (draws of the original variables, plus ``preconditioned_z``
        when a guess was used).
    method : str
        ``"map"``, ``"laplace"`` or ``"nuts"``.
    preconditioner : Preconditioner or None
        Laplace and NUTS levels: the level's mass-matrix guess for the next level.
    """

    level: int
    n_free: int
    point: dict
    initial_point: dict
    logp: float
    seconds: float
    diagnostics: dict
    result: object = field(repr=False)
    method: str = "map"
    preconditioner: Preconditioner | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ContinuationResult:
    """All levels of a continuation, coarsest first.

    Attributes
    ----------
    levels : list of LevelResult
    """

    levels: list[LevelResult]

    @property
    def final(self) -> LevelResult:
        """The finest level's result."""
        return self.levels[-1]

    def table(self) -> list[dict]:
        """Return one row per level (level, size, log density, time and diagnostics).

        Returns
        -------
        list of dict
            Ready for ``pandas.DataFrame`` or a markdown table.
        """
        return [
            {"level": r.level, "n_free": r.n_free, "logp": r.logp, "seconds": r.seconds}
            | r.diagnostics
            for r in self.levels
        ]


def _free_shapes(model: pm.Model) -> dict[str, tuple[int, ...]]:
    shapes = model.eval_rv_shapes()
    return {rv.name: tuple(int(s) for s in shapes[rv.name]) for rv in model.free_RVs}


def zero_pad_transfer(level: int, point: dict, fine_model: pm.Model) -> dict:
    """Carry a coarse level's estimate to the next level, zero-padding longer vectors.

    Variables of the same name and shape are copied (e.g. hyperparameters); a 1-D variable
    that is longer in the fine model gets the coarse values first and zeros after. This is
    the transfer for wavelet coefficients ordered coarsest first (:func:`~bayesinv.model.priors.
    besov_prior` with ``max_level=level``): the finer levels start at zero.

    Parameters
    ----------
    level : int
        The coarse level the point comes from.
    point : dict
        Its estimate of the free variables (constrained, by name).
    fine_model : pymc.Model
        The model of level ``level + 1``.

    Returns
    -------
    dict
        Initial values for the fine model's free variables that the point covers.
    """
    out = {}
    for name, shape in _free_shapes(fine_model).items():
        if name not in point:
            continue
        value = np.asarray(point[name], dtype=np.float64)
        if value.shape == shape:
            out[name] = value.copy()
        elif value.ndim == 1 and len(shape) == 1 and value.size < shape[0]:
            padded = np.zeros(shape)
            padded[: value.size] = value
            out[name] = padded
        else:
            raise ValueError(
                f"zero_pad_transfer: variable {name!r} has shape {value.shape} at level {level} "
                f"and {shape} at level {level + 1}; only equal shapes or longer 1-D vectors "
                "can be carried over"
            )
    return out


def prolong_transfer(hierarchies: Mapping[str, GridHierarchy], kind: str = "constant") -> Transfer:
    """Make a transfer that prolongs coarse-grid field variables to the next grid.

    Parameters
    ----------
    hierarchies : mapping of str to GridHierarchy
        For each free variable that is a field on ``hierarchy[level]`` at level ``level``,
        its grid hierarchy (the model's levels are the hierarchy's levels).
    kind : {"constant", "bilinear"}
        Interpolation (see :class:`~bayesinv.multiscale.Prolongation`).

    Returns
    -------
    callable
        ``transfer(level, point, fine_model)``: the named fields are prolonged from grid
        ``level`` to grid ``level + 1``; other variables as in :func:`zero_pad_transfer`.
    """
    hierarchies = dict(hierarchies)

    def transfer(level: int, point: dict, fine_model: pm.Model) -> dict:
        rest = {k: v for k, v in point.items() if k not in hierarchies}
        out = zero_pad_transfer(level, rest, fine_model)
        for name, hierarchy in hierarchies.items():
            if name not in point:
                raise ValueError(f"prolong_transfer: variable {name!r} is not in the point")
            P = hierarchy.prolongation(level, level + 1, kind=kind)
            out[name] = P.forward(np.ravel(point[name]))
        return out

    return transfer


def _seeds(random_seed, n: int) -> list[int]:
    if isinstance(random_seed, bool) or not isinstance(
        random_seed, int | np.integer | np.random.Generator
    ):
        raise ValueError(
            "continuation: random_seed must be an int or a numpy.random.Generator, "
            f"got {random_seed!r}"
        )
    rng = (
        random_seed
        if isinstance(random_seed, np.random.Generator)
        else np.random.default_rng(int(random_seed))
    )
    return [int(s) for s in rng.integers(0, 2**31 - 1, size=n)]


def _solve_map(model, init, seed, map_kwargs):
    kwargs = {"jitter": False, "progressbar": False} | dict(map_kwargs or {})
    dt = pm.find_MAP(
        initvals=init or None, model=model, random_seed=seed, return_inferencedata=True, **kwargs
    )
    post = dt["posterior"]
    point = {rv.name: np.asarray(post[rv.name].values[0, 0]) for rv in model.free_RVs}
    res = dt["optimizer_result"]
    diagnostics = {
        "success": bool(res["success"].values),
        "n_iterations": int(res["nit"].values) if "nit" in res else -1,
        "message": str(res["message"].values) if "message" in res else "",
        "grad_norm": float(np.linalg.norm(res["jac"].values)) if "jac" in res else np.nan,
    }
    return point, diagnostics, dt, None


class _FlatModel:
    """A model's log density and gradient on flat unconstrained coordinates (numba).

    With ``finest`` (a ``_FlatModel`` of the finest level whose layout nests this one's),
    the density is the finest model's at the zero-padded vector, so nothing is compiled
    for this level's log density.
    """

    def __init__(self, model: pm.Model, finest: _FlatModel | None = None):
        self.model = model
        self.layout = unconstrained_layout(model)
        self._finest = finest
        self._fn = None
        if finest is not None:
            src, dst = nested_indices(self.layout, finest.layout, "continuation (nested)")
            if src.size != sum(int(np.prod(s, dtype=np.int64)) for _, s in self.layout):
                raise ValueError(
                    "continuation (nested): every variable of a coarse level must be in the "
                    f"finest model; level variables {[k for k, _ in self.layout]}, finest "
                    f"{[k for k, _ in finest.layout]}"
                )
            self._src, self._dst = src, dst
            self._n_fine = sum(int(np.prod(s, dtype=np.int64)) for _, s in finest.layout)

    def logp_dlogp(self, x):
        """Return the log density and its gradient at flat ``x``."""
        if self._finest is not None:
            full = np.zeros(self._n_fine)
            full[self._dst] = np.asarray(x)[self._src]
            logp, grad = self._finest.logp_dlogp(full)
            out = np.empty(self._src.size)
            out[self._src] = np.asarray(grad)[self._dst]
            return logp, out
        if self._fn is None:
            self._fn = self.model.logp_dlogp_function(ravel_inputs=True, mode="NUMBA")
            self._fn.set_extra_values({})
        return self._fn(np.asarray(x, dtype=np.float64))

    def flatten(self, values: dict) -> np.ndarray:
        """Flat vector of a dict of unconstrained values keyed by value-variable name."""
        return np.concatenate([np.ravel(values[name]) for name, _ in self.layout])

    def initial(self, point: dict) -> np.ndarray:
        """Flat unconstrained vector of constrained values (missing ones from the model)."""
        return self.flatten(_value_point(self.model, point))

    def constrained(self, x: np.ndarray) -> dict:
        """Constrained values of the free variables, by name, at flat ``x``."""
        import pytensor

        parts, offset = [], 0
        for _, shape in self.layout:
            size = int(np.prod(shape, dtype=np.int64))
            parts.append(np.asarray(x[offset : offset + size]).reshape(shape))
            offset += size
        fn = pytensor.function(
            self.model.value_vars,
            self.model.replace_rvs_by_values(self.model.free_RVs),
            on_unused_input="ignore",
        )
        values = fn(*parts)
        return {rv.name: np.asarray(v) for rv, v in zip(self.model.free_RVs, values, strict=True)}


def _carry(previous: Preconditioner | None, flat: _FlatModel, x0: np.ndarray):
    """Carry the previous level's guess to this level's layout, centred at ``x0``."""
    if previous is not None:
        try:
            carried = previous.transfer(flat.layout, mean=x0)
            layout = flat.layout
            return Preconditioner(x0, carried.scale, carried.basis, carried.factors, layout), True
        except ValueError:
            pass  # layouts that are not nested (e.g. prolonged grids): start from the identity
    return Preconditioner.identity(x0, flat.layout), False


def _solve_laplace(flat, init, seed, previous, map_kwargs, laplace_kwargs):
    from scipy.optimize import minimize

    x0 = flat.initial(init)
    guess, carried = _carry(previous, flat, x0)

    def objective(z):
        logp, grad = flat.logp_dlogp(x0 + guess.factor_times(z))
        if not np.isfinite(logp):
            return np.inf, np.zeros_like(z)
        return -float(logp), -guess.factor_transpose_times(grad)

    options = {"maxiter": 5000, "gtol": 1e-9, "ftol": 1e-14} | dict(map_kwargs or {})
    res = minimize(objective, np.zeros(x0.size), jac=True, method="L-BFGS-B", options=options)
    x_map = x0 + guess.factor_times(res.x)
    kwargs = {"random_seed": seed} | dict(laplace_kwargs or {})
    if carried and guess.rank and "start_basis" not in kwargs:
        kwargs["start_basis"] = guess.basis
    pre, info = hessian_preconditioner(flat.logp_dlogp, x_map, flat.layout, **kwargs)
    # Newton polish with the Laplace covariance (exact in one step for Gaussian posteriors)
    logp, grad = flat.logp_dlogp(x_map)
    for _ in range(2):
        trial = x_map + pre.factor_times(pre.factor_transpose_times(grad))
        logp_trial, grad_trial = flat.logp_dlogp(trial)
        if not np.isfinite(logp_trial) or logp_trial <= logp:
            break
        x_map, logp, grad = trial, logp_trial, grad_trial
    pre = Preconditioner(x_map, pre.scale, pre.basis, pre.factors, pre.layout)
    diagnostics = {
        "success": bool(res.success),
        "n_iterations": int(res.nit),
        "message": str(res.message),
        "grad_norm": float(np.linalg.norm(grad)),
        "preconditioned": carried,
    } | info
    return flat.constrained(x_map), diagnostics, res, pre


def _solve_nuts(flat, init, seed, previous, sample_kwargs):
    import arviz as az

    from bayesinv.inference.preconditioning import Z_NAME
    from bayesinv.inference.sampling import sample

    model = flat.model
    x0 = flat.initial(init)
    guess, carried = _carry(previous, flat, x0)
    kwargs = {"draws": 200, "tune": 200, "chains": 2} | dict(sample_kwargs or {})
    dt = sample(precondition(model, guess), random_seed=seed, progressbar=False, **kwargs)
    post = dt["posterior"]
    point = {
        rv.name: np.asarray(post[rv.name].mean(("chain", "draw")).values) for rv in model.free_RVs
    }
    rhat, ess = [], []
    for rv in model.free_RVs:
        arr = np.asarray(post[rv.name].values)
        arr = arr.reshape(arr.shape[0], arr.shape[1], -1)
        if arr.shape[0] > 1:
            rhat.append(np.max(np.asarray(az.rhat(arr))))
        ess.append(np.min(np.asarray(az.ess(arr, method="bulk"))))
    stats = dt["sample_stats"]
    steps = float(np.asarray(stats["n_steps"].values).sum()) if "n_steps" in stats else np.nan
    if "warmup_sample_stats" in dt.children and "n_steps" in dt["warmup_sample_stats"]:
        steps += float(np.asarray(dt["warmup_sample_stats"]["n_steps"].values).sum())
    diagnostics = {
        "max_rhat": float(np.max(rhat)) if rhat else np.nan,
        "min_ess_bulk": float(np.min(ess)),
        "n_divergent": int(np.asarray(stats["diverging"].values).sum()),
        "n_steps": steps,
        "preconditioned": carried,
    }
    z = np.asarray(post[Z_NAME].values).reshape(-1, guess.n)
    pre = Preconditioner.from_draws(guess.apply(z), flat.layout)
    return point, diagnostics, dt, pre


_METHODS = ("map", "laplace", "nuts")


def continuation(
    build: Callable[[int], pm.Model],
    n_levels: int,
    *,
    random_seed,
    method="map",
    transfer: Transfer | None = None,
    map_kwargs: dict | None = None,
    sample_kwargs: dict | None = None,
    laplace_kwargs: dict | None = None,
    nested: bool | pm.Model = False,
) -> ContinuationResult:
    r"""Solve a sequence of models from coarse to fine, each started from the previous one.

    Parameters
    ----------
    build : callable
        ``build(level) -> pm.Model`` for ``level = 0 .. n_levels - 1`` (coarsest first).
    n_levels : int
        Number of levels.
    random_seed : int or numpy.random.Generator
        Required; one seed per level is drawn from it.
    method : {"map", "laplace", "nuts"} or sequence of them
        One method for every level, or one per level (e.g. ``["laplace"] * 4 + ["nuts"]``:
        Laplace approximations up to the last level, sampled with NUTS):

        - ``"map"``: :func:`pymc.find_MAP` (L-BFGS-B by default, no jitter);
        - ``"laplace"``: the MAP by L-BFGS-B in the coordinates of the previous level's
          mass-matrix guess, then the Hessian there
          (:func:`~bayesinv.inference.preconditioning.hessian_preconditioner`, its
          eigensolver started from the previous level's directions) as this level's guess;
        - ``"nuts"``: NUTS (:func:`bayesinv.sample`; 2 chains of 200 + 200 draws by
          default) on the model rewritten in the coordinates of the previous level's guess
          (:func:`~bayesinv.inference.preconditioning.precondition`); the posterior mean
          is carried on, and the draws' mean and covariance are the next guess.
    transfer : callable, optional
        ``transfer(level, point, fine_model) -> initial values`` of level ``level + 1``;
        default :func:`zero_pad_transfer`.
    map_kwargs : dict, optional
        Extra arguments for :func:`pymc.find_MAP` (``"map"``) or the L-BFGS-B ``options``
        of :func:`scipy.optimize.minimize` (``"laplace"``).
    sample_kwargs : dict, optional
        Extra arguments for :func:`bayesinv.sample`.
    laplace_kwargs : dict, optional
        Extra arguments for :func:`~bayesinv.inference.preconditioning.
        hessian_preconditioner`.
    nested : bool or pymc.Model
        ``True`` declares that each level's model is the finest level's model with the
        coordinates the level lacks held at zero (unconstrained), as with
        ``besov_prior(..., max_level=ℓ)``; a model declares the same of that model (e.g.
        the full model a sampler will run on after coarse levels only). Laplace and NUTS
        levels then evaluate that model's compiled density on zero-padded vectors, so one
        model is compiled for all of them instead of one per level; their ``logp`` is that
        model's. A level whose variables do not nest in it raises ``ValueError``.

    Returns
    -------
    ContinuationResult
        Per-level points, log densities, timings and diagnostics; ``.final`` is the finest.

    Notes
    -----
    With wavelet priors restricted to levels ``0..ℓ`` (``besov_prior(..., max_level=ℓ)``)
    on the fine grid, the coefficients of level ``ℓ`` are a prefix of those of level
    ``ℓ + 1``, so zero-padding starts the finer model exactly at the coarse estimate. The
    same holds for Haar coefficients on grids refined along with the levels, since the
    normalised coefficients of a given physical wavelet do not change under refinement.

    The mass-matrix guess is carried over when the variables of the two levels nest in
    this way (same names; equal shapes or longer vectors), with unit scale for the new
    coordinates; otherwise (``prolong_transfer`` between grids of different size) each
    level starts from the identity. For the linear-Gaussian problems of wavelet inversion
    the guess is nearly exact: the data inform mostly the coarse coefficients, whose
    posterior covariance a coarser level already has, while the new, finer coefficients
    stay close to their unit prior (see case study 04).
    """
    if isinstance(n_levels, bool) or not isinstance(n_levels, int | np.integer) or n_levels < 1:
        raise ValueError(f"continuation: n_levels must be an integer >= 1, got {n_levels!r}")
    methods = [method] * int(n_levels) if isinstance(method, str) else list(method)
    if len(methods) != int(n_levels) or any(m not in _METHODS for m in methods):
        raise ValueError(
            f"continuation: method must be one of {_METHODS} or a sequence of them with one "
            f"entry per level ({n_levels}), got {method!r}"
        )
    transfer = zero_pad_transfer if transfer is None else transfer
    seeds = _seeds(random_seed, int(n_levels))
    results: list[LevelResult] = []
    point: dict = {}
    guess: Preconditioner | None = None
    finest: _FlatModel | None = None
    for level in range(int(n_levels)):
        t0 = time.perf_counter()
        model = build(level)
        if not isinstance(model, pm.Model):
            raise ValueError(
                f"continuation: build({level}) must return a pymc.Model, got {type(model)}"
            )
        init = transfer(level - 1, point, model) if level else {}
        kind = methods[level]
        if kind == "map":
            point, diagnostics, dt, guess = _solve_map(model, init, seeds[level], map_kwargs)
            logp = float(model.compile_logp()(_value_point(model, point)))
        else:
            if finest is None and isinstance(nested, pm.Model):
                finest = _FlatModel(nested)
            elif finest is None and nested:
                finest = _FlatModel(model if level == n_levels - 1 else build(n_levels - 1))
            own = finest is None or (finest.model is model)
            flat = _FlatModel(model, None if own else finest)
            solve = _solve_laplace if kind == "laplace" else _solve_nuts
            extra = (map_kwargs, laplace_kwargs) if kind == "laplace" else (sample_kwargs,)
            point, diagnostics, dt, guess = solve(flat, init, seeds[level], guess, *extra)
            logp = float(flat.logp_dlogp(flat.initial(point))[0])
        n_free = int(sum(np.prod(s) for s in _free_shapes(model).values()))
        results.append(
            LevelResult(
                level,
                n_free,
                point,
                init,
                logp,
                time.perf_counter() - t0,
                {"method": kind} | diagnostics,
                dt,
                kind,
                guess,
            )
        )
    return ContinuationResult(results)


def _value_point(model: pm.Model, point: dict) -> dict:
    """Map constrained values by variable name to the model's value-variable point."""
    from pymc.initial_point import make_initial_point_fn

    fn = make_initial_point_fn(
        model=model, overrides=dict(point), jitter_rvs=set(), return_transformed=True
    )
    return fn(0)
