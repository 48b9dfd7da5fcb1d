"""Model terms: everything that adds named variables to a ``pm.Model``.

Fields and their prior specs, modalities (a forward chain, a noise model and an optional
model-discrepancy GP), couplings between fields, and :class:`JointInversion`, the builder
that assembles them into one plain PyMC model.
"""

from bayesinv.model.builder import JointInversion
from bayesinv.model.coupling import (
    CrossGradient,
    Homogenization,
    Petrophysical,
    archie,
    linear,
    power_law,
)
from bayesinv.model.discrepancy import Discrepancy
from bayesinv.model.fields import BesovField, Field, IIDNormal, MaternField, field_dims
from bayesinv.model.modality import Modality
from bayesinv.model.noise import (
    CovarianceNoise,
    HierarchicalNoise,
    KnownNoise,
    Noise,
    ScaledNoise,
)
from bayesinv.model.priors import (
    besov_prior,
    bounded_transform,
    field_mean,
    matern_prior,
    positive_transform,
)

__all__ = [
    "BesovField",
    "CovarianceNoise",
    "CrossGradient",
    "Discrepancy",
    "Field",
    "HierarchicalNoise",
    "Homogenization",
    "IIDNormal",
    "JointInversion",
    "KnownNoise",
    "MaternField",
    "Modality",
    "Noise",
    "Petrophysical",
    "ScaledNoise",
    "archie",
    "besov_prior",
    "bounded_transform",
    "field_dims",
    "field_mean",
    "linear",
    "matern_prior",
    "positive_transform",
    "power_law",
]
