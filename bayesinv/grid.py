"""Regular grids: cell geometry, flattening order and coordinates for named dims.

Conventions (``shared/design/CONVENTIONS.md``): ``x`` is horizontal, ``z`` is depth and
**positive downward**; ``z0`` is the top of the grid. A field on a :class:`Grid2D` is an
array of shape ``(nz, nx)``; operators see it flattened in C order, ``index = iz * nx + ix``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesinv._checks import check_float, check_int, check_positive

__all__ = ["Grid1D", "Grid2D"]


@dataclass(frozen=True)
class Grid2D:
    """A regular 2-D grid of rectangular cells in the (x, z) section.

    Parameters
    ----------
    nx, nz : int
        Number of cells along ``x`` (horizontal) and ``z`` (depth).
    dx, dz : float
        Cell sizes in metres.
    x0, z0 : float, optional
        Left edge and top edge of the grid. ``z`` is positive downward, so ``z0 = 0`` puts
        the top of the grid at the surface.

    Notes
    -----
    Cell ``(iz, ix)`` spans ``[x0 + ix dx, x0 + (ix + 1) dx] x [z0 + iz dz, z0 + (iz + 1) dz]``
    and has centre ``(x0 + (ix + 1/2) dx, z0 + (iz + 1/2) dz)``. Flat vectors use C order,
    ``index = iz * nx + ix``.

    Examples
    --------
    >>> g = Grid2D(nx=4, nz=2, dx=10.0, dz=5.0)
    >>> g.shape, g.size
    ((2, 4), 8)
    >>> g.cell_centers[5]
    array([15. ,  7.5])
    """

    nx: int
    nz: int
    dx: float
    dz: float
    x0: float = 0.0
    z0: float = 0.0

    def __post_init__(self):
        name = type(self).__name__
        object.__setattr__(self, "nx", check_int(self.nx, name, "nx", low=1))
        object.__setattr__(self, "nz", check_int(self.nz, name, "nz", low=1))
        object.__setattr__(self, "dx", check_positive(self.dx, name, "dx", units="m"))
        object.__setattr__(self, "dz", check_positive(self.dz, name, "dz", units="m"))
        object.__setattr__(self, "x0", check_float(self.x0, name, "x0", units="m"))
        object.__setattr__(self, "z0", check_float(self.z0, name, "z0", units="m"))

    @property
    def shape(self) -> tuple[int, int]:
        """Array shape of a field, ``(nz, nx)``."""
        return (self.nz, self.nx)

    @property
    def size(self) -> int:
        """Number of cells."""
        return self.nx * self.nz

    @property
    def x_edges(self) -> np.ndarray:
        """Cell edges along ``x``, length ``nx + 1``."""
        return self.x0 + self.dx * np.arange(self.nx + 1)

    @property
    def z_edges(self) -> np.ndarray:
        """Cell edges along ``z`` (depth, downward), length ``nz + 1``."""
        return self.z0 + self.dz * np.arange(self.nz + 1)

    @property
    def x_centers(self) -> np.ndarray:
        """Cell centres along ``x``, length ``nx``."""
        return self.x0 + self.dx * (np.arange(self.nx) + 0.5)

    @property
    def z_centers(self) -> np.ndarray:
        """Cell centres along ``z``, length ``nz``."""
        return self.z0 + self.dz * (np.arange(self.nz) + 0.5)

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(xmin, xmax, zmax, zmin)``, ready for ``matplotlib.pyplot.imshow(extent=...)``."""
        return (self.x0, self.x0 + self.nx * self.dx, self.z0 + self.nz * self.dz, self.z0)

    @property
    def cell_centers(self) -> np.ndarray:
        """Centres of all cells in flat (C) order, shape ``(size, 2)`` holding ``(x, z)``."""
        zz, xx = np.meshgrid(self.z_centers, self.x_centers, indexing="ij")
        return np.column_stack([xx.ravel(), zz.ravel()])

    def ravel(self, field) -> np.ndarray:
        """Flatten a field of shape ``(nz, nx)`` to a 1-D float64 vector in C order.

        Parameters
        ----------
        field : array_like
            Array of shape ``(nz, nx)``.

        Returns
        -------
        numpy.ndarray
            Contiguous float64 vector of length ``size``.
        """
        field = np.asarray(field, dtype=np.float64)
        if field.shape != self.shape:
            raise ValueError(f"Grid2D.ravel: field has shape {field.shape}, expected {self.shape}")
        return np.ascontiguousarray(field).ravel()

    def unravel(self, vector) -> np.ndarray:
        """Reshape a flat vector of length ``size`` to a field of shape ``(nz, nx)``.

        Parameters
        ----------
        vector : array_like
            1-D array of length ``size`` (or an array whose last axis has length ``size``;
            leading axes, e.g. draws, are kept).

        Returns
        -------
        numpy.ndarray
            Array of shape ``(..., nz, nx)``.
        """
        vector = np.asarray(vector, dtype=np.float64)
        if vector.ndim == 0 or vector.shape[-1] != self.size:
            raise ValueError(
                f"Grid2D.unravel: last axis has length {vector.shape[-1:]}, expected {self.size}"
            )
        return vector.reshape((*vector.shape[:-1], self.nz, self.nx))

    def contains(self, points) -> np.ndarray:
        """Whether each ``(x, z)`` point lies inside the grid (edges included).

        Parameters
        ----------
        points : array_like
            Array of shape ``(n, 2)``.

        Returns
        -------
        numpy.ndarray
            Boolean array of length ``n``.
        """
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        xe, ze = self.x_edges, self.z_edges
        return (
            (pts[:, 0] >= xe[0])
            & (pts[:, 0] <= xe[-1])
            & (pts[:, 1] >= ze[0])
            & (pts[:, 1] <= ze[-1])
        )

    def coords(self, name: str) -> dict[str, np.ndarray]:
        """Coordinates for the PyMC dims of a field called ``name``.

        Parameters
        ----------
        name : str
            Field name, e.g. ``"density"``.

        Returns
        -------
        dict
            ``{"{name}_z": z_centers, "{name}_x": x_centers, "{name}_cell": arange(size)}``;
            use dims ``("{name}_z", "{name}_x")`` for a 2-D field or ``("{name}_cell",)`` for
            a flat one (cell centres are in :attr:`cell_centers`).
        """
        return {
            f"{name}_z": self.z_centers,
            f"{name}_x": self.x_centers,
            f"{name}_cell": np.arange(self.size),
        }

    def refine(self, factor: int = 2) -> Grid2D:
        """Return the grid with each cell split into ``factor x factor`` cells.

        Parameters
        ----------
        factor : int
            Refinement factor along both axes.

        Returns
        -------
        Grid2D
            Grid over the same region with cell sizes divided by ``factor``.
        """
        factor = check_int(factor, "Grid2D.refine", "factor", low=1)
        return Grid2D(
            self.nx * factor, self.nz * factor, self.dx / factor, self.dz / factor, self.x0, self.z0
        )


@dataclass(frozen=True)
class Grid1D:
    """A regular 1-D grid of layers in depth, for layered problems.

    Parameters
    ----------
    nz : int
        Number of layers.
    dz : float
        Layer thickness in metres.
    z0 : float, optional
        Top of the grid (``z`` positive downward).

    Notes
    -----
    Layer ``iz`` spans ``[z0 + iz dz, z0 + (iz + 1) dz]`` with centre ``z0 + (iz + 1/2) dz``.
    """

    nz: int
    dz: float
    z0: float = 0.0

    def __post_init__(self):
        name = type(self).__name__
        object.__setattr__(self, "nz", check_int(self.nz, name, "nz", low=1))
        object.__setattr__(self, "dz", check_positive(self.dz, name, "dz", units="m"))
        object.__setattr__(self, "z0", check_float(self.z0, name, "z0", units="m"))

    @property
    def shape(self) -> tuple[int]:
        """Array shape of a field, ``(nz,)``."""
        return (self.nz,)

    @property
    def size(self) -> int:
        """Number of layers."""
        return self.nz

    @property
    def z_edges(self) -> np.ndarray:
        """Layer boundaries, length ``nz + 1``."""
        return self.z0 + self.dz * np.arange(self.nz + 1)

    @property
    def z_centers(self) -> np.ndarray:
        """Layer centres, length ``nz``."""
        return self.z0 + self.dz * (np.arange(self.nz) + 0.5)

    @property
    def cell_centers(self) -> np.ndarray:
        """Layer centres as a column, shape ``(nz, 1)``."""
        return self.z_centers[:, None]

    def ravel(self, field) -> np.ndarray:
        """Return ``field`` as a contiguous float64 vector of length ``nz``.

        Parameters
        ----------
        field : array_like
            Array of shape ``(nz,)``.

        Returns
        -------
        numpy.ndarray
            Float64 vector.
        """
        field = np.asarray(field, dtype=np.float64)
        if field.shape != self.shape:
            raise ValueError(f"Grid1D.ravel: field has shape {field.shape}, expected {self.shape}")
        return np.ascontiguousarray(field)

    def unravel(self, vector) -> np.ndarray:
        """Return ``vector`` unchanged in shape (a 1-D field is already flat).

        Parameters
        ----------
        vector : array_like
            Array whose last axis has length ``nz``.

        Returns
        -------
        numpy.ndarray
            Float64 array of the same shape.
        """
        vector = np.asarray(vector, dtype=np.float64)
        if vector.ndim == 0 or vector.shape[-1] != self.size:
            raise ValueError(
                f"Grid1D.unravel: last axis has length {vector.shape[-1:]}, expected {self.size}"
            )
        return vector

    def coords(self, name: str) -> dict[str, np.ndarray]:
        """Coordinates for the PyMC dim ``"{name}_z"`` of a layered field.

        Parameters
        ----------
        name : str
            Field name.

        Returns
        -------
        dict
            ``{"{name}_z": z_centers}``.
        """
        return {f"{name}_z": self.z_centers}

    def refine(self, factor: int = 2) -> Grid1D:
        """Return the grid with each layer split into ``factor`` layers.

        Parameters
        ----------
        factor : int
            Refinement factor.

        Returns
        -------
        Grid1D
            Grid over the same depth range.
        """
        factor = check_int(factor, "Grid1D.refine", "factor", low=1)
        return Grid1D(self.nz * factor, self.dz / factor, self.z0)
