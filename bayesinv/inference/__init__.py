"""Inference drivers: each takes an explicit seed and returns an ArviZ DataTree."""

from bayesinv.inference.laplace import LaplaceResult, find_map, gauss_newton_laplace
from bayesinv.inference.sampling import SAMPLERS, sample
from bayesinv.inference.smc import sample_smc

__all__ = [
    "SAMPLERS",
    "LaplaceResult",
    "find_map",
    "gauss_newton_laplace",
    "sample",
    "sample_smc",
]
