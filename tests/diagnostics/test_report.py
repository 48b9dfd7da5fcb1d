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
    for png in out.glob("*.png"):  # every figure the study wrote is on its page
        assert f'src="{png.name}"' in page, png.name
    assert 'href="separate/index.html"' in page
    for src in re.findall(r'src="([^"]+)"', page):
        if src.startswith("data:image/svg+xml;base64,"):  # math of the notes, inline
            assert len(src) > 100, src
        else:
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


def _plain_tree(rng, *, laplace=False):
    """Posterior field ``m`` (3 x 4, all positive), scalar ``s``, one modality ``g``."""
    n = 6
    tree = az.from_dict(
        {
            "posterior": {
                "m": 2.0 + 0.1 * rng.normal(size=(2, 500, 3, 4)),
                "s": rng.normal(size=(2, 500)),
            },
            "posterior_predictive": {"g": rng.normal(size=(2, 500, n))},
            "observed_data": {"g": rng.normal(size=n)},
        },
        dims={"m": ["m_z", "m_x"], "g": ["g_obs"]},
        coords={"g_obs": np.arange(n)},
    )
    tree["observed_data"] = (
        tree["observed_data"].to_dataset().assign_coords(g_x=("g_obs", np.linspace(0.0, 50.0, n)))
    )
    if laplace:
        tree.attrs.update({"inference": "gauss_newton_laplace", "converged": 1})
    return tree


def test_notes_study_figures_and_orphan_pngs_are_on_the_page(rng, tmp_path):
    from bayesinv.diagnostics.plots import plot_field_maps

    grid = Grid2D(nx=4, nz=3, dx=1.0, dz=1.0)
    out = tmp_path / "run"
    (out / "sub").mkdir(parents=True)
    plot_field_maps(grid, {"a": np.ones(12)}, out / "maps.png")
    plot_field_maps(grid, {"b": np.ones(12)}, out / "stray.png")
    (out / "sub" / "index.html").write_text("<html></html>")
    notes = [("Gravity: what the check says", "Residuals $z_i$ near 1.\n\nCosts \\$5.")]
    result = report(
        _plain_tree(rng),
        out,
        fields={"m": grid},
        notes=notes,
        figures=["maps.png", ("sub/index.html", "the separate inversion")],
        kinds={"m": "absolute"},
        units={"m": "slowness (s/m)", "g": "g_z (mGal)"},
        title="plain",
    )
    page = (out / "index.html").read_text()
    assert "<h2>Gravity: what the check says</h2>" in page
    assert 'alt="z_i" src="data:image/svg+xml;base64,' in page and "$" not in page.split(
        "<h2>Convergence"
    )[0].replace("Costs $5", "")
    assert "Costs $5." in page
    assert 'src="maps.png"' in page and 'href="sub/index.html"' in page
    assert "the separate inversion" in page
    # a PNG nobody listed is still shown, once
    assert page.count('src="stray.png"') == 1 and "Other figures in this folder" in page
    for name in ("maps.png", "stray.png", "sub/index.html", "field_m.png", "ppc_g.png"):
        assert name in result.files, name
    for src in re.findall(r'src="([^"]+)"', page):
        assert src.startswith("data:image/svg+xml") or (out / src).is_file(), src
    # regenerated elsewhere: images copied, the page linked where it is, notes kept
    again = tmp_path / "again"
    regenerate_report(out / "posterior.nc", again)
    page2 = (again / "index.html").read_text()
    assert (again / "maps.png").is_file() and 'href="../run/sub/index.html"' in page2
    assert "<title>plain</title>" in page2 and "Gravity: what the check says" in page2


def test_units_are_variable_attributes_in_the_saved_tree(rng, tmp_path):
    grid = Grid2D(nx=4, nz=3, dx=1.0, dz=1.0)
    units = {"m": "slowness (s/m)", "g": "g_z (mGal)", "s": "dimensionless"}
    report(_plain_tree(rng), tmp_path, fields={"m": grid}, truth={"m": np.ones(12)}, units=units)
    tree = xr.open_datatree(tmp_path / "posterior.nc", engine="h5netcdf")
    for group, name, unit in [
        ("posterior", "m", "s/m"),
        ("truth", "m", "s/m"),
        ("observed_data", "g", "mGal"),
        ("posterior_predictive", "g", "mGal"),
        ("posterior", "s", "dimensionless"),
    ]:
        assert tree[group][name].attrs["units"] == unit, (group, name)
    assert tree["posterior"]["m"].attrs["long_name"] == "slowness"
    assert "long_name" not in tree["posterior"]["s"].attrs


def test_laplace_result_gets_the_checks_of_independent_draws(rng, tmp_path):
    result = report(_plain_tree(rng, laplace=True), tmp_path)
    page = (tmp_path / "index.html").read_text()
    assert result.convergence.draws == "independent" and result.convergence.passed
    assert "independent draws from a Gaussian approximation" in page
    assert "Thresholds: R-hat" not in page and "Worst parameters" not in page
    assert result.ppc is not None  # the checks that apply still run
    assert json.loads((tmp_path / "report.json").read_text())["convergence"]["draws"] == (
        "independent"
    )


def test_ppc_plot_uses_station_position(rng, tmp_path):
    result = report(_plain_tree(rng), tmp_path)
    assert result.ppc is not None
    from bayesinv.diagnostics.ppc import posterior_predictive_check

    check = posterior_predictive_check(result.idata)["g"]
    assert check.x_label == "station x (m)" and check.x[-1] == 50.0


def test_report_input_errors(rng, tmp_path):
    tree = _plain_tree(rng)
    grid = Grid2D(nx=4, nz=3, dx=1.0, dz=1.0)
    with pytest.raises(ValueError, match=r"report: figures\[0\] 'nope\.png' does not exist"):
        report(tree, tmp_path, figures=["nope.png"])
    with pytest.raises(ValueError, match="figures\\[0\\] must be a path relative"):
        report(tree, tmp_path, figures=[str(tmp_path.resolve() / "x.png")])
    with pytest.raises(ValueError, match="notes\\[0\\] must be a \\(heading, text\\) pair"):
        report(tree, tmp_path, notes=["just text"])
    with pytest.raises(ValueError, match="kinds names 'q'"):
        report(tree, tmp_path, fields={"m": grid}, kinds={"q": "absolute"})
    with pytest.raises(ValueError, match="report: kinds\\['m'\\] must be one of 'absolute'"):
        report(tree, tmp_path, fields={"m": grid}, kinds={"m": "relative"})
    with pytest.raises(ValueError, match="notes\\[0\\]: cannot render the math"):
        report(tree, tmp_path, notes=[("h", "bad $\\frac{1}$ math")])
    assert not (tmp_path / "posterior.nc").exists()  # each error came before any writing
