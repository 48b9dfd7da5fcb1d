"""User-facing names of posterior variables: helper variables, parameter labels, draw kind.

Shared by the convergence table and the report page (private: the public functions are
re-exported by :mod:`bayesinv.diagnostics.convergence`).
"""

from __future__ import annotations

import re

import numpy as np

#: an internal variable: bayesinv's standardised coefficients ``{base}_raw``,
#: ``{base}_z_score``, ``{name}_discrepancy_coef`` (base ``{name}_discrepancy``), or PyMC's
#: transformed ``{base}_{transform}__``
_HELPER = re.compile(r"^(?P<base>.+?)(?:_raw|_z_score|(?<=_discrepancy)_coef|_[a-z]+__)$")

#: words in the root attribute ``inference`` of a tree of independent draws
_INDEPENDENT = ("laplace", "gauss_newton")

#: the words the page and the verdict use for independent draws
INDEPENDENT_DRAWS = "independent draws from a Gaussian approximation"


def helper_variables(names) -> dict[str, str]:
    """Find the internal helper variables whose user-facing variable is present too.

    Parameters
    ----------
    names : iterable of str
        Variable names (e.g. of a posterior group).

    Returns
    -------
    dict of str to str
        ``{helper: user-facing variable}``, e.g. ``{"density_raw": "density"}``; a helper
        whose base variable is missing is not listed (it is then the only record of its
        values and is kept, marked ``(internal)``).
    """
    names = [str(n) for n in names]
    present = set(names)
    out = {}
    for name in names:
        match = _HELPER.match(name)
        if match and match["base"] in present:
            out[name] = match["base"]
    return out


def parameter_labels(name: str, dims, shape: tuple[int, ...]) -> list[str]:
    """Label each scalar of a variable as users know it.

    Parameters
    ----------
    name : str
        Variable name.
    dims : sequence of str
        The variable's dims without ``chain`` and ``draw``.
    shape : tuple of int
        Its shape without ``chain`` and ``draw``.

    Returns
    -------
    list of str
        ``name``, ``name[i, j]`` (ArviZ's default dims ``name_dim_0``, ...) or
        ``name[z=i, x=j]`` (named dims without the ``name_`` prefix, or for a helper
        variable without its base's prefix), in C order; internal helper variables end
        with ``(internal)``.
    """
    helper = _HELPER.match(name)
    suffix = " (internal)" if helper else ""
    if not shape:
        return [name + suffix]
    keys = []
    for dim in dims:
        dim = str(dim)
        if re.fullmatch(rf"{re.escape(name)}_dim_\d+", dim):
            keys.append("")
            continue
        short = dim.removeprefix(f"{name}_")
        if helper and short == dim:  # density_raw on dim density_coeff: coeff=
            short = dim.removeprefix(f"{helper['base']}_")
        keys.append(short + "=")
    return [
        f"{name}[{', '.join(k + str(i) for k, i in zip(keys, idx, strict=True))}]{suffix}"
        for idx in np.ndindex(shape)
    ]


def draws_are_independent(idata) -> bool:
    """Whether a tree holds independent draws from a Gaussian (Laplace) approximation.

    Parameters
    ----------
    idata : xarray.DataTree
        A result; :func:`bayesinv.inference.gauss_newton_laplace` sets its root attribute
        ``inference`` to ``"gauss_newton_laplace"``.

    Returns
    -------
    bool
        ``True`` when the root (or posterior) attribute ``inference`` names a Laplace or
        Gauss-Newton approximation.
    """
    attrs = dict(getattr(idata, "attrs", {}) or {})
    if "inference" not in attrs and "posterior" in getattr(idata, "children", {}):
        attrs = dict(idata["posterior"].attrs)
    method = str(attrs.get("inference", "")).lower()
    return any(word in method for word in _INDEPENDENT)
