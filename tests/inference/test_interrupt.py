"""Interrupted sampling returns (and saves) the draws taken so far."""

import os
import signal
import threading

import numpy as np
import pymc as pm
import pytest
import xarray as xr

import bayesinv
from bayesinv import _seeds
from bayesinv.diagnostics.convergence import convergence_report

ENDLESS = 10**8  # more draws than any test will wait for


@pytest.fixture(scope="module")
def model():
    with pm.Model(coords={"k": np.arange(5)}) as m:
        x = pm.Normal("x", 0.0, 1.0, dims="k")
        pm.Normal("y", x.sum(), 1.0, observed=np.array([0.3, -0.2]))
    return m


def test_ample_budget_gives_the_same_draws_as_plain_sample(model, tmp_path):
    kwargs = dict(draws=200, tune=200, chains=2, random_seed=3)
    plain = bayesinv.sample(model, **kwargs)
    # an integer seed draws what pymc.sample with nutpie draws (bayesinv 0.1 called it),
    # given the same compilation flags (bayesinv compiles without fast-math, see _seeds)
    with model, _seeds.reproducible_compilation():
        pymc_draws = pm.sample(**kwargs, nuts_sampler="nutpie", progressbar=False)
    np.testing.assert_array_equal(
        plain["posterior"]["x"].values, pymc_draws["posterior"]["x"].values
    )
    budget = bayesinv.sample(model, **kwargs, time_budget=600.0, save_to=tmp_path / "p.nc")
    np.testing.assert_array_equal(plain["posterior"]["x"].values, budget["posterior"]["x"].values)
    assert budget.attrs["interrupted"] == "" and budget.attrs["draws_kept"] == 200
    assert "y" in budget["observed_data"]
    saved = xr.open_datatree(tmp_path / "p.nc", engine="h5netcdf")
    np.testing.assert_array_equal(saved["posterior"]["x"].values, plain["posterior"]["x"].values)


def check_partial(tree, reason):
    assert tree.attrs["interrupted"] == reason
    kept = tree.attrs["draws_kept"]
    assert 0 < kept < ENDLESS and min(tree.attrs["draws_completed"]) == kept
    x = tree["posterior"]["x"].values
    assert x.shape == (2, kept, 5) and np.all(np.isfinite(x))
    assert tree["sample_stats"]["diverging"].shape == (2, kept)
    convergence_report(tree)  # diagnostics run on the partial result


def test_time_budget_stops_and_saves(model, tmp_path):
    path = tmp_path / "partial.nc"
    tree = bayesinv.sample(
        model, draws=ENDLESS, tune=100, chains=2, random_seed=1, time_budget=2.0, save_to=path
    )
    check_partial(tree, "time_budget")
    saved = xr.open_datatree(path, engine="h5netcdf")
    assert saved["posterior"]["x"].shape == tree["posterior"]["x"].shape


def test_keyboard_interrupt_returns_draws_so_far(model, monkeypatch):
    import nutpie

    timers = []
    real_sample = nutpie.sample

    def sample_then_interrupt(*args, **kwargs):
        # Ctrl-C one second after sampling starts (not during compilation)
        background = real_sample(*args, **kwargs)
        timers.append(threading.Timer(1.0, os.kill, args=(os.getpid(), signal.SIGINT)))
        timers[-1].start()
        return background

    monkeypatch.setattr(nutpie, "sample", sample_then_interrupt)
    # A process started in the background by a non-interactive shell ignores SIGINT; Ctrl-C
    # reaches Python as KeyboardInterrupt only under its default handler, so install it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        tree = bayesinv.sample(
            model, draws=ENDLESS, tune=100, chains=2, random_seed=1, time_budget=120.0
        )
    finally:
        for timer in timers:
            timer.cancel()
        signal.signal(signal.SIGINT, previous)
    check_partial(tree, "KeyboardInterrupt")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sampler": "pymc", "time_budget": 1.0}, "need sampler='nutpie'"),
        ({"time_budget": -1.0}, "time_budget must be a finite number > 0"),
    ],
)
def test_bad_arguments(model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        bayesinv.sample(model, draws=10, tune=10, chains=1, random_seed=1, **kwargs)
