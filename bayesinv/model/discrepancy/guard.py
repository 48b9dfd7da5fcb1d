r"""Identifiability guard: keep the discrepancy out of the span the physics explains.

A GP discrepancy that can reproduce what the physics predicts makes the physical
parameters unidentifiable: the data are explained equally well by the physics or by the GP
(Brynjarsdóttir & O'Hagan 2014). Following the orthogonal-discrepancy idea of Plumlee (2017)
and the projection used for linearised problems, the guard restricts the discrepancy to the
orthogonal complement of the data-space directions the linearised physics produces:

.. math::

    J = \frac{\partial (H F)}{\partial m}\Big|_{m_0} = U S V^T, \qquad
    U_r = U_{:, 1:r}, \qquad P_\perp = I - U_r U_r^T, \qquad δ = P_\perp \tilde δ,

where :math:`\tilde δ` is the unguarded GP, so the discrepancy covariance becomes
:math:`P_\perp K P_\perp` (exact path) or the basis :math:`P_\perp Φ` (HSGP paths), and
:math:`U_r^T δ = 0` almost surely. The rank :math:`r` is the smallest one whose singular values
hold a fraction ``energy`` of :math:`\sum S_i^2` (the physics' prior-predictive variance under
an isotropic input), or a given ``rank``. The guard gives the physics priority over the GP in
those directions: use it when the physics is trusted to explain them, not when the
unmodelled effect looks like something the physics can produce (then it is put into the
physical parameters, and their intervals under-cover).

The **scaled** guard (``guard="scaled"``) is the soft alternative, the scaled Gaussian
stochastic process (S-GaSP) of Gu & Wang (2018). The S-GaSP reweights the GP's prior by the
size of the discrepancy, :math:`Z = \int δ(x)^2\, dμ(x)`, with
:math:`p(Z) \propto p_{GP}(Z)\, e^{-λ Z / (2 η^2)}`; with :math:`μ` the empirical measure of
the ``n`` data, :math:`Z = \lVert δ \rVert^2 / n`, and the prior density of δ at the data is

.. math::

    p(δ) \propto e^{-\frac12 δ^T K^{-1} δ}\, e^{-\frac{λ}{2 n η^2} \lVert δ \rVert^2}
    = N(δ; 0, K_z), \qquad
    K_z = \Big(K^{-1} + \frac{λ}{n η^2} I\Big)^{-1}
        = K - K\,(K + τ I)^{-1} K, \quad τ = \frac{n η^2}{λ}.

In the eigenbasis of :math:`K = η^2 \sum_i r_i u_i u_i^T` the variances become
:math:`η^2 r_i / (1 + λ r_i / n) \le η^2 n / λ`: the smooth, high-variance directions (where
a GP and the physics overlap) are shrunk most, the rough ones are left alone, and the data
can still put a discrepancy there at a finite cost (so the physical parameters keep honest
intervals; the projection removes them outright). With a Gaussian likelihood the guard is
closed form: :math:`d \mid m, θ \sim N(G m, Σ + K_z)`, and in the marginalized
linear-Gaussian model (:mod:`.marginal`) :math:`d \mid θ \sim N(G \bar m, A A^T + K_z + Σ)`
with the field and δ drawn from their conditionals with :math:`D = K_z`. The second form is
evaluated (a Cholesky factor of the well-conditioned :math:`K + τ I`), never :math:`K^{-1}`.
"""

from __future__ import annotations

import numpy as np

from bayesinv._checks import check_float, check_int

__all__ = ["physics_basis", "projector", "scaled_covariance"]


def physics_basis(operator, used, *, energy: float = 0.99, rank=None, at=None) -> np.ndarray:
    r"""Orthonormal basis ``U_r`` of the data-space directions the linearised physics produces.

    Parameters
    ----------
    operator : ForwardOperator
        The modality's forward operator.
    used : numpy.ndarray
        Indices of the data in the likelihood.
    energy : float
        Fraction of :math:`\sum S_i^2` the kept singular vectors hold, in ``(0, 1]``.
    rank : int, optional
        Number of singular vectors to keep (overrides ``energy``); at most ``len(used)``.
    at : array_like, optional
        Linearisation point ``m_0`` (default zeros: exact for linear operators).

    Returns
    -------
    numpy.ndarray
        ``(len(used), r)`` with orthonormal columns.

    Notes
    -----
    The Jacobian rows are computed with one vjp per datum,
    :math:`J^T e_i`, so the cost is ``len(used)`` adjoint evaluations, once, at build time.
    """
    where = "physics_basis"
    used = np.asarray(used)
    n = used.size
    energy = check_float(energy, where, "energy", low=0.0, high=1.0, low_open=True)
    if rank is not None:
        rank = check_int(rank, where, "rank", low=1, high=n)
    m0 = np.zeros(operator.n_params) if at is None else np.asarray(at, dtype=np.float64)
    if m0.shape != (operator.n_params,):
        raise ValueError(
            f"{where}: at must have length {operator.n_params} (the operator's n_params), "
            f"got shape {m0.shape}"
        )
    rows = np.empty((n, operator.n_params))
    e = np.zeros(operator.n_data)
    for k, i in enumerate(used):
        e[i] = 1.0
        rows[k] = operator.vjp(m0, e)
        e[i] = 0.0
    u, s, _ = np.linalg.svd(rows, full_matrices=False)
    if rank is None:
        frac = np.cumsum(s**2) / max(np.sum(s**2), 1e-300)
        rank = int(np.searchsorted(frac, energy - 1e-12) + 1)
    rank = min(rank, n - 1) if n > 1 else 0
    return np.ascontiguousarray(u[:, :rank])


def projector(operator, used, n: int, *, energy: float = 0.99, rank=None) -> np.ndarray:
    r"""Return :math:`P_\perp = I - U_r U_r^T` (``n x n``) of :func:`physics_basis`.

    Parameters
    ----------
    operator : ForwardOperator
        The modality's forward operator (required).
    used : numpy.ndarray, optional
        Indices of the used data (default all ``n``).
    n : int
        Number of used data.
    energy, rank
        As in :func:`physics_basis`.

    Returns
    -------
    numpy.ndarray
    """
    if operator is None:
        raise ValueError(
            "Discrepancy.add_to_model: guard='projection' needs operator= (the modality's "
            "forward operator)"
        )
    used = np.arange(n) if used is None else np.asarray(used)
    u = physics_basis(operator, used, energy=energy, rank=rank)
    return np.eye(n) - u @ u.T


def scaled_covariance(k, amplitude, scale=None):
    r"""Covariance of the scaled (S-GaSP) discrepancy at the data, :math:`K_z`.

    Parameters
    ----------
    k : TensorVariable
        ``(n, n)`` covariance :math:`K = η^2 R` of the unscaled GP at the data.
    amplitude : TensorVariable or float
        η, the GP's amplitude (the penalty is relative to it, so it is scale-free).
    scale : float, optional
        λ; default :math:`\sqrt{n}`.

    Returns
    -------
    TensorVariable
        :math:`K_z = K - W^T W`, :math:`W = L^{-1} K`, :math:`L L^T = K + τ I`,
        :math:`τ = n η^2 / λ`.

    Notes
    -----
    See the module docstring: :math:`K_z = (K^{-1} + λ/(n η^2)\, I)^{-1}`, each eigenvalue
    :math:`η^2 r` of :math:`K` mapped to :math:`η^2 r/(1 + λ r/n)`.
    """
    import pytensor.tensor as pt

    k = pt.as_tensor_variable(k)
    n = int(k.type.shape[0]) if k.type.shape[0] is not None else None
    if n is None:
        raise ValueError("scaled_covariance: k must have a static shape (n, n)")
    lam = float(np.sqrt(n)) if scale is None else check_float(scale, "Discrepancy", "guard_scale")
    tau = n * pt.as_tensor_variable(amplitude) ** 2 / lam
    chol = pt.linalg.cholesky(k + tau * pt.eye(n), lower=True)
    w = pt.linalg.solve_triangular(chol, k, lower=True)
    out = k - w.T @ w
    return 0.5 * (out + out.T)
