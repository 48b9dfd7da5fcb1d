"""Simulation-based calibration: replicate runner, rank statistics, plots and output files.

Does an inference procedure recover its own prior? :func:`simulation_based_calibration`
draws truths and data from the generative model, fits each replicate (serially, through any
``map`` or on a dask cluster) and tests the ranks of the truths among the posterior draws
for uniformity (:func:`sbc_from_ranks`).
"""

from bayesinv import _deprecation
from bayesinv.calibration.outputs import write_sbc_outputs
from bayesinv.calibration.plots import plot_ecdf_difference, plot_rank_histograms, sbc_pit
from bayesinv.calibration.ranks import SBCResult, sbc_from_ranks
from bayesinv.calibration.runner import (
    load_sbc_ranks,
    replicate_seeds,
    simulation_based_calibration,
)

__all__ = [
    "SBCResult",
    "load_sbc_ranks",
    "plot_ecdf_difference",
    "plot_rank_histograms",
    "replicate_seeds",
    "sbc_from_ranks",
    "sbc_pit",
    "simulation_based_calibration",
    "write_sbc_outputs",
]

# bayesinv 0.1 had the `bayesinv sbc` study here; it lives in bayesinv.studies.sbc now.
__getattr__ = _deprecation.moved_names(
    "bayesinv.calibration",
    {
        n: "bayesinv.studies.sbc"
        for n in ("SBCConfig", "config_from_dict", "load_sbc_config", "run_sbc")
    },
)
