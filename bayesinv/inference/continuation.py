"""Coarse-to-fine continuation: solve a coarse model, start the next finer one from it.

``build(level)`` returns the model at a resolution level (``0`` = coarsest); each level is
solved by MAP (``pm.find_MAP``) or a short NUTS run, and its result is mapped to the next
level's initial point by a *transfer*: zero-padding wavelet coefficients
(:func:`zero_pad_transfer`, the default) or prolonging coarse-grid fields
(:func:`prolong_transfer`). Each level's result and diagnostics are kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pymc as pm

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
    """Outcome of one level of a continuation.

    Attributes
    ----------
    level : int
        Resolution level (``0`` = coarsest).
    n_free : int
        Number of free (unobserved) scalar parameters of the level's model.
    point : dict
        The level's estimate of every free random variable (constrained space, keyed by
        variable name): the MAP, or the posterior mean for NUTS.
    initial_point : dict
        The initial values it started from (transferred from the previous level; empty
        for level 0).
    logp : float
        Log density of the level's model at ``point``.
    seconds : float
        Wall time of the level (compilation included).
    diagnostics : dict
        MAP: ``success``, ``n_iterations``, ``message``, ``grad_norm``. NUTS: ``max_rhat``,
        ``min_ess_bulk``, ``n_divergent``.
    result : xarray.DataTree
        What ``pm.find_MAP(return_inferencedata=True)`` or the sampler returned.
    """

    level: int
    n_free: int
    point: dict
    initial_point: dict
    logp: float
    seconds: float
    diagnostics: dict
    result: object = field(repr=False)


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
    the transfer for wavelet coefficients ordered coarsest first (:func:`~bayesinv.priors.
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
    return point, diagnostics, dt


def _solve_nuts(model, init, seed, sample_kwargs):
    import arviz as az

    from bayesinv.inference.sampling import sample

    kwargs = {"draws": 200, "tune": 200, "chains": 2, "sampler": "pymc"} | dict(sample_kwargs or {})
    if init:
        kwargs["initvals"] = init
    dt = sample(model, random_seed=seed, progressbar=False, **kwargs)
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
    diagnostics = {
        "max_rhat": float(np.max(rhat)) if rhat else np.nan,
        "min_ess_bulk": float(np.min(ess)),
        "n_divergent": int(np.asarray(dt["sample_stats"]["diverging"].values).sum()),
    }
    return point, diagnostics, dt


def continuation(
    build: Callable[[int], pm.Model],
    n_levels: int,
    *,
    random_seed,
    method: str = "map",
    transfer: Transfer | None = None,
    map_kwargs: dict | None = None,
    sample_kwargs: dict | None = None,
) -> ContinuationResult:
    """Solve a sequence of models from coarse to fine, each started from the previous one.

    Parameters
    ----------
    build : callable
        ``build(level) -> pm.Model`` for ``level = 0 .. n_levels - 1`` (coarsest first).
    n_levels : int
        Number of levels.
    random_seed : int or numpy.random.Generator
        Required; one seed per level is drawn from it.
    method : {"map", "nuts"}
        ``"map"``: :func:`pymc.find_MAP` (L-BFGS-B by default, no jitter); ``"nuts"``: a
        short NUTS run (:func:`bayesinv.sample`, PyMC's sampler, 2 chains of 200 + 200
        draws by default) whose posterior mean is carried to the next level.
    transfer : callable, optional
        ``transfer(level, point, fine_model) -> initial values`` of level ``level + 1``;
        default :func:`zero_pad_transfer`.
    map_kwargs, sample_kwargs : dict, optional
        Extra arguments for :func:`pymc.find_MAP` or :func:`bayesinv.sample`.

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
    """
    if method not in ("map", "nuts"):
        raise ValueError(f"continuation: method must be 'map' or 'nuts', got {method!r}")
    if isinstance(n_levels, bool) or not isinstance(n_levels, int | np.integer) or n_levels < 1:
        raise ValueError(f"continuation: n_levels must be an integer >= 1, got {n_levels!r}")
    transfer = zero_pad_transfer if transfer is None else transfer
    seeds = _seeds(random_seed, int(n_levels))
    results: list[LevelResult] = []
    point: dict = {}
    for level in range(int(n_levels)):
        t0 = time.perf_counter()
        model = build(level)
        if not isinstance(model, pm.Model):
            raise ValueError(
                f"continuation: build({level}) must return a pymc.Model, got {type(model)}"
            )
        init = transfer(level - 1, point, model) if level else {}
        if method == "map":
            point, diagnostics, dt = _solve_map(model, init, seeds[level], map_kwargs)
        else:
            point, diagnostics, dt = _solve_nuts(model, init, seeds[level], sample_kwargs)
        logp = float(model.compile_logp()(_value_point(model, point)))
        n_free = int(sum(np.prod(s) for s in _free_shapes(model).values()))
        results.append(
            LevelResult(level, n_free, point, init, logp, time.perf_counter() - t0, diagnostics, dt)
        )
    return ContinuationResult(results)


def _value_point(model: pm.Model, point: dict) -> dict:
    """Map constrained values by variable name to the model's value-variable point."""
    from pymc.initial_point import make_initial_point_fn

    fn = make_initial_point_fn(
        model=model, overrides=dict(point), jitter_rvs=set(), return_transformed=True
    )
    return fn(0)
