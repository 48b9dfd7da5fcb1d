"""Forward operators: physics, observation operators and their compositions.

Every operator follows the :class:`ForwardOperator` protocol (``n_params``, ``n_data``,
``forward``, ``jvp``, ``vjp``) on flat float64 vectors.
"""

from bayesinv.operators.base import (
    ComposedOperator,
    ForwardOperator,
    NumbaKernels,
    as_vector,
    compose,
    linear_kernels,
)
from bayesinv.operators.crossgradient import CrossGradient2D
from bayesinv.operators.eikonal import Eikonal2D
from bayesinv.operators.elliptic import (
    CellAverage,
    Elliptic1D,
    Elliptic2D,
    HomogenizedCoefficient,
)
from bayesinv.operators.gravity import Gravity2D
from bayesinv.operators.lowrank import LowRankUpdate
from bayesinv.operators.magnetics import Magnetics2D
from bayesinv.operators.matrix import MatrixOperator
from bayesinv.operators.observation import Differencer, PointSampler, Subset
from bayesinv.operators.resistivity import DCResistivity2p5D
from bayesinv.operators.sparse import SparseMatrixOperator
from bayesinv.operators.transient import (
    PumpingSchedule,
    RadialTransientDiffusion,
    TransientDiffusion2D,
)
from bayesinv.operators.traveltime import StraightRayTomography
from bayesinv.operators.wave import AcousticWave1D, AcousticWave2D, BandPass

__all__ = [
    "AcousticWave1D",
    "AcousticWave2D",
    "BandPass",
    "CellAverage",
    "ComposedOperator",
    "CrossGradient2D",
    "DCResistivity2p5D",
    "Differencer",
    "Eikonal2D",
    "Elliptic1D",
    "Elliptic2D",
    "ForwardOperator",
    "Gravity2D",
    "HomogenizedCoefficient",
    "LowRankUpdate",
    "Magnetics2D",
    "MatrixOperator",
    "NumbaKernels",
    "PointSampler",
    "PumpingSchedule",
    "RadialTransientDiffusion",
    "SparseMatrixOperator",
    "StraightRayTomography",
    "Subset",
    "TransientDiffusion2D",
    "as_vector",
    "compose",
    "linear_kernels",
]
