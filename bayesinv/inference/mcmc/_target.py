r"""What the gradient-free samplers sample: a Gaussian prior times a likelihood, on a flat vector.

:class:`GaussianPriorTarget` holds the prior :math:`x \sim N(m_{pr}, L L^T)` (``L`` a vector
of standard deviations or a lower-triangular factor) and a log-likelihood
:math:`\ell(x)`, given in one of three ways:

- a callable ``log_likelihood(x) -> float`` (any code: no gradient needed);
- a forward map and Gaussian noise, :math:`\ell(x) = -\tfrac12 \|(F(x) - d)/σ\|^2` (``F`` a
  :class:`~bayesinv.operators.base.ForwardOperator` or a callable): the delayed-acceptance
  error model and the Gauss–Newton Laplace reference need this form;
- a PyMC model (:meth:`GaussianPriorTarget.from_model`) whose free variables all have
  ``Normal`` or ``MvNormal`` priors with fixed parameters: the prior is read from the graph
  and :math:`\ell` = model log density minus prior, compiled once with PyTensor's numba
  backend, on the flat vector of :mod:`bayesinv.inference._model_space`.

A non-finite :math:`\ell` (a forward kernel that returned NaN for a non-physical parameter or
a failed solve) counts as :math:`-\infty`: the proposal is rejected.
"""

from __future__ import annotations

import numpy as np

from bayesinv import _checks

__all__ = ["GaussianPriorTarget", "ModelTarget"]

_WHERE = "GaussianPriorTarget"


def _factor(prior_cov, prior_sd, n):
    if (prior_cov is None) == (prior_sd is None):
        raise ValueError(f"{_WHERE}: give exactly one of prior_cov and prior_sd")
    if prior_sd is not None:
        sd = np.broadcast_to(np.asarray(prior_sd, dtype=np.float64), (n,)).copy()
        if not np.all(np.isfinite(sd)) or np.any(sd <= 0):
            raise ValueError(f"{_WHERE}: prior_sd must be finite and positive")
        return sd
    cov = np.asarray(prior_cov, dtype=np.float64)
    if cov.ndim < 2:
        var = np.broadcast_to(cov, (n,))
        if not np.all(np.isfinite(var)) or np.any(var <= 0):
            raise ValueError(f"{_WHERE}: prior_cov (variances) must be finite and positive")
        return np.sqrt(var)
    if cov.shape != (n, n):
        raise ValueError(f"{_WHERE}: prior_cov has shape {cov.shape}, expected {(n, n)}")
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(f"{_WHERE}: prior_cov is not symmetric positive definite") from None


class GaussianPriorTarget:
    r"""Posterior with a Gaussian prior on a flat vector, for pCN and delayed acceptance.

    Parameters
    ----------
    log_likelihood : callable, optional
        ``x -> float``; give this or ``forward`` (with ``data`` and ``noise_sd``).
    prior_mean : array_like or float
        Prior mean (broadcast to ``n``).
    prior_cov : array_like or float, optional
        Prior covariance: a matrix, a vector of variances or one variance.
    prior_sd : array_like or float, optional
        Prior standard deviations (independent prior); give this or ``prior_cov``.
    n : int, optional
        Dimension (needed only when it cannot be read from the other arguments).
    forward : ForwardOperator or callable, optional
        ``F(x) -> predicted data``.
    data : array_like, optional
        Observed data ``d``.
    noise_sd : array_like or float, optional
        Noise standard deviations ``σ``.
    name : str
        Name of the posterior variable in the result.

    Notes
    -----
    With ``forward``, :math:`\ell(x) = -\tfrac12 \sum_i ((F(x)_i - d_i)/σ_i)^2` (the
    constant is dropped: the samplers use differences of :math:`\ell` only).
    """

    def __init__(
        self,
        log_likelihood=None,
        *,
        prior_mean=0.0,
        prior_cov=None,
        prior_sd=None,
        n: int | None = None,
        forward=None,
        data=None,
        noise_sd=None,
        name: str = "m",
    ):
        from bayesinv.operators.base import ForwardOperator

        if (log_likelihood is None) == (forward is None):
            raise ValueError(f"{_WHERE}: give exactly one of log_likelihood and forward")
        if log_likelihood is not None and not callable(log_likelihood):
            raise TypeError(f"{_WHERE}: log_likelihood must be callable, got {log_likelihood!r}")
        self.operator = forward if isinstance(forward, ForwardOperator) else None
        if n is None:
            sizes = [np.size(a) for a in (prior_mean, prior_sd) if a is not None and np.ndim(a)]
            if prior_cov is not None and np.ndim(prior_cov):
                sizes.append(np.shape(prior_cov)[0])
            if self.operator is not None:
                sizes.append(self.operator.n_params)
            if not sizes:
                raise ValueError(f"{_WHERE}: give n (no argument fixes the dimension)")
            n = sizes[0]
        self.n = _checks.check_int(n, _WHERE, "n", low=1)
        self.prior_mean = np.broadcast_to(np.asarray(prior_mean, dtype=np.float64), (self.n,))
        self.prior_mean = _checks.check_array(self.prior_mean.copy(), _WHERE, "prior_mean")
        self.prior_factor = _factor(prior_cov, prior_sd, self.n)
        self.name = str(name)
        self._loglik = log_likelihood
        self._forward = forward
        self.data = self.noise_sd = None
        if forward is not None:
            if not callable(forward) and self.operator is None:
                raise TypeError(f"{_WHERE}: forward must be a ForwardOperator or a callable")
            if data is None or noise_sd is None:
                raise ValueError(f"{_WHERE}: forward needs data and noise_sd")
            self.data = _checks.check_array(data, _WHERE, "data", ndim=1)
            sd = np.broadcast_to(np.asarray(noise_sd, dtype=np.float64), self.data.shape)
            if not np.all(np.isfinite(sd)) or np.any(sd <= 0):
                raise ValueError(f"{_WHERE}: noise_sd must be finite and positive")
            self.noise_sd = sd.copy()
        self.model = None

    @classmethod
    def from_model(cls, model=None, *, mode="NUMBA") -> GaussianPriorTarget:
        """Read a PyMC model's Gaussian prior and compile its log-likelihood.

        Parameters
        ----------
        model : pymc.Model, optional
            Every free variable must be ``pm.Normal`` or a 1-D ``pm.MvNormal`` whose
            parameters do not depend on other random variables (default: the model in
            context).
        mode : str or None
            PyTensor compilation mode (``None`` for operators without numba kernels).

        Returns
        -------
        GaussianPriorTarget
            On the flat vector of the model's value variables (the result's posterior holds
            the model's variables with their dims).

        Raises
        ------
        ValueError
            Naming the free variable whose prior is not a fixed Gaussian.
        """
        return ModelTarget(model, mode)

    @property
    def has_forward(self) -> bool:
        """Whether the likelihood is a forward map with Gaussian noise."""
        return self._forward is not None

    def predict(self, x) -> np.ndarray:
        """Predicted data ``F(x)`` (only with ``forward``)."""
        if self._forward is None:
            raise ValueError(f"{_WHERE}: predict needs a target made with forward=")
        f = self._forward.forward if self.operator is not None else self._forward
        return np.asarray(f(x), dtype=np.float64)

    def misfit_loglik(self, pred, offset=None, whiten=None, half_logdet=0.0) -> float:
        r"""Gaussian log-likelihood of predicted data, optionally with an error model.

        Parameters
        ----------
        pred : numpy.ndarray
            ``F(x)``.
        offset : numpy.ndarray, optional
            Mean :math:`μ_B` added to the prediction.
        whiten : numpy.ndarray, optional
            :math:`W = C^{-1}` for the lower Cholesky factor :math:`C` of
            :math:`\mathrm{diag}(σ^2) + Σ_B`; without it ``diag(1/σ)``.
        half_logdet : float
            :math:`\tfrac12 \log\det(C C^T)` (it changes with the error model).

        Returns
        -------
        float
            :math:`-\tfrac12 \|W r\|^2 - \tfrac12 \log\det Σ` up to a constant, with
            :math:`r = F(x) + μ_B - d`; ``-inf`` for a non-finite value.
        """
        r = pred - self.data if offset is None else pred + offset - self.data
        w = r / self.noise_sd if whiten is None else whiten @ r
        value = -0.5 * float(w @ w) - half_logdet
        return value if np.isfinite(value) else -np.inf

    def log_likelihood(self, x) -> float:
        r"""Return :math:`\ell(x)` (``-inf`` where it is not finite)."""
        if self._forward is not None:
            return self.misfit_loglik(self.predict(x))
        value = float(self._loglik(x))
        return value if np.isfinite(value) else -np.inf

    def for_thread(self) -> GaussianPriorTarget:
        """Return a copy whose compiled functions may be called from another thread."""
        return self

    def prior_apply(self, u) -> np.ndarray:
        """Return :math:`m_{pr} + L u`."""
        L = self.prior_factor
        return self.prior_mean + (L * u if L.ndim == 1 else L @ u)

    def prior_whiten(self, x) -> np.ndarray:
        """Return :math:`L^{-1}(x - m_{pr})`."""
        L = self.prior_factor
        r = np.asarray(x, dtype=np.float64) - self.prior_mean
        if L.ndim == 1:
            return r / L
        import scipy.linalg as sla

        return sla.solve_triangular(L, r, lower=True, check_finite=False)

    def prior_cov(self) -> np.ndarray:
        """Dense prior covariance :math:`L L^T`."""
        L = self.prior_factor
        return np.diag(L**2) if L.ndim == 1 else L @ L.T

    def same_prior(self, other: GaussianPriorTarget) -> bool:
        """Whether another target has the same prior (levels of delayed acceptance)."""
        return (
            self.n == other.n
            and np.array_equal(self.prior_mean, other.prior_mean)
            and np.allclose(self.prior_cov(), other.prior_cov(), rtol=1e-12, atol=0.0)
        )

    def to_datatree(self, x):
        """Posterior draws ``x`` of shape ``(chains, draws, n)`` as a DataTree."""
        import arviz as az

        return az.from_dict({"posterior": {self.name: np.asarray(x)}})


_FROM_MODEL = "GaussianPriorTarget.from_model"


def _param_values(model, rv, params):
    from pytensor.graph.traversal import ancestors

    free = set(model.free_RVs) | set(model.value_vars)
    if any(a in free for a in ancestors(params)):
        raise ValueError(
            f"{_FROM_MODEL}: the prior parameters of {rv.name!r} depend on other random variables "
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
                f"{_FROM_MODEL}: free variable {rv.name!r} has a transform "
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
                f"{_FROM_MODEL}: free variable {rv.name!r} has prior {type(op).__name__} "
                f"with shape {shape}; pCN and delayed acceptance need pm.Normal or 1-D pm.MvNormal"
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
        from bayesinv.inference._model_space import draws_to_datatree

        x = np.asarray(x)
        chains = x.shape[0]
        return draws_to_datatree(self.space, x.reshape(-1, x.shape[-1]), chains)
