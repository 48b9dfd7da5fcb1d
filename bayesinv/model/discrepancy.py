r"""Model discrepancy: a Gaussian process over a modality's data coordinates.

Following Kennedy & O'Hagan (2001), the data of modality ``k`` are modelled as

.. math::

    d_k = H_k F_k(m) + δ_k + ε_k, \qquad δ_k \sim \mathcal{GP}(0, η_k^2 κ(\cdot, \cdot; ℓ_k)),
    \quad ε_k \sim N(0, Σ_k),

where :math:`δ_k` absorbs the systematic error of the physics (simplified geometry, missing
3-D effects, …) that noise alone cannot explain. For small data sets the GP is marginalised
exactly, :math:`d_k \sim N(H_k F_k(m), Σ_k + K_k)`; for large ones it is represented by
PyMC's Hilbert-space approximation (:class:`pymc.gp.HSGP`) with explicit basis weights.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from bayesinv._checks import check_choice, check_int, check_positive

__all__ = ["EXACT_MAX_DATA", "Discrepancy"]

#: largest data set marginalised exactly by ``method="auto"``. The exact path factorises an
#: ``n x n`` covariance at every gradient evaluation (O(n³)); measured with
#: ``benchmarks/bench_discrepancy.py``: 0.34 ms per logp+gradient at n = 100 and 38 ms at
#: n = 500, against 0.03 ms (n = 500) and 0.5 ms (n = 5000) on the HSGP path. Above 200 data
#: the HSGP path is used.
EXACT_MAX_DATA = 200

_KERNELS = {"matern32": "Matern32", "matern52": "Matern52", "expquad": "ExpQuad"}


def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f"{old} is deprecated and will be removed in bayesinv 0.3; use {new}",
        DeprecationWarning,
        stacklevel=3,
    )


def _active_columns(coords: np.ndarray) -> np.ndarray:
    """Drop coordinate columns that are constant (e.g. receivers all at z = 0)."""
    spread = np.ptp(coords, axis=0)
    keep = spread > 0
    if not np.any(keep):
        raise ValueError("all data coordinates coincide")
    return coords[:, keep]


@dataclass(frozen=True)
class Discrepancy:
    """Model-discrepancy Gaussian process over a modality's data coordinates.

    Parameters
    ----------
    kernel : {"matern32", "matern52", "expquad"}
        Covariance function κ.
    amplitude : float, optional
        Scale of the half-normal prior of the amplitude ``η`` (data units); by default the
        standard deviation of the modality's data.
    lengthscale : tuple of float, optional
        Range ``(low, high)`` holding about 95% of the prior mass of the length scale ``ℓ``
        (a log-normal prior); by default from twice the median spacing of the data
        coordinates to their extent. A single number is a fixed ℓ and needs ``fixed=True``
        (a number without it is refused with a message saying so, rather than read as a
        range or silently fixing only ℓ).
    method : {"auto", "exact", "hsgp"}
        ``"exact"`` marginalises the GP (covariance ``Σ + K``); ``"hsgp"`` uses the
        Hilbert-space approximation; ``"auto"`` picks exact up to :data:`EXACT_MAX_DATA` data.
    n_basis : int, optional
        HSGP basis functions per active coordinate; by default from
        :func:`pymc.gp.hsgp_approx.approx_hsgp_hyperparams` and the length-scale range.
    c : float, optional
        HSGP boundary factor (``L = c · half-extent``); by default from the same heuristic.
    centered : bool
        HSGP weights in non-centred form, ``w = sqrt(S(ω)) z`` with ``z ~ N(0, 1)`` (the
        default, PyMC's convention), or centred, ``w ~ N(0, S(ω))``. With learned
        hyperparameters the HSGP posterior has a funnel between η, ℓ and the weights; on a
        test with 80 data the non-centred form mixed about twice as well.
    fixed : bool
        Fix the hyperparameters instead of learning them: ``amplitude`` is then η itself and
        ``lengthscale`` a single number ℓ (useful for calibration studies and closed-form
        checks; no ``_amplitude``/``_lengthscale`` variables are added).

    Notes
    -----
    :meth:`add_to_model` adds the GP to a modality: ``("cov", K)`` on the exact path (``K`` is
    added to the noise covariance) or ``("mean", δ)`` on the HSGP path (δ is added to the
    prediction). Variables added for modality ``name``: ``{name}_discrepancy_amplitude`` (η),
    ``{name}_discrepancy_lengthscale`` (ℓ) and, on the HSGP path, the basis weights
    ``{name}_discrepancy_coef`` (see ``centered``) and the deterministic
    ``{name}_discrepancy`` (δ at the data).
    Coordinates that are constant across the data (e.g. ``z = 0`` of surface receivers) are
    dropped before the GP is built.
    """

    kernel: str = "matern52"
    amplitude: float | None = None
    lengthscale: tuple[float, float] | None = None
    method: str = "auto"
    n_basis: int | None = None
    c: float | None = None
    centered: bool = False
    fixed: bool = False

    def __post_init__(self):
        where = "Discrepancy"
        check_choice(self.kernel, where, "kernel", sorted(_KERNELS))
        check_choice(self.method, where, "method", ("auto", "exact", "hsgp"))
        if self.amplitude is not None:
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
            self._check_range()

    def _check_range(self):
        ls = self.lengthscale
        if isinstance(ls, str) or np.ndim(ls) == 0:
            raise ValueError(
                f"Discrepancy: lengthscale={ls!r} is a single number, but without fixed=True "
                "lengthscale is the range (low, high) of the length-scale prior; pass "
                "lengthscale=(low, high), or fixed=True with amplitude=η to fix both "
                "hyperparameters"
            )
        if len(ls) != 2:
            raise ValueError(f"Discrepancy: lengthscale must be a pair (low, high), got {ls!r}")
        lo = check_positive(ls[0], "Discrepancy", "lengthscale low")
        hi = check_positive(ls[1], "Discrepancy", "lengthscale high")
        if not lo < hi:
            raise ValueError(
                f"Discrepancy: lengthscale must be (low, high) with 0 < low < high, got {ls!r}"
            )

    def resolve_method(self, n_data: int) -> str:
        """Return the method used for ``n_data`` data (``"exact"`` or ``"hsgp"``).

        Parameters
        ----------
        n_data : int
            Number of data of the modality.

        Returns
        -------
        str
        """
        if self.method != "auto":
            return self.method
        return "exact" if n_data <= EXACT_MAX_DATA else "hsgp"

    def lengthscale_range(self, coords: np.ndarray) -> tuple[float, float]:
        """Length-scale prior range for the given (active) data coordinates.

        Parameters
        ----------
        coords : numpy.ndarray
            ``(n, k)`` active coordinates.

        Returns
        -------
        tuple of float
        """
        if self.fixed:
            ell = float(self.lengthscale)
            return ell / 2, ell * 2
        if self.lengthscale is not None:
            return tuple(map(float, self.lengthscale))
        extent = float(np.max(np.ptp(coords, axis=0)))
        diffs = np.diff(np.sort(coords, axis=0), axis=0)
        diffs = diffs[diffs > 0]
        spacing = float(np.median(diffs)) if diffs.size else extent / 10
        lo = min(2.0 * spacing, extent / 4)
        return lo, extent

    def _hyperpriors(self, name: str, coords: np.ndarray, data_scale: float):
        import pymc as pm

        lo, hi = self.lengthscale_range(coords)
        if self.fixed:
            eta, ell = np.float64(self.amplitude), np.float64(self.lengthscale)
        else:
            mu, sd = 0.5 * (np.log(lo) + np.log(hi)), 0.25 * (np.log(hi) - np.log(lo))
            eta = pm.HalfNormal(
                f"{name}_discrepancy_amplitude", sigma=self.amplitude or max(data_scale, 1e-300)
            )
            ell = pm.LogNormal(f"{name}_discrepancy_lengthscale", mu=mu, sigma=sd)
        dim = coords.shape[1]
        cov = eta**2 * getattr(pm.gp.cov, _KERNELS[self.kernel])(dim, ls=ell)
        return cov, (lo, hi)

    def add_to_model(
        self, name: str, coords, data_scale: float, *, method=None, dims=None, model=None
    ):
        """Add the discrepancy GP of modality ``name`` to the model.

        Parameters
        ----------
        name : str
            Modality name (prefix of the variables).
        coords : array_like
            ``(n, k)`` coordinates of the used data.
        data_scale : float
            Default amplitude scale (the data's standard deviation).
        method : {"exact", "hsgp"}, optional
            Representation; by default :meth:`resolve_method` of the number of data.
        dims : str, optional
            Data dim of the deterministic ``{name}_discrepancy`` (HSGP path).
        model : pymc.Model, optional
            Defaults to the model in context.

        Returns
        -------
        tuple
            ``("cov", K)``, the ``(n, n)`` GP covariance to add to the noise covariance
            (exact path), or ``("mean", δ)``, the GP at the data to add to the prediction
            (HSGP path).
        """
        import pymc as pm

        coords = np.asarray(coords, dtype=np.float64)
        if coords.ndim == 1:
            coords = coords[:, None]
        method = self.resolve_method(coords.shape[0]) if method is None else method
        check_choice(method, "Discrepancy.add_to_model", "method", ("exact", "hsgp"))
        with pm.modelcontext(model):
            if method == "exact":
                return "cov", self._covariance(name, coords, data_scale)
            return "mean", self._hsgp(name, coords, data_scale, dims)

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
        return self._covariance(name, coords, data_scale)

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
        return self._hsgp(name, coords, data_scale, dims)

    def _covariance(self, name: str, coords, data_scale: float):
        """Add the hyperparameters and return the GP covariance ``K`` at the data (exact path).

        Parameters
        ----------
        name : str
            Modality name.
        coords : array_like
            ``(n, k)`` data coordinates.
        data_scale : float
            Default amplitude scale (the data's standard deviation).

        Returns
        -------
        TensorVariable
            ``(n, n)`` covariance matrix.
        """
        x = _active_columns(np.asarray(coords, dtype=np.float64))
        cov, _ = self._hyperpriors(name, x, data_scale)
        return cov(x)

    def _hsgp(self, name: str, coords, data_scale: float, dims: str | None = None):
        """Add the hyperparameters and HSGP weights; return δ at the data (HSGP path).

        Parameters
        ----------
        name : str
            Modality name.
        coords : array_like
            ``(n, k)`` data coordinates.
        data_scale : float
            Default amplitude scale.
        dims : str, optional
            Data dim name for the deterministic ``{name}_discrepancy``.

        Returns
        -------
        TensorVariable
            δ at the data, length ``n``.
        """
        import pymc as pm

        x = _active_columns(np.asarray(coords, dtype=np.float64))
        cov, (lo, hi) = self._hyperpriors(name, x, data_scale)
        if self.n_basis is None or self.c is None:
            extent = np.ptp(x, axis=0).max()
            m, c = pm.gp.hsgp_approx.approx_hsgp_hyperparams(
                [0.0, float(extent)], [lo, hi], self.kernel
            )
            m = min(m, 200 if x.shape[1] == 1 else 30)
        m = self.n_basis or m
        c = self.c or c
        gp = pm.gp.HSGP(m=[m] * x.shape[1], c=c, cov_func=cov)
        phi, sqrt_psd = gp.prior_linearized(x)
        if self.centered:
            coef = pm.Normal(f"{name}_discrepancy_coef", 0.0, sqrt_psd, size=gp.n_basis_vectors)
            delta = phi @ coef
        else:
            coef = pm.Normal(f"{name}_discrepancy_coef", 0.0, 1.0, size=gp.n_basis_vectors)
            delta = phi @ (coef * sqrt_psd)
        return pm.Deterministic(f"{name}_discrepancy", delta, dims=dims)
