"""PyMC's SMC kernels with unphysical particles rejected instead of poisoning the tempering.

bayesinv's physics operators return NaN data for a model they cannot simulate (e.g. a
velocity above a wave scheme's stability limit), so the log-likelihood there is NaN. NUTS
treats that as a rejected proposal; PyMC's SMC kernels do not: a single NaN particle
makes the importance-weight ESS NaN, and the run stops ("cannot convert float NaN to
integer"). The kernels here read a NaN log-likelihood as minus infinity (zero
likelihood): such particles get zero weight and such proposals are rejected, which is what
the posterior says of them.
"""

from __future__ import annotations

import numpy as np
from pymc.smc import kernels

__all__ = ["IMH", "MH", "RejectNaN", "nan_rejecting"]


class RejectNaN:
    r"""A compiled log-likelihood whose NaN values read as ``-inf``.

    Parameters
    ----------
    fn : callable
        PyMC's compiled log-likelihood of one particle (a PyTensor function).

    Notes
    -----
    :math:`\tilde\ell(θ) = \ell(θ)` where it is a number, :math:`-\infty` where NaN.
    """

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, x):
        """Evaluate the log-likelihood at ``x``, NaN read as ``-inf``."""
        value = self.fn(x)
        return np.where(np.isnan(value), -np.inf, value)

    def copy(self, **kwargs):
        """Copy the wrapped function (PyMC copies it per chain with new RNGs)."""
        return RejectNaN(self.fn.copy(**kwargs))

    def __getattr__(self, name):
        return getattr(self.fn, name)


class _RejectingKernel:
    """Mixin: wrap the kernel's compiled log-likelihood in :class:`RejectNaN`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.likelihood_logp_func = RejectNaN(self.likelihood_logp_func)


class IMH(_RejectingKernel, kernels.IMH):
    """PyMC's independent Metropolis–Hastings SMC kernel, NaN log-likelihoods rejected."""


class MH(_RejectingKernel, kernels.MH):
    """PyMC's Metropolis–Hastings SMC kernel, NaN log-likelihoods rejected."""


def nan_rejecting(kernel):
    """Return the NaN-rejecting version of PyMC's ``IMH`` or ``MH`` (others unchanged)."""
    return {kernels.IMH: IMH, kernels.MH: MH}.get(kernel, kernel)
