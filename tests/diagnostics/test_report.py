import json
import re

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayesinv import Grid2D
from bayesinv.cli import main
from bayesinv.diagnostics.report import regenerate_report, report
from bayesinv.studies.demo import DemoConfig, run_demo

TINY = DemoConfig(nx=8, nz=4, cell=50.0, n_receivers=12, draws=100, tune=100, chains=2, seed=5)


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    headline = run_demo(out, TINY, progressbar=False)
    return out, headline


def test_demo_report_writes_every_file(demo_out):
    out, headline = demo_out
    expected = [
        "posterior.nc",
        "summary.csv",
        "convergence.csv",
        "ppc.csv",
        "loo.csv",
        "truth.csv",
        "ppc_gravity.png",
        "field_density.png",
        "field_density_contraction.png",
        "report.json",
        "provenance.json",
        "index.html",
        # the demo's own files
        "maps.png",
        "data_fit.png",
        "headline.json",
    ]
    for name in expected:
        assert (out / name).stat().st_size > 0, name
    assert not list(out.glob(".*.tmp"))
    page = (out / "index.html").read_text()
    for png in out.glob("*.png"):
        if png.name not in ("maps.png", "maps_slowness.png", "data_fit.png"):
            assert f'src="{png.name}"' in page, png.name
    for src in re.findall(r'src="([^"]+)"', page):
        assert (out / src).is_file(), src
    assert ("PASS: " in page) or ("FAIL: " in page)
    saved = json.loads((out / "report.json").read_text())
    assert saved["truth"]["density"]["coverage_90"] == headline["coverage_90"]
    assert saved["convergence"]["verdict"] == headline["verdict"]
    assert set(pd.read_csv(out / "ppc.csv")["modality"]) == {"gravity", "traveltime"}
    # the demo is case study 01: the separate inversion's report sits beside the joint one
    assert (out / "separate" / "index.html").is_file()
    assert {(r["inversion"], r["field"]) for r in headline["table"]} == {
        (i, f) for i in ("separate", "joint") for f in ("density", "slowness")
    }


def test_saved_tree_holds_what_regeneration_needs(demo_out):
    out, _ = demo_out
    tree = xr.open_datatree(out / "posterior.nc", engine="h5netcdf")
    for group in ("posterior", "posterior_predictive", "log_likelihood", "prior", "truth"):
        assert group in tree.children, group
    assert tree["truth"]["density"].dims == ("density_z", "density_x")
    assert json.loads(tree.attrs["bayesinv_fields"])["density"]["nx"] == TINY.nx
    assert json.loads(tree.attrs["provenance"])["seed"] == TINY.seed


def test_regenerate_from_saved_file_reproduces_tables(demo_out, tmp_path):
    out, _ = demo_out
    result = regenerate_report(out / "posterior.nc", tmp_path / "again")
    for name in ("summary.csv", "convergence.csv", "ppc.csv", "loo.csv", "truth.csv"):
        (
            pd.testing.assert_frame_equal(
                pd.read_csv(out / name), pd.read_csv(tmp_path / "again" / name), check_exact=False
            ),
            name,
        )
    assert (tmp_path / "again" / "posterior.nc").is_file()
    assert result.truth.loc["density", "n"] == TINY.nx * TINY.nz
    prov = json.loads((tmp_path / "again" / "provenance.json").read_text())
    assert prov == json.loads((out / "provenance.json").read_text())


def test_cli_report_in_place(demo_out, capsys):
    out, headline = demo_out
    before = (out / "posterior.nc").stat().st_mtime_ns
    assert main(["report", str(out)]) == (0 if headline["converged"] else 1)  # 1: verdict FAIL
    assert capsys.readouterr().out.strip() == headline["verdict"]
    assert (out / "posterior.nc").stat().st_mtime_ns == before  # not rewritten in place


def test_report_of_a_plain_tree_without_model(rng, tmp_path):
    idata = az.from_dict(
        {
            "posterior": {"m": rng.normal(size=(2, 500, 3, 4)), "s": rng.normal(size=(2, 500))},
            "sample_stats": {
                "diverging": np.zeros((2, 500), bool),
                "energy": rng.normal(size=(2, 500)),
            },
        },
        dims={"m": ["m_z", "m_x"]},
    )
    grid = Grid2D(nx=4, nz=3, dx=1.0, dz=1.0)
    result = report(idata, tmp_path, fields={"m": grid}, truth={"m": np.zeros((3, 4))}, seed=1)
    assert result.convergence.passed and result.ppc is None and result.loo is None
    assert result.files[-1] == "index.html" and "field_m.png" in result.files
    assert "field_m_contraction.png" not in result.files  # no prior group
    again = regenerate_report(tmp_path)
    assert again.truth.equals(result.truth)


def test_report_errors(rng, tmp_path):
    idata = az.from_dict({"posterior": {"m": rng.normal(size=(1, 10, 2))}})
    with pytest.raises(ValueError, match="fields\\['m'\\] must be a Grid2D"):
        report(idata, tmp_path, fields={"m": (2, 1)})
    with pytest.raises(ValueError, match="field 'q' is not a posterior variable"):
        report(idata, tmp_path, fields={"q": Grid2D(nx=2, nz=1, dx=1.0, dz=1.0)})
    with pytest.raises(ValueError, match="truth has \\['q'\\]"):
        report(idata, tmp_path, truth={"q": [1.0]})
    with pytest.raises(ValueError, match="truth\\['m'\\] has 3 values"):
        report(idata, tmp_path, truth={"m": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="DataTree with a 'posterior' group"):
        report({"m": 1}, tmp_path)
    with pytest.raises(ValueError, match="is not a file"):
        regenerate_report(tmp_path / "missing.nc")
