r"""Cross-modal discrepancy: a linear model of coregionalization over modalities.

A shared cause of model error (an unmodelled body, a regional field, a mis-located line) makes
the errors of several modalities that share a coordinate (station position for gravity and
magnetics) correlated. With :math:`Q` latent functions, each with its own kernel,

.. math::

    δ_k(x) = \sum_{q=1}^{Q} a_{kq} f_q(x), \qquad f_q \sim \mathcal{GP}(0, κ(\cdot, \cdot; ℓ_q)),
    \qquad \operatorname{Cov}(δ_k(x), δ_l(x')) = \sum_q a_{kq} a_{lq}\, κ(x, x'; ℓ_q),

the linear model of coregionalization (LMC; Journel & Huijbregts 1978, Álvarez et al. 2012).
Each latent function has its own coregionalization vector :math:`a_q` and its own length
scale :math:`ℓ_q`: the coregionalization matrix of latent :math:`q` is the rank-one
:math:`a_q a_q^T`, and the data's cross-covariance is the sum over :math:`q` (reusing one
matrix :math:`B` for every kernel would force all latents to share one correlation
structure, the known pitfall of the intrinsic model).

With a Gaussian likelihood the latents are integrated out exactly: the stacked data of the
modalities are :math:`d \sim N(μ, C)`, :math:`C = \operatorname{blockdiag}(Σ_k + K_k) + S`,
:math:`S_{ij} = \sum_q a_{k(i)q}\, a_{k(j)q}\, κ(x_i, x_j; ℓ_q)` (:math:`K_k`: the
modality's own, independent discrepancy, if any). The joint density is written as the chain
:math:`p(d_1)\, p(d_2 \mid d_1) \cdots`, one Gaussian observed variable per modality under the
modality's own name, so per-modality names and dims stay as without the term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesinv._checks import check_choice, check_int, check_positive
from bayesinv.model.discrepancy._priors import (
    TAIL,
    geometry_ranges,
    invgamma_from_tails,
    positive_pair,
)

__all__ = ["CrossModalDiscrepancy", "coregional_covariance"]

#: largest total number of data the exact joint covariance is built for
EXACT_MAX_TOTAL = 600

_KERNELS = {"matern32": "Matern32", "matern52": "Matern52", "expquad": "ExpQuad"}


@dataclass(frozen=True)
class CrossModalDiscrepancy:
    r"""Coregionalized discrepancy shared by modalities with a common coordinate.

    Parameters
    ----------
    modalities : tuple of str
        Names of two or more declared modalities (Gaussian likelihood).
    coordinate : int or tuple of int, optional
        Columns of the modalities' ``coords`` that are the shared coordinate (e.g. ``0`` for
        station x); by default all columns. Every modality must have the same number of them.
    n_latent : int
        Number :math:`Q` of latent functions, each with its own length scale and its own
        coregionalization vector :math:`a_q`.
    kernel : {"matern32", "matern52", "expquad"} or tuple of them
        Kernel of every latent, or one per latent.
    lengthscale : tuple of float, optional
        Range ``(low, high)`` of the length-scale prior (inverse-gamma, 1% in each tail); by
        default the identifiable range of the pooled stations (smallest spacing to extent).
    amplitude : tuple of float, optional
        Scale of the normal prior on :math:`a_{kq}`, one per modality; by default twice the
        standard deviation of each modality's data.
    name : str, optional
        Prefix of the variables; default the modality names joined by ``"_"``.

    Notes
    -----
    Variables: ``{name}_coregional_lengthscale`` (:math:`Q`), ``{name}_coregional_weights``
    (:math:`a`, shape ``(Q, K)``, normal priors: the sign of :math:`a_q` as a whole is not
    identified, the signs of the products :math:`a_{kq} a_{lq}` are) and the deterministic
    ``{name}_coregional_correlation``, the :math:`K \times K` correlation of the modalities'
    discrepancies at zero distance,
    :math:`ρ_{kl} = \sum_q a_{kq} a_{lq} / \sqrt{\sum_q a_{kq}^2 \sum_q a_{lq}^2}`.

    The joint covariance is dense, :math:`O(n^3)` per gradient in the total number of data,
    so the term is built for at most :data:`EXACT_MAX_TOTAL` data.

    Examples
    --------
    >>> term = CrossModalDiscrepancy(("gravity", "magnetics"), coordinate=0)
    >>> term.n_latent
    1
    """

    modalities: tuple = ()
    coordinate: object = None
    n_latent: int = 1
    kernel: object = "matern52"
    lengthscale: object = None
    amplitude: object = None
    name: str | None = None

    @property
    def where(self) -> str:
        """The term's description in error messages."""
        return f"CrossModalDiscrepancy(modalities={tuple(self.modalities)!r})"

    def __post_init__(self):
        mods = self.modalities
        if isinstance(mods, str) or not all(isinstance(m, str) for m in np.atleast_1d(mods)):
            raise TypeError(
                f"CrossModalDiscrepancy: modalities must be a tuple of modality names, got {mods!r}"
            )
        object.__setattr__(self, "modalities", tuple(mods))
        where = self.where
        if len(self.modalities) < 2 or len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f"{where}: modalities must name two or more distinct modalities")
        check_int(self.n_latent, where, "n_latent", low=1)
        for k in self.kernels:
            check_choice(k, where, "kernel", sorted(_KERNELS))
        if self.lengthscale is not None:
            positive_pair(self.lengthscale, where, "lengthscale")
        if self.amplitude is not None:
            if np.ndim(self.amplitude) != 1 or len(self.amplitude) != len(self.modalities):
                raise ValueError(
                    f"{where}: amplitude must have one value per modality "
                    f"({len(self.modalities)}), got {self.amplitude!r}"
                )
            for i, a in enumerate(self.amplitude):
                check_positive(a, where, f"amplitude[{i}]")
        if self.coordinate is not None:
            cols = np.atleast_1d(self.coordinate)
            if cols.ndim != 1 or cols.size == 0 or not np.issubdtype(cols.dtype, np.integer):
                raise ValueError(
                    f"{where}: coordinate must be a column index or a tuple of them, "
                    f"got {self.coordinate!r}"
                )
            for c in cols:
                check_int(int(c), where, "coordinate", low=0)

    @property
    def kernels(self) -> tuple:
        """Kernel name of each latent function."""
        if isinstance(self.kernel, str):
            return (self.kernel,) * self.n_latent
        kernels = tuple(self.kernel)
        if len(kernels) != self.n_latent:
            raise ValueError(
                f"{self.where}: kernel must be one name or one per latent (n_latent="
                f"{self.n_latent}), got {self.kernel!r}"
            )
        return kernels

    @property
    def prefix(self) -> str:
        """Prefix of the term's variables."""
        return self.name or "_".join(self.modalities)

    def shared_coords(self, coords: dict) -> list:
        """Return the shared coordinate of each modality, checked.

        Parameters
        ----------
        coords : dict of str to numpy.ndarray
            ``(n_k, c_k)`` coordinates of the used data of each modality in ``modalities``.

        Returns
        -------
        list of numpy.ndarray
            ``(n_k, p)`` shared coordinates, in the order of ``modalities``.

        Raises
        ------
        ValueError
            If a column is missing, the modalities' coordinate dimensions differ, or their
            coordinate ranges do not overlap (no shared coordinate).
        """
        out = []
        for m in self.modalities:
            x = np.asarray(coords[m], dtype=np.float64)
            x = x[:, None] if x.ndim == 1 else x
            if self.coordinate is None:
                out.append(x)
                continue
            cols = np.atleast_1d(self.coordinate).astype(int)
            if cols.max() >= x.shape[1]:
                raise ValueError(
                    f"{self.where}: coordinate={self.coordinate!r} asks for column "
                    f"{int(cols.max())}, but modality {m!r} has coords with {x.shape[1]} "
                    "column(s)"
                )
            out.append(x[:, cols])
        dims = {m: x.shape[1] for m, x in zip(self.modalities, out, strict=True)}
        if len(set(dims.values())) != 1:
            raise ValueError(
                f"{self.where}: mismatched coordinate dimensions {dims}; pass coordinate= "
                "to select the shared columns"
            )
        lo = np.max([x.min(axis=0) for x in out], axis=0)
        hi = np.min([x.max(axis=0) for x in out], axis=0)
        if np.any(lo > hi):
            spans = {
                m: (x.min(axis=0).tolist(), x.max(axis=0).tolist())
                for m, x in zip(self.modalities, out, strict=True)
            }
            raise ValueError(
                f"{self.where}: the modalities share no coordinate: their coordinate ranges "
                f"{spans} do not overlap (coordinate={self.coordinate!r})"
            )
        return out

    def add_to_model(self, modalities: dict, field_vectors: dict, *, model=None) -> dict:
        """Add the modalities' joint likelihood with the coregionalized discrepancy.

        Parameters
        ----------
        modalities : dict of str to Modality
            The declared modalities (at least those in ``self.modalities``).
        field_vectors : dict of str to TensorVariable
            Flat field input of each modality in ``self.modalities``.
        model : pymc.Model, optional
            Defaults to the model in context.

        Returns
        -------
        dict of str to TensorVariable
            The observed variable of each modality.
        """
        import pymc as pm

        from bayesinv.model.discrepancy._coregional_model import joint_blocks, observe_chain

        missing = [m for m in self.modalities if m not in modalities]
        if missing:
            raise ValueError(
                f"{self.where}: no modality {missing}; modalities are {sorted(modalities)}"
            )
        mods = [modalities[m] for m in self.modalities]
        for mod in mods:
            if mod.likelihood != "normal":
                raise ValueError(
                    f"{self.where}: modality {mod.name!r} has likelihood={mod.likelihood!r}; "
                    "the cross-modal discrepancy is marginalised and needs 'normal'"
                )
        xs = self.shared_coords({m.name: m.coords[m.used] for m in mods})
        total = sum(x.shape[0] for x in xs)
        if total > EXACT_MAX_TOTAL:
            raise ValueError(
                f"{self.where}: {total} data in total; the exact joint covariance is built "
                f"for at most {EXACT_MAX_TOTAL}"
            )
        model = pm.modelcontext(model)
        with model:
            blocks = joint_blocks(mods, field_vectors, model)
            shared = self._shared_covariance(xs, [b.observed for b in blocks])
            return observe_chain(mods, blocks, shared)

    def _shared_covariance(self, xs, observed):
        import pymc as pm
        import pytensor.tensor as pt

        x = np.concatenate(xs, axis=0)
        keep = np.ptp(x, axis=0) > 0
        x = x[:, keep] if np.any(keep) else x
        lo, hi = (
            tuple(map(float, self.lengthscale))
            if self.lengthscale is not None
            else geometry_ranges(x)
        )
        alpha, beta = invgamma_from_tails(lo, hi, TAIL)
        pre, n_mod = self.prefix, len(self.modalities)
        ells = pm.InverseGamma(
            f"{pre}_coregional_lengthscale", alpha=alpha, beta=beta, size=self.n_latent
        )
        scale = (
            np.asarray(self.amplitude, dtype=np.float64)
            if self.amplitude is not None
            else np.array([2.0 * (float(np.std(d)) or 1.0) for d in observed])
        )
        a = pm.Normal(
            f"{pre}_coregional_weights", 0.0, scale[None, :], shape=(self.n_latent, n_mod)
        )
        norm = pt.sqrt(pt.sum(a**2, axis=0))
        pm.Deterministic(
            f"{pre}_coregional_correlation", (a.T @ a) / (norm[:, None] * norm[None, :])
        )
        idx = np.repeat(np.arange(n_mod), [xi.shape[0] for xi in xs])
        shared = 0.0
        for q, kern in enumerate(self.kernels):
            cov = getattr(pm.gp.cov, _KERNELS[kern])(x.shape[1], ls=ells[q])
            aq = a[q][idx]
            shared = shared + aq[:, None] * aq[None, :] * cov(x)
        return shared


def coregional_covariance(kernels, x_blocks, weights, lengthscales) -> np.ndarray:
    r"""Return the shared covariance :math:`S` of stacked data in numpy (checks, plots).

    Parameters
    ----------
    kernels : sequence of str
        Kernel of each latent.
    x_blocks : sequence of array_like
        ``(n_k,)`` or ``(n_k, p)`` shared coordinates of each modality.
    weights : array_like
        ``(Q, K)`` coregionalization weights :math:`a`.
    lengthscales : array_like
        ``Q`` length scales.

    Returns
    -------
    numpy.ndarray
        ``(n, n)``, :math:`S_{ij} = \sum_q a_{k(i)q} a_{k(j)q} κ_q(x_i, x_j)`.
    """
    from bayesinv.model.discrepancy.posterior import kernel_matrix

    xs = [np.asarray(x, dtype=np.float64).reshape(len(x), -1) for x in x_blocks]
    x = np.concatenate(xs, axis=0)
    idx = np.repeat(np.arange(len(xs)), [len(xi) for xi in xs])
    a = np.asarray(weights, dtype=np.float64)
    out = np.zeros((x.shape[0], x.shape[0]))
    for q, kern in enumerate(kernels):
        aq = a[q][idx]
        out += np.outer(aq, aq) * kernel_matrix(kern, x, 1.0, float(lengthscales[q]))
    return out
