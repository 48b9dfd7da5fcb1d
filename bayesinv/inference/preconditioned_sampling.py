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
"""

from __future__ import annotations

from bayesinv.inference._model_space import observed_data_group
from bayesinv.inference.preconditioning import Z_NAME, Preconditioner, precondition
from bayesinv.inference.sampling import sample

__all__ = ["sample_preconditioned"]


def sample_preconditioned(
    model, preconditioner: Preconditioner, *, random_seed, var_names=None, **options
):
    r"""Sample a model with NUTS in the coordinates of a preconditioner.

    Parameters
    ----------
    model : pymc.Model
        A continuous model.
    preconditioner : Preconditioner
        The change of variables, built for this model's layout
        (:func:`~bayesinv.inference.preconditioning.unconstrained_layout`), e.g. from a
        Laplace approximation (``Preconditioner(g.mean, g.scale, g.basis, g.factors,
        layout)`` for a :class:`~bayesinv.inference.laplace.GaussianApproximation` ``g``) or
        :func:`~bayesinv.inference.preconditioning.hessian_preconditioner`.
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Seed of the sampler (:func:`~bayesinv.inference.sampling.sample`).
    var_names : sequence of str, optional
        The model's free variables and deterministics to store (default: all). Storing
        fewer (e.g. the fields but not their whitened coefficients) makes large models
        cheaper to sample.
    **options
        Further arguments of :func:`~bayesinv.inference.sampling.sample` (``draws``,
        ``tune``, ``chains``, ``adaptation``, ``target_accept``, ``save_warmup``, ...).

    Returns
    -------
    xarray.DataTree
        ``posterior`` (and ``warmup_posterior`` with ``save_warmup``) with the model's free
        variables (constrained) and deterministics under their own names and dims, without
        the working vector ``z``; ``sample_stats`` and the model's ``observed_data``.

    Raises
    ------
    ValueError
        If the preconditioner was built for another layout, or for a bad sampler option.

    Notes
    -----
    With :math:`x = m + A z`, the density of :math:`z` is
    :math:`p(z) \propto \pi(m + A z)\,|\det A|`, and :math:`|\det A|` is constant, so
    :math:`x` has exactly the posterior :math:`\pi`. If :math:`\pi = N(m, C)` and
    :math:`A A^T = C`, :math:`z \sim N(0, I)`: NUTS with a unit mass matrix then takes
    :math:`O(d^{1/4})` leapfrog steps per draw whatever the conditioning of :math:`C`.
    """
    names = None if var_names is None else [str(v) for v in var_names]
    pmodel = precondition(model, preconditioner)
    tree = sample(pmodel, random_seed=random_seed, var_names=names, **options)
    for group in ("posterior", "warmup_posterior"):
        if group in tree.children and Z_NAME in tree[group].data_vars:
            ds = tree[group].to_dataset()
            tree[group] = ds.drop_dims(ds[Z_NAME].dims[2:])
    tree["observed_data"] = observed_data_group(model)
    return tree
