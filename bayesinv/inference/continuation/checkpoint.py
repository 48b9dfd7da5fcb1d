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

Floating-point values enter as fingerprints compared with a tolerance (:func:`same_values`),
not as exact hashes: the same computation on another CPU (other SIMD paths in NumPy, other
BLAS kernels) differs in the last bits, and a level recorded on one machine is still read
back on another.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np

from bayesinv.io import UserError, atomic_path, data_hash, settings_hash

__all__ = ["level_tag", "load_level", "model_signature", "same_values", "save_level"]

FORMAT = "bayesinv-continuation-level-2"
RTOL = 1e-9  # relative tolerance of float fingerprints (last-bit noise is ~1e-15)


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
    data = _graph_values(model) + ([] if through is None else _graph_values(through))
    free = [[rv.name, list(np.shape(point[model.rvs_to_values[rv].name]))] for rv in model.free_RVs]
    return {
        "free": free,
        "initial": [_fingerprint(point[k]) for k in sorted(point)],
        "data": data,
    }


def _graph_values(model) -> list:
    """Fingerprints of the constants and shared values the model's log density reads."""
    from pytensor.compile import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import ancestors

    out = []
    for var in ancestors([model.logp()]):
        if isinstance(var, SharedVariable):
            out.append(_fingerprint(var.get_value(borrow=True)))
        elif isinstance(var, Constant):
            out.append(_fingerprint(var.data))
    return out


def _fingerprint(value):
    """``["f", shape, sum, sum |x|, sum w x]`` of a finite float array, else an exact hash.

    ``w`` are fixed pseudo-random weights (seed 0), so that a change of the values that
    keeps the sum is still seen.
    """
    x = np.asarray(value) if not isinstance(value, str) else None
    if x is not None and x.dtype.kind == "f" and np.all(np.isfinite(x)):
        flat = x.astype(np.float64).ravel()
        w = np.random.default_rng(0).standard_normal(flat.size)
        return ["f", list(x.shape), float(flat.sum()), float(np.abs(flat).sum()), float(w @ flat)]
    return _hash(value)


def _structure(signature: dict) -> dict:
    """Return the signature with each float fingerprint cut to its shape (what the tag hashes)."""

    def cut(fp):
        return fp[:2] if isinstance(fp, list) else fp

    return {k: [cut(v) for v in vals] if k != "free" else vals for k, vals in signature.items()}


def same_values(a, b, rtol: float = RTOL) -> bool:
    r"""Return whether two lists of :func:`model_signature` agree (floats within ``rtol``).

    Parameters
    ----------
    a, b : sequence of dict
        Signatures of the same levels.
    rtol : float
        Relative tolerance.

    Returns
    -------
    bool

    Notes
    -----
    Fingerprints ``(s, a, t) = (sum x, sum |x|, sum w x)`` agree when
    :math:`|s - s'|, |a - a'|, |t - t'| \le \text{rtol}\,(a + a' + 10^{-300})`; last-bit noise
    moves them by about ``1e-15 a``, a changed datum by far more than ``1e-9 a``.
    """
    if len(a) != len(b):
        return False
    for sa, sb in zip(a, b, strict=True):
        if _structure(sa) != _structure(sb):
            return False
        for key in ("initial", "data"):
            for fa, fb in zip(sa[key], sb[key], strict=True):
                if isinstance(fa, list):
                    scale = rtol * (fa[3] + fb[3] + 1e-300)
                    if any(abs(x - y) > scale for x, y in zip(fa[2:], fb[2:], strict=True)):
                        return False
    return True


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
    \text{options}|_{\text{methods}}, \text{structure}_{0..k}))`, keys sorted (a signature's
    float fingerprints enter by their shapes only: :func:`load_level` compares their values
    with :func:`same_values`), values
    that are not JSON by their ``repr`` (an option whose ``repr`` changes between runs,
    e.g. a function, makes every tag differ: the level is solved again).
    """
    state = {
        "methods": list(methods),
        "seeds": [int(s) for s in seeds],
        "options": {m: options.get(m, {}) for m in sorted(set(methods))},
        "models": [_structure(sig) for sig in signatures],
    }
    return settings_hash(state, default=repr)


def _path(folder, index: int) -> Path:
    return Path(folder) / f"level_{index:02d}.pkl"


def load_level(folder, index: int, tag: str, signatures=None):
    """Return level ``index``'s stored result if its tag is ``tag``, else ``None``.

    Parameters
    ----------
    folder : str or Path
        The checkpoint folder.
    index : int
        The level.
    tag : str
        :func:`level_tag` of the level as it would be computed now.
    signatures : sequence of dict, optional
        :func:`model_signature` of levels ``0..index`` now; the stored ones must agree
        (:func:`same_values`).

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
        kept = state.get("signatures")
    except Exception as exc:
        raise UserError(
            f"continuation checkpoint {path}: cannot be read ({exc}); delete it to solve "
            "the level again"
        ) from exc
    if fmt != FORMAT or stored != tag:
        return None
    if signatures is not None and not same_values(kept, list(signatures)):
        return None
    return state["level"]


def save_level(folder, index: int, tag: str, level, signatures=()) -> Path:
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
    signatures : sequence of dict
        :func:`model_signature` of levels ``0..index`` (what :func:`load_level` compares).

    Returns
    -------
    Path
        The file written.
    """
    path = _path(folder, index)
    with atomic_path(path) as tmp:
        tmp.write_bytes(
            pickle.dumps(
                {"format": FORMAT, "tag": tag, "signatures": list(signatures), "level": level}
            )
        )
    return path
