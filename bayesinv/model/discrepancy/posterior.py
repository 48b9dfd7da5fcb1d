r"""The discrepancy's posterior at the data, from draws of an integrated model.

On the integrated paths (``"exact"``, ``"lowrank"``) δ is not sampled. Given the physics'
prediction :math:`\hat d`, the hyperparameters (η, ℓ) and Gaussian noise :math:`Σ`, it is
Gaussian:

.. math::

    δ \mid d, \hat d, η, ℓ \sim N\big(K (K + Σ)^{-1} (d - \hat d),\;
    K - K (K + Σ)^{-1} K\big), \qquad K = η^2 κ(x, x'; ℓ),

so one draw of δ per posterior draw gives its posterior mean and band against station
position.
"""

from __future__ import annotations

import numpy as np

from bayesinv import _seeds
from bayesinv._checks import check_array, check_choice, check_positive

__all__ = ["conditional_discrepancy", "kernel_matrix"]


def kernel_matrix(kernel: str, x, eta: float, ell: float) -> np.ndarray:
    r"""Return the stationary kernel matrix :math:`η^2 κ(|x_i - x_j| / ℓ)` in numpy.

    Parameters
    ----------
    kernel : {"matern32", "matern52", "expquad"}
        Kernel.
    x : array_like
        ``(n,)`` or ``(n, k)`` coordinates.
    eta, ell : float
        Amplitude and length scale.

    Returns
    -------
    numpy.ndarray
        ``(n, n)``.

    Notes
    -----
    With :math:`r = \|x - x'\|/ℓ`: Matérn-3/2 :math:`(1 + \sqrt3 r) e^{-\sqrt3 r}`,
    Matérn-5/2 :math:`(1 + \sqrt5 r + 5r^2/3) e^{-\sqrt5 r}`, squared exponential
    :math:`e^{-r^2/2}`.
    """
    where = "kernel_matrix"
    check_choice(kernel, where, "kernel", ("matern32", "matern52", "expquad"))
    x = np.asarray(x, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    eta, ell = check_positive(eta, where, "eta"), check_positive(ell, where, "ell")
    r = np.sqrt(np.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)) / ell
    if kernel == "matern32":
        k = (1 + np.sqrt(3) * r) * np.exp(-np.sqrt(3) * r)
    elif kernel == "matern52":
        k = (1 + np.sqrt(5) * r + 5 * r**2 / 3) * np.exp(-np.sqrt(5) * r)
    else:
        k = np.exp(-0.5 * r**2)
    return eta**2 * k


def conditional_discrepancy(residuals, noise_sd, covariances, *, random_seed):
    r"""Draw δ from its conditional posterior, one draw per posterior draw.

    Parameters
    ----------
    residuals : array_like
        ``(draws, n)`` residuals :math:`d - \hat d` of the physics at each posterior draw.
    noise_sd : array_like
        ``(n,)`` or ``(draws, n)`` noise standard deviations.
    covariances : array_like
        ``(draws, n, n)`` GP covariances :math:`K` at each draw (see :func:`kernel_matrix`).
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Seed.

    Returns
    -------
    tuple of numpy.ndarray
        ``(means, draws)``, both ``(draws, n)``: the conditional means and one draw of δ
        per posterior draw (their spread over draws is the posterior band).
    """
    where = "conditional_discrepancy"
    rng = _seeds.as_generator(random_seed, where, "random_seed")
    r = check_array(residuals, where, "residuals", ndim=2)
    s, n = r.shape
    k = check_array(covariances, where, "covariances", shape=(s, n, n))
    sd = np.broadcast_to(check_array(noise_sd, where, "noise_sd"), (s, n))
    if np.any(sd <= 0):
        raise ValueError(f"{where}: noise_sd must be > 0")
    means, out = np.empty((s, n)), np.empty((s, n))
    for i in range(s):
        c = np.linalg.cholesky(k[i] + np.diag(sd[i] ** 2))
        w = np.linalg.solve(c.T, np.linalg.solve(c, np.column_stack([r[i], k[i]])))
        means[i] = k[i] @ w[:, 0]
        cov = k[i] - k[i] @ w[:, 1:]
        lc = np.linalg.cholesky(0.5 * (cov + cov.T) + 1e-12 * np.trace(cov) / n * np.eye(n))
        out[i] = means[i] + lc @ rng.standard_normal(n)
    return means, out
