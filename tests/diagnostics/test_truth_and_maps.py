import arviz as az
import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.diagnostics.plots import field_summaries, plot_posterior_field
from bayesinv.diagnostics.truth import central_interval, truth_coverage


def gaussian_posterior(rng, grid, truth_sd=1.0, offset=0.0, prior=False):
    """Posterior draws N(t + e, 1) with e ~ N(0, truth_sd): calibrated when truth_sd = 1."""
    truth = rng.normal(size=grid.shape)
    centre = truth + offset + truth_sd * rng.normal(size=grid.shape)
    draws = centre + rng.normal(size=(2, 1000, *grid.shape))
    groups = {"posterior": {"m": draws}}
    if prior:
        groups["prior"] = {"m": 4.0 * rng.normal(size=(1, 1000, *grid.shape))}
    return az.from_dict(groups, dims={"m": ["m_z", "m_x"]}), truth


def test_calibrated_posterior_covers_at_nominal_rates(rng):
    grid = Grid2D(nx=40, nz=25, dx=1.0, dz=1.0)
    idata, truth = gaussian_posterior(rng, grid)
    table = truth_coverage(idata, {"m": truth})
    row = table.loc["m"]
    assert row["n"] == 1000
    # 1000 cells: binomial sd of the coverage is ~0.016 (50%) and ~0.01 (90%)
    assert abs(row["coverage_50"] - 0.5) < 0.06 and abs(row["coverage_90"] - 0.9) < 0.04
    assert row["rmse"] == pytest.approx(1.0, abs=0.1) and row["rms_z"] == pytest.approx(1, abs=0.1)
    # a flat truth vector is accepted too
    assert truth_coverage(idata, {"m": truth.ravel()}).equals(table)


def test_overconfident_posterior_undercovers(rng):
    grid = Grid2D(nx=40, nz=25, dx=1.0, dz=1.0)
    idata, truth = gaussian_posterior(rng, grid, truth_sd=3.0)
    row = truth_coverage(idata, {"m": truth}).loc["m"]
    assert row["coverage_90"] < 0.6 and row["rms_z"] > 2.5


def test_central_interval_and_errors(rng):
    draws = rng.normal(size=(200000, 2))
    lo, hi = central_interval(draws, 0.9)
    np.testing.assert_allclose(hi, 1.6449, atol=0.02)
    np.testing.assert_allclose(lo, -1.6449, atol=0.02)
    with pytest.raises(ValueError, match="prob must be in"):
        central_interval(draws, 1.0)
    idata, _ = gaussian_posterior(rng, Grid2D(nx=3, nz=2, dx=1.0, dz=1.0))
    with pytest.raises(ValueError, match="truth\\['m'\\] has shape \\(5,\\)"):
        truth_coverage(idata, {"m": np.zeros(5)})
    with pytest.raises(ValueError, match="no variable 'q'"):
        truth_coverage(idata, {"q": np.zeros(6)})


def test_field_maps_panels_and_png(rng, tmp_path):
    grid = Grid2D(nx=8, nz=4, dx=10.0, dz=5.0)
    idata, truth = gaussian_posterior(rng, grid, prior=True)
    panels = field_summaries(idata, "m", grid, truth)
    assert list(panels) == [
        "truth",
        "posterior mean",
        "posterior sd",
        "90% interval width",
        "posterior sd / prior sd",
    ]
    assert all(v.shape == grid.shape for v in panels.values())
    # N(., 1) posterior, N(0, 4^2) prior: 90% width 2 * 1.645, contraction 1/4
    np.testing.assert_allclose(panels["90% interval width"], 3.29, atol=0.35)
    np.testing.assert_allclose(panels["posterior sd / prior sd"], 0.25, atol=0.04)
    paths = plot_posterior_field(idata, "m", grid, tmp_path / "m.png", truth=truth, units="u")
    assert [p.name for p in paths] == ["m.png", "m_contraction.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)
    with pytest.raises(ValueError, match="the grid has 12 cells"):
        field_summaries(idata, "m", Grid2D(nx=4, nz=3, dx=1.0, dz=1.0))


def test_colour_scales_follow_the_field_kind_and_shared_groups():
    from bayesinv.diagnostics.plots import _scale_groups, field_kind

    assert field_kind([-1.0, 2.0]) == "contrast" and field_kind([1.0, 2.0]) == "absolute"
    assert field_kind([0.0, 2.0]) == "absolute" and field_kind([np.nan, -1.0]) == "absolute"
    slowness = np.full((2, 2), 5e-4) + np.array([[0.0, 1e-4], [2e-4, 0.0]])
    fields = {
        "truth": slowness,
        "mean": slowness * 1.1,
        "sd a": np.full((2, 2), 3e-5),
        "sd b": np.full((2, 2), 1e-5),
        "contrast": np.array([[-2.0, 1.0], [0.5, 0.0]]),
    }
    scales = _scale_groups(fields, None, [("truth", "mean"), ("sd a", "sd b")], "t")
    # absolute slowness: sequential over the range of both panels, not centred on 0
    assert scales["truth"] == scales["mean"]
    assert scales["truth"][1:] == ("absolute", 5e-4, pytest.approx(7e-4 * 1.1))
    # compared standard deviations: one scale, so a 3x difference shows
    assert scales["sd a"] == scales["sd b"] and scales["sd a"][2:] == (1e-5, 3e-5)
    # a field straddling 0: diverging, symmetric
    assert scales["contrast"][1:] == ("contrast", -2.0, 2.0)
    assert len({s[0] for s in scales.values()}) == 3  # three colour bars
    forced = _scale_groups(fields, {"truth": "contrast"}, [("truth", "mean")], "t")
    assert forced["mean"][1] == "contrast" and forced["mean"][2] == -forced["mean"][3]
    with pytest.raises(ValueError, match="t: kinds\\['truth'\\] must be one of"):
        _scale_groups(fields, {"truth": "relative"}, [], "t")
    with pytest.raises(ValueError, match="t: shared names \\['nope'\\]"):
        _scale_groups(fields, None, [("truth", "nope")], "t")
    with pytest.raises(ValueError, match="in two shared groups"):
        _scale_groups(fields, None, [("truth", "mean"), ("mean",)], "t")


def test_plot_field_maps_kinds_shared_and_the_old_argument(rng, tmp_path):
    from bayesinv.diagnostics.plots import plot_field_maps

    grid = Grid2D(nx=8, nz=4, dx=10.0, dz=5.0)
    panels = {"truth": 2.0 + rng.random(32), "sd": rng.random(32)}
    path = plot_field_maps(
        grid, panels, tmp_path / "a.png", kinds="absolute", shared=[("truth",)], units={"sd": "u"}
    )
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.warns(DeprecationWarning, match="shared_scale= is deprecated"):
        plot_field_maps(grid, panels, tmp_path / "b.png", shared_scale=("truth", "sd"))
    idata, truth = gaussian_posterior(rng, grid)
    with pytest.raises(ValueError, match="plot_posterior_field: kind must be one of"):
        plot_posterior_field(idata, "m", grid, tmp_path / "m.png", kind="sequential")
    paths = plot_posterior_field(idata, "m", grid, tmp_path / "m.png", truth=truth, kind="contrast")
    assert [p.name for p in paths] == ["m.png"]
