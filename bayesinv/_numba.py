"""The one way the package compiles a numba kernel: :func:`njit`, exact arithmetic by default.

numba lets a function whose ``fastmath`` option is not set *inherit* the flags of the
function whose compilation triggers its own (``Flags.inherit_if_not_set("fastmath")``), and
it caches the result on disk under a key that does not record the flags. A kernel first
compiled from a fast-math caller — PyTensor's numba backend compiles with fast-math by
default — is then compiled with floating-point contraction and reassociation, and that
code is what every later call and every later process that reads the cache runs. The same
kernel gave results differing by ~1e-14 relative depending on which caller compiled it
first (``Eikonal2D``'s ``forward_state`` against ``forward`` in a clean clone). Every kernel
of the package is therefore compiled with an explicit ``fastmath`` (``False`` unless a
kernel asks for flags itself), which numba does not override.
"""

from __future__ import annotations

import numba

__all__ = ["njit"]


def njit(*args, **options):
    r"""``numba.njit`` with ``fastmath=False`` unless ``fastmath`` is given.

    Used as ``@njit``, ``@njit(cache=True, nogil=True)`` or ``njit(**options)(function)``.

    Parameters
    ----------
    *args
        The function to compile (bare decorator use) or ``numba.njit``'s positional
        arguments (a signature).
    **options
        ``numba.njit`` options; ``fastmath`` defaults to ``False``.

    Returns
    -------
    numba dispatcher or decorator
        What ``numba.njit`` returns for the same arguments.

    Notes
    -----
    With ``fastmath`` unset, numba compiles a callee with the flags of its caller, so
    :math:`a b + c` may become one fused multiply-add :math:`\operatorname{fl}(ab + c)`
    instead of :math:`\operatorname{fl}(\operatorname{fl}(ab) + c)` depending on who called
    first. An explicit value is never inherited, so each kernel's arithmetic is fixed by
    its own source.
    """
    options.setdefault("fastmath", False)
    return numba.njit(*args, **options)
