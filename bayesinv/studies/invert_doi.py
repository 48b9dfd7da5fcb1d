r"""Depth-of-investigation maps of ``bayesinv invert``: the sd ratio and the Oldenburg–Li index.

- :func:`sd_ratio_figures`: posterior sd / prior sd of each field (from the draws).
- :func:`oldenburg_li_doi`: the index of Oldenburg & Li (1999) from two MAP points of the
  same inversion with different reference models (prior means),

  .. math:: \mathrm{DOI}_i = \frac{|m^{(1)}_i - m^{(2)}_i|}{|r^{(1)}_i - r^{(2)}_i|},

  near 0 where the data fix the cell whatever the reference, near 1 where the MAP returns
  the reference (the data do not see the cell).
- :func:`doi_figures`: maps of that index.

Reference: D. W. Oldenburg, Y. Li (1999), Estimating depth of investigation in dc
resistivity and IP surveys, *Geophysics* 64, 403–416.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np

__all__ = ["doi_figures", "oldenburg_li_doi", "prior_scale", "sd_ratio_figures"]


def prior_scale(prior) -> float:
    """Marginal prior sd of a field's prior spec (its unit for the reference shift).

    Parameters
    ----------
    prior : IIDNormal, MaternPrior or BesovPrior
        With numeric scale parameters.

    Returns
    -------
    float
        ``sigma`` (IID), ``sqrt(variance)`` (Matérn) or ``scale`` (Besov: the overall scale
        of its series, about the sd of the coarsest coefficient).

    Raises
    ------
    ValueError
        If the prior has no numeric scale (a hierarchical one), or is of another kind.
    """
    from bayesinv.model import BesovPrior, IIDNormal, MaternPrior

    value = None
    if isinstance(prior, IIDNormal):
        value = prior.sigma
    elif isinstance(prior, MaternPrior) and not callable(prior.variance):
        value = float(prior.variance) ** 0.5
    elif isinstance(prior, BesovPrior) and not callable(prior.scale):
        value = prior.scale
    if value is None or callable(value):
        raise ValueError(
            "oldenburg_li_doi: the prior of a field must be IIDNormal, MaternPrior or "
            f"BesovPrior with a numeric scale, got {prior!r}"
        )
    return float(value)


def _shifted(prior, shift: float):
    """Return the prior spec with its mean moved by ``shift``."""
    from bayesinv.model import IIDNormal

    if isinstance(prior, IIDNormal):
        return dataclasses.replace(prior, mu=prior.mu + shift)
    return dataclasses.replace(prior, mean=np.asarray(prior.mean, dtype=float) + shift)


def oldenburg_li_doi(inversion, *, shift: float = 1.0, random_seed, mode="FAST_COMPILE"):
    r"""Oldenburg–Li depth-of-investigation index of every field of an inversion.

    The inversion is built twice, with the prior mean (reference model) of every field
    moved by :math:`-s σ` and by :math:`+s σ` (:math:`σ` its prior sd,
    :func:`prior_scale`), and the MAP point of each is found
    (:func:`~bayesinv.inference.optimize.find_map`).

    Parameters
    ----------
    inversion : JointInversion
        The inversion as built for the posterior (not modified).
    shift : float
        :math:`s > 0`, in prior sds: the two references are :math:`2 s σ` apart.
    random_seed : int
        Seed of the MAP searches (which start at the model's initial point, no jitter).
    mode : str or None
        PyTensor compile mode of the MAP searches.

    Returns
    -------
    dict of str to ndarray
        Per field, the index in every cell (shape of the field's grid).

    Notes
    -----
    With reference models :math:`r^{(1)} = μ - sσ` and :math:`r^{(2)} = μ + sσ`,
    :math:`\mathrm{DOI}_i = |m^{(2)}_i - m^{(1)}_i| / (2 s σ)`. For a linear forward
    operator :math:`G`, Gaussian noise :math:`N` and prior covariance :math:`C` the MAP is
    :math:`m = r + K (d - G r)`, :math:`K = C G^T (G C G^T + N)^{-1}`, so
    :math:`\mathrm{DOI} = |(I - K G)\,\mathbf 1|`: 1 in a cell the data do not see (and whose
    prior is independent of the seen cells), near 0 where the data determine the cell.
    Unlike the posterior sd ratio it needs no draws, but it depends on the references
    chosen and on the nonlinearity between them.
    """
    from bayesinv._checks import check_float
    from bayesinv.inference.optimize import find_map

    shift = check_float(shift, "oldenburg_li_doi", "shift", low=0.0, low_open=True)
    scales = {n: prior_scale(f.prior) for n, f in inversion.fields.items()}
    maps = []
    for sign in (-1.0, 1.0):
        inv = copy.copy(inversion)
        inv.fields = {
            n: dataclasses.replace(f, prior=_shifted(f.prior, sign * shift * scales[n]))
            for n, f in inversion.fields.items()
        }
        maps.append(find_map(inv.build(), random_seed=random_seed, mode=mode))
    return {
        n: (np.abs(maps[1][n] - maps[0][n]) / (2.0 * shift * scales[n])).reshape(f.grid.shape)
        for n, f in inversion.fields.items()
    }


def _section(g, values, out: Path, filename: str, label: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    extent = (g.x_edges[0], g.x_edges[-1], g.z_edges[-1], g.z_edges[0])
    im = ax.imshow(values, extent=extent, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    fig.colorbar(im, ax=ax, label=label)
    ax.set(xlabel="x (m)", ylabel="z (m, down)", title=title)
    fig.tight_layout()
    fig.savefig(out / filename, dpi=100)
    plt.close(fig)


def sd_ratio_figures(idata, inv, out: Path) -> list:
    """Draw posterior sd / prior sd of each field (a depth-of-investigation map).

    Parameters
    ----------
    idata : xarray.DataTree
        Posterior and prior draws.
    inv : JointInversion
        The inversion (for the field names and grids).
    out : Path
        Folder of the figures (``doi_FIELD.png``).

    Returns
    -------
    list of (str, str)
        File name and caption of each figure, for the report.

    Notes
    -----
    The prior sd of each cell is that of the prior draws (any prior kind), as in the
    report's ``posterior sd / prior sd`` panel.
    """
    from bayesinv.diagnostics.truth import CONTRACTION, field_summaries

    figures = []
    for name, field in inv.fields.items():
        ratio = field_summaries(idata, name, field.grid)[CONTRACTION]
        title = f"{name}: depth of investigation"
        _section(field.grid, ratio, out, f"doi_{name}.png", "posterior sd / prior sd", title)
        caption = f"{name}: posterior sd / prior sd (near 1: the data say nothing there)"
        figures.append((f"doi_{name}.png", caption))
    return figures


def doi_figures(doi: dict, inv, out: Path, shift: float) -> list:
    """Draw the Oldenburg–Li index of each field (:func:`oldenburg_li_doi`).

    Parameters
    ----------
    doi : dict of str to ndarray
        Index per field, shaped as its grid.
    inv : JointInversion
        The inversion (for the grids).
    out : Path
        Folder of the figures (``doi_oldenburg_li_FIELD.png``).
    shift : float
        The reference shift used, in prior sds (for the title).

    Returns
    -------
    list of (str, str)
        File name and caption of each figure, for the report.
    """
    figures = []
    for name, values in doi.items():
        filename = f"doi_oldenburg_li_{name}.png"
        title = f"{name}: Oldenburg–Li index (references ±{shift:g} prior sd)"
        _section(inv.fields[name].grid, values, out, filename, "DOI index", title)
        caption = (
            f"{name}: Oldenburg–Li index |m1 - m2| / |r1 - r2| of two MAP points with "
            f"references 2 × {shift:g} prior sd apart (near 0: the data decide; near 1: the "
            "reference does)"
        )
        figures.append((filename, caption))
    return figures
