r"""The joint inversion with the field and the discrepancy integrated out exactly.

When every field that reaches the data has a Gaussian prior with fixed hyperparameters,
:math:`m_f = \bar m_f + B_f z_f` with :math:`z_f \sim N(0, I)`, every operator is linear, every
likelihood normal and no coupling acts on the fields, the stacked data of all modalities are
Gaussian given the remaining parameters θ (noise scales, discrepancy η and ℓ, offsets,
coregionalization weights):

.. math::

    d = μ(θ) + A z + δ + ε, \qquad A = [G_k B_{f(k)}]_{k, f}, \qquad
    d \mid θ \sim N\big(μ(θ),\; C(θ)\big), \quad C = A A^T + D(θ) + Σ(θ),

with :math:`μ = G \bar m` plus offsets, :math:`D` the discrepancy covariance (each modality's
own GP, block-diagonal, plus any cross-modal GP) and :math:`Σ` the noise covariance. NUTS then
samples θ only (:func:`add_marginal`, one observed variable per modality through the chain of
Gaussian conditionals of :mod:`._coregional_model`). Given θ, the field's latent vector and
δ are jointly Gaussian; :func:`recover` draws them exactly with Matheron's rule (pathwise
conditioning):

.. math::

    z = z_0 + A^T v, \quad δ = δ_0 + D v, \quad
    v = C^{-1}(d - μ - A z_0 - δ_0 - ε_0), \qquad
    z_0 \sim N(0, I),\ δ_0 \sim N(0, D),\ ε_0 \sim N(0, Σ),

which has the conditional mean :math:`(A^T, D)\, C^{-1}(d - μ)` and the conditional
covariance :math:`P - P H^T C^{-1} H P` of :math:`(z, δ)`, with :math:`P = \mathrm{diag}(I, D)`
and :math:`H = (A, I)`. The field is then :math:`m_f = \bar m_f + B_f z_f`.

Cost: a dense ``N x N`` Cholesky factor per gradient (``N`` stacked data), the same as
``Discrepancy(method="exact")``; the discrepancy always uses its exact covariance here
(``method=`` is not used: the HSGP is an approximation of the same prior).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesinv import _seeds

__all__ = ["MARGINAL_MAX_DATA", "FieldMap", "MarginalPlan", "add_marginal", "recover"]

#: largest number of stacked data of a marginalised model (one dense factor per gradient)
MARGINAL_MAX_DATA = 2000

_WHERE = "JointInversion(marginalize=True)"


@dataclass
class FieldMap:
    """A field's affine map from its standard-normal latents: ``m = mean + basis @ z``."""

    name: str
    latents: list  # (variable name, shape, dims)
    mean: np.ndarray
    basis: np.ndarray
    dims: tuple
    coords: dict


@dataclass
class MarginalPlan:
    """What :func:`add_marginal` added: the maps, the design ``A`` and the Gaussian's parts."""

    fields: dict
    modalities: list
    edges: np.ndarray
    columns: dict  # field name -> slice of z
    design: np.ndarray
    observed: np.ndarray
    mean: object
    noise: object
    disc: object
    has_disc: list


def _standard_normal(rv) -> bool:
    import pytensor.tensor as pt
    from pytensor.tensor.random.basic import NormalRV

    if not isinstance(rv.owner.op, NormalRV):
        return False
    try:
        mu, sigma = (pt.get_underlying_scalar_constant_value(v) for v in rv.owner.inputs[-2:])
    except pt.exceptions.NotScalarConstantError:
        return False
    return float(mu) == 0.0 and float(sigma) == 1.0


def field_map(field) -> FieldMap:
    """Build ``field`` in a scratch model and return its affine map from latent z-scores.

    Parameters
    ----------
    field : Field
        A declared field.

    Returns
    -------
    FieldMap

    Raises
    ------
    ValueError
        If the prior has a variable that is not a standard normal latent (a hyperprior,
        Laplace or Student-t coefficients), or if the field is not affine in its latents.
    """
    import pymc as pm
    import pytensor

    prior = type(field.prior).__name__
    with pm.Model(model=None) as scratch:  # a root model, not a child of the context
        flat = field.add_to_model(model=scratch)
    for rv in scratch.free_RVs:
        if not _standard_normal(rv):
            raise ValueError(
                f"{_WHERE}: field {field.name!r} ({prior}) has variable {rv.name!r}, which is "
                "not a standard normal latent; marginalizing needs a Gaussian prior with fixed "
                "hyperparameters (IIDNormal, MaternPrior with numbers, BesovPrior with p=2 and "
                "no heavy tail)"
            )
    if scratch.potentials:
        raise ValueError(f"{_WHERE}: field {field.name!r} ({prior}) adds potentials")
    rvs = list(scratch.free_RVs)
    shapes = [tuple(int(s) for s in rv.shape.eval()) for rv in rvs]
    sizes = [int(np.prod(s)) for s in shapes]
    fn = pytensor.function(rvs, flat, on_unused_input="ignore")

    def at(z):
        parts = np.split(z, np.cumsum(sizes)[:-1])
        return np.asarray(fn(*(p.reshape(s) for p, s in zip(parts, shapes, strict=True))))

    p = sum(sizes)
    mean = at(np.zeros(p))
    basis = np.stack([at(e) - mean for e in np.eye(p)], axis=1)
    probe = 3.0 * np.sin(np.arange(1.0, p + 1.0))  # deterministic probe of affinity
    scale = np.abs(mean).max() + 3.0 * np.abs(basis).sum(axis=1).max()  # size of the terms
    if not np.allclose(at(probe), mean + basis @ probe, rtol=1e-8, atol=1e-10 * scale):
        raise ValueError(
            f"{_WHERE}: field {field.name!r} ({prior}) is not an affine function of its "
            "latent variables; marginalizing needs a Gaussian prior"
        )
    dims = scratch.named_vars_to_dims
    latents = [(rv.name, s, dims.get(rv.name)) for rv, s in zip(rvs, shapes, strict=True)]
    coords = {k: np.asarray(v) for k, v in scratch.coords.items() if v is not None}
    return FieldMap(field.name, latents, mean, basis, dims.get(field.name), coords)


def _check(inv) -> None:
    if inv.couplings:
        names = [type(c).__name__ for c in inv.couplings]
        raise ValueError(
            f"{_WHERE}: couplings {names} act on the fields; the marginal is Gaussian only "
            "without couplings"
        )
    total = 0
    for mod in inv.modalities.values():
        if mod.likelihood != "normal":
            raise ValueError(
                f"{_WHERE}: modality {mod.name!r} has likelihood={mod.likelihood!r}; "
                "marginalizing needs 'normal'"
            )
        if not mod.operator.linear:
            raise ValueError(
                f"{_WHERE}: modality {mod.name!r} has the nonlinear operator "
                f"{mod.operator.name}; marginalizing needs linear physics"
            )
        total += mod.used.size
    if total > MARGINAL_MAX_DATA:
        raise ValueError(
            f"{_WHERE}: {total} data in total; the marginal's dense covariance is built for at "
            f"most {MARGINAL_MAX_DATA} (use the unmarginalised model)"
        )


def _design(inv, maps, mods) -> tuple[np.ndarray, dict]:
    """Return ``A`` (rows: used data of each modality; columns: latents of each field)."""
    offsets = np.cumsum([0] + [m.basis.shape[1] for m in maps.values()])
    columns = {f: slice(offsets[i], offsets[i + 1]) for i, f in enumerate(maps)}
    blocks = []
    for mod in mods:
        fmap = maps[inv._field_of(mod)]
        cols = np.stack([mod.operator.forward(b) for b in fmap.basis.T], axis=1)[mod.used]
        probe = np.cos(np.arange(1.0, fmap.basis.shape[1] + 1.0))
        lin = mod.operator.forward(fmap.mean + fmap.basis @ probe)[mod.used]
        ref = mod.operator.forward(fmap.mean)[mod.used] + cols @ probe
        if not np.allclose(lin, ref, rtol=1e-8, atol=1e-10 * (np.abs(ref).max() or 1.0)):
            raise ValueError(
                f"{_WHERE}: modality {mod.name!r}: operator {mod.operator.name} says it is "
                "linear but forward(m̄ + B z) differs from forward(m̄) + (G B) z"
            )
        row = np.zeros((mod.used.size, offsets[-1]))
        row[:, columns[inv._field_of(mod)]] = cols
        blocks.append(row)
    return np.concatenate(blocks, axis=0), columns


def add_marginal(inv, model) -> MarginalPlan:
    """Add the marginal likelihood of ``inv``'s modalities to ``model`` (θ only).

    Parameters
    ----------
    inv : JointInversion
        A checked joint inversion (fields, modalities, cross-modal discrepancies).
    model : pymc.Model
        The model to add to.

    Returns
    -------
    MarginalPlan

    Raises
    ------
    ValueError
        Naming the coupling, modality, operator or field prior that makes the marginal
        non-Gaussian, or when the stacked data exceed :data:`MARGINAL_MAX_DATA`.
    """
    import pytensor.tensor as pt

    from bayesinv.model.discrepancy._coregional_model import joint_blocks, observe_chain

    _check(inv)
    mods = list(inv.modalities.values())
    used_fields = dict.fromkeys(inv._field_of(m) for m in mods)
    maps = {f: field_map(inv.fields[f]) for f in used_fields}
    design, columns = _design(inv, maps, mods)
    edges = np.concatenate([[0], np.cumsum([m.used.size for m in mods])])
    with model:
        vectors = {m.name: pt.constant(maps[inv._field_of(m)].mean) for m in mods}
        blocks = joint_blocks(mods, vectors, model)
        cross = pt.zeros((edges[-1], edges[-1]))
        index = {m.name: k for k, m in enumerate(mods)}
        in_cross = set()
        for term in inv.cross_discrepancies:
            term_mods = [inv.modalities[m] for m in term.modalities]
            xs = term.shared_coords({m.name: m.coords[m.used] for m in term_mods})
            shared = term._shared_covariance(
                xs, [blocks[index[m.name]].observed for m in term_mods]
            )
            rows = np.concatenate(
                [np.arange(*edges[index[m] : index[m] + 2]) for m in term.modalities]
            )
            cross = pt.set_subtensor(cross[np.ix_(rows, rows)], shared)
            in_cross.update(term.modalities)
        observe_chain(mods, blocks, cross + pt.constant(design @ design.T))
    zero = [pt.zeros((b.observed.size, b.observed.size)) for b in blocks]
    return MarginalPlan(
        fields=maps,
        modalities=mods,
        edges=edges,
        columns=columns,
        design=design,
        observed=np.concatenate([b.observed for b in blocks]),
        mean=pt.concatenate([b.predicted for b in blocks]),
        noise=pt.linalg.block_diag(*[b.noise for b in blocks]),
        disc=pt.linalg.block_diag(
            *[b.disc if b.disc is not None else z for b, z in zip(blocks, zero, strict=True)]
        )
        + cross,
        has_disc=[m.discrepancy is not None or m.name in in_cross for m in mods],
    )


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    """Return ``R`` with ``R Rᵀ = S`` for a symmetric positive semi-definite ``S``."""
    # diagonal: its sqrt; else Cholesky of S + 1e-12 mean(diag S) I (singular S under the
    # projection guard); eigh (~30x the cost) only if that fails
    s = 0.5 * (s + s.T)
    if np.count_nonzero(s - np.diag(np.diag(s))) == 0:
        return np.diag(np.sqrt(np.clip(np.diag(s), 0.0, None)))
    jitter = 1e-12 * max(float(np.mean(np.diag(s))), 1e-300)
    try:
        return np.linalg.cholesky(s + jitter * np.eye(s.shape[0]))
    except np.linalg.LinAlgError:
        w, u = np.linalg.eigh(s)
        return u * np.sqrt(np.clip(w, 0.0, None))


def conditional_draw(residual, design, noise, disc, rng) -> tuple[np.ndarray, np.ndarray]:
    r"""Draw ``(z, δ)`` from their Gaussian conditional given the data (Matheron's rule).

    Parameters
    ----------
    residual : numpy.ndarray
        ``(N,)`` residual :math:`d - μ` of the stacked data.
    design : numpy.ndarray
        ``(N, P)`` matrix :math:`A` (latent z-scores to data).
    noise, disc : numpy.ndarray
        ``(N, N)`` noise covariance :math:`Σ` and discrepancy covariance :math:`D`.
    rng : numpy.random.Generator
        Random numbers (consumed in the order z₀, δ₀, ε₀).

    Returns
    -------
    tuple of numpy.ndarray
        ``z`` (``P``) and ``δ`` (``N``).

    Notes
    -----
    See the module docstring: :math:`z = z_0 + A^T v`, :math:`δ = δ_0 + D v`,
    :math:`v = C^{-1}(r - A z_0 - δ_0 - ε_0)`, :math:`C = A A^T + D + Σ`.
    """
    from scipy import linalg

    n, p = design.shape
    z0 = rng.standard_normal(p)
    d0 = _sqrt_psd(disc) @ rng.standard_normal(n)
    e0 = _sqrt_psd(noise) @ rng.standard_normal(n)
    factor = linalg.cho_factor(design @ design.T + disc + noise, lower=True)
    v = linalg.cho_solve(factor, residual - design @ z0 - d0 - e0)
    return z0 + design.T @ v, d0 + disc @ v


def _field_arrays(fmap: FieldMap, grid, z: np.ndarray) -> dict:
    """Posterior arrays of a field's latents and of the field from ``z`` (chain, draw, P)."""
    import xarray as xr

    out, start = {}, 0
    lead = z.shape[:2]
    for name, shape, dims in fmap.latents:
        size = int(np.prod(shape))
        values = z[..., start : start + size].reshape(*lead, *shape)
        dims = dims or tuple(f"{name}_dim_{i}" for i in range(len(shape)))
        coords = {d: fmap.coords[d] for d in dims if d in fmap.coords}
        out[name] = xr.DataArray(values, dims=("chain", "draw", *dims), coords=coords)
        start += size
    m = fmap.mean + z @ fmap.basis.T
    dims = fmap.dims or (f"{fmap.name}_dim_0",)
    shape = grid.shape if len(dims) == 2 else (m.shape[-1],)
    coords = {d: fmap.coords[d] for d in dims if d in fmap.coords}
    out[fmap.name] = xr.DataArray(
        m.reshape(*lead, *shape), dims=("chain", "draw", *dims), coords=coords
    )
    return out


def recover(inv, idata, *, random_seed):
    """Add posterior draws of the fields and discrepancies to a marginalised model's result.

    Parameters
    ----------
    inv : JointInversion
        The joint inversion whose ``build(marginalize=True)`` model was sampled.
    idata : xarray.DataTree
        The sampling result (its ``posterior`` holds the marginal model's variables).
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Seed of the conditional draws.

    Returns
    -------
    xarray.DataTree
        ``idata`` with, in ``posterior``, each field's latent variables and the field (the
        names and dims of the unmarginalised model) and ``{modality}_discrepancy`` (δ at the
        used data, own plus cross-modal) for each modality with a discrepancy: one exact
        conditional draw per posterior draw.
    """
    import pymc as pm
    import pytensor
    import xarray as xr

    where = "JointInversion.recover_marginals"
    rng = _seeds.as_generator(random_seed, where, "random_seed")
    with pm.Model() as model:
        plan = add_marginal(inv, model)
    rvs = list(model.free_RVs)
    if "posterior" not in idata.children:
        raise ValueError(f"{where}: idata has no posterior group")
    post = idata["posterior"].to_dataset()
    missing = [rv.name for rv in rvs if rv.name not in post]
    if missing:
        raise ValueError(
            f"{where}: the posterior lacks {missing}; pass the result of sampling "
            "build(marginalize=True) of this joint inversion"
        )
    fn = pytensor.function(rvs, [plan.mean, plan.noise, plan.disc], on_unused_input="ignore")
    values = [post[rv.name].values for rv in rvs]
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    z = np.empty((n_chain, n_draw, plan.design.shape[1]))
    delta = np.empty((n_chain, n_draw, plan.design.shape[0]))
    for c in range(n_chain):
        for d in range(n_draw):
            mu, noise, disc = fn(*(v[c, d] for v in values))
            z[c, d], delta[c, d] = conditional_draw(
                plan.observed - mu, plan.design, noise, disc, rng
            )
    new = {}
    for name, fmap in plan.fields.items():
        new |= _field_arrays(fmap, inv.fields[name].grid, z[..., plan.columns[name]])
    for k, mod in enumerate(plan.modalities):
        if plan.has_disc[k]:
            new[f"{mod.name}_discrepancy"] = xr.DataArray(
                delta[..., plan.edges[k] : plan.edges[k + 1]],
                dims=("chain", "draw", mod.obs_dim),
                coords={mod.obs_dim: mod.used},
            )
    idata["posterior"] = xr.DataTree(post.assign(new))
    return idata
