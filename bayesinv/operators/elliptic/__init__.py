"""Elliptic problems −∇·(a∇u) = f: finite-element operators and homogenized coarse models."""

from bayesinv.operators.elliptic.elliptic1d import Elliptic1D
from bayesinv.operators.elliptic.homogenization import CellAverage, HomogenizedCoefficient
from bayesinv.operators.elliptic.operator import Elliptic2D
from bayesinv.operators.elliptic.problems import EllipticBenchmark, elliptic_benchmark

__all__ = [
    "CellAverage",
    "Elliptic1D",
    "Elliptic2D",
    "EllipticBenchmark",
    "HomogenizedCoefficient",
    "elliptic_benchmark",
]
