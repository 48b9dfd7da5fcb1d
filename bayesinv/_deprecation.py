"""Old import paths kept for one release (0.2) with a ``DeprecationWarning``.

bayesinv 0.2 moved modules into the layered layout of ``ARCHITECTURE.md``. An old path
still imports, warns once per import site, and resolves to the new module; names that moved
out of a package that still exists resolve through that package's ``__getattr__``. The
targets are named as strings and imported on first use, so these aliases add no arrow to the
import graph. Everything here is removed in bayesinv 0.3.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

__all__ = ["MOVED_MODULES", "install", "moved_names"]

#: old module path -> new module path
MOVED_MODULES = {
    "bayesinv.fields": "bayesinv.model.fields",
    "bayesinv.priors": "bayesinv.model.priors",
    "bayesinv.modality": "bayesinv.model.modality",
    "bayesinv.noise": "bayesinv.model.noise",
    "bayesinv.discrepancy": "bayesinv.model.discrepancy",
    "bayesinv.coupling": "bayesinv.model.coupling",
    "bayesinv.reporting": "bayesinv.diagnostics.report",
    "bayesinv.case_study": "bayesinv.studies.runner",
    "bayesinv.demo": "bayesinv.studies.demo",
    "bayesinv.inference.sbc": "bayesinv.calibration.runner",
    "bayesinv.inference.sbc_study": "bayesinv.studies.joint_sbc",
    "bayesinv.diagnostics.sbc_plots": "bayesinv.calibration.plots",
    "bayesinv.diagnostics.maps": "bayesinv.diagnostics.plots",
    "bayesinv.diagnostics.field_maps": "bayesinv.diagnostics.plots",
    "bayesinv.operators.surveys": "bayesinv.operators.resistivity.arrays",
}


def _warn(old: str, new: str) -> None:
    warnings.warn(
        f"{old} is deprecated and will be removed in bayesinv 0.3; use {new}",
        DeprecationWarning,
        stacklevel=3,
    )


class _Alias(types.ModuleType):
    """A module object that forwards every attribute to the module it was moved to."""

    def __init__(self, old: str, new: str):
        super().__init__(old, f"Deprecated alias of :mod:`{new}`.")
        self._bayesinv_target = new

    def __getattr__(self, name):
        return getattr(importlib.import_module(self._bayesinv_target), name)

    def __dir__(self):
        return dir(importlib.import_module(self._bayesinv_target))


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED_MODULES:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        new = MOVED_MODULES[spec.name]
        _warn(spec.name, new)
        return _Alias(spec.name, new)

    def exec_module(self, module):
        importlib.import_module(module._bayesinv_target)


def install() -> None:
    """Make the old module paths importable (idempotent; called by ``bayesinv/__init__``)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())


def moved_names(package: str, names: dict[str, str]):
    """Build a module ``__getattr__`` that resolves names moved out of ``package``.

    Parameters
    ----------
    package : str
        The package the names used to live in (for the message).
    names : dict of str to str
        Name -> the module that now defines it.

    Returns
    -------
    callable
        To be assigned to the package's ``__getattr__``.
    """

    def __getattr__(name):
        if name in names:
            _warn(f"{package}.{name}", f"{names[name]}.{name}")
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
