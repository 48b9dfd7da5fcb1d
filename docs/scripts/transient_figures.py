"""Figures of the transient diffusion page: stiffness (TR-BDF2 vs Crank–Nicolson) and Theis.

Usage: ``python docs/scripts/transient_figures.py [--out docs/_static/transient]``.
The stiffness case is the one of ``tests/operators/transient/test_transient_analytic.py``:
a 1-D section with a conductivity contrast of 1e6, a unit step of head as initial state and
steps 1000 times the explicit (forward Euler) stability limit.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp
from scipy.linalg import expm
from scipy.sparse.linalg import splu
from scipy.special import exp1

from bayesinv import Grid2D
from bayesinv.operators.transient import (
    PumpingSchedule,
    RadialTransientDiffusion,
    TransientDiffusion2D,
    log_radii,
)

HERE = Path(__file__).resolve().parent


def _stiff(steps):
    grid = Grid2D(nx=100, nz=1, dx=1.0, dz=1.0)
    x = grid.x_centers
    h0 = np.where(x < 25.0, 1.0, 0.0)
    op = TransientDiffusion2D(
        grid, None, None, wells=[[10.0, 0.5]], times=[float(np.sum(steps))], storage=1.0,
        initial_head=h0, data="head", steps=steps,
    )  # fmt: skip
    return op, op.parameters(np.where(x < 50.0, 1.0, 1e-6)), h0, x


def stiffness_figure(path: Path) -> None:
    """TR-BDF2 and Crank–Nicolson after 1, 2 and 30 steps of 1000x the explicit limit."""
    op, m, h0, x = _stiff([1.0])
    dt = 1e3 * op.explicit_step_limit(m)
    n_steps = 30
    op, m, h0, x = _stiff(np.full(n_steps, dt))
    _, H = op.states(m)
    mass, A = op.matrices(m)
    lhs = splu(sp.csc_matrix(sp.diags(mass) + 0.5 * dt * A))
    rhs = sp.diags(mass) - 0.5 * dt * A
    cn = [h0]
    for _ in range(n_steps):
        cn.append(lhs.solve(rhs @ cn[-1]))
    cn = np.array(cn)
    G = -(A.toarray() / mass[:, None])
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, s in zip(axes[:2], (1, 2), strict=True):
        ax.plot(x, expm(G * dt * s) @ h0, "k", lw=3, alpha=0.35, label="exact (semi-discrete)")
        ax.plot(x, H[s], "C0", label="TR-BDF2 (L-stable)")
        ax.plot(x, cn[s], "C3--", label="Crank–Nicolson")
        ax.axvline(50.0, color="0.6", lw=0.8)
        ax.set(xlabel="x (m)", ylabel="head", title=f"after {s} step{'s' if s > 1 else ''}")
    axes[0].legend(fontsize=8)
    rise = np.max(np.diff(H, axis=1), axis=1)[1:]
    rise_cn = np.max(np.diff(cn, axis=1), axis=1)[1:]
    steps = np.arange(1, n_steps + 1)
    axes[2].semilogy(steps, np.maximum(rise, 1e-17), "C0o-", ms=3, label="TR-BDF2")
    axes[2].semilogy(steps, np.maximum(rise_cn, 1e-17), "C3s--", ms=3, label="Crank–Nicolson")
    axes[2].set(xlabel="step", ylabel="largest rise of h along x", title="non-monotonicity")
    axes[2].legend(fontsize=8)
    fig.suptitle("K contrast 1e6 (K = 1 for x < 50 m, 1e-6 beyond), Δt = 1000 × explicit limit")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def theis_figure(path: Path) -> None:
    """Radial operator vs the Theis solution at three distances."""
    Q, K, b, Ss = 0.01, 1e-4, 10.0, 1e-5
    radii = np.array([6.0, 25.0, 60.0])
    times = np.geomspace(60.0, 86400.0, 30)
    op = RadialTransientDiffusion(
        log_radii(0.1, 20000.0, 120), [0.0, b], PumpingSchedule([86400.0], [Q]),
        wells=np.column_stack([radii, np.full(3, 5.0)]), times=times, storage=Ss,
        dt_min=1.0, dt_max=2000.0,
    )  # fmt: skip
    s = op.forward(op.parameters(K)).reshape(radii.size, -1)
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for i, r in enumerate(radii):
        theis = Q / (4 * np.pi * K * b) * exp1(r**2 * Ss * b / (4 * K * b * times))
        ax.semilogx(times, theis, "k", lw=3, alpha=0.3, label="Theis" if i == 0 else None)
        ax.semilogx(times, s[i], f"C{i}o", ms=3, label=f"r = {r:g} m")
    ax.set(xlabel="time (s)", ylabel="drawdown (m)", title="RadialTransientDiffusion vs Theis")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> None:
    """Write ``stiffness.png`` and ``theis.png`` into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=HERE.parent / "_static" / "transient")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    stiffness_figure(args.out / "stiffness.png")
    theis_figure(args.out / "theis.png")


if __name__ == "__main__":
    main()
