"""Forward operators: physics, observation operators and their compositions.

Every operator follows the :class:`ForwardOperator` protocol (``n_params``, ``n_data``,
``forward``, ``jvp``, ``vjp``) on flat float64 vectors.
"""

from bayesinv.operators.base import ForwardOperator, NumbaKernels, as_vector
from bayesinv.operators.composite import ComposedOperator, compose
from bayesinv.operators.gravity import Gravity2D
from bayesinv.operators.matrix import MatrixOperator

__all__ = [
    "ComposedOperator",
    "ForwardOperator",
    "Gravity2D",
    "MatrixOperator",
    "NumbaKernels",
    "as_vector",
    "compose",
]
