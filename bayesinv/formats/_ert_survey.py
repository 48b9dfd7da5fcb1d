"""The ERT survey container, half-space geometric factors and reading conversions.

Kept apart from the readers so that every ERT format (unified, Res2DInv, column files)
builds the same object with the same conversions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bayesinv.formats._compare import same_array, same_fields
from bayesinv.formats._errors import FormatError, report_missing

__all__ = ["ERTSurvey", "depth_below_surface", "geometric_factors"]


@dataclass(eq=False)
class ERTSurvey:
    r"""A DC resistivity (ERT) survey read from a file: electrodes, configurations, data.

    The arrays follow bayesinv's conventions, so ``DCResistivity2p5D(grid,
    survey.electrodes, survey.abmn, data=...)`` (or
    :func:`bayesinv.operators.resistivity.from_survey`) takes them directly.

    Attributes
    ----------
    electrodes : numpy.ndarray
        ``(n_electrodes, 2)`` float64, ``(x, z)`` in m with ``z`` **positive down**
        (``z = -elevation``); a surface electrode of a flat line has ``z = 0``.
    abmn : numpy.ndarray
        ``(n_data, 4)`` int64, 0-based indices of ``A, B, M, N``; ``-1`` is a remote
        electrode (pole arrays).
    resistance : numpy.ndarray
        Transfer resistance :math:`R = ΔV/I` in Ω (NaN where missing).
    apparent_resistivity : numpy.ndarray
        :math:`ρ_a = K R` in Ω·m (NaN where missing).
    geometric_factor : numpy.ndarray
        :math:`K` in m, from the file or computed (see ``k_source``).
    error : numpy.ndarray or None
        Relative error (a fraction, the same for :math:`R` and :math:`ρ_a` since
        :math:`K` is exact); ``None`` if the file gave none.
    mask : numpy.ndarray
        ``True`` for usable data; ``False`` for missing readings or data marked invalid
        (kept, never dropped; listed in ``report``).
    ip : numpy.ndarray or None
        Induced-polarisation reading (chargeability or phase), in ``ip_unit``.
    ip_unit : str or None
        Unit of ``ip`` as the file gave it (``"mrad"``, ``"mV/V"``, ``"ms"``).
    topography : numpy.ndarray or None
        ``(n, 2)`` surface points ``(x, z)``, ``z`` positive down.
    extra : dict of str to numpy.ndarray
        Other per-datum columns of the file (``"i"`` current in A, ``"u"`` voltage in V,
        unknown tokens as read), kept for writing back.
    k_source : str
        ``"file"``, ``"rhoa/r"`` (from both readings) or ``"half-space"`` (computed by
        :func:`geometric_factors`).
    report : list of str
        What the loader did that a user should know (masked rows, computed factors).
    source : str or None
        The file read.
    """

    electrodes: np.ndarray
    abmn: np.ndarray
    resistance: np.ndarray
    apparent_resistivity: np.ndarray
    geometric_factor: np.ndarray
    error: np.ndarray | None = None
    mask: np.ndarray | None = None
    ip: np.ndarray | None = None
    ip_unit: str | None = None
    topography: np.ndarray | None = None
    extra: dict = field(default_factory=dict)
    k_source: str = "file"
    report: list = field(default_factory=list)
    source: str | None = None

    def __post_init__(self):
        if self.mask is None:
            self.mask = np.isfinite(self.apparent_resistivity)

    @property
    def n_data(self) -> int:
        """Number of data (masked ones included)."""
        return self.abmn.shape[0]

    @property
    def missing(self) -> np.ndarray:
        """Indices of the masked data."""
        return np.flatnonzero(~self.mask)

    def values(self, kind: str = "apparent_resistivity") -> np.ndarray:
        """Return the data of ``kind`` (``"apparent_resistivity"`` Ω·m, ``"resistance"`` Ω)."""
        if kind not in ("apparent_resistivity", "resistance"):
            raise ValueError(
                f"ERTSurvey.values: kind must be 'apparent_resistivity' or 'resistance', "
                f"got {kind!r}"
            )
        return getattr(self, kind)

    def absolute_error(self, kind: str = "apparent_resistivity") -> np.ndarray:
        r"""Return the standard deviation :math:`ε |d|` of the data of ``kind`` (ε relative)."""
        if self.error is None:
            raise ValueError("ERTSurvey.absolute_error: the file gave no errors (error is None)")
        return self.error * np.abs(self.values(kind))

    def equals(self, other, rtol: float = 0.0) -> bool:
        """Whether two surveys hold the same geometry, data, errors, mask and extras."""
        names = ("electrodes", "abmn", "resistance", "apparent_resistivity")
        names += ("geometric_factor", "error", "mask", "ip", "topography")
        if not same_fields(self, other, names, rtol):
            return False
        if self.ip_unit != other.ip_unit or set(self.extra) != set(other.extra):
            return False
        return all(same_array(v, other.extra[k], rtol) for k, v in self.extra.items())


def depth_below_surface(electrodes: np.ndarray, topography=None) -> np.ndarray:
    """Depth of each electrode below the ground surface (0 for a surface electrode).

    Parameters
    ----------
    electrodes : numpy.ndarray
        ``(n, 2)`` positions ``(x, z)``, ``z`` positive down.
    topography : numpy.ndarray, optional
        ``(m, 2)`` surface points; by default the surface is the piecewise-linear line
        through the shallowest electrode at each distinct ``x``.

    Returns
    -------
    numpy.ndarray
        Depths ``>= 0`` in m.
    """
    x, z = electrodes[:, 0], electrodes[:, 1]
    if topography is not None and len(topography) > 0:
        order = np.argsort(topography[:, 0])
        sx, sz = topography[order, 0], topography[order, 1]
    else:
        sx = np.unique(x)
        sz = np.array([z[x == v].min() for v in sx])
    surface = np.interp(x, sx, sz)
    depth = z - surface
    scale = max(1.0, float(np.ptp(x)) if x.size else 1.0)
    depth[depth < 1e-9 * scale] = 0.0
    return depth


def geometric_factors(electrodes, abmn, topography=None) -> np.ndarray:
    r"""Geometric factors of a homogeneous half-space, for surface and buried electrodes.

    Parameters
    ----------
    electrodes : array_like
        ``(n, 2)`` positions ``(x, z)``, ``z`` positive down.
    abmn : array_like of int
        ``(n_data, 4)`` 0-based indices, ``-1`` for a remote electrode.
    topography : array_like, optional
        Surface points (see :func:`depth_below_surface`).

    Returns
    -------
    numpy.ndarray
        :math:`K` in m (``inf`` where the configuration measures no potential difference on
        a half-space; readers turn that into an error naming the line).

    Notes
    -----
    With the potential of a unit current in a half-space of resistivity ρ,
    :math:`φ = \frac{ρ}{4π}(1/r + 1/r')` where :math:`r` is the distance from the source
    and :math:`r'` the distance from its mirror image above the surface,

    .. math::

        K = 4π \Big/ \sum_{(c, p)} s_{cp} \left(\frac{1}{r_{cp}} + \frac{1}{r'_{cp}}\right),
        \qquad r'_{cp} = \sqrt{r_{cp}^2 + 4 d_c d_p},

    over the current/potential pairs (AM, BM, AN, BN) with signs (+, -, -, +), terms with a
    remote electrode dropped, and :math:`d` the depths below the surface. For surface
    electrodes (:math:`d = 0`) this is the usual :math:`K = 2π / (1/AM - 1/BM - 1/AN +
    1/BN)`; for buried electrodes under a flat surface it is exact. With topography the
    distances are straight lines and the surface is taken as flat near each pair: an
    approximation, as in every analytic factor; a numerical factor (the operator's
    half-space correction) accounts for the topography.
    """
    elec = np.asarray(electrodes, dtype=np.float64)
    idx = np.asarray(abmn, dtype=np.int64)
    depth = depth_below_surface(elec, topography)
    a, b, m, n = idx.T
    total = np.zeros(idx.shape[0])
    for cur, pot, sign in ((a, m, 1.0), (b, m, -1.0), (a, n, -1.0), (b, n, 1.0)):
        ok = (cur >= 0) & (pot >= 0)
        c, p = cur[ok], pot[ok]
        r2 = np.sum((elec[c] - elec[p]) ** 2, axis=1)
        with np.errstate(divide="ignore"):
            g = 1.0 / np.sqrt(r2) + 1.0 / np.sqrt(r2 + 4.0 * depth[c] * depth[p])
        total[ok] += sign * g
    with np.errstate(divide="ignore", invalid="ignore"):
        k = 4.0 * np.pi / total
    k[~np.isfinite(total) | (np.abs(total) < 1e-12 * np.abs(total).max(initial=1.0))] = np.inf
    return k


def _complete(path, lines, electrodes, abmn, cols: dict, topography=None):
    """Fill R, ρa, K from what the file gave; return (r, rhoa, k, k_source, notes).

    ``cols`` maps ``"r"``, ``"rhoa"``, ``"k"``, ``"u"``, ``"i"`` to arrays or ``None``.
    """
    r, rhoa, k = cols.get("r"), cols.get("rhoa"), cols.get("k")
    if r is None and cols.get("u") is not None and cols.get("i") is not None:
        r = cols["u"] / cols["i"]
    if r is None and rhoa is None:
        raise FormatError(path, None, "a reading in every datum: a column r, rhoa, or u and i")
    notes = []
    if k is not None:
        source = "file"
    elif r is not None and rhoa is not None:
        k, source = rhoa / r, "rhoa/r"
    else:
        k, source = geometric_factors(electrodes, abmn, topography), "half-space"
        bad = ~np.isfinite(k)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise FormatError(
                path,
                int(lines[i]),
                "a configuration with a finite geometric factor (this one measures no "
                "potential difference on a half-space)",
                abmn[i].tolist(),
            )
        notes.append("geometric factors computed for a homogeneous half-space (no k given)")
    if rhoa is None:
        rhoa = k * r
    elif r is None:
        r = rhoa / k
    elif source == "file":
        off = np.abs(rhoa - k * r) > 1e-3 * np.abs(rhoa)
        if np.any(off):
            i = int(np.flatnonzero(off)[0])
            raise FormatError(
                path,
                int(lines[i]),
                "rhoa = k * r within 0.1 %",
                f"rhoa = {rhoa[i]!r}, k * r = {k[i] * r[i]!r}",
            )
    return r, rhoa, k, source, notes


def finish_survey(path, lines, electrodes, abmn, cols, *, error, valid, ip, ip_unit, topo, extra):
    """Build an :class:`ERTSurvey`: convert readings, mask and report missing or invalid rows."""
    r, rhoa, k, source, notes = _complete(path, lines, electrodes, abmn, cols, topo)
    mask = np.isfinite(rhoa) & np.isfinite(r)
    if error is not None:
        mask &= np.isfinite(error)
    report = list(notes)
    line = report_missing(path, lines[~mask], "missing reading")
    if line:
        report.append(line)
    if valid is not None:
        invalid = mask & ~(valid > 0)
        line = report_missing(path, lines[invalid], "datum marked invalid")
        if line:
            report.append(line)
        mask &= valid > 0
    return ERTSurvey(
        electrodes,
        abmn,
        r,
        rhoa,
        k,
        error,
        mask,
        ip,
        ip_unit,
        topo,
        extra,
        source,
        report,
        str(path),
    )
