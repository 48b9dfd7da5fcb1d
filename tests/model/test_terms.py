"""One signature for every model term, the prior specs, deprecated spellings and bad input."""

import inspect
import warnings

import numpy as np
import pymc as pm
import pytest

from bayesinv import Grid1D, Grid2D
from bayesinv.model import (
    BesovPrior,
    CovarianceNoise,
    CrossGradient,
    Discrepancy,
    Field,
    HierarchicalNoise,
    Homogenization,
    IIDNormal,
    JointInversion,
    KnownNoise,
    MaternPrior,
    Modality,
    Petrophysical,
    ScaledNoise,
    linear,
)
from bayesinv.operators import MatrixOperator

GRID = Grid2D(nx=4, nz=2, dx=10.0, dz=10.0)

TERMS = [
    IIDNormal,
    BesovPrior,
    MaternPrior,
    Field,
    Modality,
    KnownNoise,
    ScaledNoise,
    HierarchicalNoise,
    CovarianceNoise,
    Discrepancy,
    CrossGradient,
    Petrophysical,
    Homogenization,
    JointInversion,
]


@pytest.mark.parametrize("term", TERMS, ids=lambda t: t.__name__)
def test_every_term_has_add_to_model_with_keyword_only_model(term):
    params = inspect.signature(term.add_to_model).parameters
    assert "model" in params, term
    assert params["model"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["model"].default is None


def _modality(name="obs", **kwargs):
    op = MatrixOperator(np.ones((3, GRID.size)) / GRID.size)
    args = {"name": name, "operator": op, "data": np.zeros(3), "noise": KnownNoise(0.1)}
    args.update(kwargs)
    return Modality(**args)


def test_terms_add_to_an_explicit_model_outside_any_context():
    model = pm.Model()
    a = Field("a", GRID, IIDNormal(1.0, 2.0)).add_to_model(model=model)
    b = Field("b", GRID, MaternPrior(1.0, 20.0)).add_to_model(model=model)
    c = Field("c", GRID, BesovPrior(s=2.0, levels=1)).add_to_model(model=model)
    assert a.ndim == b.ndim == c.ndim == 1
    tensors, grids = {"a": a, "b": b}, {"a": GRID, "b": GRID}
    CrossGradient("a", "b", 1.0).add_to_model(tensors, grids, model=model)
    noise = ScaledNoise(np.ones(3))
    _modality(noise=noise, discrepancy=Discrepancy(method="hsgp", n_basis=4, c=2.0)).add_to_model(
        a, model=model
    )
    names = set(model.named_vars)
    for name in ("a", "a_z_score", "b", "b_raw", "c", "c_raw", "obs", "obs_sigma"):
        assert name in names, name
    assert "cross_gradient_a_b" in names
    assert {"obs_discrepancy", "obs_discrepancy_coef"} <= names
    assert model.named_vars_to_dims["b"] == ("b_z", "b_x")
    assert model.named_vars_to_dims["c"] == ("c_z", "c_x")


def test_joint_inversion_adds_to_a_users_model():
    inv = JointInversion().add_field("a", GRID).add_modality(_modality(field="a"))
    with pm.Model() as model:
        pm.Normal("mine", 0.0, 1.0)
        tensors = inv.add_to_model()
    assert set(tensors) == {"a"}
    assert {"mine", "a", "obs"} <= set(model.named_vars)
    assert sorted(inv.build().named_vars) == sorted(set(model.named_vars) - {"mine"})


def test_prior_specs_match_the_prior_functions():
    from bayesinv.model.priors import matern_prior
    from bayesinv.multiscale import Prolongation, coarsen

    spec = MaternPrior(2.0, 15.0, nu=2.5, coarsening=2, kind="constant")
    with pm.Model() as via_spec:
        spec.add_to_model("m", GRID)
    with pm.Model() as via_function:
        P = Prolongation(coarsen(GRID, 2), GRID, kind="constant")
        matern_prior("m", P, 2.0, 15.0, 2.5, dims=("m_z", "m_x"))
    point = {"m_raw": np.arange(2.0)}
    got = via_spec.compile_fn(via_spec["m"], inputs=[via_spec["m_raw"]])(point)
    want = via_function.compile_fn(via_function["m"], inputs=[via_function["m_raw"]])(point)
    np.testing.assert_allclose(got, want)
    assert np.ptp(got) > 0  # not a constant field: the comparison can fail


def test_hyperprior_callables_are_named_after_the_field():
    spec = MaternPrior(variance=lambda n: pm.HalfNormal(n, 1.0), length_scale=20.0)
    with pm.Model() as model:
        spec.add_to_model("m", GRID)
    assert "m_variance" in model.named_vars


def _deprecations(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [w for w in caught if issubclass(w.category, DeprecationWarning)]


def test_old_spellings_still_work_and_warn():
    from bayesinv.model import fields

    # MaternField / BesovField are the old names of the prior specs
    cls, warned = _deprecations(lambda: fields.MaternField)
    assert cls is MaternPrior and "MaternPrior" in str(warned[0].message)
    cls, warned = _deprecations(lambda: __import__("bayesinv.model").model.BesovField)
    assert cls is BesovPrior and warned
    # calling a prior spec
    with pm.Model() as model:
        _, warned = _deprecations(lambda: IIDNormal()("a", GRID))
    assert "a" in model.named_vars and "add_to_model" in str(warned[0].message)
    # noise.build, coupling.add, positional model, discrepancy.covariance / hsgp
    with pm.Model() as model:
        (kind, _), warned = _deprecations(lambda: ScaledNoise(1.0).build("n", 3, np.arange(3)))
        assert kind == "sd" and "n_sigma" in model.named_vars and warned
        a = IIDNormal().add_to_model("a", GRID)
        b = IIDNormal().add_to_model("b", GRID)
        _, warned = _deprecations(
            lambda: Petrophysical("a", "b", linear(1.0, 0.0), 1.0).add(
                {"a": a, "b": b}, {"a": GRID, "b": GRID}
            )
        )
        assert "petrophysics_a_b" in model.named_vars and warned
        x = np.column_stack([np.arange(3.0), np.zeros(3)])
        _, warned = _deprecations(lambda: Discrepancy().covariance("d", x, 1.0))
        assert "d_discrepancy_amplitude" in model.named_vars and warned
        _, warned = _deprecations(lambda: Discrepancy(n_basis=3, c=2.0).hsgp("h", x, 1.0))
        assert "h_discrepancy" in model.named_vars and warned
    other = pm.Model()
    with pm.Model():
        a = IIDNormal().add_to_model("a", GRID)
        _, warned = _deprecations(lambda: _modality().add_to_model(a, other))
    assert "obs" in other.named_vars and "by keyword" in str(warned[0].message)


def test_old_protocols_of_user_terms_still_work_and_warn():
    class OldNoise(KnownNoise):
        def build(self, name, n, used):
            return "sd", np.full(len(used), 0.5)

    class OldCoupling:
        fields = ("a",)

        def add(self, tensors, grids):
            return pm.Potential("old", -(tensors["a"] ** 2).sum())

    def old_prior(name, grid):
        return pm.Normal(name, 0.0, 1.0, shape=grid.size)

    inv = JointInversion()
    _, warned = _deprecations(lambda: inv.add_field("a", GRID, old_prior))
    assert warned
    _, warned = _deprecations(lambda: inv.add_coupling(OldCoupling()))
    assert warned
    inv.add_modality(_modality(noise=OldNoise(0.1)))
    model, warned = _deprecations(inv.build)
    assert {"a", "old", "obs"} <= set(model.named_vars)
    assert any("OldNoise.build" in str(w.message) for w in warned)


# --- bad input: every message names the class or modality and the argument ------------------
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: CrossGradient("a", "b", 1.0, scales=(1.0,)),
            r"CrossGradient: scales must be a pair",
        ),
        (lambda: CrossGradient("a", "b", 1.0, scales=(1.0, "x")), r"CrossGradient: scales\[1\]"),
        (lambda: CrossGradient("a", "b", "1"), "CrossGradient: weight must be a finite number"),
        (
            lambda: Discrepancy(lengthscale=100.0),
            r"Discrepancy: lengthscale=100.0 is a single number, but without fixed=True",
        ),
        (lambda: Discrepancy(lengthscale=(10.0, 5.0)), "0 < low < high"),
        (lambda: Discrepancy(lengthscale=(1.0, 2.0, 3.0)), "must be a pair"),
        (lambda: Discrepancy(fixed=True, lengthscale=5.0), "fixed=True needs amplitude"),
        (lambda: Discrepancy(amplitude="big"), "Discrepancy: amplitude must be a finite number"),
        (lambda: Discrepancy(n_basis=0), "Discrepancy: n_basis must be an integer >= 1"),
        (lambda: KnownNoise("0.1"), "KnownNoise: sigma must be a number or an array of numbers"),
        (lambda: KnownNoise([True, False]), "KnownNoise: sigma must be a number"),
        (lambda: ScaledNoise(1.0, prior_sd="1"), "ScaledNoise: prior_sd must be a finite number"),
        (lambda: HierarchicalNoise(-1.0), "HierarchicalNoise: prior_scale must be a finite"),
        (lambda: _modality(data=["a", "b", "c"]), "modality 'obs': data must be a number or"),
        (lambda: _modality(data=["1", "2", "3"]), "modality 'obs': data must be a number or"),
        (lambda: _modality(coords=["x", "y", "z"]), "modality 'obs': coords must be a number"),
        (lambda: _modality(nu="3"), "modality 'obs': nu must be a finite number > 0"),
        (lambda: _modality(likelihood="cauchy"), "modality 'obs': likelihood must be one of"),
        (lambda: IIDNormal(sigma="1"), "IIDNormal: sigma must be a finite number > 0"),
        (lambda: MaternPrior(variance="1"), "MaternPrior: variance must be a finite number"),
        (lambda: MaternPrior(nu=1.0), "MaternPrior: nu must be one of"),
        (lambda: MaternPrior(coarsening=0), "MaternPrior: coarsening must be an integer >= 1"),
        (lambda: BesovPrior(s="2"), "BesovPrior: s must be a finite number > 0"),
        (lambda: BesovPrior(p=3), "BesovPrior: p must be one of"),
        (lambda: Grid2D(4, 2, "10", 10.0), "Grid2D: dx must be a finite number > 0"),
        (lambda: Grid1D(4, dz="1"), "Grid1D: dz must be a finite number > 0"),
        (lambda: Homogenization("a", "b", log="yes"), "Homogenization: log must be True or"),
    ],
)
def test_bad_input_is_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_noise_given_in_the_wrong_length_names_the_modality():
    with pytest.raises(ValueError, match="modality 'obs': noise sigma must be a scalar or"):
        _modality(noise=KnownNoise(np.ones(2)))
