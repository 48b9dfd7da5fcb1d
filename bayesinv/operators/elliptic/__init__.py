"""Elliptic problems −∇·(a∇u) = f: finite-element operators and homogenized coarse models."""

from bayesinv.operators.elliptic.operator import Elliptic2D

__all__ = ["Elliptic2D"]
