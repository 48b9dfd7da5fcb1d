r"""Sequential Monte Carlo (PyMC's ``sample_smc``) with an explicit seed.

SMC moves a population of particles from the prior to the posterior through tempered
distributions :math:`p(θ \mid y)_β \propto p(y \mid θ)^β p(θ)`, raising :math:`β` from 0 to 1
in adaptive stages (each stage keeps the importance-weight ESS near a threshold) and
mutating the particles with MCMC at each stage. Unlike NUTS started in one place, the
population starts spread over the prior, so well-separated posterior modes (sign ambiguities,
alternative interfaces) keep their particles with weights close to their posterior mass.

The tempering diagnostics are stored in ``sample_stats`` as plain numeric arrays:
``beta`` and ``accept_rate`` with dims ``(chain, stage)`` (padded with NaN when chains took
different numbers of stages), ``n_stages`` and ``log_marginal_likelihood`` per chain; the
root attributes hold ``inference = "smc"`` and the seed.
"""

from __future__ import annotations

import contextlib

import numpy as np
import xarray as xr

from bayesinv import _checks, _progress, _seeds
from bayesinv.inference._threads import blas_limit

__all__ = ["sample_smc"]


def _ragged(values) -> np.ndarray:
    """(chain, stage) float array from a per-chain list of per-stage values, NaN-padded."""
    rows = [np.asarray(list(np.ravel(v)), dtype=float) for v in values]
    width = max(r.size for r in rows)
    out = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        out[i, : r.size] = r
    return out


def _per_chain(values, chains: int):
    """Per-chain sequences: PyMC stores one chain's stages along its ``chain`` dimension."""
    values = np.asarray(values)
    if chains == 1 and values.dtype != object and values.ndim == 1:
        return [values]
    return list(values)


def _tidy_stats(stats: xr.Dataset, chains: int) -> xr.Dataset:
    chain = np.arange(chains)
    beta = _ragged(_per_chain(stats["beta"].values, chains))
    n_stages = np.sum(np.isfinite(beta), axis=1).astype(np.int64)
    data = {
        "beta": (("chain", "stage"), beta),
        "n_stages": (("chain",), n_stages),
    }
    if "accept_rate" in stats:
        rate = _ragged(_per_chain(stats["accept_rate"].values, chains))
        data["accept_rate"] = (("chain", "stage"), rate)
    if "log_marginal_likelihood" in stats:
        lml = _ragged(_per_chain(stats["log_marginal_likelihood"].values, chains))
        last = np.array(
            [row[np.isfinite(row)][-1] if np.isfinite(row).any() else np.nan for row in lml]
        )
        data["log_marginal_likelihood"] = (("chain",), last)
    attrs = {k: v for k, v in stats.attrs.items() if isinstance(v, int | float | str)}
    return xr.Dataset(data, coords={"chain": chain, "stage": np.arange(beta.shape[1])}, attrs=attrs)


@contextlib.contextmanager
def _prior_start(model):
    """Clear custom initial values while SMC runs (PyMC starts every particle at them)."""
    saved = dict(model.rvs_to_initial_values)
    for rv in model.free_RVs:
        model.rvs_to_initial_values[rv] = None
    try:
        yield
    finally:
        model.rvs_to_initial_values.update(saved)


def sample_smc(
    model=None,
    *,
    draws: int = 2000,
    chains: int = 4,
    random_seed,
    cores: int | None = 1,
    progressbar: bool = False,
    blas_threads: int | None = 1,
    **kwargs,
):
    """Sample a posterior with Sequential Monte Carlo and return an ArviZ DataTree.

    Parameters
    ----------
    model : pymc.Model, optional
        The model (default: the model in context).
    draws : int
        Particles per chain (also the number of kept draws per chain).
    chains : int
        Independent SMC runs (their spread estimates the Monte Carlo error).
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Required: the same seed gives the same draws.
    cores : int or None
        Processes for the chains (default 1; ``None`` lets PyMC choose).
    progressbar : bool
        Show progress.
    blas_threads : int or None
        Threads each BLAS call may use while the chains run in this process (default 1:
        :mod:`bayesinv.inference._threads`; chains in other processes, ``cores > 1``, are
        not limited); ``None`` leaves BLAS as it is.
    **kwargs
        Passed to :func:`pymc.sample_smc` (e.g. ``kernel``, ``threshold``,
        ``correlation_threshold``).

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``sample_stats`` (``beta`` and ``accept_rate`` per
        ``(chain, stage)``, ``n_stages`` and ``log_marginal_likelihood`` per chain) and
        ``observed_data``; root attrs ``inference`` and ``random_seed``.

    Notes
    -----
    The model is compiled with PyTensor's numba backend, so forward operators with numba
    kernels run compiled. A NaN log-likelihood (an operator's answer to a model it cannot
    simulate, e.g. beyond a wave scheme's stability limit) counts as zero likelihood: such
    particles get zero weight and such proposals are rejected (PyMC's ``IMH`` and ``MH``
    kernels; a NaN would otherwise make the importance-weight ESS NaN and stop the run).
    The particles start from the prior, whatever initial values the model's variables
    carry (PyMC would start every particle at them). R-hat across SMC chains is meaningful
    (independent runs); ESS within a chain is not, since particles are resampled.
    """
    import pymc as pm

    draws = _checks.check_int(draws, "sample_smc", "draws", low=1)
    chains = _checks.check_int(chains, "sample_smc", "chains", low=1)
    seed = _seeds.as_int(random_seed, "sample_smc")
    model = pm.modelcontext(model)
    _progress.stage(f"SMC ({chains} chains)")
    from bayesinv.inference._smc_kernels import nan_rejecting

    kwargs.setdefault("compile_kwargs", {"mode": "NUMBA"})
    kwargs["kernel"] = nan_rejecting(kwargs.get("kernel", pm.smc.kernels.IMH))
    with blas_limit(blas_threads, "sample_smc"), _prior_start(model):
        idata = pm.sample_smc(
            draws=int(draws),
            chains=int(chains),
            random_seed=seed,
            cores=cores,
            progressbar=progressbar,
            model=model,
            compute_convergence_checks=False,
            **kwargs,
        )
    idata["sample_stats"] = xr.DataTree(_tidy_stats(idata["sample_stats"].to_dataset(), chains))
    idata.attrs["inference"] = "smc"
    idata.attrs["random_seed"] = seed
    return idata
