"""A PyMC model as a :class:`GaussianPriorTarget`: its Gaussian prior read from the graph.

The flat vector is that of :class:`~bayesinv.inference._model_space.ModelSpace` (value
variables in ``model.value_vars`` order, each raveled in C order). The log-likelihood is the
model's log density minus the prior terms of its free variables (so observed variables and
potentials), compiled once; each chain thread calls its own copy of the compiled function
(PyTensor functions keep their outputs in per-function storage).
"""

from __future__ import annotations

import numpy as np

from bayesinv.inference.mcmc._target import GaussianPriorTarget

_WHERE = "GaussianPriorTarget.from_model"


def _param_values(model, rv, params):
    from pytensor.graph.traversal import ancestors

    free = set(model.free_RVs) | set(model.value_vars)
    if any(a in free for a in ancestors(params)):
        raise ValueError(
            f"{_WHERE}: the prior parameters of {rv.name!r} depend on other random variables "
            "(a hierarchical prior); pCN and delayed acceptance need a fixed Gaussian prior "
            "(sample hyperparameters with bayesinv.sample or sample_smc)"
        )
    import pytensor

    return [np.asarray(v, dtype=np.float64) for v in pytensor.function([], params)()]


def _prior_blocks(model):
    """Mean and factor blocks of each free variable, in flat order."""
    from pymc.distributions.multivariate import MvNormalRV
    from pytensor.tensor.random.basic import NormalRV

    shapes = model.eval_rv_shapes()
    means, factors = [], []
    for rv in model.free_RVs:
        shape = tuple(int(s) for s in shapes[rv.name])
        if model.rvs_to_transforms.get(rv) is not None:
            raise ValueError(
                f"{_WHERE}: free variable {rv.name!r} has a transform "
                f"({type(model.rvs_to_transforms[rv]).__name__}); its prior must be an "
                "untransformed pm.Normal or pm.MvNormal"
            )
        op = rv.owner.op
        params = op.dist_params(rv.owner)
        if isinstance(op, NormalRV):
            mu, sigma = _param_values(model, rv, params)
            means.append(np.broadcast_to(mu, shape).ravel())
            factors.append(np.broadcast_to(sigma, shape).ravel())
        elif isinstance(op, MvNormalRV) and len(shape) == 1:
            mu, cov = _param_values(model, rv, params)
            means.append(np.broadcast_to(mu, shape).ravel())
            factors.append(np.linalg.cholesky(cov))
        else:
            raise ValueError(
                f"{_WHERE}: free variable {rv.name!r} has prior {type(op).__name__} with shape "
                f"{shape}; pCN and delayed acceptance need pm.Normal or a 1-D pm.MvNormal"
            )
    return means, factors


def _block_factor(factors):
    if all(f.ndim == 1 for f in factors):
        return np.concatenate(factors)
    import scipy.linalg as sla

    return sla.block_diag(*[np.diag(f) if f.ndim == 1 else f for f in factors])


class ModelTarget(GaussianPriorTarget):
    """A :class:`GaussianPriorTarget` made from a PyMC model (see the module docstring)."""

    def __init__(self, model, mode):
        import pymc as pm
        import pytensor
        from pymc.pytensorf import join_nonshared_inputs

        from bayesinv import _seeds
        from bayesinv.inference._model_space import ModelSpace

        model = pm.modelcontext(model)
        space = ModelSpace(model)
        means, factors = _prior_blocks(model)
        loglik = model.logp() - model.logp(vars=model.free_RVs)
        [loglik], flat = join_nonshared_inputs(model.initial_point(), [loglik], model.value_vars)
        with _seeds.reproducible_compilation():
            fn = pytensor.function([flat], loglik, mode=mode)
        super().__init__(
            fn, prior_mean=np.concatenate(means), prior_sd=1.0, n=space.n, name="model"
        )
        self.prior_factor = _block_factor(factors)
        self.model = model
        self.space = space
        self._fn = fn

    def for_thread(self) -> ModelTarget:
        """Return a shallow copy with its own copy of the compiled function."""
        other = object.__new__(type(self))
        other.__dict__.update(self.__dict__)
        other._fn = self._fn.copy()
        other._loglik = other._fn
        return other

    def to_datatree(self, x):
        """Return the model's variables (and deterministics) with dims, and observed data."""
        from bayesinv.inference.laplace import draws_to_datatree

        x = np.asarray(x)
        chains = x.shape[0]
        return draws_to_datatree(self.space, x.reshape(-1, x.shape[-1]), chains)


def target_from_model(cls, model, mode):
    """Build the target of :meth:`GaussianPriorTarget.from_model`."""
    return ModelTarget(model, mode)
