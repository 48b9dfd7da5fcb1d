"""Fields, derivatives and numba kernels of the Q1 resistivity system (private helper).

:class:`FieldSolver` holds the constant data of one operator (element matrices ``B_e(k)``,
the CSR pattern of ``A_k``, element nodes and cells, electrode nodes, quadrature weights)
and computes, for a model ``m``, the fields ``U_k = A_k^{-1} Q`` of unit sources at the used
electrodes, the electrode potentials ``V = Σ_k c_k Q^T U_k`` and the derivative contractions.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from bayesinv.operators.resistivity import _fe_numba as fk


class FieldSolver:
    """Constant data of the system and the per-model solves (see module docstring)."""

    def __init__(self, B, indptr, indices, position, enodes, cell, nodes, coef):
        self.B = B
        self.indptr, self.indices, self.position = indptr, indices, position
        self.enodes, self.cell, self.nodes, self.coef = enodes, cell, nodes, coef
        self.n = indptr.size - 1
        self.n_used = nodes.size
        self.nnz = indices.size
        rhs = np.zeros((self.n, self.n_used))
        rhs[nodes, np.arange(self.n_used)] = 1.0
        self.rhs = rhs

    def fields(self, m):
        """``(σ_e, U, V)`` at ``m``; ``(None, None, None)`` if ``σ`` or a factorisation fails."""
        sigma, ok = fk.element_sigma(m, self.cell)
        if not ok:
            return None, None, None
        nk = self.coef.size
        U = np.empty((nk, self.n, self.n_used))
        V = np.zeros((self.n_used, self.n_used))
        for i in range(nk):
            values = fk.assemble(sigma, self.B[i], self.position, self.nnz)
            A = sp.csc_matrix((values, self.indices, self.indptr), shape=(self.n, self.n))
            try:
                lu = splu(A, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
            except RuntimeError:
                return None, None, None
            U[i] = lu.solve(self.rhs)
            V += self.coef[i] * fk.electrode_potentials(U[i], self.nodes)
        if not np.all(np.isfinite(V)):
            return None, None, None
        return sigma, U, V

    def perturbation(self, U, sigma, dm):
        """``δV = -Σ_k c_k U_k^T δA_k U_k`` for ``δ log σ = dm`` (model cells)."""
        ds = sigma * dm[self.cell]
        dV = np.zeros((self.n_used, self.n_used))
        for i in range(self.coef.size):
            dV += fk.potential_perturbation(
                U[i], self.B[i], ds, self.enodes, self.nodes, self.coef[i]
            )
        return dV

    def gradient(self, U, sigma, W, n_params):
        """``Σ_ab W_ab ∂V_ab/∂m`` summed into model cells."""
        g = np.zeros(self.cell.size)
        for i in range(self.coef.size):
            g += fk.element_gradient(U[i], W, self.B[i], sigma, self.enodes, self.coef[i])
        return fk.cell_sum(g, self.cell, n_params)

    def kernels(self, pot, cur, scale, n_params):
        """Numba kernels (forward, jvp, vjp); ``None`` until the numba Cholesky is in."""
        return None
