"""Diagnostics and figures computed from an ArviZ DataTree."""

from bayesinv.diagnostics.convergence import ConvergenceReport, Thresholds, convergence_report
from bayesinv.diagnostics.maps import plot_data_fit, plot_field_maps

__all__ = [
    "ConvergenceReport",
    "Thresholds",
    "convergence_report",
    "plot_data_fit",
    "plot_field_maps",
]
