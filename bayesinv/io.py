"""Files: atomic writes of results with their provenance, and checked reads of user files.

Every reader here turns what can go wrong with a file the user named (missing, unreadable,
not valid TOML or JSON, a damaged NetCDF) into a :class:`UserError` whose message starts
with the file's name, so the ``bayesinv`` command can report it in one line (see
:mod:`bayesinv.cli`). Other exceptions are programming errors and keep their traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

__all__ = [
    "UserError",
    "atomic_path",
    "data_hash",
    "provenance",
    "read_datatree",
    "read_json",
    "read_toml",
    "write_datatree",
    "write_text",
]

_PACKAGES = ("bayesinv", "pymc", "pytensor", "arviz", "nutpie", "numba", "numpy", "scipy")


class UserError(ValueError):
    """A mistake in something the user gave: a file, a configuration key or an argument.

    The message names the file, key or argument first, then what was expected and what
    came, e.g. ``"run.toml: quick.draws: expected an integer >= 1, got true"``. The
    ``bayesinv`` command prints it on one line after ``bayesinv <command>:`` and exits with
    status 2; any other exception is a bug and keeps its traceback. A subclass of
    :class:`ValueError`, so code catching ``ValueError`` keeps working.
    """


def _readable(path, what: str) -> Path:
    """Return ``path`` as a Path if it is an existing file, else raise :class:`UserError`."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is not a file but a folder; expected {what}")
    if not path.is_file():
        raise UserError(f"{path}: is not a file (it does not exist); expected {what}")
    return path


def read_toml(path) -> dict:
    """Read a TOML file (with :mod:`tomllib`: nothing in it is executed).

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    dict
        Its tables.

    Raises
    ------
    UserError
        If the file is missing or unreadable, or is not valid TOML (the message gives the
        line and column).
    """
    import tomllib

    path = _readable(path, "a TOML file")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as err:
        raise UserError(f"{path}: cannot be read ({err.strerror or err})") from err
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not valid TOML (not UTF-8 text: {err.reason})") from err
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{path}: not valid TOML: {err}") from err


def read_json(path, what: str = "a JSON file"):
    """Read a JSON file written by bayesinv (or by the user).

    Parameters
    ----------
    path : str or Path
        The file.
    what : str
        What the file should be, for the message (e.g. ``"an SBC results file"``).

    Returns
    -------
    object
        The decoded value.

    Raises
    ------
    UserError
        If the file is missing or unreadable, or is not valid JSON (a damaged file: the
        message gives the line and column).
    """
    path = _readable(path, what)
    try:
        text = path.read_text()
    except OSError as err:
        raise UserError(f"{path}: cannot be read ({err.strerror or err})") from err
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: damaged; expected {what}, got non-UTF-8 bytes") from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(
            f"{path}: damaged; expected {what}, got invalid JSON "
            f"({err.msg.removesuffix(' at')}; line {err.lineno}, column {err.colno})"
        ) from err


def read_datatree(path, *, groups=("posterior",)):
    """Read a DataTree saved by :func:`write_datatree` (e.g. a report's ``posterior.nc``).

    Parameters
    ----------
    path : str or Path
        The NetCDF file.
    groups : tuple of str
        Groups the file must hold.

    Returns
    -------
    xarray.DataTree
        Loaded into memory (the file is closed).

    Raises
    ------
    UserError
        If the file is missing, damaged (truncated, not NetCDF/HDF5) or lacks one of
        ``groups``.
    """
    import xarray as xr

    path = _readable(path, "a NetCDF results file (posterior.nc)")
    try:
        with xr.open_datatree(path, engine="h5netcdf") as saved:
            tree = saved.load()
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        # h5py reports a truncated or foreign file as OSError (or ValueError/KeyError while
        # decoding a damaged group); name the file instead of h5py's internals
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(
            f"{path}: damaged or not a NetCDF results file (could not be read: {reason})"
        ) from err
    missing = [g for g in groups if g not in tree.children]
    if missing:
        raise UserError(
            f"{path}: expected a results file with group(s) {', '.join(groups)}, "
            f"got groups {sorted(tree.children) or 'none'}"
        )
    return tree


class atomic_path:
    """Context manager yielding a temporary path that replaces ``path`` on success.

    Parameters
    ----------
    path : str or Path
        Final destination. The temporary file lives in the same folder, so the final
        ``os.replace`` is atomic; on error the temporary file is removed and ``path`` is
        left as it was.
    """

    def __init__(self, path):
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
        )
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
        return False


def write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically.

    Parameters
    ----------
    path : str or Path
        Destination.
    text : str
        Content.

    Returns
    -------
    Path
        The destination.
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_datatree(tree, path, attrs: dict | None = None) -> Path:
    """Write an ArviZ/xarray DataTree to NetCDF atomically.

    Parameters
    ----------
    tree : xarray.DataTree
        Result to write.
    path : str or Path
        Destination ``.nc`` file.
    attrs : dict, optional
        Extra root attributes (e.g. :func:`provenance`), stored as JSON strings.

    Returns
    -------
    Path
        The destination.
    """
    tree = tree.copy()
    for key, value in (attrs or {}).items():
        tree.attrs[key] = value if isinstance(value, str) else json.dumps(value, default=str)
    with atomic_path(path) as tmp:
        tree.to_netcdf(tmp, engine="h5netcdf")
    return Path(path)


def data_hash(*arrays) -> str:
    """SHA-256 of the bytes of the given arrays (float64, C order).

    Parameters
    ----------
    *arrays : array_like
        Input data.

    Returns
    -------
    str
        Hex digest.
    """
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a, dtype=np.float64)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def settings_hash(settings, default=str) -> str:
    """SHA-256 of a settings object's JSON text (keys sorted).

    Parameters
    ----------
    settings : object
        JSON-serialisable settings (dicts, lists, numbers, strings).
    default : callable or None, optional
        ``json.dumps``'s conversion of values that are not JSON (``str`` by default;
        ``None`` makes them an error).

    Returns
    -------
    str
        Hex digest; callers that name files by it may keep a prefix.
    """
    text = json.dumps(settings, sort_keys=True, default=default)
    return hashlib.sha256(text.encode()).hexdigest()


def provenance(config: dict, seed, *data) -> dict:
    """Provenance record: package versions, seed, configuration and a hash of the data.

    Parameters
    ----------
    config : dict
        The run's configuration.
    seed : int
        Random seed used.
    *data : array_like
        Input data to hash.

    Returns
    -------
    dict
        JSON-serialisable record.
    """
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "versions": versions,
        "python": platform.python_version(),
        "seed": seed,
        "config": config,
        "data_sha256": data_hash(*data) if data else None,
    }
