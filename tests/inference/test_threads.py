"""BLAS thread limits around the package's loops over a compiled density (`_threads`)."""

import sys

import numpy as np
import pymc as pm
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from bayesinv.inference import _threads, find_map, laplace, sample_smc
from bayesinv.inference.continuation import continuation
from bayesinv.inference.continuation.registry import LEVEL_SOLVERS, LevelOutcome


def _blas_threads() -> int:
    """Threads of the BLAS libraries loaded in this process (the largest)."""
    return max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")


@pytest.fixture
def outer_two():
    """BLAS at 2 threads around the test, so that a limit to 1 is seen (negative control)."""
    with threadpool_limits(limits=2, user_api="blas"):
        if _blas_threads() != 2:
            pytest.skip("this BLAS cannot run 2 threads")
        yield 2


class Probe(Exception):
    """Raised by a stand-in, carrying the BLAS threads it saw."""


def _record(*args, **kwargs):
    raise Probe(_blas_threads())


def _model():
    with pm.Model() as model:
        pm.Normal("x", 0.0, 1.0)
    return model


def test_blas_limit_applies_inside_and_restores(outer_two):
    limit = _threads.blas_limit(1, "f")
    assert _blas_threads() == 2  # nothing applied before the block is entered
    with limit:
        assert _blas_threads() == 1
    assert _blas_threads() == 2
    with _threads.blas_limit(None, "f"):
        assert _blas_threads() == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_blas_limit_rejects_bad_values(bad):
    with pytest.raises((TypeError, ValueError), match="g: blas_threads"):
        _threads.blas_limit(bad, "g")


#: the call, and the function it runs under the limit (replaced by a probe): module, name
CALLS = {
    "find_map": (
        lambda t: find_map(_model(), random_seed=0, blas_threads=t),
        "pymc",
        "find_MAP",
    ),
    "laplace": (  # the Hessian (the MAP is given)
        lambda t: laplace(_model(), {"x": np.array(0.0)}, random_seed=0, blas_threads=t),
        "bayesinv.inference.laplace",  # the module (the package exports the function)
        "laplace_at",
    ),
    "sample_smc": (
        lambda t: sample_smc(_model(), random_seed=0, blas_threads=t),
        "pymc",
        "sample_smc",
    ),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("threads, seen", [(1, 1), (None, 2)])
def test_loops_over_a_density_limit_blas(monkeypatch, outer_two, call, threads, seen):
    run, module, name = CALLS[call]
    monkeypatch.setattr(sys.modules[module], name, _record)
    with pytest.raises(Probe) as got:
        run(threads)
    assert got.value.args[0] == seen


@pytest.mark.parametrize("threads, seen", [(1, 1), (None, 2)])
def test_continuation_limits_blas_for_every_level(monkeypatch, outer_two, threads, seen):
    saw = []

    def probe(level):
        saw.append(_blas_threads())
        return LevelOutcome({"x": np.array(0.0)}, 0.0, {}, None)

    monkeypatch.setitem(LEVEL_SOLVERS, "probe", probe)
    continuation(lambda k: _model(), 2, random_seed=0, method="probe", blas_threads=threads)
    assert saw == [seen, seen]
    assert _blas_threads() == 2  # restored after the levels


def test_continuation_checks_blas_threads_before_any_level(monkeypatch):
    monkeypatch.setitem(LEVEL_SOLVERS, "probe", _record)
    with pytest.raises(ValueError, match="continuation: blas_threads"):
        continuation(lambda k: _model(), 1, random_seed=0, method="probe", blas_threads=0)
