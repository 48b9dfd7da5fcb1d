"""Full-size simulation-based calibration of the joint model, with its negative control.

Runs ``case_studies/05_calibration/config_full.toml`` (200 replicates, 34 parameters,
chi-square on 10 bins, Bonferroni) and ``config_negative.toml`` (noise scale factors fixed
at 0.1 in the fitted model, 100 replicates), each in its own output folder, and writes
``sbc_full.json`` with replicates, p-values and wall times. Exit status 0 when the study is
calibrated and the negative control is rejected, 1 otherwise.

Both runs are resumable: interrupt and run again to continue from their ``ranks.json``.

Usage: ``python benchmarks/sbc_full.py [--out output/sbc_full] [--scheduler ADDRESS]
[--n-workers N]`` (not part of ``benchmarks/run.py``: it measures calibration, not speed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASE = HERE.parent / "case_studies" / "05_calibration"


def _run(name: str, out: Path, scheduler, n_workers):
    from bayesinv.studies.sbc import load_sbc_config, run_sbc

    config = load_sbc_config(CASE / f"config_{name}.toml", out=out / name)
    config = dataclasses.replace(
        config,
        scheduler=scheduler if scheduler is not None else config.scheduler,
        n_workers=n_workers if n_workers is not None else config.n_workers,
    )
    t0 = time.monotonic()
    result = run_sbc(config)
    wall = time.monotonic() - t0
    table = result.table
    return {
        "study": name,
        "replicates": result.n_sims,
        "parameters": len(table),
        "n_ranks": result.n_ranks,
        "bins": result.bins,
        "passed": result.passed,
        "min_p": float(table["p_value"].min()),
        "min_p_bonferroni": float(table["p_bonferroni"].min()),
        "n_rejected": int(table["rejected"].sum()),
        "mean_rank_sd": float(table["rank_sd"].mean()),
        "wall_time_s": round(wall, 1),
        "verdict": result.verdict,
        "folder": str(out / name),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="output/sbc_full", help="output folder")
    parser.add_argument("--scheduler", default=None, help="dask scheduler address")
    parser.add_argument("--n-workers", type=int, default=None, help="LocalCluster workers")
    args = parser.parse_args(argv)
    out = Path(args.out)
    rows = [_run(name, out, args.scheduler, args.n_workers) for name in ("full", "negative")]
    for row in rows:
        print(json.dumps(row))
    from bayesinv.io import write_text

    write_text(out / "sbc_full.json", json.dumps(rows, indent=2))
    ok = rows[0]["passed"] and not rows[1]["passed"]
    print(
        "OK: calibrated study not rejected, negative control rejected"
        if ok
        else "UNEXPECTED: see the verdicts above"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
