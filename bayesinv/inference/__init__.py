"""Inference drivers: each takes an explicit seed and returns an ArviZ DataTree."""

from bayesinv.inference.continuation import (
    ContinuationResult,
    LevelResult,
    continuation,
    prolong_transfer,
    zero_pad_transfer,
)
from bayesinv.inference.laplace import LaplaceResult, find_map, gauss_newton_laplace
from bayesinv.inference.preconditioning import (
    Preconditioner,
    hessian_preconditioner,
    precondition,
)
from bayesinv.inference.replicates import dask_client, run_replicates
from bayesinv.inference.sampling import SAMPLERS, sample
from bayesinv.inference.sbc import SBCResult, simulation_based_calibration
from bayesinv.inference.sbc_study import JointSBCStudy
from bayesinv.inference.smc import sample_smc

__all__ = [
    "SAMPLERS",
    "ContinuationResult",
    "JointSBCStudy",
    "LaplaceResult",
    "LevelResult",
    "Preconditioner",
    "SBCResult",
    "continuation",
    "dask_client",
    "find_map",
    "gauss_newton_laplace",
    "hessian_preconditioner",
    "precondition",
    "prolong_transfer",
    "run_replicates",
    "sample",
    "sample_smc",
    "simulation_based_calibration",
    "zero_pad_transfer",
]
