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

import numpy as np
import xarray as xr

from bayesinv import _checks, _progress, _seeds

__all__ = ["sample_smc"]


def _ragged(values) -> np.ndarray:
    """(chain, stage) float array from a per-chain list of per-stage values, NaN-padded."""
    rows = [np.asarray(list(np.ravel(v)), dtype=float) for v in values]
    width = max(r.size for r in rows)
    out = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        out[i, : r.size] = r
    return out


def _tidy_stats(stats: xr.Dataset) -> xr.Dataset:
    chain = stats["chain"].values
    beta = _ragged(stats["beta"].values)
    n_stages = np.sum(np.isfinite(beta), axis=1).astype(np.int64)
    data = {
        "beta": (("chain", "stage"), beta),
        "n_stages": (("chain",), n_stages),
    }
    if "accept_rate" in stats:
        data["accept_rate"] = (("chain", "stage"), _ragged(stats["accept_rate"].values))
    if "log_marginal_likelihood" in stats:
        lml = _ragged(stats["log_marginal_likelihood"].values)
        last = np.array(
            [row[np.isfinite(row)][-1] if np.isfinite(row).any() else np.nan for row in lml]
        )
        data["log_marginal_likelihood"] = (("chain",), last)
    attrs = {k: v for k, v in stats.attrs.items() if isinstance(v, int | float | str)}
    return xr.Dataset(data, coords={"chain": chain, "stage": np.arange(beta.shape[1])}, attrs=attrs)


def sample_smc(
    model=None,
    *,
    draws: int = 2000,
    chains: int = 4,
    random_seed,
    cores: int | None = 1,
    progressbar: bool = False,
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
    kernels run compiled. R-hat across SMC chains is meaningful (independent runs); ESS
    within a chain is not, since particles are resampled.
    """
    import pymc as pm

    draws = _checks.check_int(draws, "sample_smc", "draws", low=1)
    chains = _checks.check_int(chains, "sample_smc", "chains", low=1)
    seed = _seeds.as_int(random_seed, "sample_smc")
    model = pm.modelcontext(model)
    _progress.stage(f"SMC ({chains} chains)")
    kwargs.setdefault("compile_kwargs", {"mode": "NUMBA"})
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
    idata["sample_stats"] = xr.DataTree(_tidy_stats(idata["sample_stats"].to_dataset()))
    idata.attrs["inference"] = "smc"
    idata.attrs["random_seed"] = seed
    return idata
