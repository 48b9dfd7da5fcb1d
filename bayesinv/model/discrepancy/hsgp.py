r"""Hilbert-space GP basis of the discrepancy (Solin & Särkkä 2020; Riutort-Mayol et al. 2023).

On :math:`[-L, L]^k` the GP is :math:`δ(x) \approx \sum_j φ_j(x)\, s_j\, z_j` with Laplacian
eigenfunctions :math:`φ_j`, :math:`s_j = \sqrt{S(\sqrt{λ_j})}` (the kernel's spectral density,
η² included) and :math:`z_j \sim N(0, 1)`. The basis size follows
:func:`pymc.gp.hsgp_approx.approx_hsgp_hyperparams` for the length-scale range, so it grows
with the survey's extent over its shortest identifiable length scale.
"""

from __future__ import annotations

import numpy as np

__all__ = ["hsgp_basis", "hsgp_weights"]

#: largest number of basis functions per coordinate picked automatically (1-D, k-D)
MAX_BASIS = (200, 30)


def hsgp_basis(cov, x: np.ndarray, ls_range, kernel: str, n_basis=None, c=None):
    """Return the HSGP basis at the data and the weights' standard deviations.

    Parameters
    ----------
    cov : pymc.gp.cov.Covariance
        Stationary covariance (with η² and ℓ).
    x : numpy.ndarray
        ``(n, k)`` active coordinates.
    ls_range : tuple of float
        Length-scale range ``(low, high)`` for the automatic basis size.
    kernel : str
        Kernel name for :func:`~pymc.gp.hsgp_approx.approx_hsgp_hyperparams`.
    n_basis : int, optional
        Basis functions per coordinate (automatic by default).
    c : float, optional
        Boundary factor (automatic by default).

    Returns
    -------
    tuple
        ``(Φ, s)``: the ``(n, m)`` basis as a numpy array and the ``m`` standard deviations
        (a tensor of η and ℓ).
    """
    import pymc as pm

    if n_basis is None or c is None:
        extent = np.ptp(x, axis=0).max()
        m0, c0 = pm.gp.hsgp_approx.approx_hsgp_hyperparams(
            [0.0, float(extent)], list(ls_range), kernel
        )
        n_basis = n_basis or min(m0, MAX_BASIS[0] if x.shape[1] == 1 else MAX_BASIS[1])
        c = c or c0
    gp = pm.gp.HSGP(m=[n_basis] * x.shape[1], c=c, cov_func=cov)
    phi, sqrt_psd = gp.prior_linearized(x)
    return np.asarray(phi.eval() if hasattr(phi, "eval") else phi), sqrt_psd


def hsgp_weights(name: str, phi: np.ndarray, s, centered: bool, dims=None):
    """Add the basis weights and return the deterministic ``{name}_discrepancy = Φ w``.

    Parameters
    ----------
    name : str
        Modality name.
    phi : numpy.ndarray
        ``(n, m)`` basis.
    s : TensorVariable
        Weight standard deviations.
    centered : bool
        ``w ~ N(0, s²)`` (centred) or ``w = s z`` with ``z ~ N(0, 1)`` (non-centred).
    dims : str, optional
        Data dim.

    Returns
    -------
    TensorVariable
        δ at the data.
    """
    import pymc as pm

    n = phi.shape[1]
    if centered:
        coef = pm.Normal(f"{name}_discrepancy_coef", 0.0, s, size=n)
        delta = phi @ coef
    else:
        coef = pm.Normal(f"{name}_discrepancy_coef", 0.0, 1.0, size=n)
        delta = phi @ (coef * s)
    return pm.Deterministic(f"{name}_discrepancy", delta, dims=dims)
