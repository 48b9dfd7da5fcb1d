r"""PyMC terms of the cross-modal discrepancy: per-modality blocks and the chained likelihood.

The stacked data :math:`d = (d_1, \dots, d_K)` with joint covariance :math:`C` are observed as
the chain :math:`p(d_1) \prod_{k>1} p(d_k \mid d_{<k})` with the Gaussian conditionals

.. math::

    d_k \mid d_{<k} \sim N\big(μ_k + C_{k,<k} C_{<k,<k}^{-1}(d_{<k} - μ_{<k}),\;
    C_{kk} - C_{k,<k} C_{<k,<k}^{-1} C_{<k,k}\big),

whose product is :math:`N(d; μ, C)` exactly, and which keeps one observed variable per
modality (its name and data dim unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesinv.model.noise import typical_sd

__all__ = ["Block", "joint_blocks", "observe_chain"]


@dataclass
class Block:
    """One modality's prediction, data and covariance (noise + its own discrepancy).

    ``noise`` and ``disc`` are the two parts of ``cov`` (``disc`` is ``None`` without a
    discrepancy of its own); the marginalised model draws δ from them.
    """

    predicted: object
    observed: np.ndarray
    cov: object
    noise: object = None
    disc: object = None


def joint_blocks(mods, field_vectors, model) -> list:
    """Add each modality's coordinates, offsets, noise and own discrepancy; return its block.

    Parameters
    ----------
    mods : list of Modality
        The coupled modalities.
    field_vectors : dict of str to TensorVariable
        Flat field input of each modality.
    model : pymc.Model
        The model (in context).

    Returns
    -------
    list of Block
    """
    import pytensor.tensor as pt

    blocks = []
    for mod in mods:
        # the same terms, under the same names, as Modality.add_to_model adds them
        name, used, dim = mod.name, mod.used, mod.obs_dim
        predicted, observed, kind, noise = mod.add_prediction(field_vectors[name], model=model)
        cov = pt.diag(pt.as_tensor(noise) ** 2 * pt.ones(used.size)) if kind == "sd" else noise
        noise_cov, k = cov, None
        if mod.discrepancy is not None:
            _, k = mod.discrepancy.add_to_model(
                name,
                mod.coords[used],
                float(np.std(observed)) or 1.0,
                method="exact",
                dims=dim,
                noise_scale=typical_sd(noise) if kind == "sd" else None,  # as Modality does
                operator=mod.operator,
                used=used,
                model=model,
            )
            cov = cov + k
        blocks.append(Block(predicted, observed, cov, noise_cov, k))
    return blocks


def observe_chain(mods, blocks, shared) -> dict:
    """Observe the modalities as the chain of Gaussian conditionals of ``N(μ, C)``.

    Parameters
    ----------
    mods : list of Modality
        The coupled modalities (same order as ``blocks``).
    blocks : list of Block
        Their predictions, data and own covariances.
    shared : TensorVariable
        ``(n, n)`` shared (cross-modal) covariance of the stacked data.

    Returns
    -------
    dict of str to TensorVariable
        The observed variable of each modality.
    """
    import pymc as pm
    import pytensor.tensor as pt

    sizes = [b.observed.size for b in blocks]
    edges = np.concatenate([[0], np.cumsum(sizes)])
    out, prev_resid = {}, []
    for k, (mod, block) in enumerate(zip(mods, blocks, strict=True)):
        lo, hi = edges[k], edges[k + 1]
        ckk = block.cov + shared[lo:hi, lo:hi]
        mu = block.predicted
        if k:
            past = _past_covariance(blocks[:k], shared[:lo, :lo])
            chol = pt.linalg.cholesky(past, lower=True)
            ckp = shared[lo:hi, :lo]  # own covariances are block-diagonal: no cross term
            w = pt.linalg.solve_triangular(chol, ckp.T, lower=True)  # L⁻¹ C_pk
            r = pt.linalg.solve_triangular(chol, pt.concatenate(prev_resid), lower=True)
            mu = mu + w.T @ r
            ckk = ckk - w.T @ w
            ckk = 0.5 * (ckk + ckk.T)
        obs = pm.MvNormal(mod.name, mu=mu, cov=ckk, observed=block.observed, dims=mod.obs_dim)
        out[mod.name] = obs
        prev_resid.append(obs - block.predicted)
    return out


def _past_covariance(blocks, shared):
    import pytensor.tensor as pt

    sizes = [b.observed.size for b in blocks]
    own = pt.zeros((sum(sizes), sum(sizes)))
    start = 0
    for b, n in zip(blocks, sizes, strict=True):
        own = pt.set_subtensor(own[start : start + n, start : start + n], b.cov)
        start += n
    return own + shared
