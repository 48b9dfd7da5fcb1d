"""Case study 01: gravity and travel time, separate vs joint (cross-gradient) inversion.

The code is :func:`bayesinv.studies.demo.run_demo` (shipped in the package, so that
``bayesinv demo`` works from any installed copy); this file only hands it the configuration.
"""

from __future__ import annotations

from pathlib import Path

from bayesinv.studies.demo import DemoConfig, run_demo

#: configuration keys and their types (checked by the runner before anything runs)
REQUIRED = {
    "nx": int,
    "nz": int,
    "cell": float,
    "n_receivers": int,
    "noise_sd": float,
    "prior_sd": float,
    "n_sensors": int,
    "traveltime_noise_sd": float,
    "background_slowness": float,
    "slowness_prior_sd": float,
    "length_scale": float,
    "coarsening": int,
    "coupling_weight": float,
    "draws": int,
    "tune": int,
    "chains": int,
    "adaptation": str,
    "target_accept": float,
}


def run(config: dict, out: Path) -> dict:
    """Run the study; return its headline numbers (see :func:`bayesinv.studies.demo.run_demo`)."""
    return run_demo(out, DemoConfig.from_dict(config), progressbar=False)
