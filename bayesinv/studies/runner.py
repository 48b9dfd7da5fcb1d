"""Run a reproducible case study: load its TOML configuration, run it, record its numbers.

A case study is a folder (``case_studies/NN_name/``) holding

- ``config.toml``: tables ``[quick]`` and ``[full]`` (one per size), each with the study's
  settings and an integer ``seed``; an optional ``[common]`` table holds settings shared by
  both sizes (a size table overrides it). Read with :mod:`tomllib`: no code is executed.
- ``study.py``: defines ``run(config: dict, out: Path) -> dict`` returning the headline
  numbers, ``REQUIRED``, a dict of the configuration keys it needs mapped to their types
  (``int``, ``float``, ``str``, ``bool``, ``list``) or to a
  :class:`~bayesinv.studies.config.Key`, and optionally ``OPTIONAL``, a dict of the keys it
  may take mapped to their defaults (or to a ``Key``). Before anything runs, the runner
  checks the configuration with :func:`bayesinv.studies.config.check_table`: a missing
  key, a wrong type (a boolean for a number included) and a key the study does not declare
  are each a :class:`~bayesinv.io.UserError` naming the file and the key (with a "did you
  mean" for a misspelt one).
- ``README.md``: the question, the set-up and the figures, with a results table between
  ``<!-- results:quick -->`` and ``<!-- /results:quick -->`` (and the same for ``full``)
  that :func:`run_case_study` regenerates from the run's headline numbers when asked to
  (``bayesinv run --update-readme``, with the run's figures: :func:`._readme.record_run`);
  by default no tracked file is touched.

The headline dictionary a study returns may hold a ``"table"`` entry: a list of rows (dicts
of column → value) rendered as a markdown table; every other entry is a scalar rendered as
a two-column list. Entries named ``verdict`` (or containing the word, e.g.
``verdict_joint``) whose value starts with ``PASS`` or ``FAIL`` give the run's verdict
(:func:`verdict_of`), which sets the exit status of ``bayesinv run``. The runner adds
``total_wall_time_s`` and writes ``headline.json`` to the output folder (atomically, with
:mod:`bayesinv.io`).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bayesinv import _progress
from bayesinv.io import UserError, read_toml, write_text
from bayesinv.studies._readme import record_run, results_markdown, update_readme
from bayesinv.studies.config import Key, check_table, did_you_mean, schema_of

__all__ = [
    "SIZES",
    "CaseStudyRun",
    "check_config",
    "default_output",
    "load_config",
    "load_study",
    "prepare_case_study",
    "results_markdown",
    "run_case_study",
    "update_readme",
    "verdict_of",
]

#: sizes a case study can be run at
SIZES = ("quick", "full")


def _study_name(study_dir: Path) -> str:
    return Path(study_dir).resolve().name


def _study_folder(study_dir) -> Path:
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        what = "is a file" if study_dir.exists() else "no such folder"
        raise UserError(f"{study_dir}: {what}; expected a case study folder (case_studies/NN_name)")
    return study_dir


def _read_tables(study_dir, size: str) -> tuple[str, dict, dict]:
    """Read ``config.toml``; return its name, the ``[common]`` table and the size's table."""
    study_dir = _study_folder(study_dir)
    if size not in SIZES:
        raise UserError(f"size: must be one of {', '.join(SIZES)}, got {size!r}")
    path = study_dir / "config.toml"
    raw = read_toml(path)
    source = str(path)
    for key, value in raw.items():
        if not isinstance(value, dict):
            raise UserError(
                f"{source}: {key}: a setting outside any table; expected it in [common], "
                f"[quick] or [full], got {key} = {value!r} at the top"
            )
        if key not in ("common", *SIZES):
            suggestion = did_you_mean(key, ("common", *SIZES))
            raise UserError(f"{source}: [{key}]: unknown table; {suggestion}")
    if size not in raw:
        raise UserError(f"{source}: has no [{size}] table; expected the settings of size {size}")
    return source, raw.get("common", {}), raw[size]


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
        The settings, with ``seed`` among them (not yet checked: see :func:`check_config`).

    Raises
    ------
    UserError
        If the folder or file is missing, the file is not valid TOML, it holds anything but
        the tables ``[common]``, ``[quick]`` and ``[full]``, or the size table is missing.
    """
    _, common, table = _read_tables(study_dir, size)
    return common | table


def check_config(
    config: dict,
    required: dict,
    where: str,
    *,
    optional: dict | None = None,
    prefix: str = "",
    origin=None,
) -> dict:
    """Check a case study's settings against the keys its ``study.py`` declares.

    Parameters
    ----------
    config : dict
        Settings (from :func:`load_config`).
    required : dict
        Key → type (``int``, ``float``, ``str``, ``bool`` or ``list``) or
        :class:`~bayesinv.studies.config.Key`. ``seed`` (an integer >= 0) is always
        required.
    where : str
        The file (or what the settings are), starting error messages.
    optional : dict, optional
        Key → default value or :class:`~bayesinv.studies.config.Key` (see
        :func:`~bayesinv.studies.config.schema_of`).
    prefix : str
        Dotted prefix of key names in messages (e.g. ``"quick."``).
    origin : dict of str to str, optional
        Key → dotted prefix naming the table it came from (e.g. ``"common."``), overriding
        ``prefix``.

    Returns
    -------
    dict
        The settings, floats converted, defaults of absent optional keys filled in.

    Raises
    ------
    UserError
        Naming the first unknown key (with a suggestion), missing key or key with a wrong
        type; an integer is accepted where a float is expected, a boolean never is.
    """
    schema = {"seed": Key(int, low=0)} | schema_of(required, optional)
    return check_table(config, schema, source=where, prefix=prefix, origin=origin)


def load_study(study_dir):
    """Import a case study's ``study.py`` and return the module.

    Parameters
    ----------
    study_dir : str or Path
        The study folder.

    Returns
    -------
    module
        With ``run(config, out)``, ``REQUIRED`` and, optionally, ``OPTIONAL``.

    Raises
    ------
    UserError
        If the folder or ``study.py`` is missing or does not declare what the runner needs.
        Errors raised while importing ``study.py`` propagate unchanged (a bug in the study).
    """
    study_dir = _study_folder(study_dir)
    name = _study_name(study_dir)
    path = study_dir / "study.py"
    if not path.is_file():
        raise UserError(f"{path}: is not a file (it does not exist); expected the study's code")
    module_name = "bayesinv_case_study_" + re.sub(r"\W", "_", name)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    if not callable(getattr(module, "run", None)):
        raise UserError(f"{path}: defines no run(config, out)")
    if not isinstance(getattr(module, "REQUIRED", None), dict):
        raise UserError(f"{path}: defines no REQUIRED dict of configuration keys")
    if not isinstance(getattr(module, "OPTIONAL", {}), dict):
        raise UserError(f"{path}: OPTIONAL must be a dict of configuration keys")
    return module


def verdict_of(headline: dict) -> str | None:
    """Return the overall verdict of a run from its headline numbers.

    A verdict is a string under a key containing ``verdict`` (``verdict_joint``, or a dict
    such as ``"verdicts": {"separate": ...}``), at the top level or in a ``"table"`` row.

    Parameters
    ----------
    headline : dict
        What a study's ``run`` returned.

    Returns
    -------
    str or None
        ``"FAIL"`` if any verdict starts with ``FAIL``, ``"PASS"`` if there are verdicts and
        none fails, ``None`` if the study gives no verdict.
    """
    rows = headline.get("table") or []
    found = [
        str(v)
        for entry in [headline, *(r for r in rows if isinstance(r, dict))]
        for key, value in entry.items()
        if "verdict" in str(key)
        for v in (value.values() if isinstance(value, dict) else [value])
        if isinstance(v, str)
    ]
    if not found:
        return None
    return "FAIL" if any(v.strip().upper().startswith("FAIL") for v in found) else "PASS"


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


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


@dataclass(frozen=True)
class CaseStudyRun:
    """A case study whose configuration has been read and checked, ready to run.

    Made by :func:`prepare_case_study`; every user error is raised there, so that
    :meth:`run` starts the work (and the ``bayesinv`` command its progress report) only
    when the configuration is known to be good.

    Parameters
    ----------
    study_dir : Path
        The study folder.
    size : str
        Size run.
    config : dict
        Checked settings.
    study : module
        The study's ``study.py``.
    out : Path
        Output folder.
    """

    study_dir: Path
    size: str
    config: dict
    study: object = field(repr=False)
    out: Path

    @property
    def name(self) -> str:
        """Folder name of the study."""
        return _study_name(self.study_dir)

    def run(self, *, update: bool = False) -> dict:
        """Run the study and record its headline numbers (see :func:`run_case_study`).

        Parameters
        ----------
        update : bool
            Regenerate the study's ``README.md`` results block and figures of this size.

        Returns
        -------
        dict
            The headline numbers, also written to ``out/headline.json``.
        """
        name, size = self.name, self.size
        self.out.mkdir(parents=True, exist_ok=True)
        _progress.stage(f"run case study {name} ({size})")
        t0 = time.perf_counter()
        headline = self.study.run(dict(self.config), self.out)
        wall = time.perf_counter() - t0
        if not isinstance(headline, dict):
            raise TypeError(f"case study {name}: run() must return a dict, got {type(headline)}")
        _progress.stage("write outputs")
        headline = _jsonable(dict(headline))
        headline["total_wall_time_s"] = round(wall, 1)
        headline["seed"] = self.config["seed"]
        headline["size"] = size
        headline["finished_utc"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        write_text(self.out / "headline.json", json.dumps(headline, indent=2, default=str))
        if update:
            record_run(self.study_dir, self.out, headline, size)
        return headline


def prepare_case_study(study_dir, size: str = "quick", out=None) -> CaseStudyRun:
    """Read and check a case study's configuration and code; run nothing.

    Parameters
    ----------
    study_dir : str or Path
        The study folder (``case_studies/NN_name``).
    size : {"quick", "full"}
        Which configuration to run.
    out : str or Path, optional
        Output folder (default :func:`default_output`).

    Returns
    -------
    CaseStudyRun

    Raises
    ------
    UserError
        If the folder, its files or its configuration are not what the runner needs, or
        ``out`` is an existing file.
    """
    _progress.stage("load configuration")
    study_dir = _study_folder(study_dir)
    source, common, table = _read_tables(study_dir, size)
    study = load_study(study_dir)
    origin = {key: "common." for key in common} | {key: f"{size}." for key in table}
    config = check_config(
        common | table,
        study.REQUIRED,
        source,
        optional=getattr(study, "OPTIONAL", None),
        prefix=f"{size}.",
        origin=origin,
    )
    out = default_output(study_dir, size) if out is None else Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: is a file; expected an output folder")
    return CaseStudyRun(study_dir, size, config, study, out)


def run_case_study(study_dir, size: str = "quick", out=None, *, update: bool = False) -> dict:
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
        Regenerate the results block and figures of the study's ``README.md`` (tracked
        files: off by default; ``bayesinv run --update-readme``; :func:`._readme.record_run`).

    Returns
    -------
    dict
        The headline numbers (the study's, plus ``total_wall_time_s``, ``seed``, ``size`` and
        ``finished_utc``), also written to ``out/headline.json``.

    Raises
    ------
    UserError
        If the folder, its files or its configuration are not what the runner needs; nothing
        runs and nothing is written then.
    """
    return prepare_case_study(study_dir, size, out).run(update=update)
