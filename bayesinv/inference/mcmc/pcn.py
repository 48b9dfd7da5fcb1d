r"""Preconditioned Crank–Nicolson (pCN) and Laplace-preconditioned pCN: gradient-free MCMC.

For a posterior :math:`π(x) \propto e^{\ell(x)} N(x; m_{pr}, C)` with a Gaussian prior, pCN
(Beskos, Roberts, Stuart & Voss 2008; Cotter, Roberts, Stuart & White 2013) proposes, in the
whitened coordinates :math:`z` of a *reference* Gaussian :math:`N(μ, A A^T)`,
:math:`x = μ + A z`,

.. math:: z' = \sqrt{1 - β^2}\, z + β ξ, \qquad ξ \sim N(0, I),

a proposal that leaves :math:`N(0, I)` invariant, and accepts with probability
:math:`\min\{1, \exp(ψ(z') - ψ(z))\}`, where

.. math:: ψ(z) = \ell(x) + \log N(x; m_{pr}, C) - \log N(x; μ, A A^T)
               = \ell(x) - \tfrac12 \|L^{-1}(x - m_{pr})\|^2 + \tfrac12 \|z\|^2 .

- **pCN**: the reference is the prior (:math:`μ = m_{pr}`, :math:`A = L`), so
  :math:`ψ = \ell`: only the likelihood enters the acceptance, which therefore does not
  degrade as the discretisation of :math:`x` is refined (the prior ratio that makes
  random-walk Metropolis collapse in high dimension cancels exactly).
- **Laplace-preconditioned pCN** (the "generalised pCN" of Rudolf & Sprungk 2018, the
  Hessian-informed proposals of Cui, Law & Marzouk 2016 and Pinski et al. 2015): the
  reference is a Laplace approximation at the MAP, e.g. from
  :func:`~bayesinv.inference.gauss_newton.gauss_newton_laplace`, whose covariance
  :math:`L(I - V D V^T)L^T` is a low-rank update of the prior's. Directions the data inform
  get proposals on their posterior scale, so larger moves are accepted; ``ψ`` then carries
  the ratio of the posterior to the reference, which is close to constant near the MAP.

The step :math:`β \in (0, 1]` adapts during tuning to a target acceptance rate (Robbins–Monro
on :math:`\log β`) and is frozen for the kept draws. No gradient of :math:`\ell` is used.
"""

from __future__ import annotations

import numpy as np

from bayesinv import _checks
from bayesinv.inference.mcmc import _chains
from bayesinv.inference.mcmc._target import GaussianPriorTarget

__all__ = ["Reference", "sample_pcn"]

_WHERE = "sample_pcn"


class Reference:
    """The Gaussian in whose whitened coordinates pCN moves (the prior or a Laplace fit).

    Parameters
    ----------
    target : GaussianPriorTarget
        The posterior's prior and likelihood.
    gaussian : GaussianApproximation, optional
        The reference :math:`N(μ, A A^T)` on the target's flat vector; ``None`` for the
        prior.
    """

    def __init__(self, target: GaussianPriorTarget, gaussian=None):
        self.target = target
        self.gaussian = gaussian
        self.kind = "prior" if gaussian is None else "laplace"
        if gaussian is not None and gaussian.n != target.n:
            raise ValueError(
                f"{_WHERE}: the reference Gaussian has dimension {gaussian.n}, "
                f"the target {target.n}"
            )

    def to_x(self, z) -> np.ndarray:
        """Return :math:`x = μ + A z`."""
        if self.gaussian is None:
            return self.target.prior_apply(z)
        return self.gaussian.apply(z)

    def to_z(self, x) -> np.ndarray:
        """Return the whitened coordinates :math:`z = A^{-1}(x - μ)` of a point ``x``."""
        if self.gaussian is None:
            return self.target.prior_whiten(x)
        n = self.target.n
        mu = np.asarray(self.gaussian.mean, dtype=np.float64)
        a = (self.gaussian.apply(np.eye(n)) - mu).T
        return np.linalg.solve(a, np.asarray(x, dtype=np.float64) - mu)

    def correction(self, x, z) -> float:
        r"""Return :math:`ψ - \ell`: zero for the prior reference."""
        if self.gaussian is None:
            return 0.0
        u = self.target.prior_whiten(x)
        return -0.5 * float(u @ u) + 0.5 * float(z @ z)


def resolve_reference(target, reference, seed, where):
    """Return the :class:`Reference` for ``"prior"``, ``"laplace"`` or a GaussianApproximation."""
    from bayesinv.inference.laplace import GaussianApproximation

    if isinstance(reference, GaussianApproximation):
        return Reference(target, reference)
    _checks.check_choice(reference, where, "reference", ("prior", "laplace"))
    if reference == "prior":
        return Reference(target)
    if target.operator is not None:
        from bayesinv.inference.gauss_newton import gauss_newton_laplace

        fit = gauss_newton_laplace(
            target.operator,
            target.data,
            prior_mean=target.prior_mean,
            prior_cov=target.prior_cov(),
            noise_sd=target.noise_sd,
            draws=1,
            chains=1,
            random_seed=seed,
        )
        return Reference(target, fit)
    if target.model is not None:
        from bayesinv.inference.laplace import laplace

        return Reference(
            target, laplace(target.model, draws=1, chains=1, random_seed=seed).gaussian
        )
    raise ValueError(
        f"{where}: reference='laplace' needs a target made with a ForwardOperator or from a "
        "PyMC model; otherwise pass a GaussianApproximation as reference"
    )


class PCNState:
    """A chain's position: whitened ``z``, ``x``, log-likelihood, its by-product, and ψ."""

    __slots__ = ("info", "ll", "psi", "x", "z")

    def __init__(self, z, x, ll, info, psi):
        self.z, self.x, self.ll, self.info, self.psi = z, x, ll, info, psi


class PCNKernel:
    """The pCN step on a reference (see the module docstring).

    Parameters
    ----------
    reference : Reference
    evaluate : callable
        ``x -> (log-likelihood, info)``; ``info`` (e.g. the predicted data) is kept with the
        state for callers that need it (delayed acceptance's error model).
    """

    def __init__(self, reference: Reference, evaluate):
        self.reference = reference
        self.evaluate = evaluate
        self.evaluations = 0

    def make_state(self, z, x=None, ll=None, info=None) -> PCNState:
        """Return the state at ``z`` (evaluating the likelihood when ``ll`` is not given)."""
        x = self.reference.to_x(z) if x is None else x
        if ll is None:
            ll, info = self.evaluate(x)
            self.evaluations += 1
        return PCNState(z, x, ll, info, ll + self.reference.correction(x, z))

    @staticmethod
    def propose(z, rng: np.random.Generator, beta: float) -> np.ndarray:
        r"""Return :math:`\sqrt{1 - β^2} z + β ξ`, which leaves :math:`N(0, I)` invariant."""
        return np.sqrt(1.0 - beta**2) * z + beta * rng.standard_normal(z.size)

    def step(self, state: PCNState, rng: np.random.Generator, beta: float):
        """One proposal from ``state``; returns the next state and the acceptance probability."""
        new = self.make_state(self.propose(state.z, rng, beta))
        log_alpha = new.psi - state.psi if np.isfinite(new.psi) else -np.inf
        accept_prob = float(np.exp(min(0.0, log_alpha)))
        if np.log(rng.random()) < log_alpha:
            return new, accept_prob
        return state, accept_prob


def _compiled_kernel(target, compiled):
    """Return the forward kernel for the compiled loop, or ``None`` for the Python loop."""
    if compiled is not None and not isinstance(compiled, bool | np.bool_):
        raise TypeError(f"{_WHERE}: compiled must be None, True or False, got {compiled!r}")
    if compiled is False:
        return None
    from bayesinv.inference.mcmc._pcn_numba import compiled_forward

    fast = compiled_forward(target)
    if fast is None and compiled:
        raise ValueError(
            f"{_WHERE}: compiled=True needs a target made with forward= a ForwardOperator "
            "with numba kernels (the plain Gaussian likelihood); this target has none"
        )
    return fast


def as_target(target, where) -> GaussianPriorTarget:
    """Return a target from a :class:`GaussianPriorTarget` or a PyMC model (or the context's)."""
    if isinstance(target, GaussianPriorTarget):
        return target
    import pymc as pm

    if target is None or isinstance(target, pm.Model):
        return GaussianPriorTarget.from_model(target)
    raise TypeError(
        f"{where}: expected a GaussianPriorTarget or a pymc.Model, got {type(target).__name__}"
    )


def check_initial_points(initial_points, chains, n, where):
    """Return starting points as an array ``(chains, n)`` (or ``None``).

    Parameters
    ----------
    initial_points : array_like or None
        One point ``(n,)`` for every chain or one per chain ``(chains, n)``.
    chains, n : int
    where : str
        Caller's name for messages.
    """
    if initial_points is None:
        return None
    pts = np.asarray(initial_points, dtype=np.float64)
    if pts.ndim == 1:
        pts = np.broadcast_to(pts, (chains, pts.size))
    if pts.shape != (chains, n):
        raise ValueError(
            f"{where}: initial_points must have shape ({n},) or ({chains}, {n}) (chains, "
            f"parameters), got {np.shape(initial_points)}"
        )
    if not np.all(np.isfinite(pts)):
        bad = int(np.argwhere(~np.all(np.isfinite(pts), axis=1))[0, 0])
        raise ValueError(f"{where}: initial_points[{bad}] is not finite")
    return np.array(pts)


def sample_pcn(
    target=None,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    random_seed,
    reference="prior",
    step_size: float = 0.2,
    target_accept: float = 0.25,
    thin: int = 1,
    cores: int | None = None,
    initial_points=None,
    compiled: bool | None = None,
):
    """Sample a posterior with a Gaussian prior by pCN (gradient-free).

    Parameters
    ----------
    target : GaussianPriorTarget or pymc.Model, optional
        The posterior (default: the model in context, read by
        :meth:`GaussianPriorTarget.from_model`).
    draws, tune, chains : int
        Kept draws per chain (after thinning), tuning steps per chain, number of chains.
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Required; chain ``c`` draws from child ``c`` of its ``SeedSequence``.
    reference : {"prior", "laplace"} or GaussianApproximation
        The Gaussian whose whitened coordinates pCN moves in: the prior (plain pCN), a
        Laplace approximation computed here (Gauss–Newton for a target with a
        ``ForwardOperator``, :func:`~bayesinv.inference.laplace.laplace` for a model), or one
        given (e.g. ``gauss_newton_laplace(...)``).
    step_size : float
        Initial :math:`β` in (0, 1] (the step of the kept draws when ``tune=0``).
    target_accept : float
        Acceptance rate the step adapts to during tuning.
    thin : int
        Keep every ``thin``-th state.
    cores : int, optional
        Chains run at once in threads (default: ``min(chains, cpu count)``).
    initial_points : array_like, optional
        Starting points on the target's flat vector, ``(n,)`` for all chains or
        ``(chains, n)`` (e.g. draws of a converged NUTS run: a *warm start*, so that the
        chains measure stationary mixing, not burn-in). Default: a draw of the reference.
    compiled : bool, optional
        Run each chain's loop in numba (:mod:`bayesinv.inference.mcmc._pcn_numba`): the
        default (``None``) does so when the target is a ``ForwardOperator`` with numba
        kernels and the plain Gaussian likelihood, else runs the Python loop; ``True``
        requires it (``ValueError`` otherwise), ``False`` forces the Python loop. Both use
        the same random numbers and give the same draws up to floating-point rounding.

    Returns
    -------
    xarray.DataTree
        ``posterior`` (the model's variables, or the target's ``name`` with dim
        ``{name}_dim_0``), ``sample_stats`` (``accept`` probability, ``accepted``,
        ``step_size``, ``loglik`` per draw; ``likelihood_evaluations`` per chain),
        ``observed_data`` for a model; root attributes ``inference = "pcn"``,
        ``reference``, ``random_seed``, ``chain_seeds``, ``sampling_wall_time_s``.

    Notes
    -----
    See the module docstring for the proposal and acceptance. Without ``initial_points``
    each chain starts from a draw of the reference (so from the prior for plain pCN: chains
    start overdispersed); with them it starts at :math:`z_0 = A^{-1}(x_0 - μ)`, and no
    random number is spent on the start. The attribute ``compiled`` (0/1) records which
    loop ran.
    """
    draws, tune, chains, cores = _chains.check_run(_WHERE, draws, tune, chains, cores)
    step_size = _checks.check_float(step_size, _WHERE, "step_size", low=0, high=1, low_open=True)
    target_accept = _checks.check_float(
        target_accept, _WHERE, "target_accept", low=0, high=1, low_open=True, high_open=True
    )
    thin = _checks.check_int(thin, _WHERE, "thin", low=1)
    target = as_target(target, _WHERE)
    from bayesinv import _seeds

    seed = _seeds.as_int(random_seed, _WHERE)
    starts = check_initial_points(initial_points, chains, target.n, _WHERE)
    ref = resolve_reference(
        target, reference, _seeds.child_seeds(seed, chains + 1, _WHERE)[-1], _WHERE
    )
    fast = _compiled_kernel(target, compiled)

    def run_one(chain, rng):
        local = target.for_thread()
        z0 = rng.standard_normal(local.n) if starts is None else ref.to_z(starts[chain])
        if fast is not None:
            from bayesinv.inference.mcmc._pcn_numba import run_compiled_chain

            args = (tune, draws, thin, step_size, target_accept)
            return run_compiled_chain(fast, Reference(local, ref.gaussian), rng, z0, *args)
        kernel = PCNKernel(
            Reference(local, ref.gaussian), lambda x: (local.log_likelihood(x), None)
        )
        state = kernel.make_state(z0)
        adapt = _chains.RobbinsMonro(step_size, target_accept)
        for _ in range(tune):
            state, prob = kernel.step(state, rng, adapt.step)
            adapt.update(prob)
        beta = adapt.step
        out = np.empty((draws, local.n))
        stats = {k: np.empty(draws) for k in ("accept", "step_size", "loglik")}
        stats["accepted"] = np.zeros(draws, dtype=bool)
        for i in range(draws):
            start, total = state, 0.0
            for _ in range(thin):
                state, prob = kernel.step(state, rng, beta)
                total += prob
            out[i] = state.x
            stats["accept"][i] = total / thin
            stats["accepted"][i] = state is not start
            stats["step_size"][i] = beta
            stats["loglik"][i] = state.ll
        stats["likelihood_evaluations"] = np.int64(kernel.evaluations)
        return out, stats

    x, stats, seeds, wall = _chains.run_chains(run_one, chains, cores, seed, _WHERE)
    attrs = {
        "inference": "pcn",
        "reference": ref.kind,
        "random_seed": seed,
        "chain_seeds": seeds,
        "tune": tune,
        "thin": thin,
        "target_accept": target_accept,
        "compiled": int(fast is not None),
        "warm_start": int(starts is not None),
        "sampling_wall_time_s": round(wall, 3),
    }
    return _chains.to_datatree(target, x, stats, attrs)
