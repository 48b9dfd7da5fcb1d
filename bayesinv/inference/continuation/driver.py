"""Coarse-to-fine continuation: solve a coarse model, start the next finer one from it.

``build(level)`` returns the model at a resolution level (``0`` = coarsest); each level is
solved by a registered level solver (:mod:`bayesinv.inference.continuation.registry`:
``"map"``, ``"laplace"``, ``"nuts"`` or one of the user's), and its result is mapped to the
next level by a *transfer* (:mod:`bayesinv.inference.continuation.transfer`). Laplace and
NUTS levels also hand a *mass-matrix guess* to the next level: a
:class:`~bayesinv.inference.preconditioning.Preconditioner` (the level's posterior mean and
covariance in its leading directions, zero-padded), with which the next level's optimiser
and NUTS run in standardised coordinates. Each level's result and diagnostics are kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pymc as pm

from bayesinv import _checks, _progress, _seeds
from bayesinv.inference._model_space import FlatDensity, free_shapes
from bayesinv.inference._threads import blas_limit
from bayesinv.inference.continuation.checkpoint import (
    level_tag,
    load_level,
    model_signature,
    save_level,
)
from bayesinv.inference.continuation.registry import LEVEL_SOLVERS, Level
from bayesinv.inference.continuation.transfer import Transfer, zero_pad_transfer
from bayesinv.inference.preconditioning import Preconditioner

__all__ = ["ContinuationResult", "LevelResult", "continuation"]


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
    options: Mapping[str, dict] | None = None,
    checkpoint=None,
    blas_threads: int | None = 1,
) -> ContinuationResult:
    r"""Solve a sequence of models from coarse to fine, each started from the previous one.

    Parameters
    ----------
    build : callable
        ``build(level) -> pm.Model`` for ``level = 0 .. n_levels - 1`` (coarsest first).
    n_levels : int
        Number of levels.
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Required; level ``k`` gets child ``k`` of its seed sequence
        (:func:`bayesinv._seeds.child_seeds`).
    method : str or sequence of str
        A registered level solver (:data:`~bayesinv.inference.continuation.registry.
        LEVEL_SOLVERS`) for every level, or one per level (e.g. ``["laplace"] * 4 +
        ["nuts"]``: Laplace approximations up to the last level, sampled with NUTS). Built
        in (one module each in this package):

        - ``"map"``: :func:`pymc.find_MAP` (L-BFGS-B by default, no jitter);
        - ``"laplace"``: the MAP by L-BFGS-B in the coordinates of the previous level's
          mass-matrix guess, then the Hessian there
          (:func:`~bayesinv.inference.preconditioning.hessian_preconditioner`, its
          eigensolver started from the previous level's directions) as this level's guess;
        - ``"nuts"``: NUTS (:func:`bayesinv.sample`; 2 chains of 200 + 200 draws by
          default) on the model rewritten in the coordinates of the previous level's guess
          (:func:`~bayesinv.inference.preconditioning.precondition`); the posterior mean
          is carried on, and the draws' mean and covariance are the next guess;
        - ``"smc"``: Sequential Monte Carlo (:func:`~bayesinv.inference.smc.sample_smc`)
          from the prior, for a first level with several modes; carries its particle of
          highest posterior density (or, with ``options={"smc": {"carry": "mean"}}``, the
          posterior mean and the particles' covariance as the next guess).
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
    options : mapping of str to dict, optional
        Options by method name, handed to the level solver as ``level.options`` (merged
        over those given by ``map_kwargs``, ``sample_kwargs`` and ``laplace_kwargs``; a
        ``"laplace"`` level reads ``"optimizer"`` and ``"hessian"``).
    checkpoint : str or Path, optional
        Folder in which each finished level is kept at once
        (:mod:`~bayesinv.inference.continuation.checkpoint`); a later call with the same
        folder and the same methods, seeds, options and models reads the finished levels
        back instead of solving them again (an interrupted continuation resumes at the
        first unfinished level, with the same result as an uninterrupted one). The files
        are pickles: read only folders you wrote.
    blas_threads : int or None
        Threads each BLAS call may use while a level is solved (default 1:
        :mod:`bayesinv.inference._threads`); ``None`` leaves BLAS as it is. NUTS and SMC
        levels apply their own limit inside (``blas_threads`` of :func:`bayesinv.sample`
        and :func:`~bayesinv.inference.smc.sample_smc`, 1 by default).

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
    n_levels = _checks.check_int(n_levels, "continuation", "n_levels", low=1)
    methods = [method] * n_levels if isinstance(method, str) else list(method)
    if len(methods) != n_levels or any(m not in LEVEL_SOLVERS for m in methods):
        raise ValueError(
            f"continuation: method must be one of {tuple(LEVEL_SOLVERS)} (registered level "
            f"solvers) or a sequence of them with one entry per level ({n_levels}), got "
            f"{method!r}"
        )
    transfer = zero_pad_transfer if transfer is None else transfer
    seeds = _seeds.child_seeds(random_seed, n_levels, "continuation")
    options = _options(options, map_kwargs, laplace_kwargs, sample_kwargs)
    blas_limit(blas_threads, "continuation")  # checks the argument before any level runs
    densities = _Densities(build, n_levels, nested)
    results: list[LevelResult] = []
    point: dict = {}
    guess: Preconditioner | None = None
    signatures: list[dict] = []
    for index in range(n_levels):
        kind = methods[index]
        t0 = time.perf_counter()
        model = build(index)
        if not isinstance(model, pm.Model):
            raise ValueError(
                f"continuation: build({index}) must return a pymc.Model, got {type(model)}"
            )
        tag, stored = None, None
        if checkpoint is not None:
            through = nested if isinstance(nested, pm.Model) else None
            signatures.append(model_signature(model, through))
            tag = level_tag(methods[: index + 1], seeds[: index + 1], options, signatures)
            stored = load_level(checkpoint, index, tag, signatures)
        if stored is not None:
            _progress.stage(f"continuation level {index} ({kind}): read from {checkpoint}")
            results.append(stored)
        else:
            _progress.stage(f"continuation level {index} ({kind})")
            init = transfer(index - 1, point, model) if index else {}
            level = Level(
                index,
                model,
                init,
                seeds[index],
                guess,
                options.get(kind, {}),
                lambda m, i=index: densities.of(m, i),
            )
            with blas_limit(blas_threads, "continuation"):
                results.append(_solved(level, kind, t0))
            if checkpoint is not None:
                save_level(checkpoint, index, tag, results[-1], signatures)
        point, guess = results[-1].point, results[-1].preconditioner
    return ContinuationResult(results)


def _solved(level: Level, kind: str, t0: float) -> LevelResult:
    """Solve ``level`` by the solver ``kind``; its result (wall time counted from ``t0``)."""
    outcome = LEVEL_SOLVERS[kind](level)
    return LevelResult(
        level.index,
        int(sum(np.prod(s) for s in free_shapes(level.model).values())),
        outcome.point,
        level.initial_point,
        float(outcome.logp),
        time.perf_counter() - t0,
        {"method": kind} | outcome.diagnostics,
        outcome.result,
        kind,
        outcome.preconditioner,
    )


def _options(options, map_kwargs, laplace_kwargs, sample_kwargs) -> dict:
    """Each method's options: the legacy keyword arguments, then ``options``."""
    out = {
        "map": dict(map_kwargs or {}),
        "laplace": {"optimizer": map_kwargs, "hessian": laplace_kwargs},
        "nuts": dict(sample_kwargs or {}),
    }
    for name, value in dict(options or {}).items():
        if not isinstance(value, Mapping):
            raise TypeError(f"continuation: options[{name!r}] must be a dict, got {value!r}")
        out[name] = dict(out.get(name, {})) | dict(value)
    return out


class _Densities:
    """Flat densities of the levels; with ``nested``, all through the one finest model."""

    def __init__(self, build, n_levels, nested):
        self.build, self.n_levels, self.nested = build, n_levels, nested
        self.finest: FlatDensity | None = None

    def of(self, model: pm.Model, index: int) -> FlatDensity:
        if self.finest is None and isinstance(self.nested, pm.Model):
            self.finest = FlatDensity(self.nested)
        elif self.finest is None and self.nested:
            last = index == self.n_levels - 1
            self.finest = FlatDensity(model if last else self.build(self.n_levels - 1))
        own = self.finest is None or self.finest.model is model
        return FlatDensity(model, None if own else self.finest)
