r"""NUTS in the coordinates of a Gaussian approximation, with draws under the model's names.

A Laplace approximation :math:`N(m, C)` of a posterior, or any other Gaussian guess, turned
into the change of variables :math:`x = m + A z` with :math:`A A^T = C`
(:func:`~bayesinv.inference.preconditioning.precondition`) makes the posterior of
:math:`z` close to a standard normal wherever the guess is good. NUTS then starts with the
right scales and correlations (a dense mass matrix it would otherwise have to learn from
warm-up draws) and nutpie's own adaptation corrects only what the guess missed. The
posterior of the model's variables is unchanged: :math:`A` is constant, so the Jacobian of
the change is a constant.

:func:`sample_preconditioned` returns the draws as if sampled from the model itself: the
working vector ``preconditioned_z`` is dropped, the ``observed_data`` group of the model is
attached, so reports and predictive checks treat the result like any other posterior.

With ``preconditioner="laplace"`` it builds the guess itself (MAP, Hessian at the MAP) on
the *same* compiled log density NUTS then samples: the preconditioned model is compiled
once with the centre and the factor of :math:`A` as shared variables, evaluated at
:math:`m = 0, A = I` (where :math:`z = x`) for the MAP and the Hessian, then given the
Laplace values (nothing is recompiled) for NUTS.
"""

from __future__ import annotations

import time

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.graph.replace import graph_replace
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_and_cache_key

from bayesinv.inference._model_space import ModelSpace, observed_data_group
from bayesinv.inference.preconditioning import (
    Z_NAME,
    Preconditioner,
    hessian_preconditioner,
    precondition,
)
from bayesinv.inference.sampling import CompiledModel, compile_model, sample

__all__ = ["sample_preconditioned"]

_WHERE = "sample_preconditioned"
#: names of the shared variables of the model compiled by ``preconditioner="laplace"``
_SHARED = (
    "preconditioner_centre",
    "preconditioner_scale",
    "preconditioner_basis",
    "preconditioner_change",
)
#: L-BFGS-B options of the MAP (those of the ``"laplace"`` level of a continuation)
_OPTIMIZER = {"maxiter": 5000, "gtol": 1e-9, "ftol": 1e-14}


def sample_preconditioned(
    model,
    preconditioner: Preconditioner | str,
    *,
    random_seed,
    var_names=None,
    laplace_kwargs: dict | None = None,
    **options,
):
    r"""Sample a model with NUTS in the coordinates of a preconditioner.

    Parameters
    ----------
    model : pymc.Model
        A continuous model.
    preconditioner : Preconditioner or "laplace"
        The change of variables, built for this model's layout
        (:func:`~bayesinv.inference.preconditioning.unconstrained_layout`), e.g. from a
        Laplace approximation (``Preconditioner(g.mean, g.scale, g.basis, g.factors,
        layout)`` for a :class:`~bayesinv.inference.laplace.GaussianApproximation` ``g``) or
        :func:`~bayesinv.inference.preconditioning.hessian_preconditioner`. ``"laplace"``:
        the Laplace approximation at the MAP, built here on the log density NUTS samples
        (one compilation; see Notes).
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Seed of the sampler (:func:`~bayesinv.inference.sampling.sample`) and, with
        ``"laplace"``, of the Hessian's range finder.
    var_names : sequence of str, optional
        The model's free variables and deterministics to store (default: all). Storing
        fewer (e.g. the fields but not their whitened coefficients) makes large models
        cheaper to sample.
    laplace_kwargs : dict, optional
        With ``"laplace"``: arguments of
        :func:`~bayesinv.inference.preconditioning.hessian_preconditioner` (``dense_max``,
        ``max_rank``, ``tol``, ``step``, ...).
    **options
        Further arguments of :func:`~bayesinv.inference.sampling.sample` (``draws``,
        ``tune``, ``chains``, ``adaptation``, ``target_accept``, ``save_warmup``, ...).

    Returns
    -------
    xarray.DataTree
        ``posterior`` (and ``warmup_posterior`` with ``save_warmup``) with the model's free
        variables (constrained) and deterministics under their own names and dims,
        ``sample_stats`` and the model's ``observed_data``. With ``"laplace"`` the root
        attributes also hold ``laplace_gradients`` (gradient evaluations of the MAP search,
        the Hessian and the Newton polish), ``laplace_iterations`` (L-BFGS-B),
        ``laplace_success``, ``laplace_rank``, ``laplace_min_eig``, ``laplace_max_eig``
        (of the Hessian of :math:`-\log p`), ``compile_s`` and ``laplace_s`` (wall seconds).

    Raises
    ------
    ValueError
        If the preconditioner was built for another layout, is a string other than
        ``"laplace"``, or for a bad sampler option.
    TypeError
        If ``laplace_kwargs`` is given without ``"laplace"``.

    Notes
    -----
    With :math:`x = m + A z`, the density of :math:`z` is
    :math:`p(z) \propto \pi(m + A z)\,|\det A|`, and :math:`|\det A|` is constant, so
    :math:`x` has exactly the posterior :math:`\pi`. If :math:`\pi = N(m, C)` and
    :math:`A A^T = C`, :math:`z \sim N(0, I)`: NUTS with a unit mass matrix then takes
    :math:`O(d^{1/4})` leapfrog steps per draw whatever the conditioning of :math:`C`.

    ``"laplace"``: :math:`A = \mathrm{diag}(s)(I + U \mathrm{diag}(c - 1) U^T)` as in
    :class:`~bayesinv.inference.preconditioning.Preconditioner`, with :math:`m, s, U,
    c - 1` shared variables of the compiled model. At :math:`m = 0`, :math:`s = 1`,
    :math:`c = 1` the compiled density is :math:`\pi` itself; there L-BFGS-B finds the MAP
    :math:`\hat x` from the model's initial point, the Hessian :math:`H` of :math:`-\log
    \pi` at :math:`\hat x` comes from central differences of the gradient
    (:func:`~bayesinv.inference.preconditioning.hessian_preconditioner`), giving
    :math:`A A^T = H^{-1}`, and two Newton steps :math:`x \leftarrow x + H^{-1}\nabla \log
    \pi` polish :math:`\hat x` (as the ``"laplace"`` level of a continuation). The shared
    variables then take :math:`m = \hat x` and the factor, and NUTS samples the same
    compiled function.
    """
    names = None if var_names is None else [str(v) for v in var_names]
    if isinstance(preconditioner, str):
        if preconditioner != "laplace":
            raise ValueError(
                f"{_WHERE}: preconditioner must be a Preconditioner or 'laplace', got "
                f"{preconditioner!r}"
            )
        compiled, info = _laplace_compiled(model, names, random_seed, laplace_kwargs or {})
        tree = sample(compiled, random_seed=random_seed, **options)
        tree.attrs.update(info)
    else:
        if laplace_kwargs is not None:
            raise TypeError(f"{_WHERE}: laplace_kwargs is only for preconditioner='laplace'")
        pmodel = precondition(model, preconditioner)
        tree = sample(pmodel, random_seed=random_seed, var_names=names, **options)
    for group in ("posterior", "warmup_posterior"):
        if group in tree.children and Z_NAME in tree[group].data_vars:
            ds = tree[group].to_dataset()
            tree[group] = ds.drop_dims(ds[Z_NAME].dims[2:])
    tree["observed_data"] = observed_data_group(model)
    return tree


def _shared_model(model):
    """Rewrite the model in ``z``, ``x = m + s * (z + U (d * (U^T z)))``, all shared.

    Starts at ``m = 0, s = 1, d = 0`` (``x = z``). Returns the model and its flat space.
    """
    space = ModelSpace(model)
    n = space.n
    shared = [
        pytensor.shared(value, name=name)
        for name, value in zip(
            _SHARED, (np.zeros(n), np.ones(n), np.zeros((n, 1)), np.zeros(1)), strict=True
        )
    ]
    centre, scale, basis, change = shared
    logp = model.logp(jacobian=True, sum=True)
    tracked = list(model.free_RVs) + list(model.deterministics)
    tracked_values = model.replace_rvs_by_values(tracked)
    with pm.Model(coords=model.coords) as new:
        z = pm.Flat(Z_NAME, shape=n)
        x = _Affine()(z, centre, scale, basis, change)
        replace, offset = {}, 0
        for v, (_, shape) in zip(model.value_vars, space.layout, strict=True):
            size = int(np.prod(shape, dtype=np.int64))
            replace[v] = x[offset : offset + size].reshape(shape).astype(v.dtype)
            offset += size
        pm.Potential("preconditioned_logp", graph_replace(logp, replace, strict=False))
        for var, expr in zip(tracked, tracked_values, strict=True):
            pm.Deterministic(
                var.name,
                graph_replace(expr, replace, strict=False),
                dims=model.named_vars_to_dims.get(var.name),
            )
    return new, space


def _compiled_density(nutpie_model, n):
    """``x -> (logp, grad)`` by nutpie's compiled C function itself, at its current data.

    Calling the C entry point (``int64(dim, x*, grad*, logp*, user_data*)``) rather than the
    PyTensor function behind it avoids numba compiling a Python wrapper of the graph.
    """
    import ctypes

    cfunc = nutpie_model.compiled_logp_func.ctypes
    user_data = nutpie_model.user_data  # the shared variables at compile time: x = z
    ptr = ctypes.POINTER(ctypes.c_double)
    count = [0]

    def logp_dlogp(x):
        count[0] += 1
        x = np.ascontiguousarray(x, dtype=np.float64)
        grad, logp = np.empty(n), np.zeros(1)
        rc = cfunc(
            n,
            x.ctypes.data_as(ptr),
            grad.ctypes.data_as(ptr),
            logp.ctypes.data_as(ptr),
            ctypes.c_void_p(user_data.ctypes.data),
        )
        if rc != 0 or not np.isfinite(logp[0]):  # failed solve or non-finite: rejected
            return -np.inf, np.zeros(n)
        return float(logp[0]), grad

    return logp_dlogp, count


def _laplace_compiled(model, names, seed, kwargs):
    """Compile once, find the MAP and the Hessian there, return the model set to sample."""
    from scipy.optimize import minimize

    if not isinstance(kwargs, dict):
        raise TypeError(f"{_WHERE}: laplace_kwargs must be a dict, got {type(kwargs).__name__}")
    t0 = time.perf_counter()
    pmodel, space = _shared_model(model)
    compiled = compile_model(pmodel, var_names=names, observed_from=model)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    logp_dlogp, count = _compiled_density(compiled.nutpie, space.n)

    def objective(x):
        logp, grad = logp_dlogp(x)
        if not np.isfinite(logp):
            return np.inf, np.zeros_like(x)
        return -logp, -grad

    x0 = space.flatten(model.initial_point())
    res = minimize(objective, x0, jac=True, method="L-BFGS-B", options=_OPTIMIZER)
    pre, info = hessian_preconditioner(
        logp_dlogp, res.x, space.layout, **({"random_seed": seed} | kwargs)
    )
    x_map, (logp, grad) = res.x, logp_dlogp(res.x)
    for _ in range(2):  # Newton polish with the Laplace covariance
        trial = x_map + pre.factor_times(pre.factor_transpose_times(grad))
        logp_trial, grad_trial = logp_dlogp(trial)
        if not np.isfinite(logp_trial) or logp_trial <= logp:
            break
        x_map, logp, grad = trial, logp_trial, grad_trial
    basis, change = pre.basis, pre.factors - 1.0
    if not change.size:  # keep the compiled shapes' rank: one inactive direction
        basis, change = np.zeros((space.n, 1)), np.zeros(1)
    values = (x_map, pre.scale, basis, change)
    ready = CompiledModel(
        compiled.model,
        compiled.nutpie.with_data(**dict(zip(_SHARED, values, strict=True))),
        model,
    )
    return ready, {
        "laplace_gradients": count[0],  # the Hessian's included
        "laplace_iterations": int(res.nit),
        "laplace_success": int(res.success),
        "laplace_rank": int(info["rank"]),
        "laplace_min_eig": float(info["min_eig"]),
        "laplace_max_eig": float(info["max_eig"]),
        "compile_s": round(compile_s, 3),
        "laplace_s": round(time.perf_counter() - t0, 3),
    }


# --- x = m + s (z + U (d (U^T z))) with every factor an input: one compiled model ----------------
# PyTensor's own dot ops make the compiled model slower to build than the map itself; these two
# Ops run one numba function each (plain functions, cached on disk by PyTensor's numba cache).


def _low_rank_np(v, basis, change):
    return v + basis @ (change * (basis.T @ v))


class _Affine(Op):
    """``x = m + s (z + U (d (U^T z)))`` of inputs ``(z, m, s, U, d)``; gradient in ``z`` only."""

    __props__ = ()

    def make_node(self, z, centre, scale, basis, change):
        inputs = [pt.as_tensor_variable(v) for v in (z, centre, scale, basis, change)]
        return Apply(self, inputs, [pt.dvector()])

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def connection_pattern(self, node):
        return [[True], [True], [False], [False], [False]]

    def perform(self, node, inputs, outputs):
        z, centre, scale, basis, change = inputs
        outputs[0][0] = centre + scale * _low_rank_np(z, basis, change)

    def pullback(self, inputs, outputs, cotangents):
        _, _, scale, basis, change = inputs
        g = cotangents[0]
        return [_AffineT()(g, scale, basis, change), g] + [disconnected_type()] * 3


class _AffineT(Op):
    """``A^T g = (I + U diag(d) U^T)(s g)`` of inputs ``(g, s, U, d)`` (the pullback of ``z``)."""

    __props__ = ()

    def make_node(self, g, scale, basis, change):
        inputs = [pt.as_tensor_variable(v) for v in (g, scale, basis, change)]
        return Apply(self, inputs, [pt.dvector()])

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def connection_pattern(self, node):
        return [[True], [False], [False], [False]]

    def perform(self, node, inputs, outputs):
        g, scale, basis, change = inputs
        outputs[0][0] = _low_rank_np(scale * g, basis, change)

    def pullback(self, inputs, outputs, cotangents):
        _, scale, basis, change = inputs
        w = cotangents[0]
        return [_Affine()(w, pt.zeros_like(scale), scale, basis, change)] + [
            disconnected_type()
        ] * 3


@numba_njit
def _low_rank_nb(v, basis, change):
    # U^T v gathers over the rows of U, U w scatters back to them: O(n r) either way
    n, r = basis.shape
    w = np.zeros(r)
    for i in range(n):
        for j in range(r):
            w[j] += basis[i, j] * v[i]
    out = v.copy()
    for i in range(n):
        acc = 0.0
        for j in range(r):
            acc += basis[i, j] * change[j] * w[j]
        out[i] += acc
    return out


@numba_njit
def _affine_nb(z, centre, scale, basis, change):
    return centre + scale * _low_rank_nb(z, basis, change)


@numba_njit
def _affine_t_nb(g, scale, basis, change):
    return _low_rank_nb(scale * g, basis, change)


@register_funcify_and_cache_key(_Affine)
def _funcify_affine(op, node=None, **kwargs):
    return _affine_nb, "bayesinv.preconditioned_sampling._Affine.v1"


@register_funcify_and_cache_key(_AffineT)
def _funcify_affine_t(op, node=None, **kwargs):
    return _affine_t_nb, "bayesinv.preconditioned_sampling._AffineT.v1"
