"""Cycle skipping in 1-D: the full-band misfit has a false valley, the low band has none."""

import numpy as np

from bayesinv import Grid1D
from bayesinv.operators.wave import AcousticWave1D, BandPass, ricker, time_samples


def _local_minima(y):
    return int(np.sum((y[1:-1] < y[:-2]) & (y[1:-1] < y[2:])))


def test_low_band_misfit_has_one_valley_where_full_band_has_several():
    dt, T, f0, v_true = 1e-3, 0.7, 15.0, 2000.0
    t = time_samples(dt, T)
    grid = Grid1D(200, 5.0)
    op = AcousticWave1D(grid, [50.0], [650.0, 850.0], dt=dt, duration=T, wavelet=ricker(f0, t),
                        reference_velocity=v_true)  # fmt: skip
    low = BandPass(2, op.nt, dt, (0.0, 4.0))
    d_true = op.forward(np.full(grid.size, np.log(v_true)))
    velocities = np.linspace(1500.0, 2600.0, 56)
    full, band = [], []
    for v in velocities:
        r = op.forward(np.full(grid.size, np.log(v))) - d_true
        full.append(r @ r)
        band.append(np.sum(low.forward(r) ** 2))
    full, band = np.array(full), np.array(band)
    # both misfits are smallest at the truth ...
    assert velocities[full.argmin()] == velocities[band.argmin()] == v_true
    # ... but only the low band is unimodal over a +-25% range: a local optimiser started
    # anywhere in it reaches the truth, while the full band traps it in false valleys
    assert _local_minima(band) == 1
    assert _local_minima(full) >= 2
