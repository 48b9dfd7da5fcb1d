"""Run a reproducible case study: load its TOML configuration, run it, record its numbers.

A case study is a folder (``case_studies/NN_name/``) holding

- ``config.toml``: tables ``[quick]`` and ``[full]`` (one per size), each with the study's
  settings and an integer ``seed``; an optional ``[common]`` table holds settings shared by
  both sizes (a size table overrides it). Read with :mod:`tomllib`: no code is executed.
- ``study.py``: defines ``run(config: dict, out: Path) -> dict`` returning the headline
  numbers, and ``REQUIRED``, a dict of the configuration keys it needs mapped to their types
  (``int``, ``float``, ``str``, ``bool``, ``list``); the runner checks the configuration
  against it before running anything, so a missing key or a wrong type is a ``ValueError``
  naming the key.
- ``README.md``: the question, the set-up and the figures, with a results table between
  ``<!-- results:quick -->`` and ``<!-- /results:quick -->`` (and the same for ``full``)
  that :func:`run_case_study` regenerates from the run's headline numbers.

The headline dictionary a study returns may hold a ``"table"`` entry: a list of rows (dicts
of column → value) rendered as a markdown table; every other entry is a scalar rendered as
a two-column list. The runner adds ``total_wall_time_s`` and writes ``headline.json`` to the
output folder (atomically, with :mod:`bayesinv.io`).
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "SIZES",
    "check_config",
    "default_output",
    "load_config",
    "load_study",
    "results_markdown",
    "run_case_study",
    "update_readme",
]

#: sizes a case study can be run at
SIZES = ("quick", "full")

_TYPES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
_TYPES[list] = "a list"


def _study_name(study_dir: Path) -> str:
    return Path(study_dir).resolve().name


def load_config(study_dir, size: str = "quick") -> dict:
    """Read a case study's ``config.toml`` and return the settings of one size.

    Parameters
    ----------
    study_dir : str or Path
        The study folder.
    size : {"quick", "full"}
        Which table to read; merged over the optional ``[common]`` table.

    Returns
    -------
    dict
        The settings, with ``seed`` among them.

    Raises
    ------
    ValueError
        If the file is missing or not valid TOML, or the size table is missing.
    """
    study_dir = Path(study_dir)
    name = _study_name(study_dir)
    if size not in SIZES:
        raise ValueError(f"case study {name}: size must be one of {SIZES}, got {size!r}")
    path = study_dir / "config.toml"
    if not path.is_file():
        raise ValueError(f"case study {name}: {path} not found")
    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"case study {name}: {path} is not valid TOML: {err}") from None
    common = raw.get("common", {})
    if not isinstance(common, dict):
        raise ValueError(f"case study {name}: [common] in {path} must be a table")
    if size not in raw:
        raise ValueError(f"case study {name}: {path} has no [{size}] table")
    if not isinstance(raw[size], dict):
        raise ValueError(f"case study {name}: [{size}] in {path} must be a table")
    return common | raw[size]


def check_config(config: dict, required: dict, where: str) -> dict:
    """Check that a configuration has every required key with the right type.

    Parameters
    ----------
    config : dict
        Settings (from :func:`load_config`).
    required : dict of str to type
        Key → expected type (``int``, ``float``, ``str``, ``bool`` or ``list``). An integer
        is accepted where a float is expected (and converted); a boolean is never taken for
        a number. ``seed`` (a non-negative integer) is always required.
    where : str
        What the configuration is, for error messages (e.g. ``"case study 01_x [quick]"``).

    Returns
    -------
    dict
        The configuration with floats converted.

    Raises
    ------
    ValueError
        Naming the first missing key or the key with a wrong type.
    """
    required = {"seed": int} | dict(required)
    out = dict(config)
    for key, kind in required.items():
        if key not in config:
            raise ValueError(f"{where}: missing key {key!r} ({_TYPES.get(kind, kind)})")
        value = config[key]
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok, value = True, float(value)
        if not ok:
            raise ValueError(
                f"{where}: key {key!r} must be {_TYPES.get(kind, kind)}, "
                f"got {type(value).__name__} {value!r}"
            )
        out[key] = value
    if out["seed"] < 0:
        raise ValueError(f"{where}: key 'seed' must be >= 0, got {out['seed']}")
    return out


def load_study(study_dir):
    """Import a case study's ``study.py`` and return the module.

    Parameters
    ----------
    study_dir : str or Path
        The study folder.

    Returns
    -------
    module
        With ``run(config, out)`` and ``REQUIRED``.
    """
    study_dir = Path(study_dir)
    name = _study_name(study_dir)
    path = study_dir / "study.py"
    if not path.is_file():
        raise ValueError(f"case study {name}: {path} not found")
    module_name = "bayesinv_case_study_" + re.sub(r"\W", "_", name)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    if not callable(getattr(module, "run", None)):
        raise ValueError(f"case study {name}: {path} defines no run(config, out)")
    if not isinstance(getattr(module, "REQUIRED", None), dict):
        raise ValueError(f"case study {name}: {path} defines no REQUIRED dict of config keys")
    return module


def default_output(study_dir, size: str) -> Path:
    """Default output folder ``output/case_studies/<name>/<size>`` (relative to the cwd).

    Parameters
    ----------
    study_dir : str or Path
        The study folder.
    size : str
        The size run.

    Returns
    -------
    Path
    """
    return Path("output") / "case_studies" / _study_name(study_dir) / size


def _fmt(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def results_markdown(headline: dict, size: str, study_name: str) -> str:
    """Render headline numbers as the markdown block of a study's README.

    Parameters
    ----------
    headline : dict
        Scalars, and optionally ``"table"``: a list of row dicts.
    size : str
        Size of the run.
    study_name : str
        Folder name of the study (for the command line shown).

    Returns
    -------
    str
        Markdown (without the markers).
    """
    when = headline.get("finished_utc", "")
    lines = [
        f"_Generated by `bayesinv run case_studies/{study_name} --size {size}`"
        f"{' on ' + when if when else ''}; do not edit by hand._",
        "",
    ]
    rows = headline.get("table") or []
    if rows:
        columns = list(dict.fromkeys(k for row in rows for k in row))
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "---|" * len(columns))
        for row in rows:
            lines.append("| " + " | ".join(_fmt(row.get(c, "")) for c in columns) + " |")
        lines.append("")
    scalars = {k: v for k, v in headline.items() if k not in ("table", "finished_utc")}
    if scalars:
        lines += ["| quantity | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in scalars.items()]
    return "\n".join(lines)


def update_readme(readme, size: str, block: str) -> str:
    """Replace the results block of one size in a README (atomically); return the new text.

    The block sits between ``<!-- results:SIZE -->`` and ``<!-- /results:SIZE -->``; if the
    markers are missing, a ``## Results (SIZE)`` section with them is appended.

    Parameters
    ----------
    readme : str or Path
        The README file (created if missing).
    size : str
        Size of the run.
    block : str
        Markdown to put between the markers.

    Returns
    -------
    str
        The README's new text.
    """
    from bayesinv.io import write_text

    readme = Path(readme)
    text = readme.read_text() if readme.is_file() else ""
    start, end = f"<!-- results:{size} -->", f"<!-- /results:{size} -->"
    new = f"{start}\n{block.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: new, text, count=1)
    else:
        text = text.rstrip("\n") + f"\n\n## Results ({size})\n\n{new}\n"
    write_text(readme, text)
    return text


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


def run_case_study(study_dir, size: str = "quick", out=None, *, update: bool = True) -> dict:
    """Run a case study at one size and record its headline numbers.

    Parameters
    ----------
    study_dir : str or Path
        The study folder (``case_studies/NN_name``).
    size : {"quick", "full"}
        Which configuration to run.
    out : str or Path, optional
        Output folder (default :func:`default_output`).
    update : bool
        Regenerate the results block of the study's ``README.md``.

    Returns
    -------
    dict
        The headline numbers (the study's, plus ``total_wall_time_s``, ``seed``, ``size`` and
        ``finished_utc``), also written to ``out/headline.json``.
    """
    from bayesinv.io import write_text

    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise ValueError(f"case study: {study_dir} is not a folder")
    name = _study_name(study_dir)
    config = load_config(study_dir, size)
    study = load_study(study_dir)
    config = check_config(config, study.REQUIRED, f"case study {name} [{size}] config")
    out = default_output(study_dir, size) if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    headline = study.run(dict(config), out)
    wall = time.perf_counter() - t0
    if not isinstance(headline, dict):
        raise ValueError(f"case study {name}: run() must return a dict, got {type(headline)}")
    headline = _jsonable(dict(headline))
    headline["total_wall_time_s"] = round(wall, 1)
    headline["seed"] = config["seed"]
    headline["size"] = size
    headline["finished_utc"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    write_text(out / "headline.json", json.dumps(headline, indent=2, default=str))
    if update:
        update_readme(study_dir / "README.md", size, results_markdown(headline, size, name))
    return headline
