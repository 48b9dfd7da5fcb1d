"""Write the API reference pages (``docs/api/*.rst``) from each module's ``__all__``.

Called by ``docs/conf.py`` at every build, so the reference always lists every public name:
one page per public module of :mod:`bayesinv` (private modules, whose names start with an
underscore, such as the numba kernels ``_gravity_numba`` beside their operator, are left
out). Every
name is documented once, in the module that defines it; a package that re-exports names
(e.g. :mod:`bayesinv.operators`) gets a table linking to them.

Usage: ``python docs/scripts/api_pages.py [--out docs/api]`` (``conf.py`` does this).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = "bayesinv"
SKIP = ()
#: public names without a docstring of their own (a plain ``str``), documented here
SPECIAL = {"__version__": "The version of the installed bayesinv, a string such as ``'0.1.0'``."}


def public_modules(package: str = PACKAGE) -> list[str]:
    """List the public modules of ``package`` (itself included), sorted.

    Parameters
    ----------
    package : str
        Top-level package name.

    Returns
    -------
    list of str
    """
    pkg = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts) or info.name.startswith(SKIP):
            continue
        names.append(info.name)
    return sorted(names)


def _export(module: str, name: str):
    """Return ``module.name`` (lazily exported names are resolved by the package)."""
    return getattr(importlib.import_module(module), name)


def public_names(modules: list[str]) -> dict[str, tuple[str, ...]]:
    """Read the ``__all__`` of every module.

    Parameters
    ----------
    modules : list of str
        Module names.

    Returns
    -------
    dict
        Module name to its public names (empty when the module has no ``__all__``).
    """
    return {m: tuple(getattr(importlib.import_module(m), "__all__", ())) for m in modules}


def canonical_homes(names: dict[str, tuple[str, ...]]) -> dict[tuple[str, str], str]:
    """Find the module documenting each public name: the deepest one exporting it.

    Parameters
    ----------
    names : dict
        Output of :func:`public_names`.

    Returns
    -------
    dict
        ``(module, name)`` to the module whose page documents that object.
    """
    homes = {}
    for module, exported in names.items():
        for name in exported:
            obj = _export(module, name)
            home = module
            for other, other_names in names.items():
                if other.startswith(module + ".") and name in other_names:
                    if _export(other, name) is obj and other.count(".") > home.count("."):
                        home = other
            # a re-export under another name or from a module without __all__: find the
            # defining module from the object itself
            if home == module and getattr(obj, "__module__", module) != module:
                defining = obj.__module__
                if name in names.get(defining, ()):
                    home = defining
            homes[(module, name)] = home
    return homes


def page(module: str, exported: tuple[str, ...], homes: dict) -> str:
    """Write the reStructuredText of one module's API page.

    Parameters
    ----------
    module : str
        Module name.
    exported : tuple of str
        Its ``__all__``.
    homes : dict
        Output of :func:`canonical_homes`.

    Returns
    -------
    str
    """
    title = f"``{module}``"
    lines = [title, "=" * len(title), "", f".. automodule:: {module}", "   :no-members:", ""]
    own = [n for n in exported if homes[(module, n)] == module and n not in SPECIAL]
    elsewhere = [n for n in exported if homes[(module, n)] != module]
    if own:
        lines += [
            f".. currentmodule:: {module}",
            "",
            ".. autosummary::",
            "   :toctree: generated",
            "   :nosignatures:",
            "",
            *[f"   {n}" for n in own],
            "",
        ]
    for name in exported:
        if name in SPECIAL:
            lines += [f".. py:data:: {module}.{name}", "", f"   {SPECIAL[name]}", ""]
    if elsewhere:
        heading = "Re-exported names" if own else "Public names"
        lines += [
            heading,
            "-" * len(heading),
            "",
            f"Importable as ``{module}.<name>``; documented in their defining modules.",
            "",
            ".. currentmodule:: None",
            "",
            ".. autosummary::",
            "   :nosignatures:",
            "",
            *[f"   ~{homes[(module, n)]}.{n}" for n in elsewhere],
            "",
        ]
    if not exported:
        lines += ["This module has no public names.", ""]
    return "\n".join(lines)


def write_pages(out: Path) -> list[str]:
    """Write one page per public module and an index into ``out``.

    Parameters
    ----------
    out : Path
        Output folder (``docs/api``).

    Returns
    -------
    list of str
        The documented modules.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # autosummary's stubs of the previous build: removed so renamed or deleted names leave
    # no orphan pages behind (autosummary writes them anew)
    shutil.rmtree(out / "generated", ignore_errors=True)
    for stale in out.glob("bayesinv*.rst"):
        stale.unlink()
    modules = public_modules()
    names = public_names(modules)
    homes = canonical_homes(names)
    for module in modules:
        text = page(module, names[module], homes)
        (out / f"{module}.rst").write_text(text)
    index = [
        "API reference",
        "=============",
        "",
        "Generated from the numpydoc docstrings. Every name in a module's ``__all__`` is",
        "listed on the module's page; each object is documented once, in the module that",
        "defines it.",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
        *[f"   {m}" for m in modules],
        "",
    ]
    (out / "index.rst").write_text("\n".join(index))
    return modules


def main(argv=None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE.parent / "api"))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE.parents[1]))  # this checkout's bayesinv, as conf.py does
    modules = write_pages(Path(args.out))
    print(f"wrote {len(modules)} module pages to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
