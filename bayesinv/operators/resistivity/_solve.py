"""Fields, derivatives and numba kernels of the Q1 resistivity system (private helper).

:class:`FieldSolver` holds the constant data of one operator (element matrices ``B_e(k)``,
the Cholesky pattern of ``A_k``, element nodes and cells, electrode nodes, quadrature
weights ``c_k = w_k / π``) and computes, for a model ``m``, the fields
``U_k = A_k^{-1} Q`` of unit sources at the used electrodes (one row per source), the
electrode potentials ``V = Σ_k c_k Q^T U_k`` and the derivative contractions of ``_fe_numba``.

Each wavenumber is factorised once by the shared sparse Cholesky
(:class:`~bayesinv.operators._supernodal_numba.SparseCholesky`: the envelope factor after
reverse Cuthill–McKee on small meshes, the supernodal factor after nested dissection of the
node grid on large ones, whichever needs fewer flops) and all its sources are solved in one
multi-right-hand-side call; the adjoint fields are ``W U_k`` (no further solve). The loops
over wavenumbers are ``prange`` loops: each iteration allocates its own matrix values,
factor and fields and writes only its own slot of a per-wavenumber output, which is summed
serially afterwards (deterministic, thread-safe).
"""

from __future__ import annotations

import numba
import numpy as np

from bayesinv._numba import njit
from bayesinv.operators._supernodal_numba import (
    SparseCholesky,
    sparse_factor,
    sparse_solve_rows,
)
from bayesinv.operators.base import NumbaKernels
from bayesinv.operators.resistivity import _fe_numba as fk

# The wavenumber loops are written with ``prange`` (independent iterations, each writing
# its own slot) but compiled serially: measured on the 2-core CI machine under load, numba's
# OpenMP layer made ``solve_fields`` at 16x8 cells 440 ms instead of 18 ms (worker threads
# spinning against nutpie's chain threads), and gave no speed-up at 32x16 with a passive
# wait policy (91 vs 88 ms); parallel compilation also took ~3x longer. Set to ``True``
# on a machine with idle cores and one sampler thread.
PARALLEL = False

#: largest state (fields of all wavenumbers, in float64 values) handed from the forward to the
#: gradient of a compiled model (32 MB); a larger system recomputes the fields in the vjp
STATE_LIMIT = 4_000_000


@njit(cache=True, nogil=True)
def _factor_solve(sigma, b_k, chol, nodes, n_factor):
    """Fields ``U`` (``(n_used, n)``) of one wavenumber and whether the factorisation worked."""
    L = np.empty(n_factor)
    ok = sparse_factor(chol, fk.assemble(sigma, b_k), L)
    U = np.zeros((nodes.shape[0], chol[1].shape[0]))
    if not ok:
        return U, False
    for a in range(nodes.shape[0]):
        U[a, nodes[a]] = 1.0
    sparse_solve_rows(chol, L, U)
    return U, True


@njit(cache=True, nogil=True, parallel=PARALLEL)
def solve_fields(m, cell, B, chol, nodes, coef, n_factor):
    """``(σ_e, U (n_k, n_used, n), V, ok)``; prange over wavenumbers (each writes its slot)."""
    sigma, ok = fk.element_sigma(m, cell)
    nk, nu = B.shape[0], nodes.shape[0]
    U = np.zeros((nk, nu, chol[1].shape[0]))
    good = np.zeros(nk, dtype=np.bool_)
    if not ok:
        return sigma, U, np.zeros((nu, nu)), False
    for i in numba.prange(nk):
        Ui, good[i] = _factor_solve(sigma, B[i], chol, nodes, n_factor)
        U[i] = Ui
    V = np.zeros((nu, nu))
    for i in range(nk):
        V += coef[i] * fk.electrode_potentials(U[i], nodes)
    return sigma, U, V, bool(np.all(good)) and bool(np.all(np.isfinite(V)))


class FieldSolver:
    """Constant data of the system and the per-model solves (see module docstring)."""

    def __init__(self, B, enodes, cell, nodes, coef, n_nodes, grid_shape=None, method="auto"):
        self.B, self.enodes, self.cell, self.nodes, self.coef = B, enodes, cell, nodes, coef
        self.n_used = nodes.size
        rows = np.repeat(enodes, 4, axis=1).ravel()
        cols = np.tile(enodes, (1, 4)).ravel()
        self.cholesky = SparseCholesky(rows, cols, n_nodes, grid_shape, method)
        self.chol = self.cholesky.arrays
        self.perm = self.cholesky.perm
        self.n_factor = self.cholesky.size

    def _args(self):
        return (self.chol, self.nodes)

    def fields(self, m):
        """``(σ_e, U, V)`` at ``m``; ``(None, None, None)`` if ``σ`` or a factorisation fails."""
        with np.errstate(all="ignore"):
            sigma, U, V, ok = solve_fields(
                m, self.cell, self.B, *self._args(), self.coef, self.n_factor
            )
        if not ok:
            return None, None, None
        return sigma, U, V

    def perturbation(self, U, sigma, dm):
        """``δV = -Σ_k c_k U_k δA_k U_k^T`` for ``δ log σ = dm`` (model cells)."""
        ds = sigma * dm[self.cell]
        dV = np.zeros((self.n_used, self.n_used))
        for i in range(self.coef.size):
            dV += fk.potential_perturbation(U[i], self.B[i], ds, self.enodes, self.coef[i])
        return dV

    def gradient(self, U, sigma, W, n_params):
        """``Σ_ab W_ab ∂V_ab/∂m`` summed into model cells."""
        g = np.zeros(self.cell.size)
        for i in range(self.coef.size):
            g += fk.element_gradient(U[i], W, self.B[i], sigma, self.enodes, self.coef[i])
        return fk.cell_sum(g, self.cell, n_params)

    def kernels(self, pot, cur, scale, n_params) -> NumbaKernels:
        """Numba kernels (forward, jvp, vjp) closing over this system and the selection."""
        args = (
            self.cell,
            self.B,
            self.chol,
            self.nodes,
            self.coef,
            self.n_factor,
        )
        enodes = self.enodes

        @njit(nogil=True)
        def forward(m):
            return forward_kernel(np.ascontiguousarray(m), *args, pot, cur, scale)

        @njit(nogil=True)
        def jvp(m, dm):
            return jvp_kernel(np.ascontiguousarray(m), dm, *args, enodes, pot, cur, scale)

        @njit(nogil=True)
        def vjp(m, dd):
            return vjp_kernel(np.ascontiguousarray(m), dd, *args, enodes, pot, cur, scale, n_params)

        if self.state_size > STATE_LIMIT:
            return NumbaKernels(forward, jvp, vjp)
        shape = (self.coef.size, self.n_used, self.perm.size)

        @njit(nogil=True)
        def forward_state(m):
            d, U = forward_fields_kernel(np.ascontiguousarray(m), *args, pot, cur, scale)
            return d, U.reshape(U.size)

        @njit(nogil=True)
        def vjp_state(m, state, dd):
            U = np.ascontiguousarray(state).reshape(shape)
            m = np.ascontiguousarray(m)
            return vjp_from_fields(
                m, U, dd, cell, B, nodes, coef, enodes, pot, cur, scale, n_params
            )

        cell, B, nodes, coef = self.cell, self.B, self.nodes, self.coef
        return NumbaKernels(forward, jvp, vjp, forward_state, vjp_state)

    @property
    def state_size(self) -> int:
        """Length of the fields ``U`` of all wavenumbers, the state handed to the gradient."""
        return int(self.coef.size * self.n_used * self.perm.size)


# The fused kernels: one prange over wavenumbers (factor, multi-RHS solve, contract; see
# PARALLEL); each iteration writes only its own slot of a per-wavenumber array (gather per
# wavenumber), summed serially afterwards in a fixed order (deterministic).
@njit(cache=True, nogil=True, parallel=PARALLEL)
def forward_kernel(m, cell, B, chol, nodes, coef, n_factor, pot, cur, scale):
    """Return the data at ``m`` (NaN if ``σ`` or a factorisation fails)."""
    n_data, nk, nu = pot.shape[0], coef.shape[0], nodes.shape[0]
    sigma, ok = fk.element_sigma(m, cell)
    if not ok:
        return np.full(n_data, np.nan)
    Vk = np.zeros((nk, nu, nu))
    good = np.zeros(nk, dtype=np.bool_)
    for i in numba.prange(nk):
        U, good[i] = _factor_solve(sigma, B[i], chol, nodes, n_factor)
        Vk[i] = coef[i] * fk.electrode_potentials(U, nodes)
    V = np.zeros((nu, nu))
    for i in range(nk):
        V += Vk[i]
    d = fk.select_data(V, pot, cur, scale)
    if not (np.all(good) and np.all(np.isfinite(d))):
        return np.full(n_data, np.nan)
    return d


@njit(cache=True, nogil=True, parallel=PARALLEL)
def jvp_kernel(m, dm, cell, B, chol, nodes, coef, n_factor, enodes, pot, cur, scale):
    """Return ``J(m) dm`` (NaN if ``σ`` or a factorisation fails)."""
    n_data, nk, nu = pot.shape[0], coef.shape[0], nodes.shape[0]
    sigma, ok = fk.element_sigma(m, cell)
    if not ok:
        return np.full(n_data, np.nan)
    ds = np.empty(cell.shape[0])
    for e in range(cell.shape[0]):
        ds[e] = sigma[e] * dm[cell[e]]
    dVk = np.zeros((nk, nu, nu))
    good = np.zeros(nk, dtype=np.bool_)
    for i in numba.prange(nk):
        U, good[i] = _factor_solve(sigma, B[i], chol, nodes, n_factor)
        dVk[i] = fk.potential_perturbation(U, B[i], ds, enodes, coef[i])
    dV = np.zeros((nu, nu))
    for i in range(nk):
        dV += dVk[i]
    out = fk.select_data(dV, pot, cur, scale)
    if not (np.all(good) and np.all(np.isfinite(out))):
        return np.full(n_data, np.nan)
    return out


@njit(cache=True, nogil=True, parallel=PARALLEL)
def vjp_kernel(
    m,
    dd,
    cell,
    B,
    chol,
    nodes,
    coef,
    n_factor,
    enodes,
    pot,
    cur,
    scale,
    n_params,
):
    """Return ``J(m)^T dd`` (NaN if ``σ`` or a factorisation fails, or ``dd`` is not finite)."""
    nk, ne = coef.shape[0], cell.shape[0]
    sigma, ok = fk.element_sigma(m, cell)
    if not ok or not np.all(np.isfinite(dd)):
        return np.full(n_params, np.nan)
    W = fk.data_weights(dd, pot, cur, scale, nodes.shape[0])
    gk = np.zeros((nk, ne))
    good = np.zeros(nk, dtype=np.bool_)
    for i in numba.prange(nk):
        U, good[i] = _factor_solve(sigma, B[i], chol, nodes, n_factor)
        gk[i] = fk.element_gradient(U, W, B[i], sigma, enodes, coef[i])
    g = np.zeros(ne)
    for i in range(nk):
        g += gk[i]
    out = fk.cell_sum(g, cell, n_params)
    if not (np.all(good) and np.all(np.isfinite(out))):
        return np.full(n_params, np.nan)
    return out


@njit(cache=True, nogil=True, parallel=PARALLEL)
def forward_fields_kernel(m, cell, B, chol, nodes, coef, n_factor, pot, cur, scale):
    """Return the data at ``m`` and the fields ``U`` of every wavenumber (the vjp's state).

    NaN data and NaN fields if ``σ`` or a factorisation fails.
    """
    n_data, nk, nu = pot.shape[0], coef.shape[0], nodes.shape[0]
    U = np.full((nk, nu, chol[1].shape[0]), np.nan)
    sigma, ok = fk.element_sigma(m, cell)
    if not ok:
        return np.full(n_data, np.nan), U
    Vk = np.zeros((nk, nu, nu))
    good = np.zeros(nk, dtype=np.bool_)
    for i in numba.prange(nk):
        Ui, good[i] = _factor_solve(sigma, B[i], chol, nodes, n_factor)
        U[i] = Ui
        Vk[i] = coef[i] * fk.electrode_potentials(Ui, nodes)
    V = np.zeros((nu, nu))
    for i in range(nk):
        V += Vk[i]
    d = fk.select_data(V, pot, cur, scale)
    if not (np.all(good) and np.all(np.isfinite(d))):
        U[:] = np.nan
        return np.full(n_data, np.nan), U
    return d, U


@njit(cache=True, nogil=True, parallel=PARALLEL)
def vjp_from_fields(m, U, dd, cell, B, nodes, coef, enodes, pot, cur, scale, n_params):
    """Return ``J(m)^T dd`` from the forward's fields ``U`` (no factorisation, no solve)."""
    nk, ne = coef.shape[0], cell.shape[0]
    sigma, ok = fk.element_sigma(m, cell)
    if not ok or not np.all(np.isfinite(dd)) or not np.isfinite(U[0, 0, 0]):
        return np.full(n_params, np.nan)
    W = fk.data_weights(dd, pot, cur, scale, nodes.shape[0])
    gk = np.zeros((nk, ne))
    for i in numba.prange(nk):
        gk[i] = fk.element_gradient(U[i], W, B[i], sigma, enodes, coef[i])
    g = np.zeros(ne)
    for i in range(nk):
        g += gk[i]
    out = fk.cell_sum(g, cell, n_params)
    if not np.all(np.isfinite(out)):
        return np.full(n_params, np.nan)
    return out
