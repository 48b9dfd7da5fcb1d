"""Numba kernels of :class:`~bayesinv.operators.elliptic.Elliptic2D` (bilinear Q1 elements).

Mesh: ``nxm x nzm`` rectangles of size ``hx x hz``; node ``(jz, jx)`` has index
``jz (nxm + 1) + jx``; element ``e`` has local nodes ``l = 2 lz + lx`` at ``(iz + lz, ix + lx)``.
With a diagonal coefficient ``(ax_e, az_e)`` constant on the element, its stiffness is

    K_e = ax_e Kx + az_e Kz,
    Kx[l, l'] = hz/hx S[lx, lx'] M[lz, lz'],   Kz[l, l'] = hx/hz M[lx, lx'] S[lz, lz'],
    S = [[1, -1], [-1, 1]],   M = [[1/3, 1/6], [1/6, 1/3]],

so ``A(a) = sum_e P_e^T K_e P_e`` and ``dA/dax_e = P_e^T Kx P_e`` (likewise ``z``). The free
(non-Dirichlet) block ``A_ff`` is assembled into the storage of the sparse Cholesky solver
through a position table ``pos[e, l, l']`` built once in Python (``-1``: entry not stored).

Derivatives (``u`` the full nodal solution including Dirichlet values, ``λ`` the adjoint):

    A_ff δu_f = -(δA u)_f,               jvp
    A_ff λ_f = (∂d/∂u)^T δd,   ∂d/∂ax_e = -λ_e^T Kx u_e + (direct flux term),   vjp

Every kernel is a pure function of its arguments (thread-safe). Element loops that add into
nodes or cells *scatter* and run sequentially; observation loops *gather*.
"""

from __future__ import annotations

import numpy as np

from bayesinv._numba import njit
from bayesinv.operators.elliptic._solver import spd_factor, spd_solve


@njit(cache=True, nogil=True)
def coefficients(m, log_unknown, anisotropic):
    """Per-cell ``(ax, az, dax/dm, daz/dm, ok)``; ``ok`` is False for a non-positive ``a``."""
    nc = m.shape[0] // 2 if anisotropic else m.shape[0]
    a = np.exp(m) if log_unknown else m.copy()
    da = a.copy() if log_unknown else np.ones_like(m)
    ok = True
    for i in range(a.shape[0]):
        if not (a[i] > 0.0 and a[i] < np.inf):
            ok = False
    if anisotropic:
        return a[:nc], a[nc:], da[:nc], da[nc:], ok
    return a, a, da, da, ok


@njit(cache=True, nogil=True)
def assemble(ax, az, el_nodes, el_cell, Kx, Kz, pos, n_values):
    """Values of ``A_ff`` in the solver's storage (scatter over elements: sequential)."""
    values = np.zeros(n_values)
    for e in range(el_nodes.shape[0]):
        cx = ax[el_cell[e]]
        cz = az[el_cell[e]]
        for i in range(4):
            for j in range(4):
                p = pos[e, i, j]
                if p >= 0:
                    values[p] += cx * Kx[i, j] + cz * Kz[i, j]
    return values


@njit(cache=True, nogil=True)
def apply_dA(u, dax, daz, el_nodes, el_cell, Kx, Kz, free_id, n_free):
    """``(δA u)_f`` for per-cell coefficient perturbations (scatter over elements)."""
    out = np.zeros(n_free)
    for e in range(el_nodes.shape[0]):
        cx = dax[el_cell[e]]
        cz = daz[el_cell[e]]
        for i in range(4):
            fi = free_id[el_nodes[e, i]]
            if fi < 0:
                continue
            s = 0.0
            for j in range(4):
                s += (cx * Kx[i, j] + cz * Kz[i, j]) * u[el_nodes[e, j]]
            out[fi] += s
    return out


@njit(cache=True, nogil=True)
def solve_state(ax, az, mesh, solver):
    """Factorise ``A_ff`` and solve for the full nodal solution; ``(u, L, ok)``."""
    el_nodes, el_cell, Kx, Kz, pos, free_id, n_free, u_bc, load = mesh
    values = assemble(ax, az, el_nodes, el_cell, Kx, Kz, pos, solver[-1])
    ok, L = spd_factor(solver, values)
    u = u_bc.copy()
    if not ok:
        return u, L, False
    # right-hand side: load on free nodes minus the lift of the Dirichlet values
    rhs = -apply_dA(u_bc, ax, az, el_nodes, el_cell, Kx, Kz, free_id, n_free)
    for k in range(free_id.shape[0]):
        if free_id[k] >= 0:
            rhs[free_id[k]] += load[k]
    spd_solve(solver, L, rhs)
    for k in range(free_id.shape[0]):
        if free_id[k] >= 0:
            u[k] = rhs[free_id[k]]
    for k in range(u.shape[0]):
        if not np.isfinite(u[k]):
            return u, L, False
    return u, L, True


@njit(cache=True, nogil=True)
def observe(u, du, ax, az, dax, daz, obs):
    """Observe ``[B du; flux(u, du)]`` (gather): point values of ``du``, linearised fluxes.

    With ``du = u`` and ``dax = daz = 0`` this is the forward observation; with a solution
    perturbation ``du`` and coefficient perturbations it is the jvp.
    """
    obs_nodes, obs_w, fl_elem, fl_cell, fl_nodes, fl_gx, fl_gz = obs
    no = obs_nodes.shape[0]
    nf = fl_elem.shape[0]
    out = np.empty(no + nf)
    for p in range(no):
        s = 0.0
        for k in range(4):
            s += obs_w[p, k] * du[obs_nodes[p, k]]
        out[p] = s
    for p in range(nf):
        c = fl_cell[p]
        gx_u = 0.0
        gz_u = 0.0
        gx_du = 0.0
        gz_du = 0.0
        for k in range(4):
            gx_u += fl_gx[p, k] * u[fl_nodes[p, k]]
            gz_u += fl_gz[p, k] * u[fl_nodes[p, k]]
            gx_du += fl_gx[p, k] * du[fl_nodes[p, k]]
            gz_du += fl_gz[p, k] * du[fl_nodes[p, k]]
        # q.n = -(ax n_x du/dx + az n_z du/dz); normals are folded into fl_gx, fl_gz
        out[no + p] = -(dax[c] * gx_u + daz[c] * gz_u + ax[c] * gx_du + az[c] * gz_du)
    return out


@njit(cache=True, nogil=True)
def forward_impl(m, mesh, obs, solver, log_unknown, anisotropic, n_data):
    """Predicted data at ``m`` (NaN when ``a`` is not positive or the solve fails)."""
    ax, az, _, _, ok = coefficients(m, log_unknown, anisotropic)
    if not ok:
        return np.full(n_data, np.nan)
    u, _, ok = solve_state(ax, az, mesh, solver)
    if not ok:
        return np.full(n_data, np.nan)
    zero = np.zeros_like(ax)
    return observe(u, u, ax, az, zero, zero, obs)


@njit(cache=True, nogil=True)
def jvp_impl(m, dm, mesh, obs, solver, log_unknown, anisotropic, n_data):
    """Jacobian at ``m`` times ``dm``: one factorisation, two solves."""
    el_nodes, el_cell, Kx, Kz, _, free_id, n_free, _, _ = mesh
    ax, az, dax, daz, ok = coefficients(m, log_unknown, anisotropic)
    if not ok:
        return np.full(n_data, np.nan)
    u, L, ok = solve_state(ax, az, mesh, solver)
    if not ok:
        return np.full(n_data, np.nan)
    if anisotropic:
        dcx = dax * dm[: dax.shape[0]]
        dcz = daz * dm[dax.shape[0] :]
    else:
        dcx = dax * dm
        dcz = dcx
    rhs = -apply_dA(u, dcx, dcz, el_nodes, el_cell, Kx, Kz, free_id, n_free)
    spd_solve(solver, L, rhs)  # the forward's factor, reused
    du = np.zeros_like(u)
    for k in range(free_id.shape[0]):
        if free_id[k] >= 0:
            du[k] = rhs[free_id[k]]
    return observe(u, du, ax, az, dcx, dcz, obs)


@njit(cache=True, nogil=True)
def vjp_impl(m, dd, mesh, obs, solver, log_unknown, anisotropic, n_cells):
    """Transposed Jacobian at ``m`` times ``dd``: one factorisation, two solves."""
    ax, az, dax, daz, ok = coefficients(m, log_unknown, anisotropic)
    if not ok:
        return np.full(m.shape[0], np.nan)
    u, L, ok = solve_state(ax, az, mesh, solver)
    if not ok:
        return np.full(m.shape[0], np.nan)
    return vjp_with(m, dd, u, L, ax, az, dax, daz, mesh, obs, solver, anisotropic, n_cells)


@njit(cache=True, nogil=True)
def forward_state_impl(m, mesh, obs, solver, log_unknown, anisotropic, n_data):
    """``(d, state)``: the data and ``[u, L]`` (nodal solution and factor) for ``vjp_state``."""
    n_nodes = mesh[7].shape[0]
    state = np.full(n_nodes + solver[4], np.nan)
    ax, az, _, _, ok = coefficients(m, log_unknown, anisotropic)
    if not ok:
        return np.full(n_data, np.nan), state
    u, L, ok = solve_state(ax, az, mesh, solver)
    if not ok:
        return np.full(n_data, np.nan), state
    state[:n_nodes] = u
    state[n_nodes:] = L
    zero = np.zeros_like(ax)
    return observe(u, u, ax, az, zero, zero, obs), state


@njit(cache=True, nogil=True)
def vjp_state_impl(m, state, dd, mesh, obs, solver, log_unknown, anisotropic, n_cells):
    """Return the vjp at ``m`` from the forward's state (the adjoint solve only)."""
    n_nodes = mesh[7].shape[0]
    ax, az, dax, daz, ok = coefficients(m, log_unknown, anisotropic)
    if not ok or not np.isfinite(state[0]):
        return np.full(m.shape[0], np.nan)
    u, L = state[:n_nodes], state[n_nodes:]
    return vjp_with(m, dd, u, L, ax, az, dax, daz, mesh, obs, solver, anisotropic, n_cells)


@njit(cache=True, nogil=True)
def vjp_with(m, dd, u, L, ax, az, dax, daz, mesh, obs, solver, anisotropic, n_cells):
    """Return the vjp given the solution ``u`` and the factor ``L`` at ``m``."""
    el_nodes, el_cell, Kx, Kz, _, free_id, n_free, _, _ = mesh
    obs_nodes, obs_w, fl_elem, fl_cell, fl_nodes, fl_gx, fl_gz = obs
    no = obs_nodes.shape[0]
    g = np.zeros(u.shape[0])  # adjoint source (scatter into nodes)
    gcx = np.zeros(n_cells)
    gcz = np.zeros(n_cells)
    for p in range(no):
        for k in range(4):
            g[obs_nodes[p, k]] += obs_w[p, k] * dd[p]
    for p in range(fl_elem.shape[0]):
        c = fl_cell[p]
        w = dd[no + p]
        for k in range(4):
            nk = fl_nodes[p, k]
            g[nk] -= w * (ax[c] * fl_gx[p, k] + az[c] * fl_gz[p, k])
            gcx[c] -= w * fl_gx[p, k] * u[nk]  # direct dependence of the flux on a
            gcz[c] -= w * fl_gz[p, k] * u[nk]
    lam_f = np.zeros(n_free)
    for k in range(free_id.shape[0]):
        if free_id[k] >= 0:
            lam_f[free_id[k]] = g[k]
    spd_solve(solver, L, lam_f)  # adjoint solve with the forward's factor (A symmetric)
    lam = np.zeros(u.shape[0])
    for k in range(free_id.shape[0]):
        if free_id[k] >= 0:
            lam[k] = lam_f[free_id[k]]
    for e in range(el_nodes.shape[0]):  # scatter: elements into cells
        sx = 0.0
        sz = 0.0
        for i in range(4):
            li = lam[el_nodes[e, i]]
            for j in range(4):
                uj = u[el_nodes[e, j]]
                sx += li * Kx[i, j] * uj
                sz += li * Kz[i, j] * uj
        gcx[el_cell[e]] -= sx
        gcz[el_cell[e]] -= sz
    if anisotropic:
        out = np.empty(m.shape[0])
        out[:n_cells] = gcx * dax
        out[n_cells:] = gcz * daz
        return out
    return (gcx + gcz) * dax


def make_kernels(mesh, obs, solver, log_unknown, anisotropic, n_data, n_cells):
    """Build the (forward, jvp, vjp, forward_state, vjp_state) njit closures over the data.

    The state is ``[u, L]``: the nodal solution and the Cholesky factor at ``m``, so the
    gradient of a compiled log density costs one adjoint solve beyond the forward.
    """

    @njit(nogil=True)
    def forward(m):
        return forward_impl(m, mesh, obs, solver, log_unknown, anisotropic, n_data)

    @njit(nogil=True)
    def jvp(m, dm):
        return jvp_impl(m, dm, mesh, obs, solver, log_unknown, anisotropic, n_data)

    @njit(nogil=True)
    def vjp(m, dd):
        return vjp_impl(m, dd, mesh, obs, solver, log_unknown, anisotropic, n_cells)

    @njit(nogil=True)
    def forward_state(m):
        return forward_state_impl(m, mesh, obs, solver, log_unknown, anisotropic, n_data)

    @njit(nogil=True)
    def vjp_state(m, state, dd):
        args = (mesh, obs, solver, log_unknown, anisotropic, n_cells)
        return vjp_state_impl(m, state, dd, *args)

    return forward, jvp, vjp, forward_state, vjp_state
