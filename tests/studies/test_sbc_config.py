"""`bayesinv sbc CONFIG`: config validation, outputs, resume."""

import json
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from bayesinv.cli import main
from bayesinv.studies.sbc import config_from_dict, load_sbc_config, run_sbc

CASE = Path(__file__).resolve().parents[2] / "case_studies" / "05_calibration"

TINY = """
[sampler]
draws = 200
tune = 300
[sbc]
n_sims = 6
seed = 3
bins = 2
[output]
folder = "{out}"
[dask]
n_workers = 0
"""


def base():
    return {"sbc": {"n_sims": 10, "seed": 1}, "output": {"folder": "out"}}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["sbc"].pop("seed"), "key 'sbc.seed' is required"),
        (lambda c: c.pop("output"), "key 'output.folder' is required"),
        (lambda c: c["sbc"].update(n_sims=1), "key 'sbc.n_sims' must be an integer >= 2"),
        (lambda c: c["sbc"].update(n_sims="40"), "key 'sbc.n_sims' must be an integer"),
        (lambda c: c["sbc"].update(n_simz=40), "key 'sbc.n_simz' is unknown"),
        (lambda c: c.update(sampling={}), "key 'sampling' is not a known table"),
        (lambda c: c["sbc"].update(bins=7), "key 'sbc.bins' must divide n_ranks"),
        (lambda c: c["sbc"].update(alpha=1.5), "key 'sbc.alpha' must be a number in"),
        (lambda c: c["sbc"].update(var_names=["rho"]), "key 'sbc.var_names' must be"),
        (lambda c: c.update(study={"nx": 0}), "key 'study.nx' must be an integer >= 1"),
        (lambda c: c.update(study={"cell": "25"}), "key 'study.cell' must be a number > 0"),
        (lambda c: c.update(sampler={"draws": 50}), "key 'sbc.n_ranks' must be <= sampler"),
        (lambda c: c.update(sampler={"tune": -3}), "key 'sampler.tune' must be an integer"),
        (lambda c: c.update(dask={"scheduler": ""}), "key 'dask.scheduler' must be"),
        (
            lambda c: c.update(dask={"scheduler": "tcp://x:1", "n_workers": 2}),
            "key 'dask.n_workers' cannot be combined",
        ),
    ],
)
def test_bad_config_names_the_key(edit, message):
    raw = base()
    edit(raw)
    with pytest.raises(ValueError, match=message):
        config_from_dict(raw)


def test_unreadable_or_invalid_toml(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        load_sbc_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[sbc\nn_sims = 3")
    with pytest.raises(ValueError, match="is not valid TOML"):
        load_sbc_config(bad)


@pytest.mark.parametrize("name", ["config_quick.toml", "config_full.toml", "config_negative.toml"])
def test_example_configs_are_valid(name):
    config = load_sbc_config(CASE / name)
    assert config.n_sims >= 40 and (config.n_ranks + 1) % config.bins == 0
    assert config.study.n_params in range(16, 65)
    if name == "config_negative.toml":
        assert config.study.fixed_noise_scale is not None
    else:
        assert config.n_sims >= (100 if name == "config_full.toml" else 40)
        assert config.study.fixed_noise_scale is None


def test_tag_changes_with_the_model_not_with_the_study_size():
    a = config_from_dict(base())
    raw = base()
    raw["sbc"]["n_sims"] = 500
    assert config_from_dict(raw).tag() == a.tag()
    raw["study"] = {"relative_error": 0.3}
    assert config_from_dict(raw).tag() != a.tag()


def test_cli_writes_outputs_and_resumes(tmp_path, capsys):
    out = tmp_path / "sbc"
    path = tmp_path / "tiny.toml"
    path.write_text(TINY.format(out=out.as_posix()))
    status = main(["sbc", str(path)])
    assert status in (0, 1)
    printed = capsys.readouterr().out
    assert printed.startswith(("PASS", "FAIL"))
    for name in [
        "ranks.json",
        "ranks.csv",
        "ranks.nc",
        "chi2.csv",
        "rank_histograms.png",
        "ecdf_difference.png",
        "summary.md",
        "summary.json",
        "provenance.json",
    ]:
        assert (out / name).stat().st_size > 0, name
    ranks = pd.read_csv(out / "ranks.csv", index_col="replicate")
    assert len(ranks) == 6 and "density[3, 7]" in ranks and "gravity_sigma" in ranks
    table = pd.read_csv(out / "chi2.csv", index_col="parameter")
    assert len(table) == 34
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_sims"] == 6 and summary["n_parameters"] == 34
    assert "Simulation-based calibration" in (out / "summary.md").read_text()
    # a second run resumes: every replicate is already in ranks.json, nothing is refitted
    calls = []
    config = load_sbc_config(path)
    result = run_sbc(config, progress=lambda done, total: calls.append(done))
    assert calls == [6]
    pd.testing.assert_frame_equal(result.flat_ranks(), ranks, check_dtype=False)
    # the same folder with another model is refused
    raw = tomllib.loads(path.read_text())
    raw["study"] = {"relative_error": 0.5}
    with pytest.raises(ValueError, match="belongs to another study: its tag differs"):
        run_sbc(config_from_dict(raw))


def test_cli_reports_a_bad_config_and_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('[sbc]\nn_sims = 40\nseed = 1\nbins = 7\n[output]\nfolder = "x"\n')
    assert main(["sbc", str(path)]) == 2
    assert "key 'sbc.bins' must divide n_ranks + 1 = 100" in capsys.readouterr().err
