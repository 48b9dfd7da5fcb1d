"""Inference drivers: each takes an explicit seed and returns an ArviZ DataTree."""

from bayesinv.inference.sampling import SAMPLERS, sample

__all__ = ["SAMPLERS", "sample"]
