"""Diagnostics and figures computed from an ArviZ DataTree."""

from bayesinv.diagnostics.maps import plot_data_fit, plot_field_maps

__all__ = ["plot_data_fit", "plot_field_maps"]
