"""The ``bayesinv`` command."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["main"]


def _demo(args) -> int:
    from bayesinv.studies.demo import DemoConfig, run_demo

    config = DemoConfig(draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed)
    headline = run_demo(args.out, config)
    print(json.dumps(headline, indent=2))
    print(f"results written to {args.out}", file=sys.stderr)
    return 0


def _run(args) -> int:
    from bayesinv.studies.runner import run_case_study

    headline = run_case_study(args.study, args.size, args.out, update=not args.no_readme)
    print(json.dumps(headline, indent=2, default=str))
    return 0


def _report(args) -> int:
    from bayesinv.diagnostics.report import regenerate_report

    result = regenerate_report(args.path, args.out)
    print(result.convergence.verdict)
    print(f"report written to {result.out / 'index.html'}", file=sys.stderr)
    return 0


def _sbc(args) -> int:
    from bayesinv.studies.sbc import load_sbc_config, run_sbc

    try:
        config = load_sbc_config(args.config, out=args.out)
    except ValueError as err:
        print(f"bayesinv sbc: {err}", file=sys.stderr)
        return 2

    tty = sys.stderr.isatty()

    def progress(done, total):
        if tty:
            print(f"\rreplicates done: {done}/{total}", end="", file=sys.stderr, flush=True)
        elif done == total or done % max(1, total // 10) == 0:
            print(f"replicates done: {done}/{total}", file=sys.stderr, flush=True)

    result = run_sbc(config, progress=progress)
    if tty:
        print(file=sys.stderr)
    print(result.verdict)
    print(f"results written to {config.out}", file=sys.stderr)
    return 0 if result.passed else 1


def main(argv=None) -> int:
    """Entry point of the ``bayesinv`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status.
    """
    from bayesinv.studies.demo import DemoConfig

    defaults = DemoConfig()
    parser = argparse.ArgumentParser(prog="bayesinv", description="Bayesian inversion toolkit")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="run the flagship demo (case study 01 at quick size: gravity + travel time)"
    )
    demo.add_argument("--out", default="output/demo", help="output folder")
    demo.add_argument("--draws", type=int, default=defaults.draws)
    demo.add_argument("--tune", type=int, default=defaults.tune)
    demo.add_argument("--chains", type=int, default=defaults.chains)
    demo.add_argument("--seed", type=int, default=defaults.seed)
    demo.set_defaults(func=_demo)
    run = sub.add_parser("run", help="run a case study (case_studies/NN_name)")
    run.add_argument("study", help="the case study folder, e.g. case_studies/01_...")
    run.add_argument("--size", choices=("quick", "full"), default="quick")
    run.add_argument(
        "--out", default=None, help="output folder (default: output/case_studies/NAME/SIZE)"
    )
    run.add_argument(
        "--no-readme", action="store_true", help="do not regenerate the README results table"
    )
    run.set_defaults(func=_run)
    rep = sub.add_parser("report", help="rebuild the report from a saved posterior.nc")
    rep.add_argument("path", help="posterior.nc, or the folder holding it")
    rep.add_argument("--out", default=None, help="output folder (default: next to PATH)")
    rep.set_defaults(func=_report)
    sbc = sub.add_parser(
        "sbc", help="run (or resume) a simulation-based calibration study from a TOML config"
    )
    sbc.add_argument("config", help="TOML configuration (see bayesinv.studies.sbc)")
    sbc.add_argument("--out", default=None, help="output folder (default: output.folder)")
    sbc.set_defaults(func=_sbc)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
