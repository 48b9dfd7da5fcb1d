"""Atomic writes of results and their provenance."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

__all__ = ["atomic_path", "data_hash", "provenance", "write_datatree", "write_text"]

_PACKAGES = ("bayesinv", "pymc", "pytensor", "arviz", "nutpie", "numba", "numpy", "scipy")


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
