r"""The model discrepancy's posterior at the data of each modality, from a DataTree.

A modality ``name`` whose posterior holds ``{name}_discrepancy`` (δ at the used data: the
HSGP path samples it, and :meth:`~bayesinv.model.JointInversion.recover_marginals` draws it
for a marginalised model) gets its posterior mean and central bands against station
position, :math:`\bar δ_i = \frac{1}{S}\sum_s δ_i^{(s)}` and the 5/25/75/95% quantiles over
draws :math:`s`. The position is the one the posterior predictive check plots
(:func:`~bayesinv.diagnostics.ppc.posterior_predictive_check`), or else the first varying
column of the modality's coordinates ``{name}_coords`` (constant data: receiver ``(x, z)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DiscrepancyBand", "discrepancy_bands"]


@dataclass
class DiscrepancyBand:
    """Posterior of one modality's discrepancy δ at its data.

    Attributes
    ----------
    name : str
        Modality.
    x : numpy.ndarray
        Position of each datum (station x, or the datum index).
    x_label : str
        Label of ``x``.
    mean : numpy.ndarray
        Posterior mean of δ.
    bands : dict of float to tuple of numpy.ndarray
        ``{0.5: (lo, hi), 0.9: (lo, hi)}`` central intervals.
    """

    name: str
    x: np.ndarray
    x_label: str
    mean: np.ndarray
    bands: dict


def _station_position(idata, name, x, label):
    """First varying column of the modality's ``{name}_coords`` (constant data), if any."""
    key = f"{name}_coords"
    if "constant_data" not in idata.children or key not in idata["constant_data"].data_vars:
        return x, label
    coords = np.asarray(idata["constant_data"][key].values, dtype=float)
    if coords.ndim != 2 or coords.shape[0] != x.size:
        return x, label
    for j, axis in enumerate("xz"[: coords.shape[1]] if coords.shape[1] <= 2 else []):
        if np.ptp(coords[:, j]) > 0:
            return coords[:, j], f"station {axis} (m)"
    return x, label


def discrepancy_bands(idata) -> dict[str, DiscrepancyBand]:
    """Return the discrepancy's posterior band of every modality that has one.

    Parameters
    ----------
    idata : xarray.DataTree
        A result with ``posterior`` and ``observed_data`` groups.

    Returns
    -------
    dict of str to DiscrepancyBand
        By modality name, in the order of ``observed_data`` (empty when no modality has
        ``{name}_discrepancy`` in the posterior).

    Raises
    ------
    ValueError
        If ``{name}_discrepancy`` does not have one value per observed datum.
    """
    from bayesinv.diagnostics.ppc import _plot_coordinate, modality_names

    if "posterior" not in idata.children or "observed_data" not in idata.children:
        return {}
    post, out = idata["posterior"], {}
    for name in modality_names(idata):
        key = f"{name}_discrepancy"
        if key not in post.data_vars:
            continue
        obs = idata["observed_data"][name]
        draws = np.asarray(post[key].values, dtype=float)
        if draws.shape[2:] != obs.shape:
            raise ValueError(
                f"discrepancy_bands: {key!r} has data shape {draws.shape[2:]}, observed "
                f"{name!r} has {obs.shape}"
            )
        draws = draws.reshape(-1, obs.size)
        q = np.quantile(draws, [0.05, 0.25, 0.75, 0.95], axis=0)
        x, label, _ = _plot_coordinate(obs, obs.size)
        if label == "datum index" or label == obs.dims[0]:
            x, label = _station_position(idata, name, x, label)
        out[name] = DiscrepancyBand(
            name, x, label, draws.mean(axis=0), {0.5: (q[1], q[2]), 0.9: (q[0], q[3])}
        )
    return out
