"""Per-seed results of a study kept on disk, so that a long run never loses a finished seed.

A study that repeats the same computation over seeds (the cycle-skipping studies 07 and 11
run four methods on each of ten seeds, hours at full size) hands its loop to
:func:`run_seeds`: each finished seed's table rows go to ``<folder>/seed_<i>.json`` at once
(atomically), and running the study again with the same settings reads them back instead
of computing them again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from bayesinv.io import UserError, read_json, settings_hash, write_text

__all__ = ["run_seeds", "settings_tag", "split_sampled", "work_folder"]

FORMAT = "bayesinv-seed-rows-1"


def settings_tag(settings: dict) -> str:
    """Return a short hash of ``settings`` (JSON, keys sorted) that names one computation."""
    return settings_hash(settings)[:16]


def split_sampled(
    config: dict,
    count: str = "nuts_seeds",
    keys=("chains", "draws", "tune", "nuts_adaptation", "single_band_draws", "single_band_tune"),
    ignore=("n_seeds",),
):
    """Split a study configuration into shared settings and per-replicate sampler settings.

    Parameters
    ----------
    config : dict
        The study's configuration.
    count : str, optional
        Key of the number of leading replicates that also sample (e.g. with NUTS).
    keys : tuple of str, optional
        The sampler's settings: only the sampling replicates' rows depend on them.
    ignore : tuple of str, optional
        Keys no replicate's rows depend on (the number of replicates: replicate ``i``'s
        seed is stored and checked on its own, so a run with more seeds reads back the
        seeds a smaller run finished).

    Returns
    -------
    settings : dict
        ``config`` without ``count``, ``keys``, ``ignore`` and keys set to ``None``.
    per_seed : callable
        ``per_seed(i)``: the sampler's settings for ``i < config[count]``, else ``{}``.

    Notes
    -----
    With :func:`run_seeds`, replicate :math:`i` is computed again only if its own tag
    changes: a run with more sampling replicates, or other sampler settings, recomputes
    the sampling replicates and reads the others back. A key whose value is ``None`` (an
    optional setting left unset) is left out of both, so that declaring a new optional
    setting does not make the replicates computed before it another computation.
    """
    drop = {count, *keys, *ignore}
    settings = {k: v for k, v in config.items() if k not in drop and v is not None}
    sampler = {k: config[k] for k in keys if config.get(k) is not None}

    def per_seed(i):
        return {"sampled": sampler} if i < config[count] else {}

    return settings, per_seed


def _path(folder: Path, index: int) -> Path:
    return folder / f"seed_{index:03d}.json"


def work_folder(folder, index: int) -> Path:
    """Return replicate ``index``'s folder for its unfinished work (e.g. continuation levels).

    Parameters
    ----------
    folder : str or Path
        The folder of :func:`run_seeds`.
    index : int
        The replicate.

    Returns
    -------
    Path
        ``<folder>/seed_<index>``, beside the replicate's rows ``seed_<index>.json``: what a
        replicate keeps there while it runs (``continuation(..., checkpoint=...)``) lets an
        interrupted replicate resume, and replicate 0's lets a later run redraw its
        figures without computing it again.
    """
    return Path(folder) / f"seed_{index:03d}"


def _load(folder: Path, index: int, seed: int, tag: str):
    """Rows of seed ``index`` if its file holds this computation's, else ``None``."""
    path = _path(folder, index)
    if not path.exists():
        return None
    state = read_json(path, "a study's per-seed results file")
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{path}: damaged per-seed results file (expected format {FORMAT!r}); "
                        "delete it to compute the seed again")  # fmt: skip
    if state.get("tag") != tag or state.get("seed") != seed:
        return None  # another computation's (settings changed): computed again, overwritten
    rows = state.get("rows")
    if not isinstance(rows, list):
        raise UserError(f"{path}: damaged per-seed results file (no list of rows)")
    return rows


def run_seeds(
    folder,
    settings: dict,
    seeds: Sequence[int],
    compute: Callable,
    *,
    per_seed: Callable = lambda i: {},
    keep_first: bool = True,
):
    r"""Run ``compute`` over the seeds, keeping each finished seed's rows on disk.

    Parameters
    ----------
    folder : str or Path
        Where the per-seed files go (created if needed).
    settings : dict
        Everything the rows depend on (JSON-serialisable, e.g. the study's configuration
        without the keys that do not change them).
    seeds : sequence of int
        One seed per replicate; replicate ``i`` uses ``seeds[i]``.
    compute : callable
        ``compute(i, seed) -> (rows, result)``: the table rows of replicate ``i`` (a list of
        JSON-serialisable dicts) and any in-memory result.
    per_seed : callable, optional
        ``per_seed(i) -> dict`` of settings that differ between replicates (e.g. whether
        replicate ``i`` also samples with NUTS); part of that replicate's tag.
    keep_first : bool, optional
        Return replicate 0's ``result`` (figures, reports): computed again if its rows were
        read from disk (same seed, same result).

    Returns
    -------
    all_rows : list of dict
        The rows of every replicate, in replicate order.
    first : object or None
        Replicate 0's ``result`` if ``keep_first``.

    Raises
    ------
    UserError
        If a per-seed file is damaged (it is not overwritten: delete it to compute again).

    Notes
    -----
    Replicate :math:`i`'s file ``seed_<i>.json`` holds its seed, its rows and the tag
    :math:`h(\text{settings} \cup \text{per\_seed}(i))` (:func:`settings_tag`); a file
    whose tag or seed differs belongs to other settings and is computed again and
    overwritten. The tag does not cover the code: after changing the package, delete the
    folder to recompute.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    all_rows, first = [], None
    for i, seed in enumerate(seeds):
        seed = int(seed)
        tag = settings_tag(dict(settings) | {"replicate": per_seed(i)})
        rows = _load(folder, i, seed, tag)
        if rows is None:
            rows, result = compute(i, seed)
            state = {"format": FORMAT, "tag": tag, "seed": seed, "rows": rows}
            write_text(_path(folder, i), json.dumps(state, indent=1, default=float))
            if i == 0:
                first = result
        all_rows += rows
    if keep_first and first is None and len(seeds):
        first = compute(0, int(seeds[0]))[1]
    return all_rows, first
