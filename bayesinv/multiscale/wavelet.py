"""Orthonormal wavelet parameterization of a field: coefficients θ → cell values m."""

from __future__ import annotations

import numpy as np

from bayesinv._checks import check_int
from bayesinv.grid import Grid1D, Grid2D
from bayesinv.multiscale._wavelet_numba import dwt1, dwt2, idwt1, idwt2
from bayesinv.multiscale.padding import ZeroPadding
from bayesinv.operators.base import ForwardOperator, linear_kernels

__all__ = ["WaveletField"]


def _two_adic(n: int) -> int:
    """Largest ``L`` with ``2**L`` dividing ``n``."""
    k = 0
    while n % 2 == 0:
        n //= 2
        k += 1
    return k


def _suggest(n: int, levels: int) -> str:
    step = 2**levels
    below = (n // step) * step
    above = below + step
    options = [str(v) for v in (below, above) if v > 0]
    return " or ".join(options)


class WaveletField(ForwardOperator):
    r"""Orthonormal discrete wavelet synthesis ``m = W θ`` on a :class:`Grid2D` or :class:`Grid1D`.

    Parameters
    ----------
    grid : Grid2D or Grid1D
        Grid of the field ``m``.
    wavelet : str, optional
        Name of an orthogonal PyWavelets wavelet (``"haar"``, ``"db2"``, ``"db4"``,
        ``"sym4"``, ``"coif1"``, ...); the filter bank is ``pywt.Wavelet(wavelet)``.
    levels : int, optional
        Number of decomposition levels ``L >= 1``. Every transformed axis must be divisible
        by ``2**L``. By default the largest such ``L``.

    Attributes
    ----------
    grid : Grid2D or Grid1D
    wavelet : str
    levels : int
    coarse_shape : tuple of int
        Shape of the coarsest approximation block, ``(nz / 2**L, nx / 2**L)`` (2-D) or
        ``(nz / 2**L,)`` (1-D).

    Notes
    -----
    **Transform.** One analysis step maps a periodic signal :math:`x` of even length
    :math:`N` to approximation and detail coefficients

    .. math::

        a_k = \sum_i h_i\, x_{(2k + L_f/2 - i) \bmod N}, \qquad
        d_k = \sum_i g_i\, x_{(2k + L_f/2 - i) \bmod N}, \qquad k = 0, …, N/2 - 1,

    with the decomposition filters :math:`h` = ``dec_lo``, :math:`g` = ``dec_hi`` of even
    length :math:`L_f` (PyWavelets' ``mode="periodization"``). The boundary is treated as
    **periodic**: the field is wrapped around each axis. With an orthogonal filter bank this
    makes every step, and so the whole transform, exactly orthonormal: analysis
    :math:`W^T` is the adjoint *and* the inverse of synthesis :math:`W`, and
    :math:`\|θ\| = \|m\|`. (Periodisation does couple the left and right, or top and
    bottom, edges of the field through the coarse wavelets; use ``"haar"``, whose
    functions never wrap, when that matters.) In 2-D a step filters along ``x`` (axis 1)
    and then along ``z`` (axis 0) and is repeated on the approximation ``L`` times.
    Synthesis applies the transposed steps, written with the reconstruction filters
    ``rec_lo``, ``rec_hi`` (the reversed decomposition filters).

    **Layout of θ** (same as concatenating ``pywt.wavedec2(m, wavelet, "periodization",
    level=L)`` block by block): first the coarsest approximation (``coarse_shape``, C
    order), then the details from the coarsest level to the finest. In 2-D each level
    has three C-ordered blocks of equal shape, in PyWavelets' order ``cH`` (detail along z,
    approximation along x), ``cV`` (approximation along z, detail along x) and ``cD``
    (detail along both); in 1-D one block. Level ``j`` (:meth:`level_slices`,
    :attr:`level_of_coefficient`) is ``0`` for the approximation and ``1..L`` for the detail
    blocks, coarsest first; coefficients of level ``j >= 1`` describe features of size about
    ``2**(L - j + 1)`` cells.

    Examples
    --------
    >>> from bayesinv import Grid2D
    >>> W = WaveletField(Grid2D(nx=16, nz=8, dx=1.0, dz=1.0), "db2", levels=2)
    >>> W.n_params, W.coarse_shape, [s.stop for s in W.level_slices()]
    (128, (2, 4), [8, 32, 128])
    """

    linear = True

    def __init__(self, grid: Grid2D | Grid1D, wavelet: str = "haar", levels: int | None = None):
        import pywt

        if not isinstance(grid, Grid2D | Grid1D):
            raise TypeError(f"WaveletField: grid must be a Grid2D or Grid1D, got {type(grid)}")
        try:
            w = pywt.Wavelet(wavelet)
        except (ValueError, TypeError):
            raise ValueError(
                f"WaveletField: wavelet {wavelet!r} is not a PyWavelets wavelet "
                f"(e.g. 'haar', 'db2', 'db4', 'sym4', 'coif1')"
            ) from None
        if not w.orthogonal or w.dec_len % 2:
            raise ValueError(
                f"WaveletField: wavelet {wavelet!r} is not orthogonal with an even-length filter; "
                "the periodised transform is orthonormal only for orthogonal wavelets "
                "(haar, dbN, symN, coifN)"
            )
        axes = {"nz": grid.nz} if isinstance(grid, Grid1D) else {"nz": grid.nz, "nx": grid.nx}
        if levels is None:
            levels = max(1, min(_two_adic(n) for n in axes.values()))
        levels = check_int(levels, "WaveletField", "levels", low=1)
        for axis, n in axes.items():
            if n % 2**levels:
                fewer = f" or levels <= {_two_adic(n)}" if n % 2 == 0 else ""
                raise ValueError(
                    f"WaveletField: grid axis {axis}={n} is not divisible by "
                    f"2**levels={2**levels}; use {axis} = {_suggest(n, levels)}{fewer}"
                )
        self.grid = grid
        self.wavelet = str(wavelet)
        self.levels = levels
        self._dim = len(axes)
        self._dec_lo = np.ascontiguousarray(w.dec_lo, dtype=np.float64)
        self._dec_hi = np.ascontiguousarray(w.dec_hi, dtype=np.float64)
        self._rec_lo = np.ascontiguousarray(w.rec_lo, dtype=np.float64)
        self._rec_hi = np.ascontiguousarray(w.rec_hi, dtype=np.float64)
        for arr in (self._dec_lo, self._dec_hi, self._rec_lo, self._rec_hi):
            arr.setflags(write=False)
        self.n_params = self.n_data = grid.size
        self.coarse_shape = tuple(n // 2**levels for n in axes.values())
        stops = [int(np.prod(self.coarse_shape))]
        for _ in range(levels):
            stops.append(stops[-1] * 2**self._dim)
        self._stops = stops
        level = np.empty(grid.size, dtype=np.int64)
        start = 0
        for j, stop in enumerate(stops):
            level[start:stop] = j
            start = stop
        level.setflags(write=False)
        self._level = level

    @property
    def dim(self) -> int:
        """Spatial dimension ``d`` of the field (1 or 2)."""
        return self._dim

    # --- coefficient layout ------------------------------------------------------------------
    def level_slices(self) -> list[slice]:
        """Slices of θ holding each level, coarsest first.

        Returns
        -------
        list of slice
            ``levels + 1`` slices; entry ``0`` is the approximation, entry ``j >= 1`` the
            detail coefficients of level ``j`` (all three blocks in 2-D).
        """
        starts = [0, *self._stops[:-1]]
        return [slice(a, b) for a, b in zip(starts, self._stops, strict=True)]

    @property
    def level_of_coefficient(self) -> np.ndarray:
        """Level ``j`` of each coefficient (``0`` = coarsest approximation), read-only int array."""
        return self._level

    def level_cell_size(self, j: int) -> tuple[float, ...]:
        """Physical spacing of the coefficients of level ``j`` along each axis.

        Parameters
        ----------
        j : int
            Level, ``0..levels``.

        Returns
        -------
        tuple of float
            ``(dz * 2**k, dx * 2**k)`` in 2-D or ``(dz * 2**k,)`` in 1-D with
            ``k = levels - max(j, 1) + 1``: the size of the features the level describes.
        """
        j = self._check_level(j, "j")
        k = self.levels - max(j, 1) + 1
        sizes = (self.grid.dz,) if self._dim == 1 else (self.grid.dz, self.grid.dx)
        return tuple(h * 2**k for h in sizes)

    def _check_level(self, J, argument: str) -> int:
        return check_int(J, "WaveletField", argument, low=0, high=self.levels)

    def n_coefficients(self, J: int) -> int:
        """Return the number of coefficients of levels ``0..J`` (a prefix of θ).

        Parameters
        ----------
        J : int
            Finest level kept, ``0..levels``.

        Returns
        -------
        int
        """
        return self._stops[self._check_level(J, "J")]

    def coarse_operator(self, J: int) -> ForwardOperator:
        """Synthesis from the coefficients of levels ``0..J`` only, the rest set to zero.

        Parameters
        ----------
        J : int
            Finest level kept, ``0..levels``.

        Returns
        -------
        ForwardOperator
            Linear operator ``θ_J ↦ W [θ_J; 0]`` from ``n_coefficients(J)`` coefficients to the
            full field; its adjoint keeps the first ``n_coefficients(J)`` analysis
            coefficients. For ``J = levels`` it is this operator.
        """
        k = self.n_coefficients(J)
        if k == self.n_params:
            return self
        return self @ ZeroPadding(k, self.n_params)

    # --- transforms ---------------------------------------------------------------------------
    def analysis(self, m) -> np.ndarray:
        """Wavelet coefficients of a field, ``θ = W^T m`` (= ``W^{-1} m``).

        Parameters
        ----------
        m : array_like
            Field vector of length ``grid.size`` (C order).

        Returns
        -------
        numpy.ndarray
            Coefficients in the layout described in the class Notes.
        """
        return self.vjp(np.zeros(self.n_params), m)

    def _forward(self, theta):
        if self._dim == 1:
            return idwt1(theta, self._rec_lo, self._rec_hi, self.levels)
        return idwt2(theta, self.grid.nz, self.grid.nx, self._rec_lo, self._rec_hi, self.levels)

    def _vjp(self, m, dd):
        if self._dim == 1:
            return dwt1(dd, self._dec_lo, self._dec_hi, self.levels)
        return dwt2(dd, self.grid.nz, self.grid.nx, self._dec_lo, self._dec_hi, self.levels)

    def _build_numba_kernels(self):
        # synthesis (idwt) is the forward map, analysis (dwt) its adjoint (orthonormal)
        rec = (self._rec_lo, self._rec_hi, self.levels)
        dec = (self._dec_lo, self._dec_hi, self.levels)
        if self._dim == 1:
            return linear_kernels(idwt1, dwt1, rec, dec)
        shape = (self.grid.nz, self.grid.nx)
        return linear_kernels(idwt2, dwt2, (*shape, *rec), (*shape, *dec))

    def __repr__(self) -> str:
        return (
            f"<WaveletField({self.wavelet!r}, levels={self.levels}): "
            f"{self.n_params} coefficients -> field {self.grid.shape}>"
        )
