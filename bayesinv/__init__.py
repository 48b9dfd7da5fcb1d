"""bayesinv: Bayesian, multi-modal, multiscale inversion with honest uncertainty.

Heavy layers (PyMC, PyTensor, ArviZ) are imported lazily, so ``bayesinv.grid`` and
``bayesinv.operators`` stay light.
"""

from bayesinv import _deprecation
from bayesinv.grid import Grid1D, Grid2D

__version__ = "0.2.0"

__all__ = ["Grid1D", "Grid2D", "__version__", "report", "sample"]

_deprecation.install()


def __getattr__(name):
    if name == "sample":
        from bayesinv.inference.sampling import sample

        return sample
    if name == "report":
        from bayesinv.diagnostics.report import report

        return report
    raise AttributeError(f"module 'bayesinv' has no attribute {name!r}")
