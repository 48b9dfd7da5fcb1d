"""Run every ``benchmarks/bench_*.py`` module and write a table and a JSON file.

Each module defines ``run(quick: bool) -> list[dict]``; each dict is one row with at least
``benchmark`` and ``case`` keys plus measured values. Ratios are computed within one run
(same process, same moment), since these machines are noisy.

Usage: ``python benchmarks/run.py [--quick] [--only NAME] [--out DIR]`` (``make bench``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Kernels are timed single-threaded: nutpie runs chains in parallel threads, and a
# multi-threaded BLAS inside each would only oversubscribe the cores. numpy is first
# imported by the benchmark modules, after this.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(rows: list[dict]) -> str:
    """Markdown table with the union of the rows' keys as columns."""
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(_fmt(row.get(k, "")) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def module_main(run, doc: str, argv=None) -> int:
    """Command line of a ``bench_*.py`` module that has only ``--quick``: print its table.

    ``run`` is the module's ``run(quick: bool) -> list[dict]``, ``doc`` its docstring (the
    first line is the help's description).
    """
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0], allow_abbrev=False)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, few repeats (default: full sizes)"
    )
    args = parser.parse_args(argv)
    print(format_table(run(quick=args.quick)), flush=True)
    return 0


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--only", default=None, help="run only bench_<ONLY>.py")
    parser.add_argument("--out", default=str(HERE / "results"), help="output folder")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = sorted(HERE.glob("bench_*.py"))
    if args.only:
        paths = [p for p in paths if p.stem == f"bench_{args.only}"]
        if not paths:
            parser.error(f"no benchmark named {args.only!r}")
    rows: list[dict] = []
    for path in paths:
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        new = _load(path).run(quick=args.quick)
        print(f"  {len(new)} rows in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        print(format_table(new), flush=True)
        rows.extend(new)
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "quick": args.quick,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    _write_atomic(out / "benchmarks.json", json.dumps({"meta": meta, "rows": rows}, indent=2))
    _write_atomic(out / "benchmarks.md", format_table(rows) + "\n")
    print(f"\nwrote {out / 'benchmarks.md'} and {out / 'benchmarks.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
