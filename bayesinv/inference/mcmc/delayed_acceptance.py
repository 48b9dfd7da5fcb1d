r"""Multilevel delayed acceptance (MLDA): most proposals screened by cheaper coarse models.

Levels :math:`0, \dots, L` share one Gaussian prior and differ in their log-likelihoods
:math:`\ell_0, \dots, \ell_L` (coarse grids, homogenized models, surrogates; :math:`\ell_L` the
expensive one). Following Lykkegaard, Dodwell, Fox, Mingas & Scheichl (2023), a step on level
:math:`k \ge 1` from :math:`x`:

1. runs a *subchain* of :math:`J` steps on level :math:`k - 1`, started at :math:`x`, whose
   kernel is reversible with respect to :math:`π_{k-1} \propto e^{\ell_{k-1}} \cdot
   \text{prior}` (on level 0: pCN, :mod:`bayesinv.inference.mcmc.pcn`; above: this same
   step, recursively); :math:`J` is drawn uniformly from :math:`1..J_{k-1}` (the randomised
   subchain length, which keeps the combined kernel irreducible and aperiodic and the fine
   acceptance healthy when a fixed :math:`J` would resonate with the coarse chain);
2. proposes the subchain's last state :math:`x'` and accepts it with

   .. math:: α = \min\Big\{1, \frac{π_k(x')\, π_{k-1}(x)}{π_k(x)\, π_{k-1}(x')}\Big\}
             = \min\big\{1, \exp\big([\ell_k(x') - \ell_k(x)] - [\ell_{k-1}(x') -
             \ell_{k-1}(x)]\big)\big\},

   the second-stage correction that makes the chain on level :math:`k` exactly
   :math:`π_k`-invariant, whatever the coarse models are (a bad coarse model costs
   acceptance, not correctness). A subchain that never moved proposes :math:`x' = x`,
   accepted without evaluating :math:`\ell_k`.

**Adaptive error model** (Cui, Fox & O'Sullivan 2011; used by Lykkegaard et al.): for levels
given as forward maps with Gaussian noise (:math:`\ell_k = \log N(d; F_k(x), Σ)`), the offset
:math:`B = F_{k+1}(x) - F_k(x)` is estimated by its running mean :math:`μ_B` and covariance
:math:`Σ_B` over the proposals evaluated on level :math:`k + 1`, and level :math:`k` uses
:math:`\ell_k(x) = \log N(d; F_k(x) + μ_B, Σ + Σ_B)`: a coarse model with a systematic bias
then screens proposals for the right posterior. The estimate is updated during tuning only
and frozen for the kept draws, so they come from a fixed kernel (exactness is not affected
either way: the correction in step 2 uses the same :math:`\ell_{k-1}` as the subchain).
"""

from __future__ import annotations

import numpy as np

from bayesinv import _checks, _seeds
from bayesinv.inference.mcmc import _chains
from bayesinv.inference.mcmc.pcn import (
    PCNKernel,
    Reference,
    as_target,
    check_initial_points,
    resolve_reference,
)

__all__ = ["sample_mlda"]

_WHERE = "sample_mlda"


def _fine_log_ratio(fine_new, fine_old, coarse_new, coarse_old) -> float:
    """Log acceptance ratio of the second stage (see the module docstring)."""
    return (fine_new - fine_old) - (coarse_new - coarse_old)


class ErrorModel:
    """Running mean and covariance of the offset between a level and the next finer one.

    Parameters
    ----------
    target : GaussianPriorTarget
        The coarse level (a forward map with Gaussian noise).
    """

    def __init__(self, target):
        self.target = target
        nd = target.data.size
        self.count = 0
        self.mean = np.zeros(nd)
        self._m2 = np.zeros((nd, nd))
        self.whiten = None
        self.half_logdet = 0.0

    def update(self, fine_pred, coarse_pred) -> None:
        """Add one offset ``fine_pred - coarse_pred`` (Welford's update)."""
        b = fine_pred - coarse_pred
        if not np.all(np.isfinite(b)):
            return
        self.count += 1
        delta = b - self.mean
        self.mean += delta / self.count
        self._m2 += np.outer(delta, b - self.mean)
        if self.count >= 2:
            cov = self._m2 / (self.count - 1) + np.diag(self.target.noise_sd**2)
            chol = np.linalg.cholesky(0.5 * (cov + cov.T))
            self.whiten = np.linalg.inv(chol)
            self.half_logdet = float(np.sum(np.log(np.diag(chol))))

    def loglik(self, pred) -> float:
        """Corrected log-likelihood of predicted data (plain until two offsets are known)."""
        if self.count < 2:
            return self.target.misfit_loglik(pred)
        return self.target.misfit_loglik(pred, self.mean, self.whiten, self.half_logdet)


class _Level:
    """One level's likelihood: evaluation (counted) and log-likelihood of a cached value."""

    def __init__(self, target, error_model: bool):
        self.target = target
        self.uses_pred = error_model
        self.error_model = ErrorModel(target) if error_model else None
        self.evaluations = 0

    def evaluate(self, x):
        """Cache entry at ``x``: predicted data (with an error model) or the log-likelihood."""
        self.evaluations += 1
        return self.target.predict(x) if self.uses_pred else self.target.log_likelihood(x)

    def loglik(self, cached) -> float:
        """Log-likelihood from a cache entry (the error model as it is now)."""
        if not self.uses_pred:
            return cached
        if self.error_model is None:
            return self.target.misfit_loglik(cached)
        return self.error_model.loglik(cached)


class _State:
    __slots__ = ("cache", "x", "z")

    def __init__(self, z, x, cache):
        self.z, self.x, self.cache = z, x, cache


class _Chain:
    """One MLDA chain: the recursive step of the module docstring."""

    def __init__(self, levels, reference, lengths, randomize, rng, adapt, tune, z0=None):
        self.levels, self.lengths, self.randomize, self.rng = levels, lengths, randomize, rng
        base = levels[0]

        def evaluate(x):
            cached = base.evaluate(x)
            return base.loglik(cached), cached

        self.kernel = PCNKernel(reference, evaluate)
        # tuning, part 1: the pCN step of level 0 adapts on a chain of level 0 alone (cheap;
        # inside MLDA the subchains restart from fine states, which would bias the adaptation)
        warm = z0 is not None
        start = self.kernel.make_state(z0 if warm else rng.standard_normal(reference.target.n))
        first = start
        for _ in range(tune * lengths[0]):
            start, prob = self.kernel.step(start, rng, adapt.step)
            adapt.update(prob)
        if warm:  # a warm start stays where it was put: level 0's chain only tuned the step
            start = first
        self.beta = adapt.step
        self.tuning = True  # part 2 (the error model) runs on the finest level's steps
        self.moves = np.zeros(len(levels))
        self.proposals = np.zeros(len(levels))
        rest = [lv.evaluate(start.x) for lv in levels[1:]]
        self.state = _State(start.z, start.x, [start.info, *rest])

    def step(self, k: int, s: _State):
        """One step on level ``k`` from ``s``; returns the new state and acceptance prob."""
        levels, rng = self.levels, self.rng
        if k == 0:
            lv = levels[0]
            ll = lv.loglik(s.cache[0])
            start = self.kernel.make_state(s.z, s.x, ll, s.cache[0])
            new, prob = self.kernel.step(start, rng, self.beta)
            self.proposals[0] += 1
            if new is start:
                return s, prob
            self.moves[0] += 1
            return _State(new.z, new.x, [new.info]), prob
        length = self.lengths[k - 1]
        n_sub = int(rng.integers(1, length + 1)) if self.randomize else length
        sub = s
        for _ in range(n_sub):
            sub, _ = self.step(k - 1, sub)
        if sub is s:  # the subchain never moved: x' = x, accepted without evaluating level k
            return s, 1.0
        self.proposals[k] += 1
        fine, coarse = levels[k], levels[k - 1]
        cache_new = fine.evaluate(sub.x)
        if self.tuning and coarse.error_model is not None:
            coarse.error_model.update(cache_new, sub.cache[k - 1])
        log_alpha = _fine_log_ratio(
            fine.loglik(cache_new),
            fine.loglik(s.cache[k]),
            coarse.loglik(sub.cache[k - 1]),
            coarse.loglik(s.cache[k - 1]),
        )
        if not np.isfinite(log_alpha):
            log_alpha = -np.inf
        prob = float(np.exp(min(0.0, log_alpha)))
        if np.log(rng.random()) < log_alpha:
            self.moves[k] += 1
            return _State(sub.z, sub.x, [*sub.cache[:k], cache_new]), prob
        return s, prob

    def top(self):
        """One step on the finest level."""
        self.state, prob = self.step(len(self.levels) - 1, self.state)
        return prob


def _check_lengths(subchain_length, n_levels):
    values = np.atleast_1d(np.asarray(subchain_length, dtype=object))
    if values.size == 1:
        values = np.repeat(values, n_levels - 1)
    if values.size != n_levels - 1:
        raise ValueError(
            f"{_WHERE}: subchain_length must be one integer or {n_levels - 1} (one per level "
            f"below the finest), got {values.size}"
        )
    return [
        _checks.check_int(v, _WHERE, f"subchain_length[{i}]", low=1) for i, v in enumerate(values)
    ]


def _check_levels(levels, error_model):
    if not isinstance(levels, list | tuple) or len(levels) < 2:
        raise ValueError(f"{_WHERE}: levels must be a list of at least 2 targets, coarse to fine")
    targets = [as_target(t, f"{_WHERE}: levels[{i}]") for i, t in enumerate(levels)]
    for i, t in enumerate(targets[:-1]):
        if not t.same_prior(targets[-1]):
            raise ValueError(
                f"{_WHERE}: levels[{i}] has another prior than the finest level; every level "
                "must share the prior (same dimension, mean and covariance)"
            )
    if error_model:
        for i, t in enumerate(targets):
            if not t.has_forward:
                raise ValueError(
                    f"{_WHERE}: error_model=True needs every level made with forward= "
                    f"(predicted data); levels[{i}] has only a log-likelihood"
                )
            if t.data.shape != targets[-1].data.shape or not np.allclose(t.data, targets[-1].data):
                raise ValueError(f"{_WHERE}: levels[{i}] has other data than the finest level")
    return targets


def sample_mlda(
    levels,
    *,
    draws: int = 1000,
    tune: int = 200,
    chains: int = 4,
    random_seed,
    subchain_length=5,
    randomize_subchain_length: bool = True,
    error_model: bool = False,
    reference="prior",
    step_size: float = 0.2,
    target_accept: float = 0.25,
    cores: int | None = None,
    initial_points=None,
):
    """Sample the finest level's posterior by multilevel delayed acceptance.

    Parameters
    ----------
    levels : list of GaussianPriorTarget or pymc.Model
        Coarse to fine (at least two), sharing one Gaussian prior; the last is the posterior
        sampled.
    draws, tune, chains : int
        Kept steps on the finest level per chain; tuning: ``tune * subchain_length[0]`` pCN
        steps on level 0 alone (its step adapts), then ``tune`` steps on the finest level
        (the error model adapts); number of chains.
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Required; chain ``c`` draws from child ``c`` of its ``SeedSequence``.
    subchain_length : int or sequence of int
        Largest subchain length :math:`J_k >= 1` on each level below the finest (one value
        for all).
    randomize_subchain_length : bool
        Draw each subchain's length uniformly from ``1..J_k`` (else exactly ``J_k``).
    error_model : bool
        Correct each coarse level by the running offset to the next finer one (every level
        must be made with ``forward=``, with the same data).
    reference : {"prior", "laplace"} or GaussianApproximation
        Reference Gaussian of the pCN steps on level 0 (see
        :func:`~bayesinv.inference.mcmc.pcn.sample_pcn`); ``"laplace"`` is computed on
        level 0. With ``error_model=True`` pass a Laplace fit of the *finest* level instead
        (e.g. :func:`~bayesinv.inference.gauss_newton_laplace` of its operator): the
        corrected coarse posterior sits near the fine one, the uncorrected level-0 fit
        does not (1-D elliptic SBC model: R-hat 1.02-1.05 per fit with the fine fit, up
        to 2.1 with the level-0 fit).
    step_size, target_accept : float
        Initial pCN step on level 0 and the acceptance rate it adapts to during tuning (the
        rate of level 0's own chain).
    cores : int, optional
        Chains run at once in threads (default: ``min(chains, cpu count)``).
    initial_points : array_like, optional
        Starting points of the finest chain, ``(n,)`` for all chains or ``(chains, n)``
        (e.g. draws of a converged NUTS run: a warm start). Level 0's tuning chain starts
        there too, and the finest chain starts there again after it (default: a draw of
        the reference, and the finest chain starts where level 0's tuning chain ended).

    Returns
    -------
    xarray.DataTree
        ``posterior`` of the finest level, ``sample_stats`` (per draw: ``accept``
        probability on the finest level, ``accepted``, ``step_size`` of level 0,
        ``loglik`` of the finest level; per chain: ``likelihood_evaluations`` and
        ``acceptance_rate`` per level, coarse to fine, over the kept draws);
        root attributes ``inference = "mlda"``, ``subchain_length``, ``error_model``,
        ``random_seed``, ``chain_seeds``, ``sampling_wall_time_s``.

    Raises
    ------
    ValueError
        For a subchain length below 1, levels with different priors or, with
        ``error_model``, levels without forward maps or with different data.

    Notes
    -----
    See the module docstring. The finest level's draws are a Markov chain whose stationary
    distribution is exactly the finest posterior; ESS per finest-level evaluation is the
    figure of merit (``likelihood_evaluations[..., -1]``).
    """
    draws, tune, chains, cores = _chains.check_run(_WHERE, draws, tune, chains, cores)
    targets = _check_levels(levels, bool(error_model))
    lengths = _check_lengths(subchain_length, len(targets))
    step_size = _checks.check_float(step_size, _WHERE, "step_size", low=0, high=1, low_open=True)
    target_accept = _checks.check_float(
        target_accept, _WHERE, "target_accept", low=0, high=1, low_open=True, high_open=True
    )
    seed = _seeds.as_int(random_seed, _WHERE)
    ref = resolve_reference(
        targets[0], reference, _seeds.child_seeds(seed, chains + 1, _WHERE)[-1], _WHERE
    )
    n_levels = len(targets)
    starts = check_initial_points(initial_points, chains, targets[-1].n, _WHERE)

    def run_one(chain, rng):
        local = [t.for_thread() for t in targets]
        lv = [_Level(t, bool(error_model)) for t in local]
        lv[-1].error_model = None  # the finest level is the posterior itself
        run = _Chain(
            lv,
            Reference(local[0], ref.gaussian),
            lengths,
            randomize_subchain_length,
            rng,
            _chains.RobbinsMonro(step_size, target_accept),
            tune,
            None if starts is None else Reference(local[0], ref.gaussian).to_z(starts[chain]),
        )
        for _ in range(tune):
            run.top()
        run.tuning = False
        run.moves[:] = run.proposals[:] = 0
        out = np.empty((draws, local[-1].n))
        stats = {k: np.empty(draws) for k in ("accept", "step_size", "loglik")}
        stats["accepted"] = np.zeros(draws, dtype=bool)
        for i in range(draws):
            before = run.state
            stats["accept"][i] = run.top()
            out[i] = run.state.x
            stats["accepted"][i] = run.state is not before
            stats["step_size"][i] = run.beta
            stats["loglik"][i] = lv[-1].loglik(run.state.cache[-1])
        stats["likelihood_evaluations"] = np.array([v.evaluations for v in lv], dtype=np.int64)
        stats["acceptance_rate"] = run.moves / np.maximum(run.proposals, 1)
        return out, stats

    x, stats, seeds, wall = _chains.run_chains(run_one, chains, cores, seed, _WHERE)
    attrs = {
        "inference": "mlda",
        "reference": ref.kind,
        "subchain_length": lengths,
        "randomize_subchain_length": int(bool(randomize_subchain_length)),
        "error_model": int(bool(error_model)),
        "n_levels": n_levels,
        "random_seed": seed,
        "chain_seeds": seeds,
        "tune": tune,
        "warm_start": int(starts is not None),
        "sampling_wall_time_s": round(wall, 3),
    }
    return _chains.to_datatree(targets[-1], x, stats, attrs)
