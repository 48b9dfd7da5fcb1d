"""Acoustic wave physics: 1-D and 2-D operators with discrete adjoints, wavelets, filters.

The unknown of the wave operators is log-velocity; their data are traces ordered
``(shot, receiver, time)``. :class:`BandPass` restricts traces to a frequency band
(``BandPass(...) @ AcousticWave2D(...)``) with its exact adjoint; :class:`TraceWhitening`
whitens the filtered noise (the likelihood of band-limited data).
"""

from bayesinv.operators.wave.acoustic1d import AcousticWave1D
from bayesinv.operators.wave.acoustic2d import AcousticWave2D
from bayesinv.operators.wave.bandpass import BandPass
from bayesinv.operators.wave.wavelets import check_wavelet, ricker, time_samples
from bayesinv.operators.wave.whitening import TraceWhitening

__all__ = [
    "AcousticWave1D",
    "AcousticWave2D",
    "BandPass",
    "TraceWhitening",
    "check_wavelet",
    "ricker",
    "time_samples",
]
