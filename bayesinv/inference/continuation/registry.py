"""Level solvers of a continuation: what one level gets, what it returns, and the registry.

A *level solver* is a function ``solve(level: Level) -> LevelOutcome``. The built-in ones
(``"map"``, ``"laplace"``, ``"nuts"``) are one module each in this package and registered in
its ``__init__`` with one line each; a user registers their own the same way::

    from bayesinv.inference.continuation import LevelOutcome, register_level_solver

    def my_solver(level):
        ...
        return LevelOutcome(point, logp, diagnostics, result)

    register_level_solver("mine", my_solver)
    continuation(build, 3, random_seed=1, method="mine", options={"mine": {...}})
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pymc as pm

from bayesinv.inference._model_space import FlatDensity
from bayesinv.inference.preconditioning import Preconditioner

__all__ = ["LEVEL_SOLVERS", "Level", "LevelOutcome", "register_level_solver"]


@dataclass
class Level:
    """What a level solver gets.

    Attributes
    ----------
    index : int
        Resolution level (``0`` = coarsest).
    model : pymc.Model
        The level's model.
    initial_point : dict
        Constrained starting values by variable name, transferred from the level before
        (empty for level 0).
    seed : int
        The level's own seed (a child of the continuation's seed).
    guess : Preconditioner or None
        The level before's mass-matrix guess (``None`` at level 0 or after a MAP level).
    options : dict
        The solver's options (``continuation(..., options={method: {...}})``).
    """

    index: int
    model: pm.Model
    initial_point: dict
    seed: int
    guess: Preconditioner | None
    options: dict = field(default_factory=dict)
    _make_density: Callable[[pm.Model], FlatDensity] | None = field(default=None, repr=False)

    @cached_property
    def density(self) -> FlatDensity:
        """The model's log density on flat coordinates.

        Compiled on first use; with ``continuation(..., nested=...)`` evaluated through the
        one finest model.
        """
        if self._make_density is None:
            return FlatDensity(self.model)
        return self._make_density(self.model)

    def start(self) -> tuple[np.ndarray, Preconditioner, bool]:
        """Return the starting vector and the guess carried to this level's layout, centred there.

        Returns
        -------
        x0 : numpy.ndarray
            Flat unconstrained start (:attr:`initial_point`, the rest from the model).
        guess : Preconditioner
            The level before's guess carried by the nesting rule, or the identity when
            there is none or the layouts do not nest (e.g. prolonged grids).
        carried : bool
            Whether the level before's guess was used.
        """
        flat = self.density
        x0 = flat.initial(self.initial_point)
        if self.guess is not None:
            try:
                carried = self.guess.transfer(flat.layout, mean=x0)
            except ValueError:
                pass  # layouts that are not nested: start from the identity
            else:
                return (
                    x0,
                    Preconditioner(x0, carried.scale, carried.basis, carried.factors, flat.layout),
                    True,
                )
        return x0, Preconditioner.identity(x0, flat.layout), False


@dataclass(frozen=True)
class LevelOutcome:
    """What a level solver returns.

    Attributes
    ----------
    point : dict
        The level's estimate of every free variable (constrained, by name).
    logp : float
        Log density of the level's model (or of the nested finest model) at ``point``.
    diagnostics : dict
        Solver-specific numbers for :meth:`ContinuationResult.table`.
    result : object
        The solver's own result (optimizer result, DataTree, ...).
    preconditioner : Preconditioner or None
        A mass-matrix guess for the next level.
    """

    point: dict
    logp: float
    diagnostics: dict
    result: object = field(repr=False)
    preconditioner: Preconditioner | None = field(default=None, repr=False)


#: level solvers by name (``continuation(..., method=name)`` looks them up here)
LEVEL_SOLVERS: dict[str, Callable[[Level], LevelOutcome]] = {}


def register_level_solver(name: str, solver: Callable[[Level], LevelOutcome]) -> None:
    """Make ``solver`` available to :func:`continuation` as ``method=name``.

    Parameters
    ----------
    name : str
        Method name (registering a name again replaces the solver).
    solver : callable
        ``solver(level: Level) -> LevelOutcome``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"register_level_solver: name must be a non-empty string, got {name!r}")
    if not callable(solver):
        raise TypeError(f"register_level_solver: solver must be callable, got {solver!r}")
    LEVEL_SOLVERS[name] = solver
