"""The model space: a PyMC model's free variables as one flat vector, and nesting between levels.

Every driver that works on flat coordinates (Laplace, preconditioning, continuation, the
case studies) goes through here:

- a *layout* is ``((value variable name, shape), ...)`` in ``model.value_vars`` order; the
  flat vector is the concatenation of the unconstrained (transformed) values in that order,
  each raveled in C order (as :class:`pymc.blocking.DictToArrayBijection` orders them);
- :class:`ModelSpace` converts between flat vectors, value-variable points (unconstrained,
  by value-variable name) and constrained points (by random-variable name);
- :class:`FlatDensity` is the model's log density and gradient on flat vectors, compiled
  once, optionally evaluated through a finer model that nests this one;
- the *nesting rule* between continuation levels (:func:`nested_count`): a variable keeps
  its name; its shape is either unchanged or that of a longer 1-D vector whose first
  entries are the coarse ones and whose new entries are zero (wavelet coefficients
  ordered coarsest first). :func:`nested_indices` applies it to layouts and
  :func:`zero_pad` to points.
"""

from __future__ import annotations

import numpy as np
import pymc as pm

__all__ = [
    "FlatDensity",
    "ModelSpace",
    "draws_to_datatree",
    "free_shapes",
    "layout",
    "layout_size",
    "nested_count",
    "nested_indices",
    "observed_data_group",
    "value_point",
    "zero_pad",
]


def _size(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def layout(model: pm.Model) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Names and shapes of a model's value variables, in the order they are flattened.

    Parameters
    ----------
    model : pymc.Model

    Returns
    -------
    tuple of (str, tuple of int)

    Raises
    ------
    ValueError
        If the model has discrete free variables (flat coordinates need continuous ones).
    """
    point = model.initial_point()
    out = []
    for v in model.value_vars:
        if not v.dtype.startswith("float"):
            raise ValueError(
                f"model space: free variable {v.name!r} is discrete ({v.dtype}); only "
                "continuous models have flat coordinates"
            )
        out.append((v.name, tuple(int(s) for s in np.shape(point[v.name]))))
    return tuple(out)


def layout_size(lay) -> int:
    """Return the number of flat coordinates of a layout."""
    return sum(_size(s) for _, s in lay)


def free_shapes(model: pm.Model) -> dict[str, tuple[int, ...]]:
    """Shapes of the free random variables (constrained), by name."""
    shapes = model.eval_rv_shapes()
    return {rv.name: tuple(int(s) for s in shapes[rv.name]) for rv in model.free_RVs}


def nested_count(old_shape, new_shape, caller: str, name: str) -> int:
    """Return how many leading entries a variable carries from one level to the next.

    Parameters
    ----------
    old_shape, new_shape : tuple of int
        Shapes before and after.
    caller : str
        Name used in error messages.
    name : str
        Variable name used in error messages.

    Returns
    -------
    int
        The whole size when the shape is unchanged, the old length for a grown 1-D vector.

    Raises
    ------
    ValueError
        For any other change of shape.
    """
    old_shape, new_shape = tuple(old_shape), tuple(new_shape)
    if old_shape == new_shape:
        return _size(new_shape)
    if len(old_shape) == 1 and len(new_shape) == 1 and old_shape[0] < new_shape[0]:
        return old_shape[0]
    raise ValueError(
        f"{caller}: variable {name!r} has shape {old_shape} before and {new_shape} after; "
        "only equal shapes or longer 1-D vectors can be carried over"
    )


def nested_indices(old_layout, new_layout, caller: str = "nested_indices"):
    """Positions of the coordinates two layouts share, by the nesting rule.

    Parameters
    ----------
    old_layout, new_layout : tuple
        As returned by :func:`layout`.
    caller : str
        Name used in error messages.

    Returns
    -------
    src, dst : numpy.ndarray of int
        ``new[dst] = old[src]`` carries the shared coordinates.
    """
    old, offset = {}, 0
    for name, shape in old_layout:
        old[name] = (offset, tuple(shape))
        offset += _size(shape)
    src, dst = [], []
    offset = 0
    for name, shape in new_layout:
        if name in old:
            start, old_shape = old[name]
            k = nested_count(old_shape, shape, caller, name)
            src.append(np.arange(start, start + k))
            dst.append(np.arange(offset, offset + k))
        offset += _size(shape)
    empty = np.zeros(0, dtype=np.int64)
    return (np.concatenate(src) if src else empty), (np.concatenate(dst) if dst else empty)


def zero_pad(point: dict, shapes: dict, caller: str) -> dict:
    """Carry a point's values to new shapes by the nesting rule (new entries zero).

    Parameters
    ----------
    point : dict
        Values by variable name.
    shapes : dict
        The new shapes by variable name; variables not in ``point`` are left out.
    caller : str
        Name used in error messages.

    Returns
    -------
    dict
        New arrays (copies) for the variables in both.
    """
    out = {}
    for name, shape in shapes.items():
        if name not in point:
            continue
        value = np.asarray(point[name], dtype=np.float64)
        k = nested_count(value.shape, shape, caller, name)
        padded = np.zeros(shape)
        padded.reshape(-1)[:k] = value.reshape(-1)
        out[name] = padded
    return out


def value_point(model: pm.Model, point: dict) -> dict:
    """Unconstrained point (by value-variable name) of constrained values by RV name.

    Parameters
    ----------
    model : pymc.Model
    point : dict
        Constrained values by random-variable name; missing ones take the model's
        initial values.

    Returns
    -------
    dict
    """
    from pymc.initial_point import make_initial_point_fn

    fn = make_initial_point_fn(
        model=model, overrides=dict(point), jitter_rvs=set(), return_transformed=True
    )
    return fn(0)


class ModelSpace:
    """A model's free variables as one flat unconstrained vector.

    Parameters
    ----------
    model : pymc.Model
        A continuous model.

    Attributes
    ----------
    model : pymc.Model
    layout : tuple
        See :func:`layout`.
    n : int
        Number of flat coordinates.
    """

    def __init__(self, model: pm.Model):
        self.model = model
        self.layout = layout(model)
        self.n = layout_size(self.layout)
        self._constrain = None

    def flatten(self, values: dict) -> np.ndarray:
        """Flat vector of unconstrained values keyed by value-variable name."""
        if not self.layout:
            return np.zeros(0)
        return np.concatenate(
            [np.ravel(np.asarray(values[name], dtype=np.float64)) for name, _ in self.layout]
        )

    def unflatten(self, x) -> dict:
        """Unconstrained values keyed by value-variable name, from a flat vector."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.n,):
            raise ValueError(f"model space: expected a vector of {self.n} values, got {x.shape}")
        out, offset = {}, 0
        for name, shape in self.layout:
            out[name] = x[offset : offset + _size(shape)].reshape(shape)
            offset += _size(shape)
        return out

    def value_point(self, point: dict) -> dict:
        """Unconstrained point of constrained values by RV name (see :func:`value_point`)."""
        return value_point(self.model, point)

    def initial(self, point: dict) -> np.ndarray:
        """Flat unconstrained vector of constrained values by RV name (see :meth:`value_point`)."""
        return self.flatten(self.value_point(point))

    def constrained(self, x, deterministics: bool = False) -> dict:
        """Constrained values of the free variables (and deterministics) by name at flat ``x``."""
        if self._constrain is None:
            import pytensor

            model = self.model
            outputs = list(model.free_RVs) + list(model.deterministics)
            fn = pytensor.function(
                model.value_vars, model.replace_rvs_by_values(outputs), on_unused_input="ignore"
            )
            self._constrain = ([v.name for v in outputs], fn)
        names, fn = self._constrain
        values = fn(*self.unflatten(x).values())
        keep = len(names) if deterministics else len(self.model.free_RVs)
        return {k: np.asarray(v) for k, v in zip(names[:keep], values[:keep], strict=True)}


class FlatDensity(ModelSpace):
    """A model's log density and gradient on flat unconstrained vectors (compiled once).

    Parameters
    ----------
    model : pymc.Model
        A continuous model.
    finest : FlatDensity, optional
        A density whose layout nests this one's (the finest level of a continuation): the
        log density is then ``finest``'s at the zero-padded vector, and nothing is compiled
        for this model.
    mode : str or None
        PyTensor compilation mode (default ``"NUMBA"``, as nutpie; ``None`` for PyTensor's
        default, e.g. for operators without numba kernels).
    """

    def __init__(self, model: pm.Model, finest: FlatDensity | None = None, mode="NUMBA"):
        super().__init__(model)
        self._finest = finest
        self._mode = mode
        self._fn = None
        if finest is not None:
            src, dst = nested_indices(self.layout, finest.layout, "continuation (nested)")
            if src.size != self.n:
                raise ValueError(
                    "continuation (nested): every variable of a coarse level must be in the "
                    f"finest model; level variables {[k for k, _ in self.layout]}, finest "
                    f"{[k for k, _ in finest.layout]}"
                )
            self._src, self._dst = src, dst

    def logp_dlogp(self, x):
        """Return the log density and its gradient at flat ``x``."""
        if self._finest is not None:
            full = np.zeros(self._finest.n)
            full[self._dst] = np.asarray(x)[self._src]
            logp, grad = self._finest.logp_dlogp(full)
            out = np.empty(self._src.size)
            out[self._src] = np.asarray(grad)[self._dst]
            return logp, out
        if self._fn is None:
            self._fn = self.model.logp_dlogp_function(ravel_inputs=True, mode=self._mode)
            self._fn.set_extra_values({})
        return self._fn(np.asarray(x, dtype=np.float64))


def observed_data_group(model):
    """Return the observed data of a PyMC model as a DataTree node (``observed_data``).

    Parameters
    ----------
    model : pymc.Model

    Returns
    -------
    xarray.DataTree
        One variable per observed variable, with the model's dims and coords.
    """
    import pymc as pm
    import xarray as xr
    from pymc.backends.arviz import (
        coords_and_dims_for_inferencedata,
        dict_to_dataset,
        find_observations,
    )

    coords, dims = coords_and_dims_for_inferencedata(model)
    return xr.DataTree(
        dict_to_dataset(
            find_observations(model),
            inference_library=pm,
            coords=coords,
            dims=dims,
            sample_dims=[],
        )
    )


def draws_to_datatree(space, x, chains: int):
    """Put flat unconstrained draws of a model into a DataTree.

    Parameters
    ----------
    space : ModelSpace
        The model's flat coordinates.
    x : numpy.ndarray, shape (n_draws, n)
        Draws; ``n_draws`` is cut to a multiple of ``chains``.
    chains : int
        Number of chains to split the draws into.

    Returns
    -------
    xarray.DataTree
        ``posterior`` (free variables, constrained, and deterministics, with the model's
        dims and coords) and ``observed_data``.
    """
    import arviz as az
    from pymc.backends.arviz import coords_and_dims_for_inferencedata

    model = space.model
    per = len(x) // chains
    values = [space.constrained(xi, deterministics=True) for xi in x[: per * chains]]
    post = {k: np.stack([v[k] for v in values]) for k in values[0]}
    post = {k: v.reshape(chains, per, *v.shape[1:]) for k, v in post.items()}
    coords, dims = coords_and_dims_for_inferencedata(model)
    tree = az.from_dict({"posterior": post}, coords=coords, dims=dims)
    tree["observed_data"] = observed_data_group(model)
    return tree
