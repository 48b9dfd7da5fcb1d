"""find_map: the compile mode is passed through, and every mode finds the same MAP."""

import numpy as np
import pymc as pm
import pytest

from bayesinv.inference.optimize import find_map
from bayesinv.operators import MatrixOperator
from bayesinv.ops import forward


def _linear_model(rng):
    """Linear-Gaussian model and its closed-form MAP (the posterior mean)."""
    G = rng.standard_normal((12, 4))
    d = G @ rng.normal(size=4) + rng.normal(0, 0.5, 12)
    precision = G.T @ G / 0.25 + np.eye(4) / 4.0
    mean = np.linalg.solve(precision, G.T @ d / 0.25)
    with pm.Model() as model:
        m = pm.Normal("m", 0.0, 2.0, shape=4)
        pm.Normal("d", forward(MatrixOperator(G), m), 0.5, observed=d)
    return model, mean


def test_find_map_in_python_mode_matches_closed_form(rng):
    model, mean = _linear_model(rng)
    point = find_map(model, random_seed=1, mode="FAST_COMPILE")
    np.testing.assert_allclose(point["m"], mean, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["NUMBA", "FAST_COMPILE", None])
def test_find_map_passes_the_mode_to_the_compiler(rng, monkeypatch, mode):
    model, _ = _linear_model(rng)
    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        return {}

    monkeypatch.setattr(pm, "find_MAP", fake)
    find_map(model, random_seed=1, mode=mode)
    assert seen["compile_kwargs"] == ({} if mode is None else {"mode": mode})


def test_find_map_rejects_a_mode_that_is_not_a_name(rng):
    model, _ = _linear_model(rng)
    with pytest.raises(TypeError, match="find_map: mode must be a PyTensor mode name"):
        find_map(model, random_seed=1, mode=3)
