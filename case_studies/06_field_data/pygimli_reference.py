"""pyGIMLi's deterministic inversion of slagdump.ohm, sampled onto case study 06's grid.

A standalone script for pyGIMLi's Python, not part of bayesinv (pyGIMLi is never a
dependency of the package). It runs pyGIMLi's smoothness-regularised ERT inversion of the
field file twice, with the settings of pyGIMLi's example "ERT field data with topography"
(``doc/examples/3_ert/plot_02_ert_field_data.py`` of gimli-org/gimli: numerical geometric
factors, errors of 3 % plus 50 µV at the assumed 100 mA, ``lam = 10``, ``paraDX = 0.3``,
``paraMaxCellSize = 10``, ``paraDepth = 20``, ``quality = 33.6``, the default first-order
smoothness constraints):

- ``topo``: the file as it is, with its topography (the example);
- ``flat``: the same data levelled as bayesinv levels them (electrodes at their distance
  along the ground on a flat surface, half-space geometric factors of that flat line),
  i.e. the forward model of case study 06.

Each inverted section is sampled onto the cells of case study 06's full-size grid (from
``config.toml``: ``[common] padding`` and ``[full] nx, nz, depth``; x = distance along the
ground from the first electrode, z = depth below the ground): each cell is the mean of
log10 resistivity over 5 x 5 points inside it; a cell that pyGIMLi's parameter mesh does
not cover entirely is NaN. For ``topo`` the point at distance ``s`` along the ground and
depth ``d`` is mapped to the point of the topographic section at that ground position and
``d`` vertically below the ground (linear between the electrodes, the end slopes carried
on beyond them).

Writes ``pygimli_section.npz`` (beside this script unless ``--out`` is given):
``log10_rho_topo``, ``log10_rho_flat`` (nz, nx), ``x_centers``, ``z_centers``, ``chi2_topo``,
``chi2_flat``, ``lam_topo``, ``lam_flat``, ``rrms_topo``, ``rrms_flat`` (relative rms misfit,
%), ``n_data``, ``pygimli_version``, ``data_sha256``, ``settings``; and a picture
(``output/case_studies/06_field_data/pygimli_section.png`` unless ``--figure`` is given):
pyGIMLi's own sections and the two sampled onto the grid.

How to run (pyGIMLi in its own virtual environment; Python 3.12 for pgcore's wheel)::

    python3.12 -m venv pgvenv
    pgvenv/bin/pip install pygimli pgcore matplotlib scipy   # pyGIMLi 1.6.1, pgcore 1.6.0
    pgvenv/bin/python case_studies/06_field_data/pygimli_reference.py /path/to/slagdump.ohm

(the download command of slagdump.ohm is in README.md). It takes about 25 s of CPU.
The script sets ``BERT_NUM_THREADS=1`` unless it is set: pgcore 1.6.0 computes no
sensitivities without it (see the comment at ``os.environ`` below).
Case study 06's full size then draws its comparison figure from the npz.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tomllib
from pathlib import Path

import numpy as np

# pgcore 1.6.0's wheel reads the number of threads for the sensitivity matrix from
# BERT_NUM_THREADS; unset, it uses 0 threads, the Jacobian is all zeros and the inversion
# stops at its starting model (log: "S(2/0-std::mt)", "sens sum: median = 0"). It must be
# set before pgcore is loaded.
os.environ.setdefault("BERT_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
FIGURE = HERE.parents[1] / "output" / "case_studies" / HERE.name / "pygimli_section.png"
SUB = 5  # sample points per cell and direction
# the example's settings (gimli-org/gimli doc/examples/3_ert/plot_02_ert_field_data.py)
SETTINGS = {
    "relativeError": 0.03,
    "absoluteUError": 5e-5,  # V, with pyGIMLi's default current of 0.1 A
    "lam": 10.0,
    "paraDX": 0.3,
    "paraMaxCellSize": 10.0,
    "paraDepth": 20.0,
    "quality": 33.6,
}


def grid_from_config(config_path: Path, along: np.ndarray):
    """Cell edges (x, z) of case study 06's full-size grid over electrodes at ``along``."""
    with open(config_path, "rb") as f:
        cfg = tomllib.load(f)
    pad_frac, full = cfg["common"]["padding"], cfg["full"]
    width = along.max() - along.min()
    pad = pad_frac * width
    x_edges = np.linspace(along.min() - pad, along.max() + pad, full["nx"] + 1)
    z_edges = np.linspace(0.0, full["depth"], full["nz"] + 1)
    return x_edges, z_edges


def sample_points(x_edges, z_edges):
    """SUB x SUB points in each cell: arrays (nz, nx, SUB*SUB) of x and depth."""
    fx = (np.arange(SUB) + 0.5) / SUB
    xs = x_edges[:-1, None] + np.diff(x_edges)[:, None] * fx  # (nx, SUB)
    zs = z_edges[:-1, None] + np.diff(z_edges)[:, None] * fx  # (nz, SUB)
    px = np.broadcast_to(xs[None, :, None, :], (zs.shape[0], xs.shape[0], SUB, SUB))
    pz = np.broadcast_to(zs[:, None, :, None], (zs.shape[0], xs.shape[0], SUB, SUB))
    n = SUB * SUB
    return px.reshape(zs.shape[0], xs.shape[0], n), pz.reshape(zs.shape[0], xs.shape[0], n)


def along_to_topo(s, depth, along, x, elev):
    """Map (distance along the ground, depth below it) to (x, elevation) of the file."""

    def extend(v):
        lo = v[0] + (s - along[0]) * (v[1] - v[0]) / (along[1] - along[0])
        hi = v[-1] + (s - along[-1]) * (v[-1] - v[-2]) / (along[-1] - along[-2])
        return np.where(s < along[0], lo, np.where(s > along[-1], hi, np.interp(s, along, v)))

    px = extend(x)
    ground = np.interp(px, x, elev)  # horizontal beyond the ends, as pyGIMLi's mesh
    return px, ground - depth


def sample_section(mesh, log10_rho, px, pz):
    """Mean of ``log10_rho`` (per cell of ``mesh``) over the points; NaN if any is outside."""
    import pygimli as pg

    out = np.full(px.shape[:2], np.nan)
    for i in range(px.shape[0]):
        for j in range(px.shape[1]):
            vals = []
            for x, z in zip(px[i, j], pz[i, j], strict=True):
                cell = mesh.findCell(pg.Pos(float(x), float(z)))
                if cell is None:
                    break
                vals.append(log10_rho[cell.id()])
            else:
                out[i, j] = np.mean(vals)
    return out


def invert(data, verbose=False):
    """Invert ``data`` (with 'r' and 'k') with pyGIMLi: model, mesh, chi², λ, rrms."""
    from pygimli.physics import ert

    data["rhoa"] = data["r"] * data["k"]
    data["err"] = ert.estimateError(
        data, relativeError=SETTINGS["relativeError"], absoluteUError=SETTINGS["absoluteUError"]
    )
    mgr = ert.ERTManager(data)
    keys = ("lam", "paraDX", "paraMaxCellSize", "paraDepth", "quality")
    model = np.asarray(mgr.invert(data, verbose=verbose, **{k: SETTINGS[k] for k in keys}))
    mesh = mgr.paraDomain
    assert len(model) == mesh.cellCount(), "model and parameter mesh differ"
    fit = {
        "chi2": float(mgr.inv.chi2()),
        "lam": float(mgr.inv.inv.getLambda()),  # what the run used
        "rrms": float(mgr.inv.relrms()),
    }
    return model, mesh, fit


def main(argv=None):
    """Run both inversions, write the npz and the picture (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_file", type=Path, help="path of slagdump.ohm")
    parser.add_argument("--config", type=Path, default=HERE / "config.toml")
    parser.add_argument("--out", type=Path, default=HERE / "pygimli_section.npz")
    parser.add_argument("--figure", type=Path, default=FIGURE, help="the picture (png)")
    parser.add_argument("--verbose", action="store_true", help="pyGIMLi's inversion log")
    args = parser.parse_args(argv)

    import pygimli as pg
    from pygimli.physics import ert

    sha = hashlib.sha256(args.data_file.read_bytes()).hexdigest()
    data = ert.load(str(args.data_file))
    pos = np.array([[p[0], p[2]] for p in data.sensors()])  # x, elevation (the file's z)
    along = np.concatenate([[pos[0, 0]], pos[0, 0] + np.cumsum(np.hypot(*np.diff(pos, axis=0).T))])
    x_edges, z_edges = grid_from_config(args.config, along)
    px, pz = sample_points(x_edges, z_edges)

    # 1. as in the example: topography, numerical geometric factors
    data["k"] = ert.createGeometricFactors(data, numerical=True)
    model_t, mesh_t, fit_t = invert(data, args.verbose)
    tx, tz = along_to_topo(px, pz, along, pos[:, 0], pos[:, 1])
    grid_t = sample_section(mesh_t, np.log10(model_t), tx, tz)

    # 2. levelled as bayesinv does: distance along the ground, flat half-space factors
    flat = ert.load(str(args.data_file))
    for i in range(flat.sensorCount()):
        flat.setSensorPosition(i, pg.Pos(float(along[i]), 0.0))
    flat["k"] = ert.createGeometricFactors(flat)
    model_f, mesh_f, fit_f = invert(flat, args.verbose)
    grid_f = sample_section(mesh_f, np.log10(model_f), px, -pz)

    out = {
        "log10_rho_topo": grid_t,
        "log10_rho_flat": grid_f,
        "x_centers": 0.5 * (x_edges[1:] + x_edges[:-1]),
        "z_centers": 0.5 * (z_edges[1:] + z_edges[:-1]),
        "chi2_topo": fit_t["chi2"],
        "chi2_flat": fit_f["chi2"],
        "lam_topo": fit_t["lam"],
        "lam_flat": fit_f["lam"],
        "rrms_topo": fit_t["rrms"],
        "rrms_flat": fit_f["rrms"],
        "n_data": data.size(),
        "pygimli_version": pg.__version__,
        "data_sha256": sha,
        "settings": repr(SETTINGS),
    }
    np.savez_compressed(args.out, **out)
    fits = ("chi2_topo", "chi2_flat", "lam_topo", "lam_flat", "rrms_topo", "rrms_flat")
    print(f"wrote {args.out}: " + ", ".join(f"{k} {out[k]:.4g}" for k in fits))
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    _figure(args.figure, (mesh_t, model_t), (mesh_f, model_f), out, pos)


def _figure(path, topo, flat, out, pos):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pygimli as pg

    kw = {"cMin": 5, "cMax": 30, "cMap": "Spectral_r", "logScale": True}
    fig, axes = plt.subplots(2, 2, figsize=(13, 7))
    for ax, (mesh, model), name in zip(axes[0], (topo, flat), ("topo", "flat"), strict=True):
        pg.show(mesh, model, ax=ax, label="resistivity (ohm m)", **kw)
        chi2 = out[f"chi2_{name}"]
        ax.set_title(f"pyGIMLi {name}: lam = {out[f'lam_{name}']:g}, chi2 = {chi2:.2f}")
    axes[0, 0].plot(pos[:, 0], pos[:, 1], "kv", ms=3)
    x, z = out["x_centers"], out["z_centers"]
    dx, dz = x[1] - x[0], z[1] - z[0]
    extent = (x[0] - dx / 2, x[-1] + dx / 2, z[-1] + dz / 2, z[0] - dz / 2)
    for ax, name in zip(axes[1], ("topo", "flat"), strict=True):
        im = ax.imshow(
            out[f"log10_rho_{name}"],
            extent=extent,
            vmin=np.log10(5),
            vmax=np.log10(30),
            cmap="Spectral_r",
            aspect="auto",
        )
        ax.set(
            title=f"{name} on case study 06's grid (NaN: not covered)",
            xlabel="distance along the ground (m)",
            ylabel="depth (m)",
        )
        fig.colorbar(im, ax=ax, label="log10 resistivity (ohm m)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
