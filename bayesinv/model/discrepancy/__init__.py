r"""Model discrepancy: a Gaussian process over a modality's data coordinates.

Following Kennedy & O'Hagan (2001), the data of modality ``k`` are modelled as

.. math::

    d_k = H_k F_k(m) + δ_k + ε_k, \qquad δ_k \sim \mathcal{GP}(0, η_k^2 κ(\cdot, \cdot; ℓ_k)),
    \quad ε_k \sim N(0, Σ_k),

where :math:`δ_k` absorbs the systematic error of the physics (simplified geometry, missing
3-D effects, …) that noise alone cannot explain. With a Gaussian likelihood the GP is always
integrated out: exactly for small data sets, :math:`d_k \sim N(H_k F_k(m), Σ_k + K_k)`, and
through the Hilbert-space basis with the Woodbury identity for large ones
(:mod:`._lowrank`); with a Student-t likelihood it is represented by PyMC's HSGP with explicit
basis weights. The hyperpriors are set from the survey geometry and the noise level
(:mod:`._priors`); :mod:`.guard` keeps the GP out of the span the physics explains
(projection) or penalises its size (scaled, S-GaSP);
:mod:`.posterior` draws δ at the data; :mod:`.coregional` couples modalities' discrepancies.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from bayesinv._checks import check_choice, check_float, check_int, check_positive
from bayesinv.model.discrepancy._priors import (
    TAIL,
    active_columns,
    geometry_ranges,
    invgamma_from_tails,
    positive_pair,
)
from bayesinv.model.discrepancy.coregional import CrossModalDiscrepancy
from bayesinv.model.discrepancy.hsgp import hsgp_basis, hsgp_weights

__all__ = ["EXACT_MAX_DATA", "METHODS", "CrossModalDiscrepancy", "Discrepancy"]

#: largest data set marginalised exactly by ``method="auto"`` (the exact path factorises an
#: ``n x n`` covariance per gradient, O(n³); timings in ``benchmarks/bench_discrepancy.py``).
EXACT_MAX_DATA = 200

#: ``method=`` choices: dense covariance, HSGP basis with sampled weights, HSGP basis with
#: the weights integrated out (Woodbury), or automatic
METHODS = ("auto", "exact", "hsgp", "lowrank")

_KERNELS = {"matern32": "Matern32", "matern52": "Matern52", "expquad": "ExpQuad"}


def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f"{old} is deprecated and will be removed in bayesinv 0.3; use {new}",
        DeprecationWarning,
        stacklevel=3,
    )


@dataclass(frozen=True)
class Discrepancy:
    r"""Model-discrepancy Gaussian process over a modality's data coordinates.

    Parameters
    ----------
    kernel : {"matern32", "matern52", "expquad"}
        Covariance function κ.
    amplitude : float or tuple of float, optional
        With ``priors="geometry"``: the range ``(low, high)`` of the amplitude η (1% of the
        inverse-gamma prior mass below ``low`` and 1% above ``high``), or only ``high``; by
        default ``low`` is the noise level (a discrepancy below it cannot be told from noise)
        and ``high`` twice the standard deviation of the data. With ``priors="legacy"``: the
        scale of a half-normal prior. With ``fixed=True``: η itself.
    lengthscale : tuple of float, optional
        Range ``(low, high)`` of the length scale ℓ (1% of the prior mass in each tail); by
        default the identifiable range of the survey, from the smallest station spacing (at
        least 1/50 of the extent) to the survey's extent. A single number is a fixed ℓ and
        needs ``fixed=True``.
    method : {"auto", "exact", "hsgp", "lowrank"}
        ``"exact"``: dense covariance ``Σ + K`` (GP integrated out); ``"lowrank"``: HSGP basis
        with the weights integrated out (Woodbury; diagonal noise, normal likelihood);
        ``"hsgp"``: HSGP with sampled basis weights; ``"auto"``: exact up to
        :data:`EXACT_MAX_DATA` data, then lowrank with a normal likelihood and diagonal
        noise, hsgp otherwise.
    n_basis : int, optional
        HSGP basis functions per active coordinate; by default from
        :func:`pymc.gp.hsgp_approx.approx_hsgp_hyperparams` and the length-scale range (so it
        grows with the survey's extent over its shortest identifiable length scale).
    c : float, optional
        HSGP boundary factor (``L = c · half-extent``); by default from the same heuristic.
    centered : bool
        ``"hsgp"`` weights centred, ``w ~ N(0, S(ω))``, or non-centred (default),
        ``w = sqrt(S(ω)) z``.
    fixed : bool
        Fix the hyperparameters: ``amplitude`` is η and ``lengthscale`` a single number ℓ.
    priors : {"geometry", "legacy"}
        ``"geometry"`` (default): inverse-gamma priors on η and ℓ with the tails above;
        ``"legacy"``: the 0.2 priors (half-normal η, log-normal ℓ with 95% between twice the
        median spacing and the extent), kept for comparison (they sample badly, see
        ``benchmarks/bench_discrepancy.py``).
    guard : {None, "projection", "scaled"}
        Identifiability guard (:mod:`bayesinv.model.discrepancy.guard`): ``"projection"``
        keeps the GP orthogonal to the data-space directions the linearised physics produces
        (the physics has priority there); ``"scaled"`` is the scaled GP of Gu & Wang (2018),
        whose prior penalises the discrepancy's mean square, so the physics explains what it
        can at a finite cost, :math:`K_z = (K^{-1} + λ/(n η^2)\, I)^{-1}` (``"exact"``
        representation and the marginalized model only).
    guard_energy : float
        Fraction of the physics' singular-value energy projected out, in ``(0, 1]``.
    guard_rank : int, optional
        Number of physics directions projected out (overrides ``guard_energy``).
    guard_scale : float, optional
        λ of ``guard="scaled"`` (default :math:`\sqrt{n}`, ``n`` used data): no direction of
        δ gets a prior variance above :math:`η^2 n/λ`.

    Notes
    -----
    Variables added for modality ``name``: ``{name}_discrepancy_amplitude`` (η),
    ``{name}_discrepancy_lengthscale`` (ℓ) and, on the ``"hsgp"`` path only, the weights
    ``{name}_discrepancy_coef`` and the deterministic ``{name}_discrepancy`` (δ at the data).
    On the integrated paths δ is not sampled; its conditional posterior given a draw is
    Gaussian (see ``docs/discrepancy.md``).

    Why the priors: with learned η and ℓ a GP discrepancy is identifiable only for
    :math:`ℓ` between the station spacing and the survey length and :math:`η` above the
    noise level. Outside, the posterior has a ridge (ℓ beyond the survey: only
    :math:`η^2/ℓ^{2k}` is seen) or a funnel (η below the noise: ℓ is free and the field's
    conditional width changes with η). The inverse-gamma's :math:`e^{-β/x}` left tail is a
    wall in the sampler's log coordinates; measured effect in the benchmark.
    """

    kernel: str = "matern52"
    amplitude: object = None
    lengthscale: object = None
    method: str = "auto"
    n_basis: int | None = None
    c: float | None = None
    centered: bool = False
    fixed: bool = False
    priors: str = "geometry"
    guard: str | None = None
    guard_energy: float = 0.99
    guard_rank: int | None = None
    guard_scale: float | None = None

    def __post_init__(self):
        where = "Discrepancy"
        check_choice(self.kernel, where, "kernel", sorted(_KERNELS))
        check_choice(self.method, where, "method", METHODS)
        check_choice(self.priors, where, "priors", ("geometry", "legacy"))
        check_choice(self.guard, where, "guard", (None, "projection", "scaled"))
        check_float(self.guard_energy, where, "guard_energy", low=0.0, high=1.0, low_open=True)
        if self.guard_rank is not None:
            check_int(self.guard_rank, where, "guard_rank", low=1)
        if self.guard_scale is not None:
            check_positive(self.guard_scale, where, "guard_scale")
        if self.amplitude is not None:
            if self.priors == "geometry" and not self.fixed and np.ndim(self.amplitude) == 1:
                positive_pair(self.amplitude, where, "amplitude")
            else:
                check_positive(self.amplitude, where, "amplitude")
        if self.n_basis is not None:
            check_int(self.n_basis, where, "n_basis", low=1)
        if self.c is not None:
            check_positive(self.c, where, "c")
        for flag in ("centered", "fixed"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(
                    f"{where}: {flag} must be True or False, got {getattr(self, flag)!r}"
                )
        if self.fixed:
            if self.amplitude is None or self.lengthscale is None or np.ndim(self.lengthscale):
                raise ValueError(
                    "Discrepancy: fixed=True needs amplitude=η and a single lengthscale=ℓ > 0, "
                    f"got amplitude={self.amplitude!r}, lengthscale={self.lengthscale!r}"
                )
            check_positive(self.lengthscale, where, "lengthscale")
        elif self.lengthscale is not None:
            ls = self.lengthscale
            if isinstance(ls, str) or np.ndim(ls) == 0:
                raise ValueError(
                    f"Discrepancy: lengthscale={ls!r} is a single number, but without "
                    "fixed=True lengthscale is the range (low, high) of the length-scale "
                    "prior; pass lengthscale=(low, high), or fixed=True with amplitude=η to "
                    "fix both hyperparameters"
                )
            positive_pair(ls, where, "lengthscale")

    def resolve_method(self, n_data: int, likelihood: str | None = None) -> str:
        """Return the representation used for ``n_data`` data.

        Parameters
        ----------
        n_data : int
            Number of data of the modality.
        likelihood : {None, "normal", "diagonal_normal", "student_t"}, optional
            ``"diagonal_normal"`` (normal likelihood, diagonal noise) lets ``"auto"`` pick
            ``"lowrank"`` above :data:`EXACT_MAX_DATA`; otherwise ``"auto"`` gives
            ``"exact"`` or ``"hsgp"``.

        Returns
        -------
        str
            ``"exact"``, ``"hsgp"`` or ``"lowrank"``.
        """
        if self.method != "auto":
            return self.method
        if n_data <= EXACT_MAX_DATA:
            return "exact"
        return "lowrank" if likelihood == "diagonal_normal" else "hsgp"

    def lengthscale_range(self, coords: np.ndarray) -> tuple[float, float]:
        """Length-scale prior range for the given (active) data coordinates.

        Parameters
        ----------
        coords : numpy.ndarray
            ``(n, k)`` active coordinates.

        Returns
        -------
        tuple of float
            ``(low, high)``: see ``lengthscale``.
        """
        if self.fixed:
            ell = float(self.lengthscale)
            return ell / 2, ell * 2
        if self.lengthscale is not None:
            return tuple(map(float, self.lengthscale))
        if self.priors == "geometry":
            return geometry_ranges(coords)
        extent = float(np.max(np.ptp(coords, axis=0)))
        diffs = np.diff(np.sort(coords, axis=0), axis=0)
        diffs = diffs[diffs > 0]
        spacing = float(np.median(diffs)) if diffs.size else extent / 10
        return min(2.0 * spacing, extent / 4), extent

    def amplitude_range(self, data_scale: float, noise_scale: float | None) -> tuple[float, float]:
        """Amplitude prior range ``(low, high)`` (``priors="geometry"``).

        Parameters
        ----------
        data_scale : float
            Standard deviation of the data.
        noise_scale : float, optional
            Typical noise standard deviation (``None`` when it is learned).

        Returns
        -------
        tuple of float
        """
        if self.amplitude is not None and np.ndim(self.amplitude) == 1:
            return tuple(map(float, self.amplitude))
        high = float(self.amplitude) if self.amplitude is not None else 2.0 * data_scale
        low = noise_scale if noise_scale else high / 40.0
        return min(low, high / 4.0), high

    def _hyperpriors(self, name, coords, data_scale, noise_scale=None):
        import pymc as pm

        lo, hi = self.lengthscale_range(coords)
        a_name, l_name = f"{name}_discrepancy_amplitude", f"{name}_discrepancy_lengthscale"
        if self.fixed:
            eta, ell = np.float64(self.amplitude), np.float64(self.lengthscale)
        elif self.priors == "legacy":
            mu, sd = 0.5 * (np.log(lo) + np.log(hi)), 0.25 * (np.log(hi) - np.log(lo))
            eta = pm.HalfNormal(a_name, sigma=self.amplitude or max(data_scale, 1e-300))
            ell = pm.LogNormal(l_name, mu=mu, sigma=sd)
        else:
            alpha, beta = invgamma_from_tails(*self.amplitude_range(data_scale, noise_scale))
            eta = pm.InverseGamma(a_name, alpha=alpha, beta=beta)
            alpha, beta = invgamma_from_tails(lo, hi, TAIL)
            ell = pm.InverseGamma(l_name, alpha=alpha, beta=beta)
        cov = eta**2 * getattr(pm.gp.cov, _KERNELS[self.kernel])(coords.shape[1], ls=ell)
        return cov, eta, (lo, hi)

    def add_to_model(
        self,
        name: str,
        coords,
        data_scale: float,
        *,
        method=None,
        dims=None,
        noise_scale=None,
        operator=None,
        used=None,
        model=None,
    ):
        """Add the discrepancy GP of modality ``name`` to the model.

        Parameters
        ----------
        name : str
            Modality name (prefix of the variables).
        coords : array_like
            ``(n, k)`` coordinates of the used data.
        data_scale : float
            Standard deviation of the data (default upper amplitude).
        method : {"exact", "hsgp", "lowrank"}, optional
            Representation; by default :meth:`resolve_method` of the number of data.
        dims : str, optional
            Data dim of the deterministic ``{name}_discrepancy`` (``"hsgp"`` path).
        noise_scale : float, optional
            Typical noise standard deviation (lower amplitude of the geometry prior).
        operator : ForwardOperator, optional
            The modality's operator (needed by ``guard="projection"``).
        used : numpy.ndarray, optional
            Indices of the used data (with ``operator``; default all).
        model : pymc.Model, optional
            Defaults to the model in context.

        Returns
        -------
        tuple
            ``("cov", K)``: the ``(n, n)`` covariance to add to the noise covariance;
            ``("mean", δ)``: δ at the data to add to the prediction; or
            ``("lowrank", (Φ, s))``: basis and weight standard deviations for
            :func:`~bayesinv.model.discrepancy._lowrank.lowrank_normal`.
        """
        import pymc as pm

        coords = np.asarray(coords, dtype=np.float64)
        if coords.ndim == 1:
            coords = coords[:, None]
        method = self.resolve_method(coords.shape[0]) if method is None else method
        check_choice(method, "Discrepancy.add_to_model", "method", METHODS[1:])
        if self.guard == "scaled" and method != "exact":
            raise ValueError(
                f"Discrepancy.add_to_model: modality {name!r}: guard='scaled' needs "
                f"method='exact' (or the marginalized model), got method={method!r}"
            )
        proj = self._projector(operator, used, coords.shape[0])
        x = active_columns(coords, "Discrepancy")
        with pm.modelcontext(model):
            cov, eta, (lo, hi) = self._hyperpriors(name, x, data_scale, noise_scale)
            if method == "exact":
                k = cov(x)
                if self.guard == "scaled":
                    from bayesinv.model.discrepancy.guard import scaled_covariance

                    return "cov", scaled_covariance(k, eta, self.guard_scale)
                return "cov", k if proj is None else proj @ k @ proj
            phi, s = hsgp_basis(cov, x, (lo, hi), self.kernel, self.n_basis, self.c)
            if proj is not None:
                phi = proj @ phi
            if method == "lowrank":
                return "lowrank", (phi, s)
            return "mean", hsgp_weights(name, phi, s, self.centered, dims)

    def _projector(self, operator, used, n):
        if self.guard != "projection":
            return None
        from bayesinv.model.discrepancy.guard import projector

        return projector(operator, used, n, energy=self.guard_energy, rank=self.guard_rank)

    def covariance(self, name: str, coords, data_scale: float):
        """Return the GP covariance at the data (deprecated: :meth:`add_to_model`).

        Parameters
        ----------
        name : str
            Modality name.
        coords : array_like
            ``(n, k)`` data coordinates.
        data_scale : float
            Default amplitude scale.

        Returns
        -------
        TensorVariable
            ``(n, n)`` covariance matrix.
        """
        _deprecated("Discrepancy.covariance", "add_to_model(..., method='exact')")
        return self.add_to_model(name, coords, data_scale, method="exact")[1]

    def hsgp(self, name: str, coords, data_scale: float, dims: str | None = None):
        """Return δ at the data on the HSGP path (deprecated: :meth:`add_to_model`).

        Parameters
        ----------
        name : str
            Modality name.
        coords : array_like
            ``(n, k)`` data coordinates.
        data_scale : float
            Default amplitude scale.
        dims : str, optional
            Data dim name.

        Returns
        -------
        TensorVariable
            δ at the data.
        """
        _deprecated("Discrepancy.hsgp", "add_to_model(..., method='hsgp')")
        return self.add_to_model(name, coords, data_scale, method="hsgp", dims=dims)[1]
