"""Command lines of the scripts in ``benchmarks/``: argparse help, unknown options, quoted commands.

Nothing here runs a benchmark. ``--help`` and an unknown option run each script in a
subprocess (the scripts import their modules at the top: up to ~4 s of CPU each; the
subprocesses run concurrently). The commands quoted in docs/samplers.md and the scripts'
docstrings are parsed in-process with the benchmark functions replaced by recorders.
"""

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"

QUICK_ONLY = (
    "bench_elliptic.py",
    "bench_linear_physics.py",
    "bench_resistivity.py",
    "bench_samplers.py",
    "bench_transient.py",
)

ELLIPTIC_SAMPLERS_OPTIONS = """--nuts-reference --warm-start --overhead --nuts --gradient-free
    --pcn-repeats --refinement --sbc --quick --draws --tune --seed --chains --nuts-file
    --pcn-steps --pcn-chains --lpcn-steps --mlda-draws --only --save-dir --steps --adaptation
    --laplace --pcn-draws --lpcn-draws --blocks --mesh --seeds --mlda-reference
    --mlda-subchain --lpcn-tempering""".split()

#: command line (script, arguments) -> words its help must show
HELP = {
    ("bench_elliptic_samplers.py", "--help"): ELLIPTIC_SAMPLERS_OPTIONS,
    (
        "bench_discrepancy.py",
        "--help",
    ): "--coverage --coregional-study --full --problem --only".split(),
    ("study_sign_split.py", "--help"): ("nuts", "smc", "mwg"),
    ("study_sign_split.py", "smc", "--help"): ("DRAWS",),
    ("study_sign_split.py", "mwg", "--help"): ("SWEEPS", "SEED"),
    **{(name, "--help"): ("--quick",) for name in QUICK_ONLY},
}

UNKNOWN = ("bench_elliptic_samplers.py", "--quik")


@pytest.fixture(scope="module")
def runs():
    """Run every command of ``HELP`` and ``UNKNOWN`` at once: ``{command: (rc, out, err)}``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    procs = {
        cmd: subprocess.Popen(
            [sys.executable, str(BENCH / cmd[0]), *cmd[1:]],
            cwd=BENCH.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cmd in (*HELP, UNKNOWN)
    }
    out = {}
    for cmd, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        out[cmd] = (proc.returncode, stdout, stderr)
    return out


@pytest.mark.parametrize("cmd", list(HELP), ids=" ".join)
def test_help_lists_every_option(runs, cmd):
    rc, out, err = runs[cmd]
    assert rc == 0, err
    assert out.startswith("usage:")
    missing = [word for word in HELP[cmd] if word not in out]
    assert not missing, out


def test_unknown_option_is_an_error(runs):
    rc, out, err = runs[UNKNOWN]
    assert rc == 2
    assert "unrecognized arguments: --quik" in err
    assert not out  # nothing ran


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_bench_cli_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench_run(monkeypatch):
    """``benchmarks/run.py`` as a module (its thread settings kept out of this process)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, os.environ.get(var, "1"))
    return _load("run")


def test_module_main(bench_run, capsys):
    calls = []

    def run(quick):
        calls.append(quick)
        return [{"benchmark": "b", "case": "c"}]

    assert bench_run.module_main(run, "One line.\n\nMore.", ["--quick"]) == 0
    assert bench_run.module_main(run, "One line.\n\nMore.", []) == 0
    assert calls == [True, False]
    assert "| benchmark | case |" in capsys.readouterr().out
    for argv in (["--quik"], ["--qu"], ["extra"]):  # misspelt, abbreviated, positional
        with pytest.raises(SystemExit) as exc:
            bench_run.module_main(run, "One line.", argv)
        assert exc.value.code == 2
    assert len(calls) == 2


class _Called(Exception):
    pass


@pytest.fixture
def elliptic_samplers(monkeypatch, bench_run):
    """The script with its benchmark functions recording their call: ``(module, calls)``."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # main() puts benchmarks/ first
    monkeypatch.setitem(sys.modules, "run", bench_run)
    module = _load("bench_elliptic_samplers")
    calls = []
    for name in """run full_sbc run_nuts run_gradient_free run_pcn_repeats run_refinement
        nuts_reference run_warm run_overhead""".split():

        def record(*args, _name=name, **kwargs):
            calls.append((_name, args, kwargs))
            raise _Called

        monkeypatch.setattr(module, name, record)
    return module, calls


W = {  # run_warm's defaults
    "seed": 7,
    "only": ("pcn", "lpcn", "mlda"),
    "save_dir": None,
    "mlda_reference": "laplace",
    "mlda_subchain": 10,
    "lpcn_tempering": 1.0,
}
G = {"n_blocks": 4, "mesh": 16, "seed": 7}  # run_gradient_free's defaults

#: quoted command lines (docs/samplers.md, the docstring) -> the call (the former parsing's)
ELLIPTIC_SAMPLERS_COMMANDS = [
    ("", ("run", (), {"quick": False})),
    ("--quick", ("run", (), {"quick": True})),
    ("--nuts", ("run_nuts", (1000, 1000, None, False), {})),
    (
        "--nuts --laplace --adaptation low_rank --draws 1500 --tune 1000",
        ("run_nuts", (1500, 1000, "low_rank", True), {}),
    ),
    (
        "--gradient-free --pcn-draws 300000 --lpcn-draws 10000 --mlda-draws 8000",
        ("run_gradient_free", (300000, 8000, 10000), G),
    ),
    (
        "--gradient-free --blocks 8 --mesh 32 --pcn-draws 40000 --lpcn-draws 20000 "
        "--mlda-draws 4000 --seed 3",
        ("run_gradient_free", (40000, 4000, 20000), {"n_blocks": 8, "mesh": 32, "seed": 3}),
    ),
    ("--gradient-free", ("run_gradient_free", (100000, 2000, 10000), G)),
    ("--pcn-repeats 40000 --seeds 1,2", ("run_pcn_repeats", (40000, [1, 2]), {})),
    ("--pcn-repeats 10", ("run_pcn_repeats", (10, [1, 2, 3]), {})),
    ("--nuts-reference nuts.npz", ("nuts_reference", ("nuts.npz", 1000, 1000, 7, 2), {})),
    (
        "--nuts-reference nuts4.npz --draws 2000 --tune 1000 --chains 4 --seed 0",
        ("nuts_reference", ("nuts4.npz", 2000, 1000, 0, 4), {}),
    ),
    (
        "--warm-start --nuts-file nuts.npz --pcn-steps 200000 --pcn-chains 2 --only pcn "
        "--save-dir out",
        (
            "run_warm",
            ("nuts.npz", 200000, 2, 50000, 4000),
            W | {"only": ("pcn",), "save_dir": "out"},
        ),
    ),
    (
        "--warm-start --nuts-file nuts.npz --mlda-draws 20000 --lpcn-steps 50000 "
        "--only mlda,lpcn --save-dir out",
        (
            "run_warm",
            ("nuts.npz", 200000, 4, 50000, 20000),
            W | {"only": ("mlda", "lpcn"), "save_dir": "out"},
        ),
    ),
    (
        "--warm-start --nuts-file nuts4.npz --only mlda --mlda-reference prior "
        "--mlda-subchain 20 --mlda-draws 250000 --save-dir out",
        (
            "run_warm",
            ("nuts4.npz", 200000, 4, 50000, 250000),
            W
            | {
                "only": ("mlda",),
                "save_dir": "out",
                "mlda_reference": "prior",
                "mlda_subchain": 20,
            },
        ),
    ),
    (
        "--warm-start --nuts-file nuts4.npz --only lpcn --lpcn-steps 1800000 "
        "--lpcn-tempering 0.1 --save-dir out",
        (
            "run_warm",
            ("nuts4.npz", 200000, 4, 1800000, 4000),
            W | {"only": ("lpcn",), "save_dir": "out", "lpcn_tempering": 0.1},
        ),
    ),
    ("--warm-start", ("run_warm", (None, 200000, 4, 50000, 4000), W)),
    ("--overhead", ("run_overhead", (4000,), {})),
    ("--overhead --steps 100", ("run_overhead", (100,), {})),
    ("--refinement", ("run_refinement", (500,), {})),
    ("--refinement --steps 50", ("run_refinement", (50,), {})),
    ("--sbc 200", ("full_sbc", (200,), {})),
]


@pytest.mark.parametrize(
    ("argv", "call"),
    ELLIPTIC_SAMPLERS_COMMANDS,
    ids=[a or "-" for a, _ in ELLIPTIC_SAMPLERS_COMMANDS],
)
def test_elliptic_samplers_quoted_commands(elliptic_samplers, argv, call):
    module, calls = elliptic_samplers
    with pytest.raises(_Called):
        module.main(argv.split())
    assert calls == [call]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ("--nuts --warm-start", "not allowed with"),  # the modes exclude each other
        ("--nuts --pcn-steps 5", "--pcn-steps is not an option of --nuts"),
        ("--quick --sbc 5", "--quick is not an option of --sbc"),
        ("--draws 5", "--draws is not an option of the default run"),
        ("--nuts --draw 5", "unrecognized arguments: --draw"),  # no abbreviations
        ("--warm-start --only pcn,mdla", "'mdla' is not one of pcn, lpcn, mlda"),
        ("--pcn-repeats 5 --seeds 1,x", "not a comma-separated list of int"),
        ("--sbc", "expected one argument"),
        ("--warm-start --mlda-reference map", "invalid choice: 'map'"),
        ("--nuts --mlda-subchain 5", "--mlda-subchain is not an option of --nuts"),
        ("--warm-start --lpcn-tempering x", "invalid float value: 'x'"),
    ],
)
def test_elliptic_samplers_errors(elliptic_samplers, capsys, argv, message):
    module, calls = elliptic_samplers
    with pytest.raises(SystemExit) as exc:
        module.main(argv.split())
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not calls


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ("nuts", {"mode": "nuts"}),
        ("smc 500", {"mode": "smc", "draws": 500}),
        ("mwg 100", {"mode": "mwg", "sweeps": 100, "seed": 1}),
        ("mwg 100 3", {"mode": "mwg", "sweeps": 100, "seed": 3}),
        ("", None),
        ("smc", None),
        ("mwg 100 3 4", None),
        ("nutz", None),
    ],
)
def test_sign_split_arguments(capsys, argv, expected):
    parser = _load("study_sign_split")._parser()
    if expected is None:
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(argv.split())
        assert exc.value.code == 2
    else:
        assert parser.parse_args(argv.split()) == argparse.Namespace(**expected)
