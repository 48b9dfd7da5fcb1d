"""Inference drivers: each takes an explicit seed and returns an ArviZ DataTree."""

from bayesinv.inference.continuation import (
    ContinuationResult,
    LevelResult,
    continuation,
    prolong_transfer,
    zero_pad_transfer,
)
from bayesinv.inference.laplace import LaplaceResult, find_map, gauss_newton_laplace
from bayesinv.inference.sampling import SAMPLERS, sample
from bayesinv.inference.smc import sample_smc

__all__ = [
    "SAMPLERS",
    "ContinuationResult",
    "LaplaceResult",
    "LevelResult",
    "continuation",
    "find_map",
    "gauss_newton_laplace",
    "prolong_transfer",
    "sample",
    "sample_smc",
    "zero_pad_transfer",
]
