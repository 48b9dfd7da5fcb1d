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
"""

from __future__ import annotations

import numpy as np

from bayesinv._checks import check_float, check_int

__all__ = ["physics_basis"]


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
