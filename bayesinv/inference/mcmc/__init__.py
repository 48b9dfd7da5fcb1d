"""Gradient-free MCMC for expensive models: pCN, Laplace-preconditioned pCN, delayed acceptance.

Each driver takes a :class:`GaussianPriorTarget` (or a PyMC model with Gaussian priors), an
explicit seed, runs its chains in parallel threads and returns an ArviZ DataTree that the
diagnostics of :mod:`bayesinv.diagnostics` read like a NUTS result.
"""

from bayesinv.inference.mcmc._target import GaussianPriorTarget
from bayesinv.inference.mcmc.delayed_acceptance import sample_mlda
from bayesinv.inference.mcmc.pcn import sample_pcn

__all__ = ["GaussianPriorTarget", "sample_mlda", "sample_pcn"]
