"""The ``bayesinv`` command: ``demo``, ``run``, ``report``, ``sbc``, ``invert`` and ``init``.

Exit status (the contract of ``docs/conventions.md``): 0 when the work succeeded (its verdict
is PASS, or it gives none), 1 when it finished but its verdict is FAIL, 2 for a user error: a
missing or damaged file, invalid TOML, a missing, unknown or wrongly typed configuration key,
a bad argument. A user error is one line on stderr::

    bayesinv run: case_studies/01_x/config.toml: quick.draws must be an integer >= 1, got True

naming the file, key or argument, what was expected and what came, with no traceback
(``--debug`` adds it). Only :class:`bayesinv.io.UserError` (raised by the file readers and
the configuration checker) and argument errors are reported this way; any other exception
is a bug and keeps its traceback.

Without a terminal on stderr (CI, a batch job), long work reports its progress in one line
at a time on stderr (:mod:`bayesinv._progress`); on a terminal nutpie draws its own bar.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import traceback
from pathlib import Path

from bayesinv import __version__, _progress
from bayesinv.io import UserError

__all__ = ["main"]

EPILOG = """\
exit status: 0 success (verdict PASS, or no verdict); 1 the run finished but its verdict is
FAIL; 2 user error (missing or damaged file, bad configuration or argument), reported in one
line on stderr (--debug adds the traceback)."""


class _ArgumentError(Exception):
    """An argument the parser refused; ``str`` is the one-line message."""


class _Parser(argparse.ArgumentParser):
    """An argument parser that reports an error in one line instead of the usage."""

    def error(self, message):
        """Raise the refusal as an exception caught by :func:`main` (one line, status 2)."""
        raise _ArgumentError(f"{self.prog}: {message} (see {self.prog} --help)")


def _count(low: int):
    """Argument type: an integer >= ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}")
        return value

    return parse


def _folder(text: str) -> Path:
    """Argument type: an output folder (existing or new), never an existing file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is an existing file; expected a folder")
    return path


def _reporting():
    """Report progress in lines on stderr when it is not a terminal."""
    if sys.stderr.isatty():
        return contextlib.nullcontext()
    return _progress.reporting(sys.stderr)


def _exit_status(verdict: str | None, command: str) -> int:
    if verdict == "FAIL":
        print(f"bayesinv {command}: verdict FAIL (exit status 1); see the report", file=sys.stderr)
        return 1
    return 0


def _pages(out: Path) -> list[Path]:
    """Report pages in ``out`` and its sub-folders (one level), the top one first."""
    return sorted(out.glob("index.html")) + sorted(out.glob("*/index.html"))


def _say_where(out: Path) -> None:
    pages = _pages(out)
    if pages:
        print(f"report written to {pages[0]}", file=sys.stderr)
        for page in pages[1:]:
            print(f"  and {page}", file=sys.stderr)
    print(f"results written to {out}", file=sys.stderr)


def _demo(args) -> int:
    from bayesinv.studies.demo import DemoConfig, run_demo
    from bayesinv.studies.runner import verdict_of

    config = DemoConfig(draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed)
    with _reporting():
        headline = run_demo(args.out, config)
    print(json.dumps(headline, indent=2, default=str))
    _say_where(Path(args.out))
    return _exit_status(verdict_of(headline), "demo")


def _run(args) -> int:
    from bayesinv.studies.runner import prepare_case_study, verdict_of

    if args.no_readme:
        print(
            "bayesinv run: warning: --no-readme is deprecated and does nothing: README files "
            "are written only with --update-readme",
            file=sys.stderr,
        )
    prepared = prepare_case_study(args.study, args.size, args.out)  # every user error here
    with _reporting():
        headline = prepared.run(update=args.update_readme)
    print(json.dumps(headline, indent=2, default=str))
    _say_where(prepared.out)
    if args.update_readme:
        print(f"results block written to {prepared.study_dir / 'README.md'}", file=sys.stderr)
    return _exit_status(verdict_of(headline), "run")


def _report(args) -> int:
    from bayesinv.diagnostics.report import regenerate_report

    result = regenerate_report(args.path, args.out)
    print(result.convergence.verdict)
    print(f"report written to {result.out / 'index.html'}", file=sys.stderr)
    passed = getattr(result.convergence, "passed", True)
    return _exit_status(None if passed else "FAIL", "report")


def _sbc(args) -> int:
    from bayesinv.studies.sbc import load_sbc_config, run_sbc

    config = load_sbc_config(args.config, out=args.out)
    tty = sys.stderr.isatty()

    def progress(done, total):
        if tty:
            print(f"\rreplicates done: {done}/{total}", end="", file=sys.stderr, flush=True)

    with _reporting():
        result = run_sbc(config, progress=progress)
    if tty:
        print(file=sys.stderr)
    print(result.verdict)
    print(
        f"results written to {config.out} (summary: {config.out / 'summary.md'})", file=sys.stderr
    )
    return _exit_status("PASS" if result.passed else "FAIL", "sbc")


def _invert(args) -> int:
    from bayesinv.studies.invert import load_invert_config, run_invert
    from bayesinv.studies.runner import verdict_of

    config = load_invert_config(args.config)  # every user error here
    out = args.out or config.tables["output"]["folder"]
    with _reporting():
        headline = run_invert(config, out)
    print(json.dumps(headline, indent=2, default=str))
    _say_where(Path(out))
    return _exit_status(verdict_of(headline), "invert")


def _init(args) -> int:
    from bayesinv.io import write_text
    from bayesinv.studies.invert_init import init_config

    text = init_config(args.datafile, kind=args.kind)
    if args.out is None:
        print(text, end="")
    else:
        if Path(args.out).exists() and not args.force:
            raise UserError(f"{args.out}: exists; pass --force to overwrite it")
        write_text(args.out, text)
        print(f"configuration written to {args.out}", file=sys.stderr)
    return 0


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser (every option has its help text)."""
    from bayesinv.studies.demo import DemoConfig

    defaults = DemoConfig()
    common = {"epilog": EPILOG, "formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = _Parser(prog="bayesinv", description="Bayesian inversion toolkit", **common)
    parser.add_argument("--version", action="version", version=f"bayesinv {__version__}")
    debug = "show the traceback of an error (for bug reports)"
    parser.add_argument("--debug", action="store_true", help=debug)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, help, func):
        p = sub.add_parser(name, help=help, description=help, **common)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug)
        p.set_defaults(func=func)
        return p

    demo = command(
        "demo", "run the flagship demo (case study 01 at quick size: gravity + travel time)", _demo
    )
    demo.add_argument(
        "--out", type=_folder, default="output/demo", help="output folder (default: %(default)s)"
    )
    demo.add_argument(
        "--draws", type=_count(1), default=defaults.draws, help="kept draws per chain (%(default)s)"
    )
    demo.add_argument(
        "--tune",
        type=_count(0),
        default=defaults.tune,
        help="warm-up draws per chain (%(default)s)",
    )
    demo.add_argument(
        "--chains", type=_count(1), default=defaults.chains, help="chains (%(default)s)"
    )
    demo.add_argument(
        "--seed", type=_count(0), default=defaults.seed, help="random seed (%(default)s)"
    )
    run = command("run", "run a case study (a folder case_studies/NN_name)", _run)
    run.add_argument("study", help="the case study folder, e.g. case_studies/01_...")
    run.add_argument(
        "--size",
        choices=("quick", "full"),
        default="quick",
        help="which table of config.toml to run (default: %(default)s)",
    )
    run.add_argument(
        "--out", type=_folder, help="output folder (default: output/case_studies/NAME/SIZE)"
    )
    run.add_argument(
        "--update-readme",
        action="store_true",
        help="rewrite the results block of the study's README.md (a tracked file) from this run",
    )
    run.add_argument(
        "--no-readme",
        action="store_true",
        help="deprecated, does nothing (README.md is written only with --update-readme)",
    )
    rep = command("report", "rebuild the report page from a saved posterior.nc", _report)
    rep.add_argument("path", help="posterior.nc, or the folder holding it")
    rep.add_argument("--out", type=_folder, help="output folder (default: next to PATH)")
    sbc = command(
        "sbc", "run (or resume) a simulation-based calibration study from a TOML config", _sbc
    )
    sbc.add_argument("config", help="TOML configuration (see case_studies/05_calibration)")
    sbc.add_argument("--out", type=_folder, help="output folder (default: output.folder)")
    inv = command("invert", "invert your own data files from a TOML config", _invert)
    inv.add_argument("config", help="TOML configuration (start one with: bayesinv init DATAFILE)")
    inv.add_argument("--out", type=_folder, help="output folder (default: output.folder)")
    init = command("init", "write a commented starter config for bayesinv invert", _init)
    init.add_argument("datafile", help="a data file (.ohm, .dat, .sgt, .obs, .csv, ...)")
    init.add_argument(
        "--kind",
        choices=("gravity", "magnetics", "traveltime", "ert"),
        help="what the data are (default: guessed from the suffix and header)",
    )
    init.add_argument("--out", help="write the config to this file (default: stdout)")
    init.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    return parser


def main(argv=None) -> int:
    """Entry point of the ``bayesinv`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 success (verdict PASS or none), 1 verdict FAIL, 2 user error.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except _ArgumentError as err:
        print(err, file=sys.stderr)
        return 2
    except SystemExit as exit:  # --help and --version print and exit 0
        return exit.code if isinstance(exit.code, int) else 0
    try:
        return args.func(args)
    except UserError as err:
        if args.debug:
            traceback.print_exc()
        message = " ".join(str(err).split())  # one line, whatever the message holds
        print(f"bayesinv {args.command}: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"bayesinv {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
