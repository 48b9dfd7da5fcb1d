"""Draw prior realisations of each bayesinv field prior and save one picture per prior.

Usage: ``python docs/scripts/prior_gallery.py [--out docs/_static/priors] [--seed 2026]``.
Each picture shows four seeded prior draws on the same 2-D section (z positive down).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pymc as pm

from bayesinv import Grid2D
from bayesinv.model.priors import besov_prior, matern_prior
from bayesinv.multiscale import Prolongation, WaveletField

HERE = Path(__file__).resolve().parent
GRID = Grid2D(nx=128, nz=64, dx=5.0, dz=5.0)  # 640 m x 320 m section
N_DRAWS = 4


def _besov(wavelet, s, p, heavy_tail=None):
    def build():
        W = WaveletField(GRID, wavelet, levels=5)
        return besov_prior("m", W, s=s, p=p, scale=1.0, heavy_tail=heavy_tail)

    return build


def _matern(nu, length_scale):
    def build():
        coarse = Grid2D(nx=32, nz=16, dx=20.0, dz=20.0)
        P = Prolongation(coarse, GRID, "bilinear")
        return matern_prior("m", P, variance=1.0, length_scale=length_scale, nu=nu)

    return build


PRIORS = {
    "besov_p2_haar": ("Besov p=2, s=2, Haar", _besov("haar", 2.0, 2)),
    "besov_p2_db4": ("Besov p=2, s=2, db4", _besov("db4", 2.0, 2)),
    "besov_p1_haar": ("Besov p=1, s=3, Haar", _besov("haar", 3.0, 1)),
    "besov_p2_db2_student_t": (
        "Besov p=2, s=2, db2, Student-t(3)",
        _besov("db2", 2.0, 2, "student_t"),
    ),
    "matern_nu15": ("Matérn ν=1.5, ℓ=80 m, 32x16 coarse, bilinear", _matern(1.5, 80.0)),
    "matern_nu25": ("Matérn ν=2.5, ℓ=120 m, 32x16 coarse, bilinear", _matern(2.5, 120.0)),
}


def draw(build, seed: int) -> np.ndarray:
    """Return ``N_DRAWS`` prior draws of the field built by ``build`` as ``(draw, nz, nx)``."""
    with pm.Model():
        field = build()
        draws = pm.draw(field, draws=N_DRAWS, random_seed=seed)
    return GRID.unravel(draws)


def plot(title: str, fields: np.ndarray, path: Path) -> None:
    """Save a row of draws with a shared, symmetric colour scale."""
    vmax = np.quantile(np.abs(fields), 0.99)
    fig, axes = plt.subplots(1, N_DRAWS, figsize=(3.2 * N_DRAWS, 2.2), constrained_layout=True)
    for i, ax in enumerate(axes):
        im = ax.imshow(fields[i], extent=GRID.extent, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(f"draw {i}", fontsize=9)
        ax.set_xlabel("x (m)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("depth z (m)", fontsize=8)
    fig.colorbar(im, ax=axes, shrink=0.8)
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    """Draw every prior and write ``<out>/<prior>.png``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE.parent / "_static" / "priors"))
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for k, (key, (title, build)) in enumerate(PRIORS.items()):
        fields = draw(build, args.seed + k)
        plot(title, fields, out / f"{key}.png")
        print(f"wrote {out / f'{key}.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
