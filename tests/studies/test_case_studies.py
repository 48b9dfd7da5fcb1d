"""Case-study runner: configuration checks, README results blocks, and every study at quick size."""

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest

from bayesinv.cli import main
from bayesinv.io import UserError
from bayesinv.studies.cycle_skipping import SharedBands
from bayesinv.studies.demo import DemoConfig
from bayesinv.studies.runner import (
    check_config,
    load_config,
    load_study,
    results_markdown,
    run_case_study,
    update_readme,
)

ROOT = Path(__file__).resolve().parents[2] / "case_studies"
STUDIES = [
    "01_gravity_traveltime_crossgradient",
    "02_gravity_ert_petrophysics",
    "03_model_discrepancy",
    "04_multiscale_continuation",
    "06_field_data",
    "07_cycle_skipping",
    "08_hydrogeophysics",
    "09_bent_rays",
    "10_sign_split",
    "11_cycle_skipping_2d",
]

FAKE_STUDY = """
REQUIRED = {"n": int, "scale": float, "label": str}

def run(config, out):
    (out / "index.html").write_text("<html></html>")
    return {"n_twice": 2 * config["n"], "scale": config["scale"],
            "table": [{"case": config["label"], "value": 1.5}]}
"""


def make_study(tmp_path, config_text, readme=None):
    study = tmp_path / "99_fake"
    study.mkdir()
    (study / "study.py").write_text(FAKE_STUDY)
    (study / "config.toml").write_text(config_text)
    if readme is not None:
        (study / "README.md").write_text(readme)
    return study


GOOD = '[common]\nscale = 2\nlabel = "a"\n[quick]\nn = 3\nseed = 1\n[full]\nn = 30\nseed = 1\n'


def _checked(study, size="quick"):
    """The study's module and its configuration of ``size``, checked against its
    ``REQUIRED`` and ``OPTIONAL`` keys as ``bayesinv run`` checks it."""
    module = load_study(ROOT / study)
    optional = getattr(module, "OPTIONAL", None)
    config = check_config(
        load_config(ROOT / study, size), module.REQUIRED, study, optional=optional
    )
    return module, config


@pytest.mark.parametrize("study", STUDIES)
@pytest.mark.parametrize("size", ["quick", "full"])
def test_shipped_configs_pass_their_checks(study, size):
    _, config = _checked(study, size)
    assert isinstance(config["seed"], int)
    readme = (ROOT / study / "README.md").read_text()
    assert f"<!-- results:{size} -->" in readme and f"<!-- /results:{size} -->" in readme


def test_demo_is_study_01_at_quick_size():
    config = load_config(ROOT / STUDIES[0], "quick")
    assert DemoConfig.from_dict(config) == DemoConfig()
    assert set(asdict(DemoConfig())) == set(config)


def test_runner_writes_headline_and_regenerates_only_its_block(tmp_path):
    readme = (
        "# Fake\n\nprose before\n\n<!-- results:quick -->\nold numbers\n<!-- /results:quick -->"
        "\n\nprose between\n\n<!-- results:full -->\nfull numbers\n<!-- /results:full -->\n"
    )
    study = make_study(tmp_path, GOOD, readme)
    out = tmp_path / "out"
    assert main(["run", str(study), "--size", "quick", "--out", str(out)]) == 0
    assert (study / "README.md").read_text() == readme  # tracked files untouched by default
    assert main(["run", str(study), "--out", str(out), "--update-readme"]) == 0
    headline = json.loads((out / "headline.json").read_text())
    assert headline["n_twice"] == 6 and headline["scale"] == 2.0 and headline["seed"] == 1
    assert headline["size"] == "quick" and headline["total_wall_time_s"] >= 0
    text = (study / "README.md").read_text()
    assert "old numbers" not in text and "full numbers" in text
    assert "prose before" in text and "prose between" in text
    block = text.split("<!-- results:quick -->")[1].split("<!-- /results:quick -->")[0]
    assert "| case | value |" in block and "| a | 1.5 |" in block
    assert "| n_twice | 6 |" in block
    assert f"bayesinv run case_studies/{study.name} --size quick" in block
    assert not list(study.glob(".*.tmp")) and not list(out.glob(".*.tmp"))


def test_update_readme_publishes_the_run_figures(tmp_path):
    """--update-readme copies the run's top-level PNGs beside the README and shows them."""
    study = make_study(tmp_path, GOOD, "# Fake\n")
    (study / "study.py").write_text(FAKE_STUDY.replace(
        '    (out / "index.html")',
        '    (out / "b_map.png").write_bytes(b"map")\n'
        '    (out / "sub").mkdir(exist_ok=True)\n'
        '    (out / "sub" / "page.png").write_bytes(b"report page")\n'
        '    (out / "index.html")',
    ))  # fmt: skip
    stale = study / "figures" / "quick" / "dropped.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"a figure the study no longer draws")
    full = study / "figures" / "full" / "kept.png"
    full.parent.mkdir(parents=True)
    full.write_bytes(b"the full run's")
    out = tmp_path / "out"
    assert main(["run", str(study), "--out", str(out)]) == 0
    assert stale.is_file()  # tracked files untouched without --update-readme
    assert main(["run", str(study), "--out", str(out), "--update-readme"]) == 0
    published = study / "figures" / "quick"
    assert sorted(p.name for p in published.iterdir()) == ["b_map.png"]  # stale one removed
    assert (published / "b_map.png").read_bytes() == b"map"
    assert full.read_bytes() == b"the full run's"  # another size's figures stay
    text = (study / "README.md").read_text()
    assert "![b_map](figures/quick/b_map.png)" in text and "page.png" not in text


def test_update_readme_appends_missing_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Study\n")
    update_readme(readme, "full", results_markdown({"x": 1.0}, "full", "99_fake"))
    text = readme.read_text()
    assert text.startswith("# Study\n") and "## Results (full)" in text
    assert "<!-- results:full -->" in text and "| x | 1 |" in text


@pytest.mark.parametrize(
    ("config_text", "message"),
    [
        ('[quick]\nseed = 1\nscale = 2.0\nlabel = "a"\n', r"quick\.n is missing"),
        ('[quick]\nn = 3\nscale = 2.0\nlabel = "a"\n', r"quick\.seed is missing"),
        ('[quick]\nn = "3"\nseed = 1\nscale = 2.0\nlabel = "a"\n', r"quick\.n must be an integer"),
        ('[quick]\nn = 3.5\nseed = 1\nscale = 2.0\nlabel = "a"\n', r"quick\.n must be an integer"),
        ('[quick]\nn = 3\nseed = 1\nscale = true\nlabel = "a"\n', r"quick\.scale must be a fin"),
        ('[common]\nscale = true\n[quick]\nn = 3\nseed = 1\nlabel = "a"\n', r"common\.scale must"),
        ('[quick]\nn = 3\nseed = -1\nscale = 2.0\nlabel = "a"\n', r"quick\.seed must be an int"),
        ('[quick]\nn = 3\nseed = 1\nscale = 2.0\nlabel = "a"\nscal = 1\n', r"did you mean 'scale'"),
        ('[full]\nn = 3\nseed = 1\nscale = 2.0\nlabel = "a"\n', r"has no \[quick\] table"),
        ("[quik]\nn = 3\n", r"\[quik\]: unknown table; did you mean 'quick'"),
        ("[quick\nn = 3\n", r"not valid TOML.*line 1"),
    ],
)
def test_bad_config_names_the_file_and_key(tmp_path, config_text, message):
    study = make_study(tmp_path, config_text)
    with pytest.raises(UserError, match=r"99_fake[/\\]config\.toml: .*" + message):
        run_case_study(study, "quick", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing runs before the check


def test_optional_keys_are_declared_with_their_defaults(tmp_path):
    study = make_study(tmp_path, GOOD)
    source = study / "study.py"
    source.write_text(FAKE_STUDY + "\nOPTIONAL = {'extra': 0.5, 'mode': 'fast'}\n")
    config = load_config(study, "quick")
    module = load_study(study)
    checked = check_config(config, module.REQUIRED, "x", optional=module.OPTIONAL)
    assert checked["extra"] == 0.5 and checked["mode"] == "fast" and checked["scale"] == 2.0
    checked = check_config(config | {"extra": 2}, module.REQUIRED, "x", optional=module.OPTIONAL)
    assert checked["extra"] == 2.0 and isinstance(checked["extra"], float)
    with pytest.raises(UserError, match="x: mode must be a string, got 3"):
        check_config(config | {"mode": 3}, module.REQUIRED, "x", optional=module.OPTIONAL)


def test_bad_size_and_missing_folder(tmp_path):
    study = make_study(tmp_path, GOOD)
    with pytest.raises(UserError, match="size: must be one of"):
        run_case_study(study, "huge", tmp_path / "out")
    with pytest.raises(UserError, match="nope: no such folder"):
        run_case_study(tmp_path / "nope", "quick", tmp_path / "out")


# What CI shortens in a study's quick configuration (sampler lengths, or a second sampler whose
# path other tests exercise); the recorded quick block comes from the shipped configuration.
CI_SHORTER = {
    "02_gravity_ert_petrophysics": {"nuts = true": "nuts = false"},  # NUTS: the demo, a unit test
    "08_hydrogeophysics": {
        "draws = 1000 ": "draws = 100 ",
        "tune = 300 ": "tune = 100 ",
        "chains = 4 ": "chains = 2 ",
    },
}


@pytest.mark.slow
@pytest.mark.parametrize("study", STUDIES)
def test_study_runs_at_quick_size(study, tmp_path, monkeypatch):
    # run a copy, so that the repository's README keeps the numbers of the recorded run
    copy = tmp_path / study
    shutil.copytree(ROOT / study, copy)
    config = (copy / "config.toml").read_text()
    for shipped, shorter in CI_SHORTER.get(study, {}).items():
        assert shipped in config, (study, shipped)
        config = config.replace(shipped, shorter)
    (copy / "config.toml").write_text(config)
    out = tmp_path / "out"
    headline = run_case_study(copy, "quick", out, update=True)
    assert (out / "headline.json").is_file()
    assert json.loads((out / "headline.json").read_text())["size"] == "quick"
    pages = list(out.rglob("index.html"))
    assert pages, "no report written"
    for page in pages:
        assert (page.parent / "posterior.nc").stat().st_size > 0
        assert (page.parent / "report.json").is_file()
    assert any(out.glob("*.png")), "no study figure written"
    block = (copy / "README.md").read_text().split("<!-- results:quick -->")[1]
    block = block.split("<!-- /results:quick -->")[0]
    assert headline["finished_utc"] in block
    for row in headline["table"]:
        assert str(row[next(iter(row))]) in block
    if (out / "seeds").is_dir():  # a study of many seeds: a second run solves nothing again
        from bayesinv.inference.continuation import LEVEL_SOLVERS

        def solved_again(level):
            raise AssertionError(f"{study}: level {level.index} solved again")

        for kind in list(LEVEL_SOLVERS):
            monkeypatch.setitem(LEVEL_SOLVERS, kind, solved_again)
        per_seed = (out / "per_seed.json").read_text()
        again = run_case_study(copy, "quick", out)
        assert again["table"] == headline["table"]
        assert (out / "per_seed.json").read_text() == per_seed


def _tiny_models():
    from bayesinv.studies.demo import build_joint_model, demo_survey

    tiny = DemoConfig(nx=8, nz=4, cell=50.0, n_receivers=12, n_sensors=4)
    yield "01 joint", build_joint_model(demo_survey(tiny), tiny, coupled=True)
    s03, cfg = _checked(STUDIES[2])
    cfg |= {"nx": 8, "nz": 4, "n_receivers": 12}
    grid, survey, regional = s03._survey(cfg)
    yield "03 discrepancy", s03._model(grid, survey, survey.data + regional, cfg, True)
    s04, cfg = _checked(STUDIES[3])
    grid, _, _, op, _, data, wavelet = s04._problem(8, cfg | {"coarsest": 2}, rng=_rng())
    yield "04 besov", s04._builder(grid, op, data, wavelet, cfg)()
    yield "06 field data", _tiny_06()
    s08, cfg = _checked("08_hydrogeophysics")
    cfg |= {"nx": 8, "nz": 4, "cell": 15.0, "n_times": 3}
    yield "08 joint", s08._model(s08._survey(cfg), cfg, ("pumping", "ert"), True, "joint")
    yield "07 band", _tiny_07()
    yield "11 band 2-D", _tiny_11()
    s09, cfg = _checked("09_bent_rays")
    cfg |= {"nx": 4, "nz": 6, "n_sources": 3, "n_receivers": 3}
    problem = s09._survey(cfg)
    for method in s09.METHODS:
        yield f"09 {method}", s09._model(problem, cfg, method)
    from bayesinv.studies.sign_split import sign_split_model, sign_split_problem

    yield "10 sign split", sign_split_model(sign_split_problem(n_cells=8))


def _tiny_07():
    from bayesinv.inference.continuation.bands import band_levels, lowpass_bands

    s07, cfg = _checked("07_cycle_skipping")
    _, op, truth, blocks = s07._problem(cfg | {"duration": 0.2})
    bands = lowpass_bands(5.0, 20.0, 2)
    levels = band_levels(op, op.forward(truth), 0.01, bands, n_traces=3, nt=op.nt, dt=op.dt)
    return SharedBands(op, levels, s07._field(truth, blocks, cfg)).own_builder()(0)


def _tiny_11():
    from bayesinv.inference.continuation.bands import band_levels, lowpass_bands

    s11, cfg = _checked("11_cycle_skipping_2d")
    _, op = s11._operator(cfg | {"duration": 0.2})
    field, _ = s11._field(cfg)
    levels = band_levels(op, op.forward(field.m0 + field.B @ field.true_theta()), 0.01,
                         lowpass_bands(3.0, 7.5, 2), n_traces=op.n_sources * op.n_receivers,
                         nt=op.nt, dt=op.dt)  # fmt: skip
    return SharedBands(op, levels, field).own_builder()(0)


def _tiny_06():
    import tempfile

    from bayesinv.formats import read_unified
    from bayesinv.studies.invert import flatten_ert_survey

    s06, cfg = _checked(STUDIES[4])
    with tempfile.TemporaryDirectory() as tmp:
        path, _ = s06._data_file(cfg, Path(tmp))
        survey = flatten_ert_survey(read_unified(path))
    grid = s06._grid(survey, cfg | {"nx": 8, "nz": 3})
    return s06._api_inversion(survey, grid, cfg).build()


def _rng():
    import numpy as np

    return np.random.default_rng(0)


def test_study_models_compile_without_object_mode():
    import warnings

    for label, model in _tiny_models():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.compile_logp(mode="NUMBA")
            model.compile_dlogp(mode="NUMBA")
        bad = [str(w.message) for w in caught if "object mode" in str(w.message).lower()]
        assert not bad, (label, bad)


def test_07_shared_band_model_equals_each_band_model():
    """Case study 07 evaluates every band through one model with the band as pm.Data: its
    log density must be each band's own model's (and differ from another band's)."""
    import numpy as np

    from bayesinv.inference.continuation.bands import band_levels, lowpass_bands

    s07, cfg = _checked("07_cycle_skipping")
    _, op, truth, blocks = s07._problem(cfg | {"duration": 0.2})
    clean = op.forward(truth)
    observed = clean + np.random.default_rng(3).normal(0.0, 0.01, clean.size)
    bands = lowpass_bands(5.0, 20.0, 2)
    levels = band_levels(op, observed, 0.01, bands, n_traces=3, nt=op.nt, dt=op.dt)
    field = s07._field(truth, blocks, cfg)
    shared = SharedBands(op, levels, field)
    point = {"theta": np.linspace(-0.5, 0.5, blocks.shape[1])}
    shared_logp = shared.model.compile_logp()
    values = []
    for k in range(len(levels)):
        shared.set_band(k)
        own = shared.own_builder()(k).compile_logp()(point)
        values.append(own)
        np.testing.assert_allclose(shared_logp(point), own, rtol=1e-10)
    assert abs(values[0] - values[1]) > 1.0  # the bands' densities differ: a wrong band fails
