"""Sphinx configuration of the bayesinv documentation.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` from the
repository root (or ``make -C docs html``). The tutorials in ``tutorials/`` are jupytext
percent scripts executed by myst-nb at every build.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# document (and execute the tutorials against) this checkout's bayesinv, also in the
# notebook kernels, which inherit the environment
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "scripts"))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
)

import api_pages  # noqa: E402

import bayesinv  # noqa: E402

# the API pages are written into docs/api at every build; a build of a few pages only (as
# tests/test_browser.py does) sets BAYESINV_DOCS_API=off and leaves the source tree alone
if os.environ.get("BAYESINV_DOCS_API", "on") != "off":
    api_pages.write_pages(DOCS / "api")

project = "bayesinv"
author = "the bayesinv developers"
copyright = "2026, the bayesinv developers"
version = release = bayesinv.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
]

# Math is typeset in the browser by MathJax 3 shipped with the docs tools (the files of the
# PyPI package sphinx-mathjax-offline, copied to _static/mathjax), never loaded from a CDN:
# the pages show typeset equations offline. The SVG output draws glyphs as paths, so no web
# font has to load either (file:// pages may refuse fonts). tests/test_browser.py checks
# this in headless Chromium.
_mathjax = importlib.util.find_spec("sphinx-mathjax-offline")
if _mathjax is None:
    raise RuntimeError(
        "docs/conf.py: the bundled MathJax comes from the package sphinx-mathjax-offline; "
        "install the docs tools with pip install -e '.[docs]'"
    )
MATHJAX_STATIC = Path(_mathjax.submodule_search_locations[0]) / "static"
mathjax_path = "mathjax/tex-svg.js"

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".py": "myst-nb"}
exclude_patterns = ["_build", "scripts", "conf.py", "**.ipynb_checkpoints", "jupyter_execute"]
templates_path = ["_templates"]

# API reference
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "none"  # types are in the numpydoc sections
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# notebooks: jupytext percent scripts, executed at every build
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
nb_execution_mode = os.environ.get("BAYESINV_DOCS_EXECUTE", "force")
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

html_theme = "pydata_sphinx_theme"
html_title = f"bayesinv {release}"
html_static_path = ["_static", str(MATHJAX_STATIC)]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False
