"""The model space: flat vectors of a model's free variables, and the nesting rule."""

import numpy as np
import pymc as pm
import pytest

from bayesinv.inference._model_space import (
    FlatDensity,
    ModelSpace,
    layout,
    nested_indices,
    zero_pad,
)


@pytest.fixture(scope="module")
def model():
    # a log-transformed scale, an interval-transformed weight and a 2-D untransformed field
    with pm.Model() as m:
        sigma = pm.HalfNormal("sigma", 2.0)
        w = pm.Beta("w", 2.0, 3.0, shape=3)
        field = pm.Normal("field", 0.0, sigma, shape=(2, 4))
        pm.Deterministic("total", field.sum() * w.sum())
        pm.Normal("y", field.mean(), 1.0, observed=np.array([0.2, -0.1]))
    return m


def test_layout_follows_value_variables(model):
    assert layout(model) == (("sigma_log__", ()), ("w_logodds__", (3,)), ("field", (2, 4)))
    assert ModelSpace(model).n == 1 + 3 + 8


def test_flatten_unflatten_round_trip_with_transforms(model, rng):
    space = ModelSpace(model)
    x = rng.standard_normal(space.n)
    values = space.unflatten(x)
    assert values["field"].shape == (2, 4) and values["w_logodds__"].shape == (3,)
    np.testing.assert_array_equal(space.flatten(values), x)
    # constrained values and back: the transforms are applied and inverted
    point = space.constrained(x, deterministics=True)
    assert point["sigma"] == pytest.approx(np.exp(x[0]))
    np.testing.assert_allclose(point["w"], 1.0 / (1.0 + np.exp(-x[1:4])))
    np.testing.assert_allclose(point["total"], point["field"].sum() * point["w"].sum())
    np.testing.assert_allclose(space.initial(point), x, rtol=1e-12, atol=1e-12)
    # the flat order is the one PyMC's compiled functions use (DictToArrayBijection)
    from pymc.blocking import DictToArrayBijection

    raveled = DictToArrayBijection.map({k: values[k] for k, _ in space.layout})
    np.testing.assert_array_equal(raveled.data, x)


def test_flat_density_matches_the_model_logp(model, rng):
    flat = FlatDensity(model)
    x = rng.standard_normal(flat.n)
    logp, grad = flat.logp_dlogp(x)
    assert logp == pytest.approx(float(model.compile_logp()(flat.unflatten(x))))
    h = 1e-6
    e = np.zeros(flat.n)
    e[5] = h
    fd = (flat.logp_dlogp(x + e)[0] - flat.logp_dlogp(x - e)[0]) / (2 * h)
    assert grad[5] == pytest.approx(fd, rel=1e-6)


def test_unflatten_refuses_a_wrong_length(model):
    with pytest.raises(ValueError, match="expected a vector of 12 values"):
        ModelSpace(model).unflatten(np.zeros(11))


def test_nesting_rule_for_layouts_and_points():
    coarse = (("s", ()), ("c", (3,)))
    fine = (("c", (5,)), ("new", (2,)), ("s", ()))
    src, dst = nested_indices(coarse, fine)
    old = np.array([10.0, 1.0, 2.0, 3.0])
    new = np.zeros(8)
    new[dst] = old[src]
    np.testing.assert_array_equal(new, [1, 2, 3, 0, 0, 0, 0, 10])
    padded = zero_pad({"c": np.array([1.0, 2.0]), "s": 4.0}, {"c": (4,), "s": ()}, "test")
    np.testing.assert_array_equal(padded["c"], [1, 2, 0, 0])
    assert padded["s"] == 4.0
    with pytest.raises(ValueError, match="test: variable 'c' has shape"):
        zero_pad({"c": np.zeros(4)}, {"c": (2,)}, "test")
    with pytest.raises(ValueError, match="only equal shapes or longer 1-D vectors"):
        nested_indices((("a", (2, 2)),), (("a", (4, 4)),))
