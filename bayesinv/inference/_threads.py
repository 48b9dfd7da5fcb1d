"""BLAS thread limits around code that evaluates a compiled log density many times.

A compiled PyMC density calls BLAS for its small dense products (``m = m0 + B θ`` of a
parameterisation, a filter applied to traces). OpenBLAS then keeps its own threads spinning
for a while after each call, on the cores that the forward operators' numba threads
(``prange`` over shots or chains) need next: measured on case study 11's finest band, its
log density and gradient take 1.87x the time of the kernels inside them with OpenBLAS's
default threads and 1.03x with BLAS on one thread (docs/wave_physics.md). Every loop of
bayesinv that evaluates such a density many times (NUTS, MAP searches, Laplace
Hessians, SMC, the continuation's levels) therefore runs with BLAS limited, by default to
one thread, through :func:`blas_limit`.
"""

from __future__ import annotations

import contextlib

from bayesinv import _checks

__all__ = ["blas_limit"]


def blas_limit(threads, where: str, name: str = "blas_threads"):
    """Return a context manager limiting BLAS to ``threads`` threads (``None``: unchanged).

    Parameters
    ----------
    threads : int or None
        Threads each BLAS call may use inside the context; ``None`` leaves BLAS as it is.
    where : str
        The public function (starts the error message).
    name : str
        The argument's name in that function.

    Returns
    -------
    contextlib.AbstractContextManager
        For one ``with`` block: :func:`threadpoolctl.threadpool_limits` for the BLAS
        libraries from entering the block to leaving it, or a null context. The argument is
        checked at once, when this is called.

    Raises
    ------
    TypeError, ValueError
        If ``threads`` is not ``None`` or an integer >= 1 (naming ``where`` and ``name``).

    Notes
    -----
    The limit applies to the calling process, from entering to leaving the context
    (:mod:`threadpoolctl` sets the libraries' thread counts and restores them on exit), so
    it also covers threads the caller starts inside it (nutpie's chains).
    """
    if threads is None:
        return contextlib.nullcontext()
    return _limited(_checks.check_int(threads, where, name, low=1))


@contextlib.contextmanager
def _limited(threads: int):
    """Apply the limit from entering to leaving (``threadpool_limits`` applies it when built)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        yield
