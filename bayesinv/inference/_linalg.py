r"""Linear algebra shared by the Laplace and preconditioning paths.

- :func:`hessian_action`: the Hessian of :math:`-\log p` applied to vectors by central
  differences of a compiled gradient, :math:`Hv ≈ -(g(x + hv) - g(x - hv)) / 2h` (exact for
  Gaussian posteriors up to rounding), with a count of gradient evaluations;
- :func:`dense_hessian`: the whole matrix from ``n`` such actions, symmetrised;
- :func:`randomized_eigh`: the one randomised eigensolver (Halko, Martinsson & Tropp 2011,
  Algorithms 4.4 and 5.3): a range finder with power iterations, then the eigenpairs of
  the projected matrix, largest in magnitude first;
- :func:`leading_eigh`: :func:`randomized_eigh` with the rank doubled until the smallest
  kept eigenvalue is below a tolerance.
"""

from __future__ import annotations

import numpy as np

from bayesinv import _checks

__all__ = ["dense_hessian", "hessian_action", "leading_eigh", "randomized_eigh"]


class hessian_action:  # a class used like a function (it counts its calls)
    r"""Hessian of :math:`-\log p` at ``x`` applied to vectors, from gradient differences.

    Parameters
    ----------
    logp_dlogp : callable
        ``x -> (logp, gradient)`` on flat coordinates.
    x : array_like, shape (n,)
        The point.
    step : float
        Finite-difference step :math:`h` (along unit vectors).

    Attributes
    ----------
    n_gradients : int
        Gradient evaluations so far (two per product).

    Notes
    -----
    :math:`Hv ≈ -\big(\nabla \log p(x + hv) - \nabla \log p(x - hv)\big) / 2h`.
    """

    def __init__(self, logp_dlogp, x, step: float = 1e-4):
        self.logp_dlogp = logp_dlogp
        self.x = np.asarray(x, dtype=np.float64)
        self.step = _checks.check_positive(step, "hessian_action", "step")
        self.n_gradients = 0

    def __call__(self, v) -> np.ndarray:
        """Return :math:`H v`."""
        v = np.asarray(v, dtype=np.float64)
        self.n_gradients += 2
        h = self.step
        plus = np.asarray(self.logp_dlogp(self.x + h * v)[1], dtype=np.float64)
        minus = np.asarray(self.logp_dlogp(self.x - h * v)[1], dtype=np.float64)
        return -(plus - minus) / (2.0 * h)


def dense_hessian(matvec, n: int) -> np.ndarray:
    """Form a symmetric matrix from its action on the ``n`` unit vectors.

    Parameters
    ----------
    matvec : callable
        ``v -> H v``.
    n : int
        Dimension.

    Returns
    -------
    numpy.ndarray
        :math:`(H + H^T) / 2`, shape ``(n, n)``.
    """
    h = np.column_stack([matvec(e) for e in np.eye(n)])
    return 0.5 * (h + h.T)


def randomized_eigh(
    matvec,
    n: int,
    rank: int,
    *,
    rng: np.random.Generator,
    oversampling: int = 10,
    power_iterations: int = 1,
    start_basis=None,
):
    r"""Leading eigenpairs of a symmetric operator known only through products.

    Parameters
    ----------
    matvec : callable
        ``v -> A v`` for a symmetric ``A`` (``n × n``).
    n : int
        Dimension.
    rank : int
        Eigenpairs returned (at most ``rank + oversampling`` and ``n``).
    rng : numpy.random.Generator
        Draws the random test block.
    oversampling : int
        Extra test vectors.
    power_iterations : int
        Power iterations of the range finder (sharpen slowly decaying spectra).
    start_basis : array_like, shape (n, k), optional
        Directions put in the first ``k`` columns of the test block (the random columns
        they replace are still drawn, so the generator advances the same way).

    Returns
    -------
    eigenvalues : numpy.ndarray, shape (r,)
        Largest in magnitude first.
    eigenvectors : numpy.ndarray, shape (n, r)
        Orthonormal columns.

    Notes
    -----
    With :math:`Ω` the test block, :math:`Q = \mathrm{qr}(A^{q+1} Ω)` (re-orthogonalised at
    each power step) and :math:`Q^T A Q = S Λ S^T`, the eigenpairs are :math:`(Λ, Q S)`.
    """
    k = min(int(n), int(rank) + int(oversampling))
    block = rng.standard_normal((n, k))
    if start_basis is not None:
        start = np.asarray(start_basis, dtype=np.float64).reshape(n, -1)[:, :k]
        block[:, : start.shape[1]] = start

    def apply(columns):
        return np.column_stack([matvec(columns[:, j]) for j in range(columns.shape[1])])

    q, _ = np.linalg.qr(apply(block))
    for _ in range(int(power_iterations)):
        q, _ = np.linalg.qr(apply(q))
    t = q.T @ apply(q)
    w, s = np.linalg.eigh(0.5 * (t + t.T))
    order = np.argsort(np.abs(w))[::-1][: int(rank)]
    return w[order], q @ s[:, order]


def leading_eigh(
    matvec,
    n: int,
    *,
    rng: np.random.Generator,
    rank: int = 20,
    max_rank: int = 200,
    tol: float = 0.1,
    oversampling: int = 10,
    start_basis=None,
):
    """Eigenpairs of magnitude at least ``tol``: :func:`randomized_eigh`, rank doubled as needed.

    Parameters
    ----------
    matvec : callable
        ``v -> A v`` for a symmetric ``A``.
    n : int
        Dimension.
    rng : numpy.random.Generator
        Random test blocks.
    rank : int
        Starting rank.
    max_rank : int
        Largest rank tried.
    tol : float
        Stop when the smallest kept eigenvalue is below ``tol`` in magnitude.
    oversampling : int
        Extra test vectors.
    start_basis : array_like, optional
        Directions in the first test columns (see :func:`randomized_eigh`).

    Returns
    -------
    eigenvalues, eigenvectors : numpy.ndarray
        As :func:`randomized_eigh` returns them, for the last rank tried.
    """
    r = int(rank)
    while True:
        lam, vecs = randomized_eigh(
            matvec, n, r, rng=rng, oversampling=oversampling, start_basis=start_basis
        )
        if np.abs(lam[-1]) < tol or r >= max_rank or r + oversampling >= n:
            return lam, vecs
        r = min(2 * r, int(max_rank))
