"""Elliptic1D: exact layered solutions, order-2 convergence, scaling, adjoints, bad input."""

import numpy as np
import pytest

from bayesinv import Grid1D
from bayesinv.operators.elliptic import Elliptic1D
from bayesinv.testing import check_compiled_model, dot_test, taylor_test


def exact_layered(z, edges, a, f, u_top, flux_bottom=None, u_bottom=0.0):
    """Exact solution of -(a u')' = f (constant f), piecewise constant a on the layers.

    a u' = C - f z; C from u(bottom) = u_bottom, or from a u'(bottom) = flux_bottom.
    """
    dz, dz2 = np.diff(edges), np.diff(edges**2) / 2
    if flux_bottom is None:
        C = (u_bottom - u_top + f * np.sum(dz2 / a)) / np.sum(dz / a)
    else:
        C = flux_bottom + f * edges[-1]
    below = u_top + np.concatenate([[0.0], np.cumsum((C * dz - f * dz2) / a)])
    k = np.clip(np.searchsorted(edges, z, side="right") - 1, 0, a.size - 1)
    return below[k] + (C * (z - edges[k]) - f * (z**2 - edges[k] ** 2) / 2) / a[k], C


@pytest.mark.parametrize("bottom", ["dirichlet", "neumann"])
def test_layered_coefficient_matches_exact_solution(bottom):
    a = np.array([1.0, 0.05, 4.0, 0.7, 2.0])
    grid = Grid1D(nz=5, dz=2.0, z0=1.0)
    edges = grid.z0 + grid.dz * np.arange(6)
    z = np.linspace(1.0, 11.0, 41)
    f, u_top = 3.0, 0.5
    if bottom == "dirichlet":
        bc = {"top": ("dirichlet", u_top), "bottom": ("dirichlet", -1.0)}
        exact, C = exact_layered(z, edges, a, f, u_top, u_bottom=-1.0)
    else:
        bc = {"top": ("dirichlet", u_top), "bottom": ("neumann", 0.4)}  # a du/dz = 0.4
        exact, C = exact_layered(z, edges, a, f, u_top, flux_bottom=0.4)
    op = Elliptic1D(grid, z, mesh=40, source=f, boundary=bc, flux_points=[2.0, 8.5])
    d = op.forward(np.log(a))
    np.testing.assert_allclose(d[:41], exact, rtol=0, atol=1e-11 * np.abs(exact).max())
    # the flux of the P1 solution is exact at element midpoints (here 2.0 and 8.5 are not:
    # compare with the exact element-average flux, which P1 reproduces exactly)
    h = 10.0 / 40
    for q, zp in zip(d[41:], [2.0, 8.5], strict=True):
        k = int((zp - 1.0) // h)
        mid = 1.0 + (k + 0.5) * h
        np.testing.assert_allclose(q, -(C - f * mid), rtol=1e-10)


def test_manufactured_solution_converges_at_order_two():
    # u = sin(pi z) + z, a = 2: f = 2 pi^2 sin(pi z), u(0) = 0, u(1) = 1
    errors = []
    t, w = np.polynomial.legendre.leggauss(4)
    for n in (8, 16, 32, 64):
        zn = np.linspace(0.0, 1.0, n + 1)
        op = Elliptic1D(
            Grid1D(nz=2, dz=0.5), [0.5], mesh=n, source=2 * np.pi**2 * np.sin(np.pi * zn),
            boundary={"bottom": ("dirichlet", 1.0)},
        )  # fmt: skip
        u = op.solve(np.full(2, np.log(2.0)))
        s = 0.5 * (t + 1)
        zq = zn[:-1, None] + s / n
        uh = u[:-1, None] * (1 - s) + u[1:, None] * s
        err = (uh - np.sin(np.pi * zq) - zq) ** 2
        errors.append(np.sqrt(np.sum(err * 0.5 * w / n)))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(orders - 2.0) < 0.05), orders


def test_scaling_invariance_and_adjoints(rng):
    grid = Grid1D(nz=6, dz=1.0)
    op = Elliptic1D(
        grid, rng.uniform(0, 6, 5), mesh=12, source=rng.standard_normal(13),
        boundary={"bottom": ("neumann", 1.5)}, flux_points=[0.2, 3.3],
    )  # fmt: skip
    m = rng.standard_normal(6)
    d = op.forward(m)
    d3 = op.forward(m + np.log(3.0))
    np.testing.assert_allclose(d3[:5], d[:5] / 3.0, rtol=1e-12)
    np.testing.assert_allclose(d3[5:], d[5:], rtol=1e-12)
    dot_test(op, rng, m, tol=1e-10)
    assert float(taylor_test(op, m, rng)) > 1.9
    op_a = Elliptic1D(grid, [0.5, 2.5], source=1.0, unknown="a", flux_points=[4.0])
    a = np.exp(m)
    dot_test(op_a, rng, a, tol=1e-10)
    assert float(taylor_test(op_a, a, rng, a * rng.uniform(-0.5, 0.5, 6))) > 1.9


def test_compiled_path_and_rejection(rng):
    import pymc as pm

    from bayesinv.ops import ForwardOp

    grid = Grid1D(nz=8, dz=1 / 8)
    check_compiled_model(Elliptic1D(grid, [0.25, 0.5, 0.8], source=10.0), seed=4)
    op = Elliptic1D(grid, [0.25, 0.5], source=10.0, unknown="a")
    bad = np.ones(8)
    bad[2] = 0.0
    k = op.numba_kernels()
    assert np.all(np.isnan(k.forward(bad))) and np.all(np.isnan(k.vjp(bad, np.ones(2))))
    with pm.Model() as model:
        a = pm.Normal("a", 1.0, 1.0, shape=8)
        pm.Normal("d", mu=ForwardOp(op)(a), sigma=0.05, observed=op.forward(np.ones(8)))
    logp = model.compile_logp(mode="NUMBA")
    assert np.isfinite(logp({"a": np.ones(8)}))
    assert not np.isfinite(logp({"a": bad}))  # a rejected proposal, not a crash
    with pytest.raises(ValueError, match=r"Elliptic1D: m .*index 2"):
        op.forward(bad)


def test_bad_input():
    grid = Grid1D(nz=4, dz=0.25)
    with pytest.raises(ValueError, match=r"Elliptic1D: points \[1\] lie outside the domain"):
        Elliptic1D(grid, [0.5, 1.5])
    with pytest.raises(ValueError, match="does not nest in mesh 6"):
        Elliptic1D(grid, [0.5], mesh=6)
    with pytest.raises(ValueError, match="no Dirichlet end"):
        Elliptic1D(grid, [0.5], boundary={"top": ("neumann", 0.0), "bottom": ("neumann", 1.0)})
    with pytest.raises(ValueError, match="boundary key"):
        Elliptic1D(grid, [0.5], boundary={"left": ("dirichlet", 0.0)})


def test_signed_coefficient_matches_exact_solution_and_adjoints(rng):
    # a of either sign (a Gaussian prior on a itself): the exact layered solution holds for
    # any non-zero a, since the flux a u' = C - f z does not depend on the sign
    a = np.array([1.0, -0.3, 2.0, 0.5, -4.0, 1.5])
    grid = Grid1D(nz=6, dz=1 / 6)
    z = np.linspace(0.0, 1.0, 25)
    edges = np.linspace(0.0, 1.0, 7)
    exact, _ = exact_layered(z, edges, a, 10.0, 0.0, u_bottom=0.0)
    op = Elliptic1D(grid, z, mesh=24, source=10.0, unknown="a_signed")
    np.testing.assert_allclose(op.forward(a), exact, rtol=0, atol=1e-10 * np.abs(exact).max())
    dot_test(op, rng, a, tol=1e-10)
    assert float(taylor_test(op, a, rng, 0.2 * a * rng.uniform(-1, 1, 6))) > 1.9
    # a = 1 everywhere: the same as the positive parameterisation
    pos = Elliptic1D(grid, z, mesh=24, source=10.0, unknown="a")
    np.testing.assert_allclose(op.forward(np.ones(6)), pos.forward(np.ones(6)), rtol=1e-14)
    a0 = a.copy()
    a0[3] = 0.0
    assert np.all(np.isnan(op.numba_kernels().forward(a0)))
    with pytest.raises(ValueError, match=r"a_signed.*index 3"):
        op.forward(a0)
