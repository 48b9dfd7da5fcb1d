"""The multiscale operators inside PyTensor graphs: numba kernels, no object mode, gradients."""

import warnings

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest

from bayesinv import Grid2D
from bayesinv.multiscale import GridHierarchy, WaveletField
from bayesinv.ops import ForwardOp

GRID = Grid2D(nx=16, nz=8, dx=10.0, dz=10.0)


def _operators():
    W = WaveletField(GRID, "db2", levels=2)
    h = GridHierarchy(GRID, 3)
    return {
        "wavelet": W,
        "wavelet-coarse": W.coarse_operator(1),
        "prolongation-bilinear": h.prolongation(0, kind="bilinear"),
        "prolongation-constant": h.prolongation(1, kind="constant"),
    }


@pytest.mark.parametrize("key", list(_operators()))
def test_compiled_model_uses_numba_kernels(key, rng):
    op = _operators()[key]
    d = rng.standard_normal(op.n_data)
    with pm.Model() as model:
        theta = pm.Normal("theta", 0.0, 1.0, shape=op.n_params)
        pm.Normal("d", ForwardOp(op)(theta), 0.5, observed=d)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logp = model.compile_logp(mode="NUMBA")
        dlogp = model.compile_dlogp(mode="NUMBA")
    x = rng.standard_normal(op.n_params)
    pred = op.forward(x)
    expected = -0.5 * np.sum(x**2) - 0.5 * np.sum(((d - pred) / 0.5) ** 2)
    expected -= 0.5 * (op.n_params + op.n_data) * np.log(2 * np.pi) + op.n_data * np.log(0.5)
    assert logp({"theta": x}) == pytest.approx(expected, rel=1e-8)
    grad = -x + op.vjp(x, (d - pred) / 0.25)
    np.testing.assert_allclose(dlogp({"theta": x}), grad, rtol=1e-10, atol=1e-10)


def test_verify_grad(rng):
    for op in _operators().values():
        pytensor.gradient.verify_grad(
            lambda t, op=op: pt.sum(ForwardOp(op)(t) ** 2),
            [rng.standard_normal(op.n_params)],
            rng=rng,
        )
