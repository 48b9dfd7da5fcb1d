"""Wavenumbers and weights for the inverse cosine transform of 2.5-D DC resistivity.

The potential of a point source is recovered from the 2-D transformed potentials by

    φ(x, y=0, z) = (2/π) ∫_0^∞ φ̃(x, z, k) dk ≈ (2/π) Σ_i w_i φ̃(x, z, k_i).

Following the idea of Xu et al. (2000) and Pidlisecky et al. (2007), the rule is fitted to the
half-space response, for which ``φ̃ ∝ K0(k r)`` and ``∫_0^∞ K0(k r) dk = π / (2 r)``: the
wavenumbers are log-spaced over ``[0.1 / r_max, 4 / r_min]`` and the weights are the
non-negative least-squares solution of

    (2/π) r Σ_i w_i K0(k_i r) = 1   at 40 n log-spaced distances r in [r_min, r_max].

With fixed nodes this is a linear problem (deterministic, no local optimum); non-negative
weights keep the sum of the wavenumber Green's functions positive definite.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls
from scipy.special import k0e


def wavenumber_quadrature(r_min: float, r_max: float, n: int):
    """Wavenumbers ``k``, weights ``w`` and the largest relative error on ``[r_min, r_max]``."""
    r_max = max(r_max, 2.0 * r_min)
    r = np.geomspace(r_min, r_max, 40 * n)
    k = np.geomspace(0.1 / r_max, 4.0 / r_min, n)
    kr = np.outer(r, k)
    design = (2.0 / np.pi) * r[:, None] * k0e(kr) * np.exp(-kr)
    w = nnls(design, np.ones_like(r), maxiter=100 * n)[0]
    err = float(np.max(np.abs(design @ w - 1.0)))
    return k, w, err
