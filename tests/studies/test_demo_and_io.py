import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayesinv import Grid2D
from bayesinv.cli import main
from bayesinv.io import atomic_path, data_hash, provenance, write_text
from bayesinv.studies._demo_page import geometry_coords, page_notes
from bayesinv.studies.demo import DemoConfig, demo_survey
from bayesinv.synthetic import Body, bodies_field, gravity_survey


def test_demo_cli_writes_all_outputs(tmp_path, capsys):
    out = tmp_path / "demo"
    # without a terminal (stderr is captured here) the command reports its stages on stderr
    args = ["demo", "--out", str(out), "--draws", "60", "--tune", "60", "--chains", "2"]
    status = main(args)
    verdict = json.loads((out / "headline.json").read_text())["verdict"]
    assert status == (1 if verdict.startswith("FAIL") else 0)  # exit status 1 on a FAIL verdict
    for name in ["posterior.nc", "summary.csv", "maps.png", "data_fit.png", "headline.json"]:
        assert (out / name).stat().st_size > 0, name
    assert (out / "separate" / "index.html").is_file()
    tree = xr.open_datatree(out / "posterior.nc", engine="h5netcdf")
    assert tree["posterior"]["density"].dims == ("chain", "draw", "density_z", "density_x")
    assert "preconditioned_z" not in tree["posterior"]  # the sampler's working vector
    assert "gravity" in tree["posterior_predictive"]
    prov = json.loads(tree.attrs["provenance"])
    assert prov["seed"] == 2026 and prov["versions"]["pymc"]
    headline = json.loads((out / "headline.json").read_text())
    assert headline["divergences"] >= 0 and 0.0 <= headline["coverage_90"] <= 1.0
    assert set(headline["verdicts"]) == {"separate", "joint"}
    assert not list(out.glob(".*.tmp"))  # no temporary files left behind
    # units and survey geometry travel with the data
    assert tree["posterior"]["density"].attrs["units"] == "kg/m³"
    assert tree["posterior"]["slowness"].attrs["units"] == "s/m"
    survey = demo_survey(DemoConfig())
    for group in ("observed_data", "posterior_predictive"):
        grav, tt = tree[group]["gravity"], tree[group]["traveltime"]
        assert grav.attrs["units"] == "mGal" and tt.attrs["units"] == "s"
        np.testing.assert_allclose(grav["gravity_x"].values, survey.receivers[:, 0])
        np.testing.assert_allclose(grav["gravity_z"].values, survey.receivers[:, 1])
        assert grav["gravity_x"].dims == ("gravity_obs",)
        np.testing.assert_allclose(
            tt["traveltime_source_x"].values, survey.traveltime.sources[:, 0]
        )
        np.testing.assert_allclose(
            tt["traveltime_receiver_z"].values, survey.traveltime.receivers[:, 1]
        )
    # stages as progress lines and the page's address, on standard error
    lines = capsys.readouterr().err
    for stage in ("building", "sampling the separate", "sampling the joint", "writing"):
        assert f"demo: {stage}" in lines, stage
    assert str((out / "index.html").resolve()) in lines


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"draws": True}, r"DemoConfig: draws must be an integer >= 1, got True"),
        ({"noise_sd": -0.1}, r"DemoConfig: noise_sd must be a finite number > 0"),
        ({"prior_sd": "200"}, r"DemoConfig: prior_sd must be a finite number > 0"),
        ({"adaptation": "dense"}, r"DemoConfig: adaptation must be one of 'low_rank', 'diag'"),
        ({"nx": 15, "coarsening": 2}, r"DemoConfig: nx must be a multiple of coarsening=2"),
        ({"seed": -1}, r"DemoConfig: seed must be an integer >= 0"),
    ],
)
def test_demo_config_names_the_bad_setting(change, message):
    with pytest.raises(ValueError, match=message):
        replace(DemoConfig(), **change)


def test_demo_config_takes_integers_for_floats():
    config = DemoConfig(cell=50, prior_sd=120)
    assert isinstance(config.cell, float) and config == DemoConfig()


def test_demo_survey_noise_follows_the_seed():
    a, b = demo_survey(DemoConfig()), demo_survey(DemoConfig())
    c = demo_survey(DemoConfig(seed=7))
    np.testing.assert_array_equal(a.data["traveltime"], b.data["traveltime"])
    assert not np.allclose(a.data["traveltime"], c.data["traveltime"])
    np.testing.assert_array_equal(a.clean["gravity"], c.clean["gravity"])
    geometry = geometry_coords(a)
    assert geometry["traveltime"]["traveltime_source_x"].size == a.data["traveltime"].size


def test_page_notes_say_whether_each_check_passes():
    ppc = pd.DataFrame(
        {
            "n_data": [40, 180],
            "rms_z": [0.7, 2.0],
            "max_abs_z": [1.5, 11.1],
            "coverage_90": [1.0, 0.7],
            "p_value": [0.99, 0.0],
        },
        index=["gravity", "traveltime"],
    )
    truth = pd.DataFrame({"coverage_90": [0.95, 0.54]}, index=["density", "slowness"])
    notes = dict(page_notes(ppc, truth, "joint"))
    checks = notes["What the posterior predictive checks say"]
    gravity, traveltime = checks.split("\n\ntraveltime (")
    assert "reproduces these data within their noise" in gravity
    assert "this check FAILS" in traveltime and "max |z| = 11.10" in traveltime
    assert "slowness 54%" in notes["What the known truth says"]
    assert "separate/index.html" in notes["What the known truth says"]
    assert "inflate the noise" in notes["What to believe when a check fails"]


def test_atomic_path_keeps_the_old_file_on_error(tmp_path):
    target = tmp_path / "result.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half-written")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_provenance_hashes_data_and_records_versions():
    a = provenance({"k": 1}, 3, np.arange(4.0))
    b = provenance({"k": 1}, 3, np.arange(4.0) + 1e-12)
    assert a["data_sha256"] != b["data_sha256"]
    assert a["versions"]["numpy"] == np.__version__
    assert data_hash(np.zeros(3)) != data_hash(np.zeros(4))


def test_bodies_field_has_fractional_coverage_and_exact_area():
    grid = Grid2D(nx=40, nz=40, dx=1.0, dz=1.0)
    field = bodies_field(grid, [Body("rectangle", (20.0, 20.0), (10.0, 6.0), 2.0)])
    assert field.sum() == pytest.approx(2.0 * 60.0)
    disk = bodies_field(grid, [Body("disk", (20.0, 20.0), (8.0, 8.0), 1.0)], subsamples=16)
    assert disk.sum() == pytest.approx(np.pi * 64.0, rel=5e-3)
    with pytest.raises(ValueError, match="kind"):
        Body("ellipse", (0, 0), (1, 1), 1.0)


def test_gravity_survey_is_reproducible():
    a = gravity_survey(np.random.default_rng(5))
    b = gravity_survey(np.random.default_rng(5))
    np.testing.assert_array_equal(a.data, b.data)
    assert np.std(a.data - a.clean) == pytest.approx(a.noise_sd, rel=0.5)
    with pytest.raises(ValueError, match="Generator"):
        gravity_survey(5)
