"""Closed-form DC resistivity references (for tests, benchmarks and users checking a mesh)."""

from __future__ import annotations

import numpy as np

__all__ = ["two_layer_potential"]


def two_layer_potential(r, rho1, rho2, h, n_terms=4000):
    r"""Surface potential of a unit point current over a two-layer earth (image series).

    Parameters
    ----------
    r : array_like
        Distances from the current electrode on the surface (m), > 0.
    rho1, rho2 : float
        Resistivities of the top layer and of the half-space below (Ω·m).
    h : float
        Thickness of the top layer (m).
    n_terms : int
        Number of image terms.

    Returns
    -------
    numpy.ndarray
        Potential (V per A) at ``r``.

    Notes
    -----
    The closed form of Stefanescu's integral for two layers,

    .. math::

        V(r) = \frac{\rho_1}{2\pi}\Big[\frac{1}{r}
               + 2\sum_{n \ge 1} \frac{q^n}{\sqrt{r^2 + (2 n h)^2}}\Big],
        \qquad q = \frac{\rho_2 - \rho_1}{\rho_2 + \rho_1};

    the series converges geometrically since :math:`|q| < 1`.
    """
    q = (rho2 - rho1) / (rho2 + rho1)
    n = np.arange(1, n_terms + 1)
    r = np.asarray(r, dtype=float)[..., None]
    series = np.sum(q**n / np.sqrt(r**2 + (2 * n * h) ** 2), axis=-1)
    return rho1 / (2 * np.pi) * (1.0 / r[..., 0] + 2.0 * series)
