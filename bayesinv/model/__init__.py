"""Model terms: everything that adds named variables to a ``pm.Model``.

Every term has one signature, PyMC's ``Deterministic`` style: ``add_to_model(..., *,
model=None)`` adds its named variables to the model in context (or to ``model``). The terms
are fields and their prior specs, modalities (a forward chain, a noise model and an optional
model-discrepancy GP) and couplings between fields; :class:`JointInversion`, the builder,
adds them all to one plain PyMC model.
"""

from bayesinv.model.builder import JointInversion
from bayesinv.model.coupling import (
    Coupling,
    CrossGradient,
    Homogenization,
    Petrophysical,
    archie,
    linear,
    power_law,
)
from bayesinv.model.discrepancy import Discrepancy
from bayesinv.model.fields import BesovPrior, Field, IIDNormal, MaternPrior, Prior, field_dims
from bayesinv.model.modality import Modality
from bayesinv.model.noise import (
    CovarianceNoise,
    HierarchicalNoise,
    KnownNoise,
    Noise,
    ScaledNoise,
)
from bayesinv.model.offsets import LinearTrend, Offset
from bayesinv.model.priors import besov_prior, matern_prior
from bayesinv.model.transforms import bounded_transform, field_mean, positive_transform

__all__ = [
    "BesovPrior",
    "Coupling",
    "CovarianceNoise",
    "CrossGradient",
    "Discrepancy",
    "Field",
    "HierarchicalNoise",
    "Homogenization",
    "IIDNormal",
    "JointInversion",
    "KnownNoise",
    "LinearTrend",
    "MaternPrior",
    "Modality",
    "Noise",
    "Offset",
    "Petrophysical",
    "Prior",
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


def __getattr__(name):
    # MaternField and BesovField: the 0.1 names of MaternPrior and BesovPrior (deprecated)
    from bayesinv.model import fields

    if name in fields._RENAMED:
        return getattr(fields, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
