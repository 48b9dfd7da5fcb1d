"""``bayesinv init`` and ``bayesinv invert`` from the command line, on a CSV gravity line."""

import json

import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::bayesinv.formats.MissingDataWarning")

OFFSET = 0.5


@pytest.fixture
def line(tmp_path, gravity_line):
    """A gravity line over a buried block, tied to an arbitrary base (offset 0.5 mGal)."""
    return gravity_line(
        tmp_path / "line.csv", 11, 5, 500.0, offset=OFFSET, missing=(3,), units=True
    )


def test_init_writes_a_config_that_invert_accepts(line, tmp_path, capsys):
    config = tmp_path / "inv.toml"
    assert main(["init", str(line), "--out", str(config)]) == 0
    text = config.read_text()
    assert 'kind = "gravity"' in text and "offset = true" in text
    assert "(1 masked)" in text
    assert main(["init", str(line), "--out", str(config)]) == 2  # exists, no --force
    assert "pass --force" in capsys.readouterr().err


@pytest.mark.slow
def test_invert_end_to_end_with_an_offset(line, tmp_path, capsys):
    config = tmp_path / "inv.toml"
    main(["init", str(line), "--out", str(config)])
    text = config.read_text()
    for old, new in [('"nuts"', '"laplace"'), ("nx = 40", "nx = 10"), ("nz = 15", "nz = 4"),
                     ("draws = 1000", "draws = 100"), ("chains = 4", "chains = 2"),
                     ('noise = "scaled"', 'noise = "known"')]:  # fmt: skip
        text = text.replace(old, new)
    config.write_text(text.replace("# depth = 100.0", "depth = 40.0"))
    out = tmp_path / "out"
    status = main(["invert", str(config), "--out", str(out)])
    captured = capsys.readouterr()
    assert status in (0, 1), captured.err
    headline = json.loads(captured.out)
    assert headline["ppc"]["data"]["n_data"] == 10  # the blank reading is masked, not used
    for name in ("index.html", "posterior.nc", "doi_density.png", "field_density.png"):
        assert (out / name).is_file(), name
    from bayesinv.io import read_datatree

    post = read_datatree(out / "posterior.nc")["posterior"]
    offset = post["data_offset"].values
    assert abs(offset.mean() - OFFSET) < 4 * offset.std() + 0.02  # the base level is recovered


def test_invert_unknown_key_is_a_one_line_user_error(line, tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text('[modality.g]\nkind = "gravity"\nfile = "line.csv"\noffest = true\n')
    assert main(["invert", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "modality.g.offest: unknown key; did you mean 'offset'?" in err
    config.write_text('[modality.g]\nkind = "gravity"\nfile = "missing.csv"\n')
    assert main(["invert", str(config), "--out", str(tmp_path / "o")]) == 2
    assert "missing.csv: is not a file" in capsys.readouterr().err


@pytest.mark.slow
def test_invert_end_to_end_on_an_ert_file(tmp_path, capsys):
    from bayesinv.formats import ERTSurvey, geometric_factors, write_unified
    from bayesinv.operators.resistivity import from_survey, surface_electrodes, wenner

    elec, abmn = surface_electrodes(np.arange(0.0, 9.0, 1.0)), wenner(9)
    k = geometric_factors(elec, abmn)
    grid = Grid2D(nx=11, nz=3, dx=1.0, dz=1.0, x0=-1.0)
    rhoa = from_survey(grid, ERTSurvey(elec, abmn, k, k, k)).forward(
        np.full(grid.size, np.log(0.01))
    )
    write_unified(tmp_path / "w.ohm", ERTSurvey(elec, abmn, rhoa / k, rhoa, k, np.full(10, 0.03)))
    config = tmp_path / "e.toml"
    assert main(["init", str(tmp_path / "w.ohm"), "--out", str(config)]) == 0
    text = config.read_text()
    for old, new in [('"nuts"', '"laplace"'), ("nx = 40", "nx = 9"), ("nz = 15", "nz = 3"),
                     ("draws = 1000", "draws = 50"), ("chains = 4", "chains = 2"),
                     ('noise = "scaled"', 'noise = "known"')]:  # fmt: skip
        text = text.replace(old, new)
    config.write_text(text)
    status = main(["invert", str(config), "--out", str(tmp_path / "out")])
    assert status in (0, 1), capsys.readouterr().err
    assert (tmp_path / "out" / "doi_log_conductivity.png").is_file()
    from bayesinv.io import read_datatree

    post = read_datatree(tmp_path / "out" / "posterior.nc")["posterior"]
    # a 100 ohm-m half-space: the posterior mean log-conductivity is near log(0.01)
    assert abs(float(post["log_conductivity"].mean()) - np.log(0.01)) < 0.3


def _sloped_line(tmp_path, slope):
    """A Wenner line of 8 electrodes 2 m apart along a ground rising at ``slope``."""
    from bayesinv.formats import ERTSurvey, geometric_factors, write_unified
    from bayesinv.operators.resistivity import wenner

    s = 2.0 * np.arange(8)
    elec = np.column_stack([s / np.hypot(1.0, slope), -slope * s / np.hypot(1.0, slope)])
    abmn = wenner(8)
    k = geometric_factors(elec, abmn)
    r = 1.0 + 0.1 * np.arange(abmn.shape[0])
    path = tmp_path / "sloped.ohm"
    write_unified(path, ERTSurvey(elec, abmn, r, k * r, k))
    return path, s, abmn, r


def test_flatten_keeps_distances_along_the_ground(tmp_path):
    from bayesinv.formats import read_unified
    from bayesinv.studies.invert import flatten_ert_survey

    path, s, abmn, r = _sloped_line(tmp_path, 0.5)
    flat = flatten_ert_survey(read_unified(path))
    np.testing.assert_allclose(flat.electrodes[:, 0], s, atol=1e-12)
    np.testing.assert_array_equal(flat.electrodes[:, 1], 0.0)
    np.testing.assert_array_equal(flat.resistance, r)
    a = 2.0 * (abmn[:, 2] - abmn[:, 0])  # Wenner A M N B: K = 2 pi a on a flat surface
    np.testing.assert_allclose(flat.geometric_factor, 2 * np.pi * a, rtol=1e-12)
    np.testing.assert_allclose(flat.apparent_resistivity, 2 * np.pi * a * r, rtol=1e-12)
    assert "flat line" in flat.report[-1]
    # negative control: without flattening the horizontal spacing is shorter than 2 m
    assert np.diff(read_unified(path).electrodes[:, 0]).max() < 1.9


def test_invert_flatten_key(tmp_path, capsys):
    from bayesinv.studies.invert import build_inversion, load_invert_config

    _sloped_line(tmp_path, 0.3)
    text = (
        '[grid]\nnx = 8\nnz = 3\n[modality.ert]\nkind = "ert"\nfile = "sloped.ohm"\nerror = 0.03\n'
    )
    (tmp_path / "a.toml").write_text(text + "flatten = true\n")
    _, grid, surveys, _ = build_inversion(load_invert_config(tmp_path / "a.toml"))
    assert grid.z0 == 0.0 and np.all(surveys["ert"][1].electrodes[:, 1] == 0.0)
    (tmp_path / "b.toml").write_text(
        text.replace('"ert"\nfile', '"gravity"\nfile') + "flatten = true\n"
    )
    assert main(["invert", str(tmp_path / "b.toml")]) == 2
    assert "flatten: only for ert data" in capsys.readouterr().err


def test_invert_refuses_topography_unless_flattened(tmp_path, capsys):
    from bayesinv.studies.invert import build_inversion, load_invert_config

    text = '[grid]\nnx = 8\nnz = 3\n[modality.ert]\nkind = "ert"\nfile = "sloped.ohm"\n'
    (tmp_path / "a.toml").write_text(text + "error = 0.03\n")
    _sloped_line(tmp_path, 0.3)  # 0.3 * 14 / hypot(1, 0.3) = 4.02 m of relief
    assert main(["invert", str(tmp_path / "a.toml")]) == 2
    err = capsys.readouterr().err
    assert "modality.ert: the ground of sloped.ohm is not flat (4.02 m of relief)" in err
    assert "set flatten = true" in err
    # negative control: a flat line builds, its grid starts at the ground
    _sloped_line(tmp_path, 0.0)
    inv, grid, _, _ = build_inversion(load_invert_config(tmp_path / "a.toml"))
    assert grid.z0 == 0.0 and inv.modalities["ert"].operator.n_params == grid.size


def test_invert_grid_starts_at_the_ground_above_buried_electrodes(tmp_path):
    from bayesinv.formats import ERTSurvey, geometric_factors, write_unified
    from bayesinv.studies.invert import build_inversion, load_invert_config

    # a flat surface line at z = 0 and two electrodes in a borehole at x = 7 m
    elec = np.array([[0.0, 0], [2, 0], [4, 0], [6, 0], [8, 0], [10, 0], [7, 2.5], [7, 4.5]])
    abmn = np.array([[0, 3, 1, 2], [1, 4, 2, 3], [0, 5, 6, 7], [2, 5, 3, 6]])
    ground = np.array([[-5.0, 0.0], [15.0, 0.0]])  # the file's topography block: flat
    k = geometric_factors(elec, abmn, ground)
    r = np.array([1.0, 1.1, 0.2, 0.3])
    write_unified(tmp_path / "bh.ohm", ERTSurvey(elec, abmn, r, k * r, k, topography=ground))
    (tmp_path / "a.toml").write_text(
        '[grid]\nnx = 10\nnz = 6\ndepth = 8.0\n[modality.ert]\nkind = "ert"\nfile = "bh.ohm"\n'
        "error = 0.03\n"
    )
    inv, grid, surveys, _ = build_inversion(load_invert_config(tmp_path / "a.toml"))
    # the ground is the shallowest electrode (z = 0), not the deepest one (z = 4.5)
    assert grid.z0 == 0.0
    assert inv.modalities["ert"].operator.n_params == grid.size
    np.testing.assert_array_equal(surveys["ert"][1].electrodes, elec)
