"""Diagnostics and figures computed from an ArviZ DataTree, and the report page."""

from bayesinv import _deprecation
from bayesinv.diagnostics.convergence import ConvergenceReport, Thresholds, convergence_report
from bayesinv.diagnostics.plots import (
    plot_data_fit,
    plot_field_maps,
    plot_posterior_field,
    plot_ppc,
)
from bayesinv.diagnostics.ppc import (
    ModalityCheck,
    modality_loo,
    modality_names,
    posterior_predictive_check,
    ppc_table,
)
from bayesinv.diagnostics.truth import central_interval, field_summaries, truth_coverage

__all__ = [
    "ConvergenceReport",
    "ModalityCheck",
    "Thresholds",
    "central_interval",
    "convergence_report",
    "field_summaries",
    "modality_loo",
    "modality_names",
    "plot_data_fit",
    "plot_field_maps",
    "plot_posterior_field",
    "plot_ppc",
    "posterior_predictive_check",
    "ppc_table",
    "truth_coverage",
]

# bayesinv 0.1 exported the SBC plots here; they live in bayesinv.calibration now.
__getattr__ = _deprecation.moved_names(
    "bayesinv.diagnostics",
    {n: "bayesinv.calibration.plots" for n in ("plot_ecdf_difference", "plot_rank_histograms")},
)
