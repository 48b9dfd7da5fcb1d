r"""Scale-aware priors for fields, added to the current :class:`pymc.Model`.

Each prior adds a standardised latent vector (standard normal, standard Laplace, ...) and
builds the field from it in non-centred form, ``m = P (scale ⊙ latent)``, so NUTS sees
well-conditioned, nearly independent coordinates whatever the hyperparameters are:

- :func:`besov_prior`: wavelet coefficients with level-dependent scales (Besov
  :math:`B^s_{pp}` priors, Gaussian for ``p = 2``, Laplace for ``p = 1``, optionally
  heavy-tailed), discretisation invariant when the smoothness is large enough;
- :func:`matern_prior`: a Gaussian random field with Matérn covariance on a (coarse)
  grid, optionally prolonged to a finer grid, with optional hyperpriors on variance and
  length scale.

The mean and transform helpers (:func:`field_mean`, :func:`positive_transform`,
:func:`bounded_transform`) live in :mod:`bayesinv.model.transforms` and are re-exported here.
The prior specs that a :class:`~bayesinv.model.fields.Field` takes (``IIDNormal``,
``BesovPrior``, ``MaternPrior``) are in :mod:`bayesinv.model.fields` and call these functions.

Every prior registers the field as ``pm.Deterministic(name, ...)`` (flat, or with named
dims) and returns it as a flat PyTensor vector in C order, ready for a forward operator.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayesinv._checks import check_choice, check_float, check_positive
from bayesinv.grid import Grid1D, Grid2D
from bayesinv.model._priors_common import add_mean, latent_dims, positive_scalar, register_field

# re-exported for code written against bayesinv 0.1 (their home is bayesinv.model.transforms)
from bayesinv.model.transforms import bounded_transform, field_mean, positive_transform  # noqa: F401
from bayesinv.multiscale.prolongation import Prolongation
from bayesinv.multiscale.wavelet import WaveletField
from bayesinv.ops import ForwardOp

__all__ = [
    "HEAVY_TAILS",
    "MATERN_NU",
    "besov_level_scales",
    "besov_prior",
    "matern_correlation",
    "matern_prior",
]

#: latent laws accepted by :func:`besov_prior` as ``heavy_tail``
HEAVY_TAILS = (None, "student_t", "horseshoe")
#: smoothness values accepted by :func:`matern_prior`
MATERN_NU = (0.5, 1.5, 2.5)


# --- Besov -------------------------------------------------------------------------------------
def besov_level_scales(
    wavelet_field: WaveletField, s: float, p: int = 2, reference_length: float | None = None
) -> np.ndarray:
    r"""Return the standard-deviation factor of every coefficient of a Besov prior (scale 1).

    Parameters
    ----------
    wavelet_field : WaveletField
        The wavelet parameterization.
    s : float
        Smoothness.
    p : {2, 1}
        Integrability: ``2`` for Gaussian, ``1`` for Laplace coefficients.
    reference_length : float, optional
        Length :math:`\ell_{ref}` (m) that sets level 0 of the continuous wavelet series; by
        default the largest extent of the grid (constant under refinement).

    Returns
    -------
    numpy.ndarray
        Factor :math:`\gamma_j` per coefficient (see :func:`besov_prior`).
    """
    if not isinstance(wavelet_field, WaveletField):
        raise ValueError(
            f"besov_prior: wavelet_field must be a WaveletField, got {type(wavelet_field).__name__}"
        )
    check_choice(p, "besov_prior", "p", (2, 1))
    s = check_positive(s, "besov_prior", "s")
    grid = wavelet_field.grid
    d = wavelet_field.dim
    cell = grid.dz if d == 1 else grid.dx * grid.dz
    if reference_length is None:
        reference_length = (
            grid.nz * grid.dz if d == 1 else max(grid.nx * grid.dx, grid.nz * grid.dz)
        )
    reference_length = check_positive(
        reference_length, "besov_prior", "reference_length", units="m"
    )
    exponent = s + d / 2 - d / p
    gamma = np.empty(wavelet_field.n_params)
    for j, sl in enumerate(wavelet_field.level_slices()):
        h = float(np.prod(wavelet_field.level_cell_size(j))) ** (1.0 / d)
        gamma[sl] = np.sqrt(reference_length**d / cell) * (h / reference_length) ** exponent
    return gamma


def besov_prior(
    name: str,
    wavelet_field: WaveletField,
    s: float,
    p: int = 2,
    scale=1.0,
    heavy_tail: str | None = None,
    *,
    nu: float = 3.0,
    reference_length: float | None = None,
    max_level: int | None = None,
    mean=0.0,
    dims=None,
    model: pm.Model | None = None,
):
    r"""Add a Besov-type wavelet prior on a field to the current model.

    Parameters
    ----------
    name : str
        Name of the field; adds ``"{name}_raw"`` (standardised coefficients), with
        ``heavy_tail="horseshoe"`` also ``"{name}_lambda"``, and the deterministic field
        ``name``.
    wavelet_field : WaveletField
        Orthonormal wavelet synthesis ``m = W θ`` on the field's grid.
    s : float
        Smoothness. The point variance converges under grid refinement only for
        :math:`s > d/2` (``p = 2``) or :math:`s > d` (``p = 1``), with ``d`` the grid
        dimension; choose e.g. ``s = 2`` (p = 2) or ``s = 3`` (p = 1) in 2-D.
    p : {2, 1}
        ``2``: Gaussian coefficients; ``1``: Laplace coefficients (sparsity-promoting, edge
        preserving).
    scale : float or TensorVariable
        Overall scale :math:`\kappa` (field units), a number or a positive PyMC variable.
    heavy_tail : {None, "student_t", "horseshoe"}
        Replace the latent law by a Student-t with ``nu`` degrees of freedom, or by a
        horseshoe :math:`λ_k z_k` with :math:`λ_k \sim C^+(0, 1)`, :math:`z_k \sim N(0, 1)`.
        The level exponent still uses ``p``.
    nu : float
        Degrees of freedom for ``heavy_tail="student_t"``.
    reference_length : float, optional
        Reference length :math:`\ell_{ref}` (m); default: the largest extent of the grid.
    max_level : int, optional
        Keep only levels ``0..max_level`` (the rest are zero): a coarse version of the same
        prior for coarse-to-fine continuation (see ``WaveletField.coarse_operator``).
    mean : float, array_like or TensorVariable
        Mean added to the field before it is registered: a number, a vector with one
        value per (fine) cell (e.g. from :func:`field_mean`), or a PyMC expression.
    dims : str or tuple of str, optional
        Dims of the registered field: one flat dim, or ``("{name}_z", "{name}_x")`` on a
        :class:`~bayesinv.Grid2D`; missing coords are added from the grid (and the latent
        vector gets the dim ``"{name}_coeff"``).
    model : pymc.Model, optional
        Defaults to the model in context.

    Returns
    -------
    TensorVariable
        The field as a flat vector of length ``grid.size`` (C order).

    Notes
    -----
    The continuous prior is the wavelet series (coordinates in units of
    :math:`\ell_{ref}`, wavelets :math:`ψ_{jk}` normalised in :math:`L^2`)

    .. math::

        f = \kappa \sum_{j, k} 2^{-j(s + d/2 - d/p)}\, ξ_{jk}\, ψ_{jk}, \qquad
        ξ_{jk} \sim N(0, 1)\ (p = 2) \ \text{or}\ \text{Laplace}(0, 1)\ (p = 1),

    whose draws lie in the Besov space :math:`B^{t}_{pp}` for :math:`t < s - d/p`
    (Lassas, Saksman & Siltanen 2009). On the grid, the orthonormal discrete wavelet
    :math:`w_{jk}` sampled at the cell centres relates to the continuous one by
    :math:`ψ_{jk}(x_i) ≈ (|c| / \ell_{ref}^d)^{-1/2}\, w_{jk}[i]`, with :math:`|c|` the cell
    area (length in 1-D), and level :math:`j` of the series has coefficient spacing
    :math:`h_j = 2^{-j} \ell_{ref}`. The discrete coefficients are therefore

    .. math::

        θ_{jk} = \kappa\, γ_j\, ξ_{jk}, \qquad
        γ_j = \Big(\frac{\ell_{ref}^d}{|c|}\Big)^{1/2}
              \Big(\frac{h_j}{\ell_{ref}}\Big)^{s + d/2 - d/p},

    where :math:`h_j` is the (geometric-mean) physical spacing of the coefficients of level
    :math:`j` (:meth:`WaveletField.level_cell_size`; the coarsest approximation uses the
    spacing of the coarsest details). A wavelet of a given physical size thus gets the same
    physical amplitude at every resolution: refining the grid only adds finer levels.
    Level :math:`j` adds about :math:`2^{-2j(s - d/p)}` to the point variance (times the
    latent variance, 1 for Gaussian, 2 for Laplace), so the added tail vanishes
    geometrically when :math:`s > d/p`. The prior is discretisation
    invariant for Haar wavelets (exactly a truncated series sampled at cell centres). For
    smoother Daubechies wavelets the discrete basis functions only approach their
    continuous limits through the cascade algorithm; region averages are invariant, but
    point variances settle only once the coarsest wavelets span many cells.
    """
    model = pm.modelcontext(model)
    gamma = besov_level_scales(wavelet_field, s, p, reference_length)
    scale = positive_scalar(scale, "besov_prior", "scale")
    check_choice(heavy_tail, "besov_prior", "heavy_tail", HEAVY_TAILS)
    op = wavelet_field
    if max_level is not None:
        op = wavelet_field.coarse_operator(max_level)
        gamma = gamma[: op.n_params]
    n = op.n_params
    ldims = latent_dims(name, n, dims, model)
    kw = {"dims": ldims} if ldims else {"shape": n}
    with model:
        if heavy_tail is None and p == 2:
            xi = pm.Normal(f"{name}_raw", 0.0, 1.0, **kw)
        elif heavy_tail is None:
            xi = pm.Laplace(f"{name}_raw", 0.0, 1.0, **kw)
        elif heavy_tail == "student_t":
            nu = positive_scalar(nu, "besov_prior", "nu")
            xi = pm.StudentT(f"{name}_raw", nu=nu, mu=0.0, sigma=1.0, **kw)
        else:
            lam = pm.HalfCauchy(f"{name}_lambda", beta=1.0, **kw)
            xi = lam * pm.Normal(f"{name}_raw", 0.0, 1.0, **kw)
    theta = scale * pt.constant(gamma) * xi
    m = ForwardOp(op)(theta)
    m = add_mean(m, mean, wavelet_field.grid.size, "besov_prior")
    return register_field(name, m, wavelet_field.grid, dims, model, "besov_prior")


# --- Matérn ------------------------------------------------------------------------------------
def matern_correlation(r, nu: float):
    r"""Matérn correlation at scaled distance ``r = distance / length_scale``.

    Parameters
    ----------
    r : numpy.ndarray or TensorVariable
        Non-negative scaled distances.
    nu : {0.5, 1.5, 2.5}
        Smoothness.

    Returns
    -------
    numpy.ndarray or TensorVariable
        :math:`e^{-r}`, :math:`(1 + \sqrt3 r) e^{-\sqrt3 r}` or
        :math:`(1 + \sqrt5 r + 5r^2/3) e^{-\sqrt5 r}` (same type as ``r``).
    """
    xp = np if isinstance(r, np.ndarray | Real) else pt
    if nu == 0.5:
        return xp.exp(-r)
    if nu == 1.5:
        a = np.sqrt(3.0) * r
        return (1.0 + a) * xp.exp(-a)
    if nu == 2.5:
        a = np.sqrt(5.0) * r
        return (1.0 + a + a * a / 3.0) * xp.exp(-a)
    raise ValueError(f"matern_prior: nu must be one of {MATERN_NU}, got {nu!r}")


def _cell_points(grid) -> np.ndarray:
    if isinstance(grid, Grid1D):
        return grid.z_centers[:, None]
    return grid.cell_centers


def matern_prior(
    name: str,
    grid,
    variance,
    length_scale,
    nu: float = 1.5,
    *,
    jitter: float = 1e-6,
    mean=0.0,
    dims=None,
    model: pm.Model | None = None,
):
    r"""Add a Gaussian random field with Matérn covariance on a (coarse) grid.

    Parameters
    ----------
    name : str
        Name of the field; adds ``"{name}_raw"`` (standard normal, one per coarse cell)
        and the deterministic field ``name``.
    grid : Grid2D, Grid1D or Prolongation
        The grid carrying the random field; with a :class:`Prolongation`, the field lives on
        its coarse grid and is prolonged to its fine grid (the returned field is the fine
        one).
    variance : float or TensorVariable
        Marginal variance :math:`σ^2` (field units squared), a number or a positive PyMC
        variable.
    length_scale : float or TensorVariable
        Length scale :math:`\ell` (m), a number or a positive PyMC variable.
    nu : {0.5, 1.5, 2.5}
        Smoothness of the Matérn covariance.
    jitter : float
        Relative nugget added to the diagonal of the correlation matrix before its
        Cholesky factorisation (adds ``jitter * variance`` to every point variance).
    mean : float, array_like or TensorVariable
        Mean added to the field before it is registered: a number, a vector with one
        value per (fine) cell (e.g. from :func:`field_mean`), or a PyMC expression.
    dims : str or tuple of str, optional
        Dims of the registered (fine) field, as in :func:`besov_prior`.
    model : pymc.Model, optional
        Defaults to the model in context.

    Returns
    -------
    TensorVariable
        The field as a flat vector (C order) on the fine grid.

    Notes
    -----
    The cell values are the field at the cell centres :math:`x_i`,
    :math:`f = σ L z` with :math:`z \sim N(0, I)` and :math:`L L^T = R + ε I`,
    :math:`R_{ik} = k_ν(\|x_i - x_k\| / \ell)` (:func:`matern_correlation`). Point values
    have variance :math:`σ^2 (1 + ε)` at every resolution and region averages converge
    as midpoint quadratures of the covariance, so the prior is discretisation invariant.
    With numeric ``length_scale`` the Cholesky factor is computed once with NumPy; with a
    PyMC variable it is computed in the graph (:func:`pytensor.tensor.linalg.cholesky`,
    :math:`O(n^3)` per evaluation, NaN when the factorisation fails so that the point is
    rejected), so keep the coarse grid to a few hundred cells: a gradient costs about 2 ms
    for 128 coarse cells.
    """
    model = pm.modelcontext(model)
    prolongation = None
    if isinstance(grid, Prolongation):
        prolongation, grid = grid, grid.coarse_grid
    if not isinstance(grid, Grid2D | Grid1D):
        raise ValueError(
            "matern_prior: grid must be a Grid2D, Grid1D or Prolongation, "
            f"got {type(grid).__name__}"
        )
    check_choice(nu, "matern_prior", "nu", MATERN_NU)
    variance = positive_scalar(variance, "matern_prior", "variance")
    length_scale = positive_scalar(length_scale, "matern_prior", "length_scale")
    jitter = check_float(jitter, "matern_prior", "jitter", low=0.0)
    pts = _cell_points(grid)
    dist = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(axis=-1))
    n = grid.size
    if isinstance(length_scale, float):
        corr = matern_correlation(dist / length_scale, nu) + jitter * np.eye(n)
        try:
            chol = pt.constant(np.linalg.cholesky(corr))
        except np.linalg.LinAlgError:
            raise ValueError(
                f"matern_prior: the Matérn correlation of {n} cells (length_scale="
                f"{length_scale}, nu={nu}) is not positive definite with jitter={jitter}; "
                "increase jitter or use a coarser grid"
            ) from None
    else:
        corr = matern_correlation(pt.constant(dist) / length_scale, nu) + jitter * pt.eye(n)
        # no finiteness check (5x faster gradients in the numba backend); a failed
        # factorisation gives NaN, which samplers and optimisers reject
        chol = pt.linalg.cholesky(corr, lower=True, check_finite=False, on_error="nan")
    ldims = latent_dims(name, n, dims, model)
    kw = {"dims": ldims} if ldims else {"shape": n}
    with model:
        z = pm.Normal(f"{name}_raw", 0.0, 1.0, **kw)
    sd = np.sqrt(variance) if isinstance(variance, float) else pt.sqrt(variance)
    m = sd * pt.dot(chol, z)
    if prolongation is not None:
        m = ForwardOp(prolongation)(m)
        grid = prolongation.fine_grid
    m = add_mean(m, mean, grid.size, "matern_prior")
    return register_field(name, m, grid, dims, model, "matern_prior")
