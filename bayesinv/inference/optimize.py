"""The MAP point of a PyMC model, with an explicit seed and the numba backend."""

from __future__ import annotations

import warnings

from bayesinv import _checks, _seeds
from bayesinv.inference._threads import blas_limit

__all__ = ["find_map"]


def find_map(
    model=None,
    *,
    random_seed,
    method: str = "L-BFGS-B",
    initvals: dict | None = None,
    jitter: bool = False,
    maxiter: int = 5000,
    progressbar: bool = False,
    mode: str | None = "NUMBA",
    blas_threads: int | None = 1,
) -> dict:
    r"""Maximum a posteriori point of a PyMC model (L-BFGS with the adjoint gradient).

    Parameters
    ----------
    model : pymc.Model, optional
        The model (default: the model in context).
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Required; seeds the jitter of the initial point.
    method : str
        A :func:`scipy.optimize.minimize` method; gradient-based methods use the model's
        gradient, which for :func:`bayesinv.ops.forward` terms is the operators' ``vjp``.
    initvals : dict, optional
        Starting values (default: the model's initial point).
    jitter : bool
        Jitter the starting point (seeded by ``random_seed``).
    maxiter : int
        Largest number of optimizer iterations.
    progressbar : bool
        Show progress.
    mode : str or None
        PyTensor compile mode of the log density and its gradient (default ``"NUMBA"``);
        ``"FAST_COMPILE"`` runs the graph in Python, still calling the operators' numba
        kernels, which saves the graph's numba compilation (seconds) when the search
        needs only a few hundred evaluations; ``None``: PyTensor's default mode.
    blas_threads : int or None
        Threads each BLAS call may use during the search (default 1, as while sampling:
        :mod:`bayesinv.inference._threads`); ``None`` leaves BLAS as it is.

    Returns
    -------
    dict
        Variable name → value at the MAP (constrained and transformed values, as
        :func:`pymc.find_MAP` returns them).

    Notes
    -----
    By default compiles with PyTensor's numba backend, so operators with numba kernels
    run compiled. L-BFGS-B minimises :math:`-\log p(x \mid d)` with the gradient
    :math:`-\nabla \log p`, both from the one compiled graph.
    """
    import pymc as pm

    seed = _seeds.as_int(random_seed, "find_map")
    maxiter = _checks.check_int(maxiter, "find_map", "maxiter", low=1)
    if mode is not None and not isinstance(mode, str):
        raise TypeError(
            f"find_map: mode must be a PyTensor mode name (str) or None, got {type(mode).__name__}"
        )
    compile_kwargs = {} if mode is None else {"mode": mode}
    model = pm.modelcontext(model)
    with blas_limit(blas_threads, "find_map"), warnings.catch_warnings():
        # our contract is the dict of values; PyMC's planned change of its default is not ours
        warnings.filterwarnings("ignore", message="`find_MAP` will return", category=FutureWarning)
        return pm.find_MAP(
            method=method,
            initvals=initvals,
            jitter=jitter,
            random_seed=seed,
            progressbar=progressbar,
            model=model,
            compile_kwargs=compile_kwargs,
            maxiter=maxiter,
            return_inferencedata=False,
        )
