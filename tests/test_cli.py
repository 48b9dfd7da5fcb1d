"""The ``bayesinv`` command: one-line user errors (exit 2), verdict exit statuses, options.

Nothing here samples: run-level tests use a fake study folder whose ``study.py`` returns a
headline with the verdict its configuration asks for.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import bayesinv
from bayesinv import cli
from bayesinv.cli import main
from bayesinv.io import write_datatree

ROOT = Path(__file__).resolve().parents[1]

FAKE_STUDY = """
REQUIRED = {"n": int, "scale": float, "verdict": str}
OPTIONAL = {"label": "a"}

def run(config, out):
    (out / "index.html").write_text("<html></html>")
    return {"n_twice": 2 * config["n"], "verdict": config["verdict"]}
"""

CONFIG = """
[common]
scale = 2.0
verdict = "PASS: all good"
[quick]
n = 3
seed = 1
[full]
n = 30
seed = 1
"""

SBC = """
[sbc]
n_sims = 4
seed = 3
bins = 2
[output]
folder = "{out}"
[dask]
n_workers = 0
"""


def study_folder(tmp_path, config=CONFIG, study=FAKE_STUDY) -> Path:
    folder = tmp_path / "99_fake"
    folder.mkdir()
    (folder / "study.py").write_text(study)
    (folder / "config.toml").write_text(config)
    (folder / "README.md").write_text(
        "# Fake\n\n<!-- results:quick -->\nold\n<!-- /results:quick -->\n"
    )
    return folder


def one_error_line(capsys, *names) -> str:
    """Assert stderr is exactly one 'bayesinv CMD: ...' line naming ``names``; return it."""
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(("bayesinv ", "bayesinv:")), err
    assert "Traceback" not in err
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    return lines[0]


def results_file(path: Path) -> Path:
    post = xr.Dataset(
        {"density": (("chain", "draw", "cell"), np.zeros((2, 50, 4)))},
        coords={"chain": [0, 1], "draw": np.arange(50)},
    )
    return write_datatree(xr.DataTree.from_dict({"posterior": post}), path)


# -- missing or damaged files ---------------------------------------------------------------


def test_missing_study_folder(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope")]) == 2
    one_error_line(capsys, "bayesinv run:", "nope", "no such folder")


def test_study_folder_without_study_py(tmp_path, capsys):
    folder = study_folder(tmp_path)
    (folder / "study.py").unlink()
    assert main(["run", str(folder)]) == 2
    one_error_line(capsys, "study.py", "does not exist")


def test_missing_results_file(tmp_path, capsys):
    assert main(["report", str(tmp_path / "posterior.nc")]) == 2
    one_error_line(capsys, "bayesinv report:", "posterior.nc", "does not exist")
    assert main(["report", str(tmp_path)]) == 2  # a folder without posterior.nc
    one_error_line(capsys, str(tmp_path / "posterior.nc"))


def test_truncated_results_file_is_named_as_damaged(tmp_path, capsys):
    path = results_file(tmp_path / "posterior.nc")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert main(["report", str(path)]) == 2
    line = one_error_line(capsys, str(path), "damaged")
    assert "h5py" not in line


def test_results_file_of_something_else(tmp_path, capsys):
    path = tmp_path / "other.nc"
    xr.DataTree.from_dict({"data": xr.Dataset({"x": ("i", [1.0])})}).to_netcdf(
        path, engine="h5netcdf"
    )
    assert main(["report", str(path)]) == 2
    one_error_line(capsys, str(path), "posterior")


def test_corrupt_ranks_json(tmp_path, capsys):
    out = tmp_path / "sbc"
    out.mkdir()
    (out / "ranks.json").write_text('{"format": "bayesinv-sbc-ranks/1", "replicates": {')
    config = tmp_path / "sbc.toml"
    config.write_text(SBC.format(out=out.as_posix()))
    assert main(["sbc", str(config)]) == 2
    one_error_line(capsys, "bayesinv sbc:", "ranks.json", "damaged", "line 1")
    (out / "ranks.json").write_text("[1, 2]")
    assert main(["sbc", str(config)]) == 2
    one_error_line(capsys, "ranks.json", "damaged")


# -- configuration ------------------------------------------------------------------------


def test_invalid_toml_names_file_and_line(tmp_path, capsys):
    folder = study_folder(tmp_path, config="[quick]\nn = 3\nseed = \n")
    assert main(["run", str(folder)]) == 2
    one_error_line(capsys, folder / "config.toml", "not valid TOML", "line 3")


def test_missing_table(tmp_path, capsys):
    folder = study_folder(tmp_path, config=CONFIG.split("[full]")[0])
    assert main(["run", str(folder), "--size", "full"]) == 2
    one_error_line(capsys, folder / "config.toml", "[full]")


def test_wrong_type(tmp_path, capsys):
    folder = study_folder(tmp_path, config=CONFIG.replace("n = 3\n", 'n = "3"\n'))
    assert main(["run", str(folder)]) == 2
    one_error_line(capsys, folder / "config.toml", "quick.n", "an integer", "'3'")


def test_missing_key(tmp_path, capsys):
    folder = study_folder(tmp_path, config=CONFIG.replace("scale = 2.0\n", ""))
    assert main(["run", str(folder)]) == 2
    one_error_line(capsys, "quick.scale is missing", "a number")


@pytest.mark.parametrize(
    ("config", "key", "suggestion"),
    [
        (CONFIG.replace("n = 3\n", "n = 3\nnn = 4\n"), "quick.nn", "did you mean 'n'?"),
        (CONFIG.replace("scale = 2.0\n", "scale = 2.0\nlable = 'b'\n"), "common.lable", "'label'?"),
        (CONFIG + "[quikc]\nn = 4\n", "[quikc]", "did you mean 'quick'?"),
    ],
)
def test_unknown_key_with_suggestion(tmp_path, capsys, config, key, suggestion):
    folder = study_folder(tmp_path, config=config)
    assert main(["run", str(folder)]) == 2
    one_error_line(capsys, folder / "config.toml", key, suggestion)


def test_unknown_sbc_key_with_suggestion(tmp_path, capsys):
    config = tmp_path / "sbc.toml"
    config.write_text(SBC.format(out="x").replace("bins = 2", "bins = 2\nn_rank = 9"))
    assert main(["sbc", str(config)]) == 2
    one_error_line(capsys, config, "sbc.n_rank", "did you mean 'n_ranks'?")


@pytest.mark.parametrize("key", ["n", "scale"])
def test_boolean_refused_for_a_number_in_run(tmp_path, capsys, key):
    config = CONFIG.replace("n = 3\n", "n = true\n") if key == "n" else CONFIG
    config = config.replace("scale = 2.0", "scale = true")
    folder = study_folder(tmp_path, config=config)
    assert main(["run", str(folder)]) == 2
    where = "quick.n" if key == "n" else "common.scale"
    one_error_line(capsys, where, "got True")


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("n_sims = 4", "n_sims = true", "sbc.n_sims"),
        ("seed = 3", "seed = true", "sbc.seed"),
        ("n_workers = 0", "n_workers = false", "dask.n_workers"),
        ("[sbc]", "[study]\ncell = true\n[sbc]", "study.cell"),
        ("[sbc]", "[sbc]\nalpha = true", "sbc.alpha"),
    ],
)
def test_boolean_refused_for_a_number_in_sbc(tmp_path, capsys, old, new, key):
    config = tmp_path / "sbc.toml"
    config.write_text(SBC.format(out="x").replace(old, new, 1))
    assert main(["sbc", str(config)]) == 2
    one_error_line(capsys, config, key, "got True" if "true" in new else "got False")


@pytest.mark.parametrize("command", ["demo", "run", "report", "sbc"])
def test_out_pointing_to_an_existing_file(tmp_path, capsys, command):
    existing = tmp_path / "taken.txt"
    existing.write_text("not a folder")
    first = {"demo": [], "run": [str(tmp_path)], "report": [str(tmp_path)], "sbc": ["x.toml"]}
    assert main([command, *first[command], "--out", str(existing)]) == 2
    one_error_line(capsys, f"bayesinv {command}:", "--out", existing, "existing file")


def test_bad_argument_is_one_line(capsys):
    assert main(["demo", "--draws", "true"]) == 2
    one_error_line(capsys, "bayesinv demo:", "--draws", "'true'")
    assert main(["run"]) == 2
    one_error_line(capsys, "bayesinv run:", "study")
    assert main(["frobnicate"]) == 2
    one_error_line(capsys, "bayesinv:", "frobnicate")


# -- --debug, --version, help ------------------------------------------------------------


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(tmp_path, capsys, where):
    args = ["run", str(tmp_path / "nope")]
    args = ["--debug", *args] if where == "before" else [*args, "--debug"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "UserError" in err
    assert err.splitlines()[-1].startswith("bayesinv run: ") and "nope" in err.splitlines()[-1]


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"bayesinv {bayesinv.__version__}"


def test_every_option_of_every_command_has_help(capsys):
    parser = cli._parser()
    subparsers = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    commands = subparsers[0].choices
    assert set(commands) == {"demo", "run", "report", "sbc", "invert", "init"}
    for name, sub in [("bayesinv", parser), *commands.items()]:
        for action in sub._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                continue
            assert action.help, (name, action.dest)
    assert main(["run", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--update-readme" in text and "exit status: 0" in text and "1 the run" in text


# -- verdicts, README, progress -----------------------------------------------------------


def test_run_exits_0_on_pass_and_leaves_the_readme(tmp_path, capsys):
    folder = study_folder(tmp_path)
    readme = (folder / "README.md").read_text()
    out = tmp_path / "out"
    assert main(["run", str(folder), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n_twice"] == 6
    assert f"report written to {out / 'index.html'}" in captured.err
    assert (folder / "README.md").read_text() == readme


def test_run_exits_1_on_fail(tmp_path, capsys):
    folder = study_folder(tmp_path, config=CONFIG.replace("PASS: all good", "FAIL: R-hat 1.02"))
    assert main(["run", str(folder), "--out", str(tmp_path / "out")]) == 1
    assert "verdict FAIL" in capsys.readouterr().err


def test_run_without_verdict_exits_0(tmp_path):
    study = FAKE_STUDY.replace(', "verdict": config["verdict"]', "")
    folder = study_folder(tmp_path, study=study)
    assert main(["run", str(folder), "--out", str(tmp_path / "out")]) == 0


def test_update_readme_and_deprecated_no_readme(tmp_path, capsys):
    folder = study_folder(tmp_path)
    out = str(tmp_path / "out")
    assert main(["run", str(folder), "--out", out, "--no-readme"]) == 0
    assert "--no-readme is deprecated" in capsys.readouterr().err
    assert "old" in (folder / "README.md").read_text()
    assert main(["run", str(folder), "--out", out, "--update-readme"]) == 0
    text = (folder / "README.md").read_text()
    assert "old" not in text and "| n_twice | 6 |" in text and "--update-readme" in text


def test_progress_lines_without_a_terminal(tmp_path, capsys):
    folder = study_folder(tmp_path)
    assert main(["run", str(folder), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "bayesinv: run case study 99_fake (quick): started" in err
    assert "bayesinv: write outputs: started" in err


def test_demo_exit_status_and_where_the_report_is(tmp_path, capsys, monkeypatch):
    import bayesinv.studies.demo as demo

    def fake_demo(out, config, progressbar=None):
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "index.html").write_text("<html></html>")
        return {
            "verdict": fake_demo.verdict,
            "table": [{"inversion": "separate", "verdict": "PASS"}],
        }

    monkeypatch.setattr(demo, "run_demo", fake_demo)
    out = tmp_path / "demo"
    for verdict, status in (("PASS: converged", 0), ("FAIL: R-hat 1.016", 1)):
        fake_demo.verdict = verdict
        assert main(["demo", "--out", str(out)]) == status
        assert f"report written to {out / 'index.html'}" in capsys.readouterr().err


def test_report_exit_status_follows_the_verdict(tmp_path, capsys, monkeypatch):
    import types

    import bayesinv.diagnostics.report as report

    def fake(path, out=None):
        ok = fake.passed
        conv = types.SimpleNamespace(passed=ok, verdict="PASS" if ok else "FAIL: R-hat")
        return types.SimpleNamespace(convergence=conv, out=tmp_path)

    monkeypatch.setattr(report, "regenerate_report", fake)
    for passed, status in ((True, 0), (False, 1)):
        fake.passed = passed
        assert main(["report", str(tmp_path)]) == status
        assert f"report written to {tmp_path / 'index.html'}" in capsys.readouterr().err


# -- a real process ------------------------------------------------------------------------


def test_real_process(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = [sys.executable, "-m", "bayesinv.cli"]
    proc = subprocess.run(
        [*run, "run", str(tmp_path / "nope")], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"bayesinv run: {tmp_path / 'nope'}: no such folder; expected a case study folder "
        "(case_studies/NN_name)"
    ]
    proc = subprocess.run([*run, "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"bayesinv {bayesinv.__version__}"
