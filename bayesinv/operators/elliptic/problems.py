"""The elliptic benchmark problem of issue 17, as data a sampler or a benchmark can use."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bayesinv import _seeds
from bayesinv._checks import check_int, check_positive
from bayesinv.grid import Grid2D
from bayesinv.operators.base import ForwardOperator
from bayesinv.operators.elliptic.homogenization import HomogenizedCoefficient
from bayesinv.operators.elliptic.operator import Elliptic2D

__all__ = [
    "CosineField",
    "EllipticBenchmark",
    "RefinedFieldProblem",
    "elliptic_benchmark",
    "refined_field_problem",
]


@dataclass(frozen=True)
class EllipticBenchmark:
    """A synthetic elliptic inverse problem (see :func:`elliptic_benchmark`).

    Attributes
    ----------
    grid : Grid2D
        The coefficient grid (the unknowns: ``log a`` per cell).
    points : numpy.ndarray
        Observation points, shape ``(n_obs, 2)``.
    operator : Elliptic2D
        The forward model on the benchmark mesh.
    truth : numpy.ndarray
        The true ``log a``.
    data : numpy.ndarray
        ``operator.forward(truth)`` plus Gaussian noise of standard deviation ``sigma``.
    sigma : float
        Noise standard deviation.
    prior_sd : float
        Prior ``log a ~ N(0, prior_sd^2)`` independently per cell.
    source : float
        The constant right-hand side ``f``.
    """

    grid: Grid2D
    points: np.ndarray = field(repr=False)
    operator: Elliptic2D = field(repr=False)
    truth: np.ndarray = field(repr=False)
    data: np.ndarray = field(repr=False)
    sigma: float
    prior_sd: float
    source: float

    def operator_on(self, mesh: int) -> Elliptic2D:
        """Build the same physics and observations on a ``mesh x mesh`` Q1 mesh (a coarse level).

        Parameters
        ----------
        mesh : int
            Elements per side; a multiple of the coefficient grid's cells per side.

        Returns
        -------
        Elliptic2D
            The operator; its data are comparable with :attr:`data`.
        """
        return Elliptic2D(self.grid, self.points, mesh=(mesh, mesh), source=self.source)

    def homogenized_on(self, n_blocks: int, mesh: int, cell_refine: int = 1) -> ForwardOperator:
        """Build the homogenized coarse model: fine ``log a`` → data through coarse blocks.

        Parameters
        ----------
        n_blocks : int
            Coarse coefficient blocks per side (must divide the benchmark's blocks).
        mesh : int
            Q1 elements per side of the coarse solve (a multiple of ``n_blocks``).
        cell_refine : int
            Elements per fine cell in the cell problems.

        Returns
        -------
        ForwardOperator
            ``Elliptic2D(coarse, anisotropic=True) @ HomogenizedCoefficient(grid, coarse)``,
            taking the same parameters as :attr:`operator`. The benchmark's blocks are
            independent draws, not a periodic medium, so this level is a biased surrogate
            (see :class:`HomogenizedCoefficient`, validity), for delayed acceptance.
        """
        size = self.grid.nx * self.grid.dx
        coarse = Grid2D(n_blocks, n_blocks, size / n_blocks, size / n_blocks)
        h = HomogenizedCoefficient(self.grid, coarse, cell_refine)
        physics = Elliptic2D(
            coarse, self.points, mesh=(mesh, mesh), source=self.source, anisotropic=True
        )
        return physics @ h


def elliptic_benchmark(
    seed,
    *,
    mesh: int = 32,
    n_blocks: int = 8,
    n_obs_side: int = 13,
    sigma: float = 0.05,
    prior_sd: float = 2.0,
    source: float = 10.0,
) -> EllipticBenchmark:
    r"""Build the elliptic benchmark: coefficient blocks from point observations of ``u``.

    Parameters
    ----------
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Seed of the true coefficient and of the noise (same seed, same problem).
    mesh : int
        Q1 elements per side (32 in the issue; 64 and 128 for refinement studies).
    n_blocks : int
        Coefficient blocks per side (8: 64 unknowns).
    n_obs_side : int
        Observation points per side (13: 169 points).
    sigma : float
        Noise standard deviation.
    prior_sd : float
        Prior standard deviation of each ``log a``.
    source : float
        Constant source ``f``.

    Returns
    -------
    EllipticBenchmark
        Operator, truth, data and the prior and noise scales.

    Notes
    -----
    :math:`-∇·(a∇u) = f` on the unit square, :math:`u = 0` on the boundary, :math:`f = 10`;
    :math:`\log a` constant on each of :math:`8 × 8` blocks; Q1 elements on a
    :math:`32 × 32` mesh; observations of :math:`u` at the interior points
    :math:`((i + 1)/14, (j + 1)/14)`, :math:`i, j = 0..12` (a :math:`13 × 13` grid that avoids
    the boundary, where :math:`u = 0` carries no information); the truth is a draw from the
    prior :math:`\log a_c \sim N(0, 2^2)` and the data carry noise :math:`N(0, 0.05^2)`.
    The posterior is that of a model with ``pm.Normal("log_a", 0, prior_sd, shape=64)`` and
    ``pm.Normal("u", ForwardOp(problem.operator)(log_a), sigma, observed=problem.data)``.

    Examples
    --------
    >>> problem = elliptic_benchmark(1)
    >>> problem.operator.n_params, problem.operator.n_data
    (64, 169)
    """
    where = "elliptic_benchmark"
    rng = _seeds.as_generator(seed, where, "seed")
    n_blocks = check_int(n_blocks, where, "n_blocks", low=1)
    mesh = check_int(mesh, where, "mesh", low=n_blocks)
    n_obs_side = check_int(n_obs_side, where, "n_obs_side", low=1)
    sigma = check_positive(sigma, where, "sigma")
    prior_sd = check_positive(prior_sd, where, "prior_sd")
    grid = Grid2D(n_blocks, n_blocks, 1.0 / n_blocks, 1.0 / n_blocks)
    t = (np.arange(n_obs_side) + 1.0) / (n_obs_side + 1.0)
    points = np.column_stack([np.tile(t, n_obs_side), np.repeat(t, n_obs_side)])
    operator = Elliptic2D(grid, points, mesh=(mesh, mesh), source=float(source))
    truth = prior_sd * rng.standard_normal(grid.size)
    data = operator.forward(truth) + sigma * rng.standard_normal(operator.n_data)
    return EllipticBenchmark(grid, points, operator, truth, data, sigma, prior_sd, float(source))


class CosineField:
    r"""A Matérn-type Gaussian field on the cells of an ``n x n`` grid, from white coefficients.

    Parameters
    ----------
    n : int
        Cells per side of the unit square.
    sd : float
        Pointwise standard deviation of the continuum field.
    kappa : float
        Inverse correlation length :math:`κ`.

    Notes
    -----
    The field is the Karhunen–Loève expansion of the Gaussian measure
    :math:`N(0, c\,(κ^2 - Δ)^{-2})` on the unit square with Neumann boundaries,
    truncated to the modes the grid resolves:

    .. math:: g(x_i, y_j) = \sum_{k,l=0}^{n-1} \sqrt{λ_{kl}}\, ξ_{kl}\, φ_k(x_i) φ_l(y_j),
              \qquad λ_{kl} = c\,(κ^2 + π^2 (k^2 + l^2))^{-2},

    with :math:`φ_0 = 1`, :math:`φ_k(x) = \sqrt2 \cos(π k x)` at the cell centres and
    :math:`ξ \sim N(0, I_{n^2})`: a DCT of the scaled coefficients. The exponent 2 > d/2 makes
    the covariance trace class, so the discretised fields converge as ``n`` grows and a
    refined grid adds finer and finer modes of the *same* prior (what makes pCN's acceptance
    dimension-independent). ``c`` normalises the continuum field's mean pointwise variance
    to ``sd²``.
    """

    def __init__(self, n: int, sd: float = 1.0, kappa: float = 5.0):
        self.n = check_int(n, "CosineField", "n", low=1)
        sd = check_positive(sd, "CosineField", "sd")
        kappa = check_positive(kappa, "CosineField", "kappa")
        k = np.arange(2048.0)
        total = np.sum((kappa**2 + np.pi**2 * (k[:, None] ** 2 + k[None, :] ** 2)) ** -2.0)
        k = np.arange(float(self.n))
        lam = (kappa**2 + np.pi**2 * (k[:, None] ** 2 + k[None, :] ** 2)) ** -2.0
        self.scale = sd * np.sqrt(lam / total)

    def __call__(self, xi) -> np.ndarray:
        """Return the field on the cells, flattened row by row (``z`` slowest)."""
        import scipy.fft

        xi = np.asarray(xi, dtype=np.float64).reshape(self.n, self.n)
        return self.n * scipy.fft.idctn(self.scale * xi, type=2, norm="ortho").ravel()


@dataclass(frozen=True)
class RefinedFieldProblem:
    """The coefficient discretised on the mesh itself (see :func:`refined_field_problem`).

    Attributes
    ----------
    coefficient : CosineField
        White coefficients → ``log a`` on the mesh's cells.
    operator : Elliptic2D
        ``log a`` → observations, one coefficient per Q1 element.
    truth : numpy.ndarray
        The true white coefficients (``n²``).
    data : numpy.ndarray
        Noisy observations of ``operator.forward(field(truth))``.
    sigma : float
        Noise standard deviation.
    """

    coefficient: CosineField = field(repr=False)
    operator: Elliptic2D = field(repr=False)
    truth: np.ndarray = field(repr=False)
    data: np.ndarray = field(repr=False)
    sigma: float

    def forward(self, xi) -> np.ndarray:
        """Predicted data for white coefficients ``xi``."""
        return self.operator.forward(self.coefficient(xi))


def refined_field_problem(
    seed, mesh: int, *, n_obs_side: int = 7, sigma: float = 0.05, kappa: float = 5.0,
    source: float = 10.0, finest: int = 64,
) -> RefinedFieldProblem:  # fmt: skip
    r"""Build the unit-square problem with ``log a`` a Gaussian field discretised on the mesh.

    Parameters
    ----------
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Seed of the truth and the noise.
    mesh : int
        Elements (and coefficient cells) per side; at most ``finest``.
    n_obs_side : int
        Observation points per side, at :math:`(i+1)/(n+1)`.
    sigma : float
        Noise standard deviation.
    kappa : float
        Inverse correlation length of the :class:`CosineField` prior (sd 1).
    source : float
        Constant source ``f``; ``u = 0`` on the boundary.
    finest : int
        The truth's white coefficients are drawn on ``finest²`` modes; a coarser mesh keeps
        the lowest ``mesh²`` of them, and every mesh adds the same noise draw, so the
        problems of a refinement study are nested.

    Returns
    -------
    RefinedFieldProblem

    Notes
    -----
    Unlike :func:`elliptic_benchmark`, the number of unknowns is ``mesh²``: refining the mesh
    refines the coefficient. The truth (the lowest modes of one draw) and the data of each
    mesh are a draw of that mesh's joint distribution, so a chain started at the truth is
    in its stationary regime from the first step.
    """
    where = "refined_field_problem"
    rng = _seeds.as_generator(seed, where, "seed")
    finest = check_int(finest, where, "finest", low=1)
    mesh = check_int(mesh, where, "mesh", low=1)
    if mesh > finest:
        raise ValueError(f"{where}: mesh ({mesh}) must be at most finest ({finest})")
    n_obs_side = check_int(n_obs_side, where, "n_obs_side", low=1)
    sigma = check_positive(sigma, where, "sigma")
    xi = rng.standard_normal((finest, finest))[:mesh, :mesh].ravel()
    noise = rng.standard_normal(n_obs_side**2)
    t = (np.arange(n_obs_side) + 1.0) / (n_obs_side + 1.0)
    points = np.column_stack([np.tile(t, n_obs_side), np.repeat(t, n_obs_side)])
    grid = Grid2D(mesh, mesh, 1.0 / mesh, 1.0 / mesh)
    operator = Elliptic2D(grid, points, source=float(source))
    gfield = CosineField(mesh, 1.0, kappa)
    data = operator.forward(gfield(xi)) + sigma * noise
    return RefinedFieldProblem(gfield, operator, xi, data, sigma)
