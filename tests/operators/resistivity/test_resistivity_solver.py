"""The resistivity system's sparse Cholesky: nested dissection on larger meshes.

The operator picks the envelope or the supernodal (nested-dissection) factor by flops; both
must give the same data and gradients, and a failed supernodal factorisation must be a
rejected proposal (NaN), as for the envelope.
"""

import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.operators._supernodal_numba import ENVELOPE, SUPERNODAL
from bayesinv.operators.resistivity._solve import FieldSolver
from bayesinv.operators.resistivity.arrays import dipole_dipole, surface_electrodes, wenner
from bayesinv.operators.resistivity.operator import DCResistivity2p5D


def _with_solver(op, method):
    """The same operator with its system factorised by the given storage."""
    s = op._solver
    shape = (op.mesh.x_nodes.size, op.mesh.z_nodes.size)
    op._solver = FieldSolver(s.B, s.enodes, s.cell, s.nodes, s.coef, op.mesh.n_nodes, shape, method)
    op._cache.clear()
    return op


@pytest.fixture(scope="module")
def survey():
    grid = Grid2D(nx=32, nz=16, dx=1.0, dz=1.0)
    x = 1.0 + 2.0 * np.arange(16)  # every 2 cells, on cell edges
    abmn = np.vstack([dipole_dipole(16, n_max=4), wenner(16)])
    return grid, surface_electrodes(x), abmn


def test_nested_dissection_is_picked_and_matches_the_envelope(survey):
    grid, el, abmn = survey
    rng = np.random.default_rng(21)
    m = np.log(0.01) + 0.7 * rng.standard_normal(grid.size)
    m[(grid.cell_centers[:, 1] < 1) & (grid.cell_centers[:, 0] > 10)] = np.log(1.0)  # contrast
    dd = rng.standard_normal(abmn.shape[0])
    nd = DCResistivity2p5D(grid, el, abmn)
    assert nd._solver.cholesky.kind == SUPERNODAL
    env = _with_solver(DCResistivity2p5D(grid, el, abmn), "envelope")
    assert env._solver.cholesky.kind == ENVELOPE
    d_nd, d_env = nd.forward(m), env.forward(m)
    np.testing.assert_allclose(d_nd, d_env, rtol=1e-10)
    g_env = env.vjp(m, dd)
    tol = {"rtol": 1e-8, "atol": 1e-12 * np.abs(g_env).max()}
    np.testing.assert_allclose(nd.vjp(m, dd), g_env, **tol)
    k = nd.numba_kernels()  # the compiled path runs the supernodal branch too
    np.testing.assert_allclose(k.forward(m), d_env, rtol=1e-10)
    _, state = k.forward_state(m)
    np.testing.assert_allclose(k.vjp_state(m, state, dd), g_env, **tol)


def test_failed_supernodal_factorisation_gives_nan(survey):
    grid, el, abmn = survey
    op = DCResistivity2p5D(grid, el, abmn)
    assert op._solver.cholesky.kind == SUPERNODAL
    m = np.full(grid.size, np.log(0.01))
    assert np.all(np.isfinite(op.forward(m)))
    op._solver.B[1] *= -1.0  # one wavenumber's matrix negative definite
    op._cache.clear()
    assert np.all(np.isnan(op.forward(m)))
    assert np.all(np.isnan(op.vjp(m, np.ones(op.n_data))))
    assert np.all(np.isnan(op.numba_kernels().forward(m)))
