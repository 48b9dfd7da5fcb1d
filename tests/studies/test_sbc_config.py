"""`bayesinv sbc CONFIG`: config validation, outputs, resume."""

import json
import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from bayesinv.cli import main
from bayesinv.io import UserError
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
        (lambda c: c["sbc"].pop("seed"), "sbc.seed is missing; expected an integer"),
        (lambda c: c.pop("output"), "output.folder is missing; expected a string"),
        (lambda c: c["sbc"].update(n_sims=1), "sbc.n_sims must be an integer >= 2, got 1"),
        (lambda c: c["sbc"].update(n_sims="40"), "sbc.n_sims must be an integer >= 2, got '40'"),
        (lambda c: c["sbc"].update(n_sims=True), "sbc.n_sims must be an integer >= 2, got True"),
        (lambda c: c["sbc"].update(n_simz=40), "sbc.n_simz: unknown key; did you mean 'n_sims'?"),
        (lambda c: c.update(sampling={}), "sampling: unknown table; did you mean 'sampler'?"),
        (lambda c: c["sbc"].update(bins=7), "sbc.bins must divide sbc.n_ranks + 1 = 100, got 7"),
        (lambda c: c["sbc"].update(alpha=1.5), "sbc.alpha must be a finite number > 0 and < 1"),
        (lambda c: c["sbc"].update(alpha=True), "sbc.alpha must be a finite number"),
        (lambda c: c["sbc"].update(var_names=["rho"]), "sbc.var_names must be drawn from"),
        (lambda c: c["sbc"].update(var_names="density"), "sbc.var_names must be a non-empty list"),
        (lambda c: c.update(study={"nx": 0}), "study.nx must be an integer >= 1, got 0"),
        (lambda c: c.update(study={"cell": "25"}), "study.cell must be a finite number > 0"),
        (lambda c: c.update(study={"cell": True}), "study.cell must be a finite number > 0"),
        (lambda c: c.update(study={"nx": True}), "study.nx must be an integer >= 1, got True"),
        (
            lambda c: c.update(study={"fixed_noise": 0.1}),
            "study.fixed_noise: unknown key; did you mean 'fixed_noise_scale'?",
        ),
        (lambda c: c.update(sampler={"draws": 50}), "sbc.n_ranks must be <= sampler.draws = 50"),
        (lambda c: c.update(sampler={"tune": -3}), "sampler.tune must be an integer >= 0"),
        (lambda c: c.update(dask={"scheduler": ""}), "dask.scheduler must be a non-empty string"),
        (
            lambda c: c.update(dask={"scheduler": "tcp://x:1", "n_workers": 2}),
            "dask.n_workers cannot be combined with dask.scheduler",
        ),
    ],
)
def test_bad_config_names_the_key(edit, message):
    raw = base()
    edit(raw)
    with pytest.raises(UserError, match="^" + re.escape("run.toml: " + message)):
        config_from_dict(raw, source="run.toml")


def test_unreadable_or_invalid_toml(tmp_path):
    with pytest.raises(UserError, match=r"missing\.toml: is not a file \(it does not exist\)"):
        load_sbc_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[sbc\nn_sims = 3")
    with pytest.raises(UserError, match=r"bad.toml: not valid TOML: .*\(at line 1, column 5\)"):
        load_sbc_config(bad)


def test_output_folder_from_the_command_line_replaces_the_required_key():
    raw = base()
    raw.pop("output")
    assert config_from_dict(raw, out="elsewhere").out == Path("elsewhere")


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
    with pytest.raises(UserError, match=r"ranks\.json: belongs to another study: its tag differs"):
        run_sbc(config_from_dict(raw))


def test_cli_reports_a_bad_config_and_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('[sbc]\nn_sims = 40\nseed = 1\nbins = 7\n[output]\nfolder = "x"\n')
    assert main(["sbc", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"bayesinv sbc: {path}: sbc.bins must divide sbc.n_ranks + 1 = 100, got 7\n"


def test_run_sbc_reports_stages_and_replicates(tmp_path, monkeypatch):
    import io

    import bayesinv.calibration.runner as runner
    import bayesinv.studies.sbc as sbc
    from bayesinv import _progress

    def fake_sbc(simulate, fit, n_sims, *, progress, **kwargs):
        for done in range(1, n_sims + 1):
            progress(done, n_sims)
        return "result"

    monkeypatch.setattr(runner, "simulation_based_calibration", fake_sbc)
    monkeypatch.setattr(sbc, "write_sbc_outputs", lambda result, out, **kw: None)
    raw = base()
    raw["output"]["folder"] = str(tmp_path / "out")
    raw["dask"] = {"n_workers": 0}
    seen, stream = [], io.StringIO()
    with _progress.reporting(stream, interval=0.0):
        assert run_sbc(config_from_dict(raw), progress=lambda d, t: seen.append(d)) == "result"
    assert seen == list(range(1, 11))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "bayesinv: calibration replicates: started"
    assert any("10/10 replicates" in line for line in lines)
    assert "bayesinv: write outputs: started" in lines
