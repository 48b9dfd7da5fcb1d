"""Kernels keep exact arithmetic whoever compiles them first (``bayesinv._numba.njit``)."""

import re
from pathlib import Path

import numba

from bayesinv._numba import njit

PACKAGE = Path(__file__).resolve().parents[1] / "bayesinv"
#: a·b + c with a = b = 1 + 2^-30, c = -(1 + 2^-29): 0 when a·b is rounded first, 2^-60 fused
A, C = 1.0 + 2.0**-30, -(1.0 + 2.0**-29)


def test_every_kernel_of_the_package_is_compiled_by_bayesinv_njit():
    direct = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "_numba.py":
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"\s*(@numba\.njit|.*=\s*numba\.njit\()", line):
                direct.append(f"{path.relative_to(PACKAGE.parent)}:{i}")
    assert not direct, f"use bayesinv._numba.njit (explicit fastmath) at: {direct}"


def test_a_kernel_first_compiled_from_a_fast_math_caller_stays_exact():
    # negative control: numba.njit without fastmath inherits the caller's contraction, and
    # keeps it for later calls; bayesinv's njit sets fastmath=False, which is not inherited
    @numba.njit
    def plain(a, b, c):
        return a * b + c

    @njit
    def ours(a, b, c):
        return a * b + c

    @numba.njit(fastmath={"contract"})
    def caller(a, b, c):
        return plain(a, b, c) + ours(a, b, c)

    caller(A, A, C)  # both compiled here first
    assert A * A + C == 0.0
    assert plain(A, A, C) == 2.0**-60  # fused: the inherited flag took effect
    assert ours(A, A, C) == 0.0
