"""2.5-D DC resistivity: the finite-element operator, its wavenumber quadrature and arrays."""

from bayesinv.operators.resistivity.arrays import (
    dipole_dipole,
    pole_dipole,
    pole_pole,
    schlumberger,
    surface_electrodes,
    wenner,
)
from bayesinv.operators.resistivity.errors import check_errors, reciprocal_error_model
from bayesinv.operators.resistivity.from_survey import from_survey
from bayesinv.operators.resistivity.operator import DCResistivity2p5D

__all__ = [
    "DCResistivity2p5D",
    "check_errors",
    "dipole_dipole",
    "from_survey",
    "pole_dipole",
    "pole_pole",
    "reciprocal_error_model",
    "schlumberger",
    "surface_electrodes",
    "wenner",
]
