"""Diagnostics and figures computed from an ArviZ DataTree."""

from bayesinv.diagnostics.convergence import ConvergenceReport, Thresholds, convergence_report
from bayesinv.diagnostics.field_maps import field_summaries, plot_posterior_field
from bayesinv.diagnostics.maps import plot_data_fit, plot_field_maps
from bayesinv.diagnostics.ppc import (
    ModalityCheck,
    modality_loo,
    modality_names,
    plot_ppc,
    posterior_predictive_check,
    ppc_table,
)
from bayesinv.diagnostics.sbc_plots import plot_ecdf_difference, plot_rank_histograms
from bayesinv.diagnostics.truth import central_interval, truth_coverage

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
    "plot_ecdf_difference",
    "plot_field_maps",
    "plot_posterior_field",
    "plot_ppc",
    "plot_rank_histograms",
    "posterior_predictive_check",
    "ppc_table",
    "truth_coverage",
]
