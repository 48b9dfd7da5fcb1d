"""Modalities, noise models and the builder: likelihood terms and bad input."""

import warnings

import numpy as np
import pymc as pm
import pytest

import bayesinv
from bayesinv import Grid1D, Grid2D
from bayesinv.model import JointInversion
from bayesinv.model.discrepancy import EXACT_MAX_DATA, Discrepancy
from bayesinv.model.fields import IIDNormal
from bayesinv.model.modality import Modality
from bayesinv.model.noise import CovarianceNoise, HierarchicalNoise, KnownNoise, ScaledNoise
from bayesinv.operators import Gravity2D, MatrixOperator


@pytest.fixture
def gravity_setup():
    grid = Grid2D(nx=6, nz=3, dx=10.0, dz=10.0)
    rx = np.column_stack([np.linspace(0, 60, 8), np.zeros(8)])
    op = Gravity2D(grid, rx)
    data = op.forward(np.full(grid.size, 100.0))
    return grid, rx, op, data


PRIOR = IIDNormal(0.0, 100.0)


def build(grid, *modalities, prior=PRIOR):
    inv = JointInversion().add_field("density", grid, prior)
    for m in modalities:
        inv.add_modality(m)
    return inv.build()


def test_names_dims_and_coords(gravity_setup):
    grid, rx, op, data = gravity_setup
    model = build(grid, Modality("gravity", op, data, ScaledNoise(0.01), coords=rx))
    assert model.named_vars_to_dims["gravity"] == ("gravity_obs",)
    assert model.named_vars_to_dims["density"] == ("density_z", "density_x")
    np.testing.assert_allclose(model["gravity_coords"].get_value(), rx)
    assert "gravity_sigma" in model.named_vars
    np.testing.assert_allclose(model.coords["density_x"], grid.x_centers)


@pytest.mark.parametrize(
    ("noise", "expected"),
    [
        (KnownNoise(0.5), lambda r: -0.5 * np.sum((r / 0.5) ** 2) - r.size * np.log(0.5)),
        (
            CovarianceNoise(np.diag(np.full(8, 0.25))),
            lambda r: -0.5 * np.sum(r**2 / 0.25) - r.size * np.log(0.5),
        ),
    ],
)
def test_likelihood_values_match_closed_form(gravity_setup, noise, expected):
    grid, _rx, op, data = gravity_setup
    model = build(grid, Modality("gravity", op, data + 0.3, noise))
    point = model.initial_point()
    m = 0.01 * np.arange(grid.size).reshape(grid.shape)
    point["density_z_score"] = m / 100.0
    r = data + 0.3 - op.forward(m.ravel())
    got = model.compile_fn(model.logp(vars=[model["gravity"]], sum=True))(point)
    assert got == pytest.approx(expected(r) - 0.5 * r.size * np.log(2 * np.pi), rel=1e-10)


def test_mask_excludes_nan_data_and_keeps_original_indices(gravity_setup):
    grid, _rx, op, data = gravity_setup
    data = data.copy()
    data[[2, 5]] = np.nan
    mask = np.isfinite(data)
    model = build(grid, Modality("gravity", op, data, KnownNoise(0.01), mask=mask))
    np.testing.assert_array_equal(model.coords["gravity_obs"], [0, 1, 3, 4, 6, 7])
    obs = model.rvs_to_values[model["gravity"]]
    assert np.all(np.isfinite(obs.data))


def test_student_t_with_learned_nu_and_hsgp_discrepancy(gravity_setup):
    grid, rx, op, data = gravity_setup
    mod = Modality(
        "gravity",
        op,
        data,
        HierarchicalNoise(0.05),
        coords=rx,
        likelihood="student_t",
        discrepancy=Discrepancy(),
    )
    assert mod.method() == "hsgp"
    model = build(grid, mod)
    for name in ["gravity_nu", "gravity_sigma", "gravity_discrepancy_coef", "gravity_discrepancy"]:
        assert name in model.named_vars
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.compile_logp(mode="NUMBA")(model.initial_point())


def test_auto_method_threshold():
    assert Discrepancy().resolve_method(EXACT_MAX_DATA) == "exact"
    assert Discrepancy().resolve_method(EXACT_MAX_DATA + 1) == "hsgp"
    assert Discrepancy(method="exact").resolve_method(10**5) == "exact"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"data": "nan"},
            ValueError,
            r"modality 'gravity': data has non-finite values at index \[3\]",
        ),
        ({"noise": KnownNoise(0.0)}, ValueError, r"'gravity': noise sigma must be finite and > 0"),
        ({"noise": KnownNoise(-1.0)}, ValueError, "noise sigma must be finite and > 0"),
        (
            {"noise": KnownNoise(np.ones(3))},
            ValueError,
            "noise sigma must be a scalar or have length 8",
        ),
        (
            {"noise": ScaledNoise([1.0] * 7 + [0.0])},
            ValueError,
            "noise errors must be finite and > 0",
        ),
        ({"coords": np.zeros((5, 2))}, ValueError, "coords must have 8 rows"),
        (
            {"data": np.zeros(5)},
            ValueError,
            "data has shape .5,. but the operator Gravity2D predicts 8",
        ),
        ({"mask": np.ones(8)}, ValueError, "mask must be a boolean array"),
        ({"mask": np.zeros(8, bool)}, ValueError, "mask excludes every datum"),
        ({"likelihood": "cauchy"}, ValueError, "likelihood must be one of"),
        ({"noise": 0.1}, TypeError, "noise must be a Noise model"),
        ({"name": "grav ity"}, ValueError, "modality name must be a Python identifier"),
        ({"noise": CovarianceNoise(-np.eye(8))}, ValueError, "not positive definite"),
    ],
)
def test_bad_input_names_the_modality(gravity_setup, kwargs, error, message):
    _grid, _rx, op, data = gravity_setup
    args = {"name": "gravity", "operator": op, "data": data, "noise": KnownNoise(0.01)}
    if isinstance(kwargs.get("data"), str):
        data = data.copy()
        data[3] = np.nan
        kwargs = {"data": data}
    args.update(kwargs)
    with pytest.raises(error, match=message):
        Modality(**args)


def test_exact_discrepancy_with_student_t_is_refused(gravity_setup):
    _grid, _rx, op, data = gravity_setup
    mod = Modality(
        "gravity",
        op,
        data,
        KnownNoise(0.1),
        likelihood="student_t",
        discrepancy=Discrepancy(method="exact"),
    )
    with pytest.raises(ValueError, match="needs a normal likelihood"):
        mod.method()


def test_builder_errors(gravity_setup):
    grid, _rx, op, data = gravity_setup
    inv = JointInversion().add_field("density", grid)
    inv.add_modality(Modality("gravity", op, data, KnownNoise(0.1)))
    with pytest.raises(ValueError, match="modality name 'gravity' is already used by a modality"):
        inv.add_modality(Modality("gravity", op, data, KnownNoise(0.1)))
    with pytest.raises(ValueError, match="field name 'gravity' is already used by a modality"):
        inv.add_field("gravity", grid)
    inv.add_field("slowness", grid)
    with pytest.raises(ValueError, match="say which field it observes"):
        inv.build()
    other = JointInversion().add_field("rho", Grid1D(3, 1.0))
    other.add_modality(Modality("g", op, data, KnownNoise(0.1), field="rho"))
    with pytest.raises(ValueError, match="operator takes 18 values but field 'rho' has 3 cells"):
        other.build()
    bad = JointInversion().add_field("rho", grid)
    bad.add_modality(Modality("g", op, data, KnownNoise(0.1), field="density"))
    with pytest.raises(ValueError, match="observes field 'density', which is not declared"):
        bad.build()


def test_model_is_plain_pymc_and_extensible(gravity_setup):
    grid, _rx, op, data = gravity_setup
    model = build(grid, Modality("gravity", op, data, KnownNoise(0.01)))
    with model:
        pm.Normal("extra", 0.0, 1.0)
    assert "extra" in model.named_vars


def test_field_on_grid1d_with_matrix_operator():
    op = MatrixOperator(np.ones((2, 3)))
    inv = JointInversion().add_field("rho", Grid1D(3, 1.0), IIDNormal(1.0, 2.0))
    inv.add_modality(Modality("d", op, np.zeros(2), KnownNoise(1.0)))
    model = inv.build()
    assert model.named_vars_to_dims["rho"] == ("rho_z",)


def test_prior_and_posterior_predictive_helpers(gravity_setup):
    grid, rx, op, data = gravity_setup
    inv = JointInversion().add_field("density", grid, PRIOR)
    inv.add_modality(Modality("gravity", op, data, KnownNoise(0.01), coords=rx))
    prior = inv.prior_predictive(50, random_seed=1)
    assert prior["prior_predictive"]["gravity"].shape == (1, 50, 8)
    again = inv.prior_predictive(50, random_seed=1)
    np.testing.assert_array_equal(
        prior["prior"]["density"].values, again["prior"]["density"].values
    )
    idata = bayesinv.sample(inv.build(), draws=30, tune=30, chains=1, random_seed=2)
    idata = inv.posterior_predictive(idata, random_seed=3)
    assert idata["posterior_predictive"]["gravity"].shape == (1, 30, 8)


def test_model_graph_renders(gravity_setup):
    graphviz = pytest.importorskip("graphviz")
    grid, rx, op, data = gravity_setup
    model = build(grid, Modality("gravity", op, data, ScaledNoise(0.01), coords=rx))
    graph = pm.model_to_graphviz(model)
    assert isinstance(graph, graphviz.Digraph)
    for name in ["density", "gravity_sigma", "gravity"]:
        assert name in graph.source
