"""``bayesinv init`` and ``bayesinv invert`` from the command line, on a CSV gravity line."""

import json

import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.cli import main
from bayesinv.operators import Gravity2D

pytestmark = pytest.mark.filterwarnings("ignore::bayesinv.formats.MissingDataWarning")

OFFSET = 0.5


@pytest.fixture
def line(tmp_path):
    """A gravity line over a buried block, tied to an arbitrary base (offset 0.5 mGal)."""
    rng = np.random.default_rng(5)
    x = np.linspace(0.0, 100.0, 11)
    grid = Grid2D(10, 4, 10.0, 10.0)
    m = np.zeros((4, 10))
    m[1:3, 4:6] = 500.0
    g = Gravity2D(grid, np.column_stack([x, np.full(11, -1.0)])).forward(m.ravel())
    d = g + OFFSET + 0.01 * rng.standard_normal(11)
    rows = ["station,x[m],elevation[m],gz[mGal],sd[mGal]"]
    rows += [
        f"{i},{float(x[i])!r},1.0,{'' if i == 3 else repr(float(d[i]))},0.01" for i in range(11)
    ]
    path = tmp_path / "line.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


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
