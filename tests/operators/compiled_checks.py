"""Shared checks for operators inside compiled PyMC models (imported by the operator tests)."""

from __future__ import annotations

import warnings

import numpy as np
import pymc as pm
from pytensor.gradient import verify_grad

from bayesinv.ops import ForwardOp


def check_compiled_model(op, seed: int, sigma: float = 1.0) -> None:
    """A PyMC model using ``ForwardOp(op)`` compiles in NUMBA mode without object mode.

    Also checks the compiled logp and gradient against the operator evaluated in numpy, and
    the Op's gradient with ``pytensor.gradient.verify_grad``.
    """
    rng = np.random.default_rng(seed)
    m0 = rng.standard_normal(op.n_params)
    d_obs = op.forward(m0) + sigma * rng.standard_normal(op.n_data)
    with pm.Model() as model:
        m = pm.Normal("m", 0.0, 1.0, shape=op.n_params)
        pm.Normal("d", mu=ForwardOp(op)(m), sigma=sigma, observed=d_obs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logp = model.compile_logp(mode="NUMBA")
        dlogp = model.compile_dlogp(mode="NUMBA")
        lp = logp({"m": m0}) - logp({"m": np.zeros_like(m0)})
        g = dlogp({"m": m0})
    bad = [str(w.message) for w in caught if "object mode" in str(w.message).lower()]
    assert not bad, bad
    # the same quantities from the operator in numpy (a difference of log densities, since
    # PyMC's normalising constant is not exact to double precision)
    r = d_obs - op.forward(m0)
    r0 = d_obs - op.forward(np.zeros_like(m0))
    lp_ref = -0.5 * m0 @ m0 - 0.5 * (r @ r - r0 @ r0) / sigma**2
    g_ref = -m0 + op.vjp(m0, r) / sigma**2
    np.testing.assert_allclose(lp, lp_ref, rtol=1e-9, atol=1e-9 * (r0 @ r0) / sigma**2)
    np.testing.assert_allclose(g, g_ref, rtol=1e-9, atol=1e-9 * np.max(np.abs(g_ref)))
    verify_grad(ForwardOp(op), [m0], rng=np.random.default_rng(seed + 1))
