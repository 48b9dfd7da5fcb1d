r"""Preconditioned sampling: an affine change of variables as the NUTS mass matrix.

HMC with a mass matrix :math:`M` is HMC with the identity after the change of variables
:math:`x = μ + A z` with :math:`A A^T = M^{-1}`. nutpie learns a diagonal mass matrix (or a
low-rank one) during warm-up but takes no initial guess, so a guess — e.g. the Laplace
approximation of a coarser level of a continuation — is given to it as that change of
variables: :func:`precondition` rewrites a model in the coordinates ``z`` of a
:class:`Preconditioner`, and nutpie's own adaptation then only corrects what the guess
missed.

The factor is a low-rank change of a diagonal,

.. math:: A = \mathrm{diag}(s)\,\big(I + U\,\mathrm{diag}(c - 1)\,U^T\big),
          \qquad A A^T = \mathrm{diag}(s)\,\big(I + U\,\mathrm{diag}(c^2 - 1)\,U^T\big)
          \,\mathrm{diag}(s),

with :math:`U` orthonormal (``n × r``), so applying it costs :math:`O(n r)` and its
log-determinant is the constant :math:`\sum \log s + \sum \log c`. From the Hessian
:math:`H` of :math:`-\log p` at a point, with :math:`s = 1` and :math:`H ≈ I + U Λ U^T`
(the directions in which the posterior differs from unit variance),
:math:`c = (1 + λ)^{-1/2}` makes :math:`A A^T = H^{-1}` on the span of :math:`U`.

A :class:`Preconditioner` is a :class:`~bayesinv.inference.laplace.GaussianApproximation`
with a diagonal :math:`S = \mathrm{diag}(s)` that records the layout of its coordinates: the
model's *unconstrained* value variables flattened by :mod:`bayesinv.inference._model_space`,
so it can be carried to a finer level by the nesting rule (:meth:`Preconditioner.transfer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.graph.replace import graph_replace

from bayesinv.inference import _model_space
from bayesinv.inference._model_space import layout_size, nested_indices
from bayesinv.inference.laplace import GaussianApproximation, laplace_at
from bayesinv.operators.lowrank import LowRankUpdate
from bayesinv.ops import ForwardOp

__all__ = [
    "Preconditioner",
    "hessian_preconditioner",
    "nested_indices",
    "precondition",
    "unconstrained_layout",
]

#: name of the free vector of a preconditioned model
Z_NAME = "preconditioned_z"


def unconstrained_layout(model: pm.Model) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Names and shapes of a model's value variables, in the order they are flattened.

    The layout of :mod:`bayesinv.inference._model_space` (see :func:`~bayesinv.inference.
    _model_space.layout`).

    Parameters
    ----------
    model : pymc.Model

    Returns
    -------
    tuple of (str, tuple of int)

    Raises
    ------
    ValueError
        If the model has discrete free variables (NUTS needs continuous ones).
    """
    return _model_space.layout(model)


def _size(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


@dataclass(frozen=True)
class Preconditioner(GaussianApproximation):
    r"""Affine map ``x = mean + A z`` from standardised to unconstrained coordinates.

    Parameters
    ----------
    mean : ndarray, shape (n,)
        Centre :math:`μ` (e.g. the MAP point), unconstrained.
    scale : ndarray, shape (n,)
        Diagonal :math:`s > 0`.
    basis : ndarray, shape (n, r)
        Orthonormal columns :math:`U` (``r`` may be 0).
    factors : ndarray, shape (r,)
        :math:`c > 0`: the standard deviation along each basis direction, relative to
        ``scale``.
    layout : tuple of (str, tuple of int)
        The value variables the coordinates belong to (:func:`unconstrained_layout`).

    Notes
    -----
    :math:`A = \mathrm{diag}(s)(I + U \mathrm{diag}(c - 1) U^T)`; the implied covariance
    (inverse mass matrix) is :math:`A A^T`.
    """

    layout: tuple = ()

    def __post_init__(self):
        name = "Preconditioner"
        mean = np.asarray(self.mean, dtype=np.float64)
        n = _size(mean.shape)
        if mean.ndim != 1:
            raise ValueError(f"{name}: mean must be a vector, got shape {mean.shape}")
        if layout_size(self.layout) != n:
            raise ValueError(
                f"{name}: the layout has {layout_size(self.layout)} values but mean has {n}"
            )
        scale = np.asarray(self.scale, dtype=np.float64)
        basis = np.asarray(self.basis, dtype=np.float64).reshape(n, -1)
        factors = np.asarray(self.factors, dtype=np.float64).ravel()
        if scale.shape != (n,) or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise ValueError(f"{name}: scale must be {n} finite positive numbers")
        if factors.shape != (basis.shape[1],) or np.any(~np.isfinite(factors) | (factors <= 0)):
            raise ValueError(
                f"{name}: factors must be {basis.shape[1]} finite positive numbers, one per "
                "basis column"
            )
        if basis.shape[1] and not np.allclose(basis.T @ basis, np.eye(basis.shape[1]), atol=1e-8):
            raise ValueError(f"{name}: basis columns must be orthonormal")
        for attr, value in zip(
            ("mean", "scale", "basis", "factors"), (mean, scale, basis, factors), strict=True
        ):
            object.__setattr__(self, attr, value)
        object.__setattr__(self, "layout", tuple((str(k), tuple(s)) for k, s in self.layout))

    @classmethod
    def identity(cls, mean, layout) -> Preconditioner:
        """Make the unit mass matrix centred at ``mean``.

        Parameters
        ----------
        mean : array_like
            Centre, unconstrained, flattened as in ``layout``.
        layout : tuple
            As returned by :func:`unconstrained_layout`.

        Returns
        -------
        Preconditioner
        """
        mean = np.asarray(mean, dtype=np.float64).ravel()
        return cls(mean, np.ones(mean.size), np.zeros((mean.size, 0)), np.zeros(0), layout)

    @classmethod
    def from_draws(cls, draws, layout, *, max_rank: int = 200) -> Preconditioner:
        """Mean and covariance of posterior draws (unconstrained, one row per draw).

        With at least four draws per coordinate the covariance is used whole (its leading
        ``max_rank`` directions of largest or smallest variance relative to the diagonal);
        otherwise only its diagonal.

        Parameters
        ----------
        draws : array_like, shape (n_draws, n)
        layout : tuple
        max_rank : int

        Returns
        -------
        Preconditioner
        """
        x = np.asarray(draws, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 2:
            raise ValueError("Preconditioner.from_draws: draws must be (n_draws >= 2, n)")
        mean = x.mean(axis=0)
        sd = x.std(axis=0, ddof=1)
        sd = np.where(sd > 0, sd, 1.0)
        if x.shape[0] < 4 * x.shape[1]:
            return cls(mean, sd, np.zeros((mean.size, 0)), np.zeros(0), layout)
        corr = np.corrcoef(x, rowvar=False).reshape(mean.size, mean.size)
        w, v = np.linalg.eigh(corr)
        return cls._from_eig(mean, sd, np.maximum(w, 1e-12), v, layout, max_rank)

    @classmethod
    def _from_eig(cls, mean, scale, variances, vectors, layout, max_rank, min_change=0.1):
        """Keep the directions whose variance differs from one by more than ``min_change``."""
        dev = np.abs(np.log(variances))
        order = np.argsort(dev)[::-1]
        order = order[dev[order] > np.log1p(min_change)][: int(max_rank)]
        return cls(mean, scale, vectors[:, order], np.sqrt(variances[order]), layout)

    @cached_property
    def factor(self) -> LowRankUpdate:
        """:math:`A` as a linear operator with numba kernels (what :func:`precondition` uses)."""
        return LowRankUpdate(self.scale, self.basis, self.factors - 1.0, name="preconditioner")

    def factor_times(self, z) -> np.ndarray:
        """Return :math:`A z` (the map without its centre)."""
        return self.factor.forward(z)

    def factor_transpose_times(self, v) -> np.ndarray:
        """Return :math:`A^T v` (maps a gradient in ``x`` to one in ``z``)."""
        return self.factor.vjp(v, v)  # A is linear: the linearisation point is unused

    def covariance(self) -> np.ndarray:
        """Return the implied covariance :math:`A A^T` as a dense matrix (small problems)."""
        return self.cov()

    def transfer(self, layout, mean=None) -> Preconditioner:
        """Carry the preconditioner to a model with another layout (the next level).

        Variables of the same name keep their values; a 1-D variable that is longer in the
        new layout keeps its values first, and its new entries get unit scale, no basis
        weight and the centre from ``mean`` (as :func:`~bayesinv.inference.
        zero_pad_transfer` does for points). Variables only in the new layout are new
        coordinates of the same kind. Zero-padded basis columns stay orthonormal.

        Parameters
        ----------
        layout : tuple
            Layout of the new model (:func:`unconstrained_layout`).
        mean : array_like, optional
            Centre for the new coordinates (default zero), flattened as in ``layout``.

        Returns
        -------
        Preconditioner

        Raises
        ------
        ValueError
            If a variable changes shape other than by growing a 1-D vector.
        """
        n_new = layout_size(layout)
        new_mean = np.zeros(n_new) if mean is None else np.asarray(mean, dtype=np.float64).copy()
        if new_mean.shape != (n_new,):
            raise ValueError(f"Preconditioner.transfer: mean must have {n_new} values")
        src, dst = nested_indices(self.layout, layout, "Preconditioner.transfer")
        scale = np.ones(n_new)
        basis = np.zeros((n_new, self.rank))
        new_mean[dst] = self.mean[src]
        scale[dst] = self.scale[src]
        basis[dst] = self.basis[src]
        return Preconditioner(new_mean, scale, basis, self.factors, tuple(layout))


def hessian_preconditioner(
    logp_dlogp,
    x,
    layout,
    *,
    dense_max: int = 1500,
    rank: int | None = None,
    start_basis=None,
    max_rank: int = 200,
    tol: float = 0.1,
    oversampling: int = 10,
    step: float = 1e-4,
    random_seed,
) -> tuple[Preconditioner, dict]:
    r"""Laplace preconditioner at ``x`` from finite differences of the gradient.

    The Laplace approximation of :func:`~bayesinv.inference.laplace.laplace_at` (Hessian
    by central differences of the gradient, whole up to ``dense_max`` coordinates, else the
    randomised eigensolver started from ``start_basis``), as a mass-matrix guess for the
    model with the given layout.

    Parameters
    ----------
    logp_dlogp : callable
        ``x -> (logp, gradient)`` on flat unconstrained coordinates.
    x : ndarray, shape (n,)
        The point (the MAP).
    layout : tuple
        :func:`unconstrained_layout` of the model.
    dense_max : int
        Largest ``n`` for which the Hessian is formed whole.
    rank : int, optional
        Starting rank of the randomised solver (default: start basis size + 10, at least 20).
    start_basis : ndarray, shape (n, k), optional
        Directions to include in the first range-finder block.
    max_rank : int
        Largest number of directions kept.
    tol : float
        Directions with :math:`|λ| <` ``tol`` (variance within that of one) are left to
        the identity.
    oversampling : int
        Extra random vectors of the range finder.
    step : float
        Finite-difference step :math:`h` (along unit vectors).
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Seeds the range finder.

    Returns
    -------
    Preconditioner
        Centred at ``x``, unit scale, with :math:`c = (1 + λ)^{-1/2}` on the kept directions
        (directions with :math:`1 + λ \le 0`, where ``x`` is not a local maximum, are
        dropped and counted).
    dict
        ``n_gradients`` (gradient evaluations), ``rank``, ``min_eig``, ``max_eig`` (of
        :math:`H`) and ``n_not_positive``.
    """
    gaussian, info = laplace_at(
        logp_dlogp,
        x,
        dense_max=dense_max,
        rank=rank,
        start_basis=start_basis,
        max_rank=max_rank,
        tol=tol,
        oversampling=oversampling,
        step=step,
        random_seed=random_seed,
    )
    pre = Preconditioner(gaussian.mean, gaussian.scale, gaussian.basis, gaussian.factors, layout)
    return pre, info


#: names of the ``pm.Data`` of a model made by ``precondition(..., shared=True)``
SHARED_NAMES = ("preconditioner_mean", "preconditioner_scale", "preconditioner_basis",
                "preconditioner_factors")  # fmt: skip


def shared_values(preconditioner: Preconditioner) -> dict:
    """Return the values of :data:`SHARED_NAMES` for a preconditioner (``c - 1`` as factors)."""
    p = preconditioner
    return dict(zip(SHARED_NAMES, (p.mean, p.scale, p.basis, p.factors - 1.0), strict=True))


def precondition(
    model: pm.Model, preconditioner: Preconditioner, *, shared: bool = False
) -> pm.Model:
    """Rewrite a model in the standardised coordinates of a preconditioner.

    The new model has one free vector ``preconditioned_z`` (flat prior) and the original
    model's log density (Jacobians of its transforms included) at
    ``x = mean + A z`` as a potential; :math:`A` is constant, so the posterior of ``x`` is
    unchanged. Every free variable of the original model (on its constrained scale) and
    every deterministic is recorded as a deterministic with its original name and dims, so
    draws from the new model look like draws from the original one (and can be passed to
    :func:`pymc.sample_posterior_predictive` with the original model).

    Parameters
    ----------
    model : pymc.Model
        Continuous model.
    preconditioner : Preconditioner
        Built for this model's layout.
    shared : bool
        ``False``: :math:`μ` and :math:`A` are constants of the graph. ``True``: they are
        ``pm.Data`` (:func:`shared_values`): one compiled model serves any preconditioner
        of the same layout and any rank (``CompiledModel.with_data``).

    Returns
    -------
    pymc.Model

    Raises
    ------
    ValueError
        If the layouts differ.
    """
    layout = unconstrained_layout(model)
    if tuple(layout) != tuple(preconditioner.layout):
        raise ValueError(
            "precondition: the preconditioner was built for the variables "
            f"{[k for k, _ in preconditioner.layout]} with shapes "
            f"{[s for _, s in preconditioner.layout]}, the model has "
            f"{[k for k, _ in layout]} with {[s for _, s in layout]}"
        )
    logp = model.logp(jacobian=True, sum=True)
    tracked = list(model.free_RVs) + list(model.deterministics)
    tracked_values = model.replace_rvs_by_values(tracked)
    p = preconditioner
    with pm.Model(coords=model.coords) as new:
        z = pm.Flat(Z_NAME, shape=p.n)
        # A z as one linear operator with numba kernels: PyTensor's own dot and indexing
        # ops would make the compiled model take many times longer to compile
        if shared:
            mean, scale, basis, fm1 = (pm.Data(k, v) for k, v in shared_values(p).items())
            x = mean + scale * (z + pt.dot(basis, fm1 * pt.dot(basis.T, z)))
        else:
            x = pt.constant(p.mean, name="preconditioner_mean") + ForwardOp(p.factor)(z)
        replace = {}
        offset = 0
        for v, (_, shape) in zip(model.value_vars, layout, strict=True):
            size = _size(shape)
            part = x if size == p.n else x[offset : offset + size]
            replace[v] = part.reshape(shape).astype(v.dtype)
            offset += size
        pm.Potential("preconditioned_logp", graph_replace(logp, replace, strict=False))
        for var, expr in zip(tracked, tracked_values, strict=True):
            pm.Deterministic(
                var.name,
                graph_replace(expr, replace, strict=False),
                dims=model.named_vars_to_dims.get(var.name),
            )
    return new
