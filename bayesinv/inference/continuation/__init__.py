"""Coarse-to-fine continuation over registered level solvers.

- :mod:`~bayesinv.inference.continuation.driver`: :func:`continuation` and its results;
- :mod:`~bayesinv.inference.continuation.registry`: the level-solver protocol (:class:`Level`
  in, :class:`LevelOutcome` out) and :func:`register_level_solver`;
- :mod:`~bayesinv.inference.continuation.transfer`: how a level's estimate starts the next;
- one module per built-in level solver, registered below with one line each.
"""

from bayesinv.inference.continuation.driver import ContinuationResult, LevelResult, continuation
from bayesinv.inference.continuation.laplace import solve_laplace
from bayesinv.inference.continuation.map import solve_map
from bayesinv.inference.continuation.nuts import solve_nuts
from bayesinv.inference.continuation.registry import (
    LEVEL_SOLVERS,
    Level,
    LevelOutcome,
    register_level_solver,
)
from bayesinv.inference.continuation.smc import solve_smc
from bayesinv.inference.continuation.transfer import prolong_transfer, zero_pad_transfer

__all__ = [
    "LEVEL_SOLVERS",
    "ContinuationResult",
    "Level",
    "LevelOutcome",
    "LevelResult",
    "continuation",
    "prolong_transfer",
    "register_level_solver",
    "zero_pad_transfer",
]

register_level_solver("map", solve_map)
register_level_solver("laplace", solve_laplace)
register_level_solver("nuts", solve_nuts)
register_level_solver("smc", solve_smc)
