"""Composition of forward operators (deprecated module path).

:func:`compose` and :class:`ComposedOperator` live in :mod:`bayesinv.operators.base` beside
the protocol they compose (``ForwardOperator.__matmul__`` needs them, and a module of their
own would make an import cycle with it). ``bayesinv.operators.composite.compose`` still
resolves, with a ``DeprecationWarning``, until bayesinv 0.3.
"""

from bayesinv._deprecation import moved_names

__getattr__ = moved_names(
    "bayesinv.operators.composite",
    {"compose": "bayesinv.operators.base", "ComposedOperator": "bayesinv.operators.base"},
)
