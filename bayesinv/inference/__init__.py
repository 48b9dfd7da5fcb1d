"""Inference drivers: each takes an explicit seed and returns an ArviZ DataTree."""

from bayesinv import _deprecation
from bayesinv.inference.continuation import (
    ContinuationResult,
    LevelOutcome,
    LevelResult,
    continuation,
    prolong_transfer,
    register_level_solver,
    zero_pad_transfer,
)
from bayesinv.inference.gauss_newton import LaplaceResult, gauss_newton_laplace
from bayesinv.inference.laplace import GaussianApproximation, laplace
from bayesinv.inference.mcmc import GaussianPriorTarget, sample_mlda, sample_pcn
from bayesinv.inference.optimize import find_map
from bayesinv.inference.preconditioned_sampling import sample_preconditioned
from bayesinv.inference.preconditioning import (
    Preconditioner,
    hessian_preconditioner,
    precondition,
)
from bayesinv.inference.replicates import dask_client, run_replicates
from bayesinv.inference.sampling import SAMPLERS, CompiledModel, compile_model, sample
from bayesinv.inference.smc import sample_smc

__all__ = [
    "SAMPLERS",
    "CompiledModel",
    "ContinuationResult",
    "GaussianApproximation",
    "GaussianPriorTarget",
    "LaplaceResult",
    "LevelOutcome",
    "LevelResult",
    "Preconditioner",
    "compile_model",
    "continuation",
    "dask_client",
    "find_map",
    "gauss_newton_laplace",
    "hessian_preconditioner",
    "laplace",
    "precondition",
    "prolong_transfer",
    "register_level_solver",
    "run_replicates",
    "sample",
    "sample_mlda",
    "sample_pcn",
    "sample_preconditioned",
    "sample_smc",
    "zero_pad_transfer",
]

# bayesinv 0.1 exported SBC from here; it lives in bayesinv.calibration (and the study in
# bayesinv.studies.joint_sbc) now.
__getattr__ = _deprecation.moved_names(
    "bayesinv.inference",
    {
        "SBCResult": "bayesinv.calibration.ranks",
        "simulation_based_calibration": "bayesinv.calibration.runner",
        "JointSBCStudy": "bayesinv.studies.joint_sbc",
    },
)
