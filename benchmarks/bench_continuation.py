"""Coarse-to-fine continuation against a cold start: time to a converged posterior.

Runs the measurement of case study 04 (``case_studies/04_multiscale_continuation``): a
linear gravity problem with a Haar-wavelet Besov prior on an n x n grid, sampled by nutpie
NUTS from a cold start and after Laplace continuation over the coarse wavelet levels (and,
in the full run, with the finest-level Laplace guess alone). The time counted is compile +
Laplace levels + sampling up to the first prefix of draws where every coefficient has
R-hat < 1.01 and bulk ESS >= 400 (the study's README explains the accounting). The ratios
come from one run. Quick: 16 x 16; full: 64 x 64 (the issue's size).
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import numpy as np

from bayesinv.studies.runner import load_config

STUDY = Path(__file__).resolve().parent.parent / "case_studies" / "04_multiscale_continuation"


def _study():
    spec = importlib.util.spec_from_file_location("study04", STUDY / "study.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(quick: bool = False) -> list[dict]:
    config = load_config(STUDY, "quick" if quick else "full")
    config["resolutions"] = [16] if quick else [64]
    with tempfile.TemporaryDirectory() as tmp:
        headline = _study().run(config, Path(tmp))
    rows = []
    for row in headline["table"]:
        rows.append(
            {
                "benchmark": "continuation",
                "case": f"{row['grid']} gravity, Besov/Haar, {row['method']}",
                "n_params": row["n_params"],
                "laplace_s": row["laplace_s"],
                "compile_s": row["compile_s"],
                "sampling_s": row["sampling_s"],
                "steps_per_draw": round(row["steps_per_draw"], 1),
                "draws_to_threshold": row["draws_to_threshold"],
                "time_to_threshold_s": row["time_to_threshold_s"],
            }
        )
    for key, value in headline.items():
        if key.startswith("ratio_cold_over_"):
            rows.append(
                {
                    "benchmark": "continuation",
                    "case": key.removeprefix("ratio_"),
                    "ratio": value if isinstance(value, str) else float(np.round(value, 2)),
                }
            )
    return rows
