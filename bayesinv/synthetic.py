"""Synthetic truths and data sets shared by tests, demos and case studies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesinv._checks import check_choice, check_float, check_int, check_positive
from bayesinv.grid import Grid2D

__all__ = ["Body", "GravitySurvey", "bodies_field", "gravity_survey", "surface_line"]


@dataclass(frozen=True)
class Body:
    """A homogeneous body in the section: a rectangle or a disk.

    Parameters
    ----------
    kind : {"rectangle", "disk"}
        Shape of the body.
    center : tuple of float
        ``(x, z)`` of the centre (z positive down).
    size : tuple of float
        ``(width, height)`` for a rectangle, ``(radius, radius)`` for a disk.
    value : float
        Property value inside the body (added to the background).
    """

    kind: str
    center: tuple[float, float]
    size: tuple[float, float]
    value: float

    def __post_init__(self):
        check_choice(self.kind, "Body", "kind", ("rectangle", "disk"))
        if len(self.center) != 2 or len(self.size) != 2:
            raise ValueError(
                f"Body: center and size must be pairs, got {self.center!r} and {self.size!r}"
            )
        for axis, c in zip("xz", self.center, strict=True):
            check_float(c, "Body", f"center {axis}", units="m")
        for s in self.size:
            check_positive(s, "Body", "size", units="m")
        check_float(self.value, "Body", "value")


def bodies_field(
    grid: Grid2D, bodies: list[Body], background: float = 0.0, subsamples: int = 4
) -> np.ndarray:
    """Rasterise bodies onto a grid with fractional cell coverage.

    Parameters
    ----------
    grid : Grid2D
        Target grid.
    bodies : list of Body
        Bodies, added in order on top of the background.
    background : float
        Value outside all bodies.
    subsamples : int
        Sub-cell samples per axis used to compute the covered fraction of each cell.

    Returns
    -------
    numpy.ndarray
        Field of shape ``(nz, nx)``.
    """
    subsamples = check_int(subsamples, "bodies_field", "subsamples", low=1)
    s = (np.arange(subsamples) + 0.5) / subsamples
    xs = (grid.x_edges[:-1, None] + grid.dx * s)[None, :, None, :]  # (1, nx, 1, s)
    zs = (grid.z_edges[:-1, None] + grid.dz * s)[:, None, :, None]  # (nz, 1, s, 1)
    field = np.full(grid.shape, check_float(background, "bodies_field", "background"))
    for body in bodies:
        (xc, zc), (a, b) = body.center, body.size
        if body.kind == "disk":
            inside = (xs - xc) ** 2 + (zs - zc) ** 2 <= a**2
        else:
            inside = (np.abs(xs - xc) <= a / 2) & (np.abs(zs - zc) <= b / 2)
        field += body.value * inside.mean(axis=(2, 3))
    return field


def surface_line(x_min: float, x_max: float, n: int, height: float = 0.0) -> np.ndarray:
    """Receivers equally spaced along a line at ``z = -height`` (above the surface).

    Parameters
    ----------
    x_min, x_max : float
        End points of the line.
    n : int
        Number of receivers.
    height : float
        Height above the surface (``z = -height``).

    Returns
    -------
    numpy.ndarray
        Array of shape ``(n, 2)`` holding ``(x, z)``.
    """
    x_min = check_float(x_min, "surface_line", "x_min", units="m")
    x_max = check_float(x_max, "surface_line", "x_max", units="m")
    n = check_int(n, "surface_line", "n", low=1)
    height = check_float(height, "surface_line", "height", units="m")
    x = np.linspace(x_min, x_max, n)
    return np.column_stack([x, np.full(n, -height)])


@dataclass(frozen=True)
class GravitySurvey:
    """A synthetic gravity data set.

    Attributes
    ----------
    grid : Grid2D
        Model grid.
    truth : numpy.ndarray
        True density contrast, shape ``(nz, nx)``, kg/m³.
    receivers : numpy.ndarray
        Receiver positions, ``(n, 2)``.
    clean : numpy.ndarray
        Noise-free data (mGal).
    data : numpy.ndarray
        Noisy data (mGal).
    noise_sd : float
        Standard deviation of the added noise (mGal).
    """

    grid: Grid2D
    truth: np.ndarray
    receivers: np.ndarray
    clean: np.ndarray
    data: np.ndarray
    noise_sd: float


def gravity_survey(
    rng: np.random.Generator,
    grid: Grid2D | None = None,
    n_receivers: int = 40,
    noise_sd: float = 0.02,
    bodies: list[Body] | None = None,
) -> GravitySurvey:
    """Make a seeded synthetic 2-D gravity data set (two bodies by default).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the noise.
    grid : Grid2D, optional
        Model grid; 32 x 16 cells of 25 m by default.
    n_receivers : int
        Receivers along the surface, spanning the grid.
    noise_sd : float
        Gaussian noise standard deviation, mGal.
    bodies : list of Body, optional
        Density bodies; by default a dense block and a light disk.

    Returns
    -------
    GravitySurvey
    """
    from bayesinv.operators.gravity import Gravity2D

    if not isinstance(rng, np.random.Generator):
        raise ValueError("gravity_survey: rng must be a numpy.random.Generator")
    n_receivers = check_int(n_receivers, "gravity_survey", "n_receivers", low=1)
    noise_sd = check_float(noise_sd, "gravity_survey", "noise_sd", low=0.0, units="mGal")
    grid = grid or Grid2D(nx=32, nz=16, dx=25.0, dz=25.0)
    width = grid.nx * grid.dx
    depth = grid.nz * grid.dz
    if bodies is None:
        bodies = [
            Body(
                "rectangle",
                (grid.x0 + 0.3 * width, grid.z0 + 0.3 * depth),
                (0.2 * width, 0.2 * depth),
                300.0,
            ),
            Body(
                "disk",
                (grid.x0 + 0.7 * width, grid.z0 + 0.45 * depth),
                (0.15 * depth, 0.15 * depth),
                -200.0,
            ),
        ]
    truth = bodies_field(grid, bodies)
    receivers = surface_line(grid.x0, grid.x0 + width, n_receivers)
    clean = Gravity2D(grid, receivers).forward(grid.ravel(truth))
    data = clean + rng.normal(0.0, noise_sd, n_receivers)
    return GravitySurvey(grid, truth, receivers, clean, data, noise_sd)
