"""Transient diffusion: bad input in the Python API gives errors naming the argument."""

import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.operators.transient import (
    PumpingSchedule,
    RadialTransientDiffusion,
    TransientDiffusion2D,
    graded_steps,
    log_radii,
)

GRID = Grid2D(nx=6, nz=4, dx=1.0, dz=1.0)
SCHEDULE = PumpingSchedule([10.0, 10.0], [1e-3, 0.0])


def _make(**kw):
    args = dict(
        grid=GRID, sources=[[3.0, 2.0]], schedule=SCHEDULE, wells=[[1.0, 1.0]],
        times=[1.0, 5.0, 15.0], storage=1e-3,
    )  # fmt: skip
    args.update(kw)
    return TransientDiffusion2D(**args)


def test_a_valid_setup_builds():
    op = _make()
    assert op.n_params == GRID.size and op.n_data == 3
    assert np.any(np.isclose(op.step_times, 10.0, rtol=0, atol=1e-12))  # rate change = node


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(times=[-1.0, 2.0]), "times must be >= 0"),
        (dict(times=[1.0, 3.0, 2.0]), r"strictly increasing, got 2.0 at index 2"),
        (dict(times=[1.0, 1.0]), "strictly increasing"),
        (dict(wells=[[1.0, 1.0], [7.0, 1.0]]), r"wells\[1\] = \(7.0, 1.0\) lies outside"),
        (dict(wells=[[1.0, -0.5]]), r"wells\[0\].*outside"),
        (dict(sources=[[30.0, 2.0]]), r"sources\[0\].*outside"),
        (dict(sources=[[1.0, 1.0, 1.0, 9.0]]), r"sources\[0\].*outside"),
        (dict(storage=0.0), "storage must be > 0"),
        (dict(storage=np.r_[np.ones(23), -1.0]), "storage must be > 0.*cell 23"),
        (dict(storage=None), "give storage"),
        (dict(estimate_storage=True), "do not give it"),
        (dict(data="velocity"), "data"),
        (dict(sources=[[3.0, 2.0], [4.0, 2.0]]), "rates for 1 source"),
        (dict(steps=[5.0, 5.0, 4.0]), "before the last time"),
        (dict(steps=[4.0, 8.0, 8.0]), "boundary at every schedule change; none at 10"),
        (dict(steps=[10.0, -1.0, 10.0]), "durations > 0"),
        (dict(initial_head=np.zeros(3)), "initial_head"),
        (dict(thickness=-1.0), "thickness"),
    ],
)
def test_bad_arguments_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        _make(**kw)


def test_schedule_checks():
    with pytest.raises(ValueError, match=r"durations must be > 0 s, got -5.0 at index 1"):
        PumpingSchedule([10.0, -5.0], [1e-3, 0.0])
    with pytest.raises(ValueError, match="durations must be > 0"):
        PumpingSchedule([0.0], [1e-3])
    with pytest.raises(ValueError, match=r"rates must have shape \(2,\)"):
        PumpingSchedule([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="schedule must be a PumpingSchedule"):
        _make(schedule=[10.0, 1e-3])
    s = PumpingSchedule([10.0, 10.0], [[1.0, 2.0], [3.0, 4.0]])
    assert s.rate_at(15.0).tolist() == [3.0, 4.0] and s.rate_at(25.0).tolist() == [0.0, 0.0]


def test_parameters_refuses_non_positive_fields():
    op = _make()
    with pytest.raises(ValueError, match=r"conductivity must be > 0, got 0.0 at cell 5"):
        op.parameters(np.r_[np.ones(5), 0.0, np.ones(18)])
    with pytest.raises(ValueError, match="storage is fixed"):
        op.parameters(1.0, 1e-3)
    op2 = _make(storage=None, estimate_storage=True)
    with pytest.raises(ValueError, match="give storage"):
        op2.parameters(1.0)
    with pytest.raises(ValueError, match="storage must be > 0"):
        op2.parameters(1.0, -1.0)
    np.testing.assert_allclose(op2.parameters(2.0, 3.0)[[0, -1]], np.log([2.0, 3.0]))


def test_model_vector_is_checked():
    op = _make()
    with pytest.raises(ValueError, match="TransientDiffusion2D: m has length 3"):
        op.forward(np.zeros(3))
    with pytest.raises(ValueError, match="non-finite"):
        op.forward(np.full(GRID.size, np.nan))


def test_radial_checks():
    r = log_radii(0.1, 100.0, 10)
    ok = dict(schedule=SCHEDULE, wells=[[5.0, 1.0]], times=[1.0, 20.0], storage=1e-5)
    with pytest.raises(ValueError, match=r"r_edges\[0\] \(the well radius\) must be > 0"):
        RadialTransientDiffusion(np.r_[0.0, r], [0.0, 2.0], **ok)
    with pytest.raises(ValueError, match="z_edges must hold at least 2 strictly increasing"):
        RadialTransientDiffusion(r, [0.0, 0.0], **ok)
    with pytest.raises(ValueError, match="screen must satisfy"):
        RadialTransientDiffusion(r, [0.0, 2.0], screen=(1.0, 3.0), **ok)
    with pytest.raises(ValueError, match=r"wells\[0\].*outside"):
        RadialTransientDiffusion(r, [0.0, 2.0], **{**ok, "wells": [[500.0, 1.0]]})
    with pytest.raises(ValueError, match="need 0 < r_well < r_max"):
        log_radii(1.0, 0.5, 3)


def test_graded_steps_land_on_breakpoints_and_restart():
    dt = graded_steps(100.0, 1.0, 8.0, breakpoints=[30.0], steps_per_level=2)
    nodes = np.r_[0.0, np.cumsum(dt)]
    assert np.isclose(nodes[-1], 100.0) and np.any(np.isclose(nodes, 30.0))
    after = int(np.flatnonzero(np.isclose(nodes, 30.0))[0])
    assert dt[after] == 1.0 and dt[0] == 1.0  # grading restarts after the change
    # sizes are dt_min 2^l, except at most one shortened last step per interval
    odd = dt[~np.isin(dt, [1.0, 2.0, 4.0, 8.0])]
    assert odd.size <= 2 and np.all(odd < 8.0)
    with pytest.raises(ValueError, match="dt_max"):
        graded_steps(10.0, 2.0, 1.0)


def test_checkpoints_are_chosen_by_the_memory_budget(monkeypatch):
    from bayesinv.operators.transient import _base

    assert _make().checkpoint_every == _make().steps.size  # small: every state is kept
    monkeypatch.setattr(_base, "STATE_MEMORY_BYTES", 1000)
    op = _make()
    assert op.checkpoint_every == max(1, round(np.sqrt(op.steps.size / 2)))
    assert _make(checkpoint_every=5).checkpoint_every == 5
    with pytest.raises(ValueError, match="checkpoint_every"):
        _make(checkpoint_every=0)
