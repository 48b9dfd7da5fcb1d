"""File formats: reading and writing a unified-format ERT file of 16,000 data.

The target of issue 18 is reading 16,000 data in under a second. The ratio column compares
the read with ``numpy.loadtxt`` of the data block alone (the same numbers, no checks), in
the same run.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from bayesinv.formats import ERTSurvey, geometric_factors, read_unified, write_unified
from bayesinv.operators.resistivity import dipole_dipole, surface_electrodes

SIZES = [4_000, 16_000]


def _survey(n_data: int) -> ERTSurvey:
    n_elec = 8
    while dipole_dipole(n_elec, n_max=12, a=[1, 2, 3, 4]).shape[0] < n_data:
        n_elec += 8
    abmn = dipole_dipole(n_elec, n_max=12, a=[1, 2, 3, 4])[:n_data]
    elec = surface_electrodes(np.arange(n_elec, dtype=np.float64))
    k = geometric_factors(elec, abmn)
    rhoa = 100.0 * np.exp(np.random.default_rng(0).normal(0.0, 0.3, n_data))
    return ERTSurvey(elec, abmn, rhoa / k, rhoa, k, np.full(n_data, 0.03))


def _best(fn, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool = False) -> list[dict]:
    rows = []
    repeats = 2 if quick else 5
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in SIZES:
            survey = _survey(n)
            path = Path(tmp) / f"survey_{n}.ohm"
            t_write = _best(lambda s=survey, p=path: write_unified(p, s), repeats)
            t_read = _best(lambda p=path: read_unified(p), repeats)
            skip = survey.electrodes.shape[0] + 6  # comment, two count and format lines
            t_np = _best(lambda p=path, s=skip: np.loadtxt(p, skiprows=s), repeats)
            assert read_unified(path).equals(survey)
            rows.append(
                {
                    "benchmark": "formats",
                    "case": f"unified ERT, {n} data",
                    "read_s": t_read,
                    "write_s": t_write,
                    "read_vs_loadtxt": t_read / t_np,
                    "target_read_s": 1.0,
                }
            )
    return rows


if __name__ == "__main__":
    from run import format_table

    print(format_table(run()))
