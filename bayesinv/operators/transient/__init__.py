"""Transient diffusion (pumping tests): Cartesian and radial operators, schedules, time grids."""

from bayesinv.operators.transient.operator import TransientDiffusion2D
from bayesinv.operators.transient.radial import RadialTransientDiffusion, log_radii
from bayesinv.operators.transient.schedule import PumpingSchedule, graded_steps

__all__ = [
    "PumpingSchedule",
    "RadialTransientDiffusion",
    "TransientDiffusion2D",
    "graded_steps",
    "log_radii",
]
