"""Multiscale parameterizations: wavelet and coarse-grid maps θ → m with exact adjoints."""

from bayesinv.multiscale.hierarchy import GridHierarchy, coarsen
from bayesinv.multiscale.padding import ZeroPadding
from bayesinv.multiscale.prolongation import Prolongation
from bayesinv.multiscale.wavelet import WaveletField

__all__ = ["GridHierarchy", "Prolongation", "WaveletField", "ZeroPadding", "coarsen"]
