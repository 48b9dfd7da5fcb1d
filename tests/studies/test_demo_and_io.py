import json

import numpy as np
import pytest
import xarray as xr

from bayesinv import Grid2D
from bayesinv.cli import main
from bayesinv.io import atomic_path, data_hash, provenance, write_text
from bayesinv.synthetic import Body, bodies_field, gravity_survey


def test_demo_cli_writes_all_outputs(tmp_path):
    out = tmp_path / "demo"
    status = main(["demo", "--out", str(out), "--draws", "60", "--tune", "60", "--chains", "2"])
    verdict = json.loads((out / "headline.json").read_text())["verdict"]
    assert status == (1 if verdict.startswith("FAIL") else 0)  # exit status 1 on a FAIL verdict
    for name in ["posterior.nc", "summary.csv", "maps.png", "data_fit.png", "headline.json"]:
        assert (out / name).stat().st_size > 0, name
    tree = xr.open_datatree(out / "posterior.nc", engine="h5netcdf")
    assert tree["posterior"]["density"].dims == ("chain", "draw", "density_z", "density_x")
    assert "gravity" in tree["posterior_predictive"]
    prov = json.loads(tree.attrs["provenance"])
    assert prov["seed"] == 2026 and prov["versions"]["pymc"]
    headline = json.loads((out / "headline.json").read_text())
    assert headline["divergences"] >= 0 and 0.0 <= headline["coverage_90"] <= 1.0
    assert not list(out.glob(".*.tmp"))  # no temporary files left behind


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
