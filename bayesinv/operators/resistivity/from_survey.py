"""Build the resistivity operator from a survey object read by :mod:`bayesinv.formats`.

Duck typed: any object with ``electrodes`` (``(n, 2)``, ``z`` positive down) and ``abmn``
(``(n_data, 4)``, 0-based, ``-1`` remote) works, so the operators never import the file
formats (both sit on the same layer, above the foundations only).
"""

from __future__ import annotations

from bayesinv.operators.resistivity.operator import DCResistivity2p5D

__all__ = ["from_survey"]


def from_survey(grid, survey, *, data: str = "apparent_resistivity", **kwargs) -> DCResistivity2p5D:
    """Return ``DCResistivity2p5D(grid, survey.electrodes, survey.abmn, data=data, **kwargs)``.

    Parameters
    ----------
    grid : Grid2D
        The section.
    survey : ERTSurvey or object
        Anything with ``electrodes`` and ``abmn`` attributes in bayesinv's conventions
        (e.g. :class:`bayesinv.formats.ERTSurvey`).
    data : {"apparent_resistivity", "resistance"}
        Output of the operator; match it with ``survey.values(data)`` as observed data.
    **kwargs
        Other arguments of :class:`DCResistivity2p5D`.

    Returns
    -------
    DCResistivity2p5D

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from bayesinv import Grid2D
    >>> from bayesinv.operators.resistivity.arrays import surface_electrodes, wenner
    >>> survey = SimpleNamespace(electrodes=surface_electrodes(np.arange(2.0, 23.0, 2.0)),
    ...                          abmn=wenner(11))
    >>> op = from_survey(Grid2D(nx=24, nz=10, dx=1.0, dz=1.0), survey)
    >>> op.n_data
    15
    """
    for name in ("electrodes", "abmn"):
        if not hasattr(survey, name):
            raise TypeError(
                f"from_survey: survey must have an attribute {name!r} (an ERTSurvey from "
                f"bayesinv.formats), got {type(survey).__name__}"
            )
    return DCResistivity2p5D(grid, survey.electrodes, survey.abmn, data=data, **kwargs)
