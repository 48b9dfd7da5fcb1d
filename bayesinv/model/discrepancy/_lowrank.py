r"""The HSGP discrepancy integrated out of a Gaussian likelihood (Woodbury identity).

With HSGP basis :math:`Φ` (``n x m``), weights :math:`w \sim N(0, \mathrm{diag}(s^2))`,
:math:`s_j = η \sqrt{S(ω_j; ℓ)}`, and diagonal noise :math:`\mathrm{diag}(σ^2)`, the data are
:math:`d \sim N(μ, C)` with :math:`C = \mathrm{diag}(σ^2) + Φ\,\mathrm{diag}(s^2)\,Φ^T`. With
:math:`Ψ = \mathrm{diag}(σ)^{-1} Φ\, \mathrm{diag}(s)` and :math:`A = I_m + Ψ^TΨ = LL^T`,

.. math::

    \log|C| = 2\sum_i \log σ_i + 2 \sum_j \log L_{jj}, \qquad
    r^T C^{-1} r = \tilde r^T \tilde r - c^T c, \quad \tilde r = r/σ,\ c = L^{-1} Ψ^T \tilde r,

at :math:`O(n m^2 + m^3)` per evaluation instead of :math:`O(n^3)`, and
:math:`O(n m + m^3)` when the noise is known (then :math:`Ψ_0^TΨ_0` is a constant,
:math:`Ψ_0 = \mathrm{diag}(σ)^{-1}Φ`). Writing :math:`A` with
:math:`s` inside (rather than :math:`\mathrm{diag}(s)^{-2} + Φ^TΣ^{-1}Φ`) keeps it well
conditioned when high-frequency weights have a vanishing spectral density.
"""

from __future__ import annotations

import numpy as np

__all__ = ["lowrank_normal"]


def _logp_fn(phi: np.ndarray):
    import pytensor.tensor as pt

    def logp(value, mu, sd, s):
        r = (value - mu) / sd
        psi0 = phi / sd[:, None]  # Ψ = Ψ0 diag(s); Ψ0ᵀΨ0 is constant-folded for known noise
        a = pt.eye(s.shape[0]) + s[:, None] * (psi0.T @ psi0) * s[None, :]
        chol = pt.linalg.cholesky(a, lower=True)
        c = pt.linalg.solve_triangular(chol, s * (psi0.T @ r), lower=True)
        n = value.shape[0]
        return (
            -0.5 * (pt.sum(r**2) - pt.sum(c**2))
            - pt.sum(pt.log(sd))
            - pt.sum(pt.log(pt.diag(chol)))
            - 0.5 * n * np.log(2.0 * np.pi)
        )

    return logp


def _random_fn(phi: np.ndarray):
    def random(mu, sd, s, rng=None, size=None):
        mu, sd, s = (np.asarray(v, dtype=np.float64) for v in (mu, sd, s))
        shape = tuple(np.atleast_1d(size)) if size is not None else mu.shape[:-1]
        z = rng.standard_normal((*shape, s.shape[-1]))
        eps = rng.standard_normal((*shape, phi.shape[0]))
        return mu + (z * s) @ phi.T + sd * eps

    return random


def lowrank_normal(name: str, mu, sd, phi: np.ndarray, s, observed, dims=None):
    """Observed ``name ~ N(mu, diag(sd²) + Φ diag(s²) Φᵀ)`` evaluated with the Woodbury identity.

    Parameters
    ----------
    name : str
        Name of the observed variable.
    mu : TensorVariable
        Mean (the physics' prediction), length ``n``.
    sd : TensorVariable or array_like
        Noise standard deviations, length ``n``.
    phi : numpy.ndarray
        ``(n, m)`` HSGP basis at the data.
    s : TensorVariable
        ``m`` standard deviations of the basis weights.
    observed : numpy.ndarray
        The data.
    dims : str, optional
        Data dim.

    Returns
    -------
    TensorVariable
        The observed random variable (one joint log-density term).

    Notes
    -----
    See the module docstring for the algebra.
    """
    import pymc as pm
    import pytensor.tensor as pt

    phi = np.ascontiguousarray(phi, dtype=np.float64)
    sd = pt.as_tensor_variable(sd, dtype="float64") * pt.ones(phi.shape[0])
    return pm.CustomDist(
        name,
        mu,
        sd,
        s,
        logp=_logp_fn(phi),
        random=_random_fn(phi),
        signature="(n),(n),(m)->(n)",
        observed=observed,
        dims=dims,
    )
