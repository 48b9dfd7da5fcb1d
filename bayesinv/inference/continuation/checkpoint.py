"""Finished levels of a continuation kept on disk, so that a long continuation is resumable.

``continuation(..., checkpoint=folder)`` writes each finished level's
:class:`~bayesinv.inference.continuation.driver.LevelResult` to ``<folder>/level_<k>.pkl``
(atomically, at once) with a *tag* naming the computation; a later call with the same
folder reads back every level whose tag matches instead of solving it again, and carries
its point and mass-matrix guess on to the next level as if it had just been solved.

A level's tag covers what its result depends on within the continuation: the methods and
seeds of the levels up to it, their solvers' options, and each of their models (free
variables with their shapes, initial point, and every constant and shared value its log
density reads: observed data, ``pm.Data``). It does not cover the package's code, values
held inside an ``Op``, the ``transfer`` or a user's level solver: after changing those,
use a new folder.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np

from bayesinv.io import UserError, atomic_path, data_hash, settings_hash

__all__ = ["level_tag", "load_level", "model_signature", "save_level"]

FORMAT = "bayesinv-continuation-level-1"


def model_signature(model, through=None) -> dict:
    """Return what a level's result depends on in its model, as JSON-ready values.

    Parameters
    ----------
    model : pymc.Model
        The level's model.
    through : pymc.Model, optional
        The model its density is evaluated through (``continuation(..., nested=model)``):
        its data count too.

    Returns
    -------
    dict
        ``free``: name and shape of each free variable; ``initial``: hash of the initial
        point; ``data``: hash of every constant and shared value (observed data,
        ``pm.Data``, matrices) its log density's graph reads, and ``through``'s.

    Notes
    -----
    The values are collected from the ancestors of ``model.logp()`` in the graph's
    (deterministic) order, so data held in PyTensor shared variables outside the model's
    named variables count too. Values inside an ``Op`` (a forward operator's own arrays)
    are not seen.
    """
    point = model.initial_point()
    data = _graph_values(model) + ("" if through is None else _graph_values(through))
    free = [[rv.name, list(np.shape(point[model.rvs_to_values[rv].name]))] for rv in model.free_RVs]
    return {
        "free": free,
        "initial": _hash(*(point[k] for k in sorted(point))),
        "data": hashlib.sha256(data.encode()).hexdigest(),
    }


def _graph_values(model) -> str:
    """Hashes of the constants and shared values the model's log density reads, in order."""
    from pytensor.compile import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import ancestors

    out = []
    for var in ancestors([model.logp()]):
        if isinstance(var, SharedVariable):
            out.append(_hash(var.get_value(borrow=True)))
        elif isinstance(var, Constant):
            out.append(_hash(var.data))
    return "".join(out)


def _hash(*values) -> str:
    try:
        return data_hash(*values)
    except (TypeError, ValueError):  # not numeric: its text
        return hashlib.sha256(repr(values).encode()).hexdigest()


def level_tag(methods, seeds, options: dict, signatures) -> str:
    r"""Return the tag of the last of the given levels (a hash of everything it depends on).

    Parameters
    ----------
    methods : sequence of str
        Methods of levels ``0..k``.
    seeds : sequence of int
        Their seeds.
    options : dict
        Options by method name (only those of ``methods`` enter).
    signatures : sequence of dict
        :func:`model_signature` of the models of levels ``0..k``.

    Returns
    -------
    str
        Hex digest.

    Notes
    -----
    :math:`h(\text{JSON}(\text{methods}_{0..k}, \text{seeds}_{0..k},
    \text{options}|_{\text{methods}}, \text{signatures}_{0..k}))`, keys sorted, values
    that are not JSON by their ``repr`` (an option whose ``repr`` changes between runs,
    e.g. a function, makes every tag differ: the level is solved again).
    """
    state = {
        "methods": list(methods),
        "seeds": [int(s) for s in seeds],
        "options": {m: options.get(m, {}) for m in sorted(set(methods))},
        "models": list(signatures),
    }
    return settings_hash(state, default=repr)


def _path(folder, index: int) -> Path:
    return Path(folder) / f"level_{index:02d}.pkl"


def load_level(folder, index: int, tag: str):
    """Return level ``index``'s stored result if its tag is ``tag``, else ``None``.

    Parameters
    ----------
    folder : str or Path
        The checkpoint folder.
    index : int
        The level.
    tag : str
        :func:`level_tag` of the level as it would be computed now.

    Returns
    -------
    LevelResult or None

    Raises
    ------
    UserError
        If the file exists but cannot be read (it is not overwritten: delete it).
    """
    path = _path(folder, index)
    if not path.is_file():
        return None
    try:
        state = pickle.loads(path.read_bytes())
        fmt, stored = state["format"], state["tag"]
    except Exception as exc:
        raise UserError(
            f"continuation checkpoint {path}: cannot be read ({exc}); delete it to solve "
            "the level again"
        ) from exc
    if fmt != FORMAT or stored != tag:
        return None
    return state["level"]


def save_level(folder, index: int, tag: str, level) -> Path:
    """Write level ``index``'s result with its tag, atomically.

    Parameters
    ----------
    folder : str or Path
        The checkpoint folder (created if needed).
    index : int
        The level.
    tag : str
        Its :func:`level_tag`.
    level : LevelResult
        The result (pickled: its ``result`` must be picklable, as DataTrees and SciPy's
        ``OptimizeResult`` are).

    Returns
    -------
    Path
        The file written.
    """
    path = _path(folder, index)
    with atomic_path(path) as tmp:
        tmp.write_bytes(pickle.dumps({"format": FORMAT, "tag": tag, "level": level}))
    return path
