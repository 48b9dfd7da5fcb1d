"""Eikonal (first-arrival) travel-time tomography: fast marching with an exact adjoint.

:class:`Eikonal2D` computes first-arrival times through a cell-wise slowness field by
factored fast marching and differentiates the discrete solver exactly;
:mod:`~bayesinv.operators.eikonal.surveys` builds refraction and cross-hole geometries.
"""

from bayesinv.operators.eikonal.operator import Eikonal2D
from bayesinv.operators.eikonal.surveys import crosshole_survey, refraction_survey

__all__ = ["Eikonal2D", "crosshole_survey", "refraction_survey"]
