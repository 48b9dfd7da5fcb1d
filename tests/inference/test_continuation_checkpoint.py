"""continuation(..., checkpoint=folder): finished levels kept, read back, resumed exactly."""

import numpy as np
import pymc as pm
import pytest

from bayesinv import Grid1D
from bayesinv.inference.continuation import LEVEL_SOLVERS, continuation
from bayesinv.inference.continuation.checkpoint import load_level, model_signature
from bayesinv.io import UserError
from bayesinv.model.priors import besov_prior
from bayesinv.multiscale import WaveletField
from bayesinv.operators import MatrixOperator
from bayesinv.ops import ForwardOp

GRID = Grid1D(nz=16, dz=1.0)
W = WaveletField(GRID, "haar", levels=2)
METHODS = ["laplace", "laplace"]


@pytest.fixture
def data(rng):
    G = rng.standard_normal((12, GRID.size)) / 4.0
    d = G @ np.sin(GRID.z_centers / 3.0) + 0.1 * rng.standard_normal(12)
    return G, d


def _builder(G, d):
    def build(level):
        with pm.Model() as model:
            m = besov_prior("m", W, s=1.5, p=2, max_level=level)
            pm.Normal("d", ForwardOp(MatrixOperator(G))(m), 0.1, observed=d)
        return model

    return build


@pytest.fixture
def counted(monkeypatch):
    """Count the calls of the "laplace" solver by level; ``fail_at`` interrupts one level."""
    solve = LEVEL_SOLVERS["laplace"]
    state = {"calls": [], "fail_at": None}

    def counting(level):
        state["calls"].append(level.index)
        if level.index == state["fail_at"]:
            raise KeyboardInterrupt  # as a user's Ctrl-C or a killed job
        return solve(level)

    monkeypatch.setitem(LEVEL_SOLVERS, "laplace", counting)
    return state


def test_an_interrupted_continuation_resumes_at_its_first_unfinished_level(data, counted, tmp_path):
    G, d = data
    run = {"random_seed": 3, "method": METHODS, "checkpoint": tmp_path / "ck"}
    reference = continuation(_builder(G, d), 2, random_seed=3, method=METHODS)
    counted["calls"].clear()
    counted["fail_at"] = 1
    with pytest.raises(KeyboardInterrupt):
        continuation(_builder(G, d), 2, **run)
    assert [p.name for p in (tmp_path / "ck").iterdir()] == ["level_00.pkl"]
    counted["calls"].clear()
    counted["fail_at"] = None
    resumed = continuation(_builder(G, d), 2, **run)
    assert counted["calls"] == [1]  # level 0 read back
    for x, y in zip(resumed.levels, reference.levels, strict=True):  # same seed, same result
        np.testing.assert_array_equal(x.point["m_raw"], y.point["m_raw"])
        np.testing.assert_array_equal(x.preconditioner.covariance(), y.preconditioner.covariance())
    counted["calls"].clear()
    again = continuation(_builder(G, d), 2, **run)
    assert counted["calls"] == []
    for x, y in zip(again.levels, resumed.levels, strict=True):
        assert x.seconds == y.seconds and x.logp == y.logp and x.diagnostics == y.diagnostics
        np.testing.assert_array_equal(x.point["m_raw"], y.point["m_raw"])


def test_a_level_is_solved_again_when_what_it_depends_on_changes(data, counted, tmp_path):
    G, d = data
    base = {"random_seed": 3, "method": METHODS, "checkpoint": tmp_path}
    continuation(_builder(G, d), 2, **base)
    changes = {
        "data": ({}, d + 1e-6, [0, 1]),
        "seed": ({"random_seed": 4}, d, [0, 1]),
        "options": ({"options": {"laplace": {"hessian": {"rank": 5}}}}, d, [0, 1]),
        # level 0 read back; level 1 solved by the (uncounted) MAP
        "method": ({"method": ["laplace", "map"]}, d, []),
    }
    for name, (change, data_k, solved) in changes.items():
        counted["calls"].clear()
        folder = {"checkpoint": tmp_path / name}
        for p in tmp_path.glob("level_*.pkl"):  # each change starts from the base's files
            (tmp_path / name).mkdir(exist_ok=True)
            (tmp_path / name / p.name).write_bytes(p.read_bytes())
        res = continuation(_builder(G, data_k), 2, **(base | change | folder))
        assert counted["calls"] == solved, name
        assert res.final.method == (base | change)["method"][1]


def test_last_bit_noise_in_the_data_is_not_a_change_but_a_small_change_is(data, counted, tmp_path):
    """Float values are compared by fingerprints within RTOL (1e-9 of their scale): the same
    data computed on another CPU (here: d (1 + 1e-14), last-bit noise) reads the levels
    back; data changed by 1e-7 of their scale does not (negative control)."""
    from bayesinv.inference.continuation.checkpoint import same_values

    G, d = data
    base = {"random_seed": 3, "method": METHODS, "checkpoint": tmp_path}
    continuation(_builder(G, d), 2, **base)
    counted["calls"].clear()
    continuation(_builder(G, d * (1 + 1e-14)), 2, **base)
    assert counted["calls"] == []
    sig = [model_signature(_builder(G, d)(1))]
    assert same_values(sig, [model_signature(_builder(G, d * (1 + 1e-14))(1))])
    assert not same_values(sig, [model_signature(_builder(G, d + 1e-7 * np.abs(d).max())(1))])
    continuation(_builder(G, d + 1e-7 * np.abs(d).max()), 2, **base)
    assert counted["calls"] == [0, 1]


def test_the_tag_sees_the_start_and_the_data_of_each_level(data):
    G, d = data
    base = model_signature(_builder(G, d)(1))
    assert model_signature(_builder(G, d)(1)) == base
    assert model_signature(_builder(G, d + 1e-12)(1))["data"] != base["data"]
    assert model_signature(_builder(G, d)(2))["free"] != base["free"]
    with pm.Model() as started:
        pm.Normal("x", 0.0, 1.0, initval=0.3)
    with pm.Model() as other:
        pm.Normal("x", 0.0, 1.0, initval=0.4)
    assert model_signature(started)["initial"] != model_signature(other)["initial"]
    # a level evaluated through another model (nested=model): that model's data count too
    through = [model_signature(started, _builder(G, dk)(1))["data"] for dk in (d, d, d + 1e-12)]
    assert through[0] == through[1] != through[2]


def test_a_damaged_checkpoint_is_a_clear_error_and_is_not_overwritten(data, tmp_path):
    G, d = data
    (tmp_path / "level_00.pkl").write_bytes(b"not a pickle")
    with pytest.raises(UserError, match=r"level_00\.pkl: cannot be read.*delete it"):
        continuation(_builder(G, d), 1, random_seed=1, method="laplace", checkpoint=tmp_path)
    assert (tmp_path / "level_00.pkl").read_bytes() == b"not a pickle"
    assert load_level(tmp_path, 1, "any tag") is None  # no file: nothing stored


def test_a_nuts_level_is_kept_with_its_draws(data, tmp_path):
    G, d = data
    run = {
        "random_seed": 5,
        "method": ["laplace", "nuts"],
        "checkpoint": tmp_path,
        "options": {"nuts": {"draws": 30, "tune": 30, "chains": 1}},
    }
    first = continuation(_builder(G, d), 2, **run)
    again = continuation(_builder(G, d), 2, **run)
    post = again.final.result["posterior"]["m_raw"].values
    np.testing.assert_array_equal(post, first.final.result["posterior"]["m_raw"].values)
    assert again.final.diagnostics.keys() == first.final.diagnostics.keys()
    for key, value in first.final.diagnostics.items():  # max_rhat is NaN with one chain
        assert again.final.diagnostics[key] == value or np.isnan(value), key
    np.testing.assert_array_equal(again.final.point["m_raw"], first.final.point["m_raw"])
