"""Stateful kernels of a composition: pass each part's forward state on to its adjoint.

For ``outer ∘ inner`` with ``u = inner(m)`` and ``d = outer(u)``, the composed state is the
concatenation ``[u, s_inner, s_outer]`` (lengths ``inner.n_data``, ``inner.n_state``,
``outer.n_state``): the adjoint needs ``u`` as the outer linearisation point, and each part's
own state if it has one. A part without ``forward_state`` contributes an empty state and runs
its plain ``forward``/``vjp``.
"""

from __future__ import annotations

import numpy as np

from bayesinv._numba import njit


def _with_state(kernels):
    """``(forward_state, vjp_state)`` of a part, wrapping a stateless one."""
    if kernels.forward_state is not None:
        return kernels.forward_state, kernels.vjp_state
    f, vjp = kernels.forward, kernels.vjp

    @njit(nogil=True)
    def forward_state(m):
        return f(m), np.empty(0)

    @njit(nogil=True)
    def vjp_state(m, state, dd):
        return vjp(m, dd)

    return forward_state, vjp_state


def composed_state_kernels(ko, ki, inner):
    """Return ``(forward_state, vjp_state)`` of ``outer ∘ inner`` from the parts' kernels.

    Parameters
    ----------
    ko, ki : NumbaKernels
        Kernels of the outer and inner operators.
    inner : ForwardOperator
        The inner operator (for its output and state lengths).

    Returns
    -------
    tuple of callable
        The composed ``forward_state(m) -> (d, state)`` and ``vjp_state(m, state, dd)``.
    """
    fs_out, vs_out = _with_state(ko)
    fs_in, vs_in = _with_state(ki)
    n_u, n_si = inner.n_data, inner.n_state

    @njit(nogil=True)
    def forward_state(m):
        u, s_in = fs_in(m)
        d, s_out = fs_out(u)
        state = np.empty(n_u + s_in.size + s_out.size)
        state[:n_u] = u
        state[n_u : n_u + s_in.size] = s_in
        state[n_u + s_in.size :] = s_out
        return d, state

    @njit(nogil=True)
    def vjp_state(m, state, dd):
        u = state[:n_u]
        du = vs_out(u, state[n_u + n_si :], dd)
        return vs_in(m, state[n_u : n_u + n_si], du)

    return forward_state, vjp_state
