"""The seed policy: every random number in bayesinv comes from an explicit seed, through here.

A *seed* is what a user passes as ``random_seed``: a non-negative integer, a
:class:`numpy.random.SeedSequence` or a :class:`numpy.random.Generator`. Nothing in bayesinv
draws without one (no ``default_rng()`` without an argument, no hidden ``default_rng(0)``).

Notes
-----
- An integer seed ``s`` is used as it is where an API takes one integer (nutpie, PyMC), so
  ``sample(..., random_seed=s)`` draws what ``pymc.sample(..., random_seed=s)`` draws.
- Independent streams (replicates of a study, levels of a continuation, chains, workers)
  are the children of ``SeedSequence(s)``: child ``i`` is ``SeedSequence(s).spawn(n)[i]``,
  which does not depend on ``n``, on the order in which the streams are used or on the
  thread or process that uses them. Where an integer is needed, child ``i`` gives
  ``int(child.generate_state(1)[0])`` (in ``0 .. 2**32 - 1``).
- A ``Generator`` is consumed once, drawing one integer in ``0 .. 2**31 - 2``; that
  integer then acts as the seed. Passing the same generator twice gives different results,
  as numpy users expect.
- A seed fixes the random numbers, not the floating-point rounding of compiled code. PyMC
  models sampled with nutpie are compiled by PyTensor's numba backend, with fast-math flags by
  default, and its on-disk cache changes the machine code: a kernel compiled in this process
  is linked as LLVM IR and optimised together with its caller (reassociated, fused into FMAs),
  one loaded from the cache is linked as object code. The log density then differs by an ulp
  between a process with a cold cache and one with a warm cache, and NUTS turns one ulp into a
  different chain. Compile every model that a sampler runs on inside
  :func:`reproducible_compilation`, which switches the fast-math flags off (exact IEEE
  arithmetic, the same rounding however the code is linked).
"""

from __future__ import annotations

import contextlib
import threading
from numbers import Integral

import numpy as np

__all__ = [
    "as_generator",
    "as_int",
    "child_seeds",
    "reproducible_compilation",
    "seed_sequence",
]

#: PyTensor's flags are process-wide: contexts of :func:`reproducible_compilation` open in
#: several threads are counted, and the flag is restored only when the last one closes
_COMPILE_STATE = {"open": 0, "saved": None}
_COMPILE_LOCK = threading.Lock()

_EXPECTED = (
    "an integer >= 0, a numpy.random.SeedSequence or a numpy.random.Generator "
    "(bayesinv never draws with an implicit seed)"
)


def as_int(seed, where: str, name: str = "random_seed") -> int:
    """Return the integer a seed stands for (see the module notes).

    Parameters
    ----------
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        The seed.
    where : str
        Function or class that received it (starts the error message).
    name : str
        The argument's name.

    Returns
    -------
    int
        A non-negative integer: ``seed`` itself, the first 32-bit word of a
        ``SeedSequence``'s state, or one draw from a ``Generator``.

    Raises
    ------
    ValueError
        For ``None``, booleans, floats, strings and negative integers.
    """
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**31 - 1))
    if isinstance(seed, np.random.SeedSequence):
        return int(seed.generate_state(1)[0])
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"{where}: {name} must be {_EXPECTED}, got {seed!r}")
    return int(seed)


def seed_sequence(seed, where: str, name: str = "random_seed") -> np.random.SeedSequence:
    """Return the :class:`numpy.random.SeedSequence` of a seed.

    Parameters
    ----------
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        The seed.
    where : str
        Function or class that received it.
    name : str
        The argument's name.

    Returns
    -------
    numpy.random.SeedSequence
        A fresh copy of ``seed`` when it is one (so that spawning from the copy leaves the
        caller's sequence untouched and the same children come out every time), else
        ``SeedSequence(as_int(seed))``.
    """
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(
            seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size
        )
    return np.random.SeedSequence(as_int(seed, where, name))


def child_seeds(seed, n: int, where: str, name: str = "random_seed") -> list[int]:
    """Integer seeds of ``n`` independent streams derived from one seed.

    Parameters
    ----------
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        The parent seed.
    n : int
        Number of streams.
    where : str
        Function or class that received it.
    name : str
        The argument's name.

    Returns
    -------
    list of int
        ``n`` seeds in ``0 .. 2**32 - 1``; the first ``k`` do not depend on ``n``.

    Notes
    -----
    Child ``i`` is ``SeedSequence(s).spawn(n)[i]``, reduced to the first word of its state.
    """
    from bayesinv._checks import check_int

    n = check_int(n, where, "the number of streams", low=0)
    children = seed_sequence(seed, where, name).spawn(n)
    return [int(child.generate_state(1)[0]) for child in children]


def as_generator(seed, where: str, name: str = "random_seed") -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` for a seed (a generator as it is).

    Parameters
    ----------
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        The seed.
    where : str
        Function or class that received it.
    name : str
        The argument's name.

    Returns
    -------
    numpy.random.Generator
        ``seed`` when it is a generator, else ``numpy.random.default_rng(seed)``.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    return np.random.default_rng(as_int(seed, where, name))


@contextlib.contextmanager
def reproducible_compilation():
    """Compile PyTensor graphs (numba backend) whose results do not depend on the compile cache.

    Inside the context ``pytensor.config.numba__fastmath`` is ``False``. The flag is
    process-wide, so contexts opened in several threads are counted and the caller's value
    comes back when the last one closes (a thread never sees it restored while another is
    still compiling). Use it around ``nutpie.compile_pymc_model`` and
    ``pymc.sample(nuts_sampler=...)``.

    Yields
    ------
    None

    Notes
    -----
    With fast-math flags (PyTensor's default) LLVM may reassociate sums and fuse multiplies
    and adds across the kernels it inlines. A kernel freshly compiled in a process is inlined
    into its caller; the same kernel loaded from PyTensor's on-disk numba cache is linked as
    object code and is not. The two programs round differently (measured: the log density of
    the calibration study's model differed by one ulp at half of 50 random points between a
    cold-cache and a warm-cache process), and NUTS, whose accept and U-turn decisions compare
    log densities, turns that into a different chain. Without fast-math flags every
    operation is exact IEEE arithmetic in program order, whichever way the code is linked.
    """
    import pytensor

    with _COMPILE_LOCK:
        if _COMPILE_STATE["open"] == 0:
            _COMPILE_STATE["saved"] = pytensor.config.numba__fastmath
            pytensor.config.numba__fastmath = False
        _COMPILE_STATE["open"] += 1
    try:
        yield
    finally:
        with _COMPILE_LOCK:
            _COMPILE_STATE["open"] -= 1
            if _COMPILE_STATE["open"] == 0:
                pytensor.config.numba__fastmath = _COMPILE_STATE["saved"]
