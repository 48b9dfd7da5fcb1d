"""The mass-matrix adaptation of bayesinv.sample: an argument, checked, passed to nutpie."""

import pymc as pm
import pytest

import bayesinv
from bayesinv.inference import _sample_args


def _args(**kwargs):
    base = {
        "draws": 10,
        "tune": 10,
        "chains": 1,
        "cores": None,
        "nuts": None,
        "save_warmup": False,
        "target_accept": None,
        "adaptation": None,
        "initvals": None,
        "var_names": None,
        "jitter": True,
        "time_budget": None,
        "save_to": None,
        "blas_threads": 1,
    }
    return base | kwargs


def test_default_and_chosen_adaptation_reach_nutpie():
    default = _sample_args.check(_args(), compiled=False, sampler="nutpie")
    assert default["nuts"]["adaptation"] == _sample_args.DEFAULT_ADAPTATION
    chosen = _sample_args.check(_args(adaptation="low_rank"), compiled=False, sampler="nutpie")
    assert chosen["nuts"]["adaptation"] == "low_rank"
    via_nuts = _sample_args.check(
        _args(nuts={"adaptation": "low_rank"}), compiled=False, sampler="nutpie"
    )
    assert via_nuts["nuts"]["adaptation"] == "low_rank"
    assert "adaptation" not in _sample_args.check(_args(), compiled=False, sampler="pymc")["nuts"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"adaptation": "full"}, "adaptation"),
        ({"adaptation": "diag", "nuts": {"adaptation": "low_rank"}}, "adaptation given twice"),
        ({"adaptation": "low_rank", "sampler": "pymc"}, "adaptation is an option of sampler"),
    ],
)
def test_bad_adaptation_is_refused(kwargs, message):
    with pm.Model() as model:
        pm.Normal("x")
    with pytest.raises(ValueError, match=message):
        bayesinv.sample(model, draws=5, tune=5, chains=1, random_seed=0, **kwargs)
