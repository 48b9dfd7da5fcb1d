"""2.5-D DC resistivity: bilinear finite elements with adjoint-state derivatives."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from bayesinv._checks import check_choice, check_float, check_int
from bayesinv.grid import Grid2D
from bayesinv.operators.base import ForwardOperator, NumbaKernels, as_vector
from bayesinv.operators.resistivity import _fe_numba as fk
from bayesinv.operators.resistivity._fe import csr_pattern, element_matrices, fe_mesh
from bayesinv.operators.resistivity._notes import NOTES
from bayesinv.operators.resistivity._solve import FieldSolver
from bayesinv.operators.resistivity._survey import (
    check_abmn,
    check_electrodes,
    geometric_factor,
    selection,
)
from bayesinv.operators.resistivity._wavenumbers import wavenumber_quadrature

__all__ = ["DCResistivity2p5D"]

_NAME = "DCResistivity2p5D"
_DATA_KINDS = ("apparent_resistivity", "resistance")


class _State(NamedTuple):
    """Everything computed at one model: data and what the derivatives reuse."""

    data: np.ndarray
    fields: np.ndarray | None  # (n_k, n_nodes, n_used) U_k = A_k^{-1} Q, None if failed
    sigma: np.ndarray | None  # element conductivities


class DCResistivity2p5D(ForwardOperator):
    __doc__ = NOTES
    linear = False

    def __init__(
        self,
        grid: Grid2D,
        electrodes,
        abmn,
        data: str = "apparent_resistivity",
        n_wavenumbers: int = 11,
        padding: int = 10,
        padding_factor: float = 1.3,
        halfspace_correction: bool = True,
        cache_size: int = 4,
        refinement: int = 1,
    ):
        if not isinstance(grid, Grid2D):
            raise TypeError(f"{_NAME}: grid must be a Grid2D, got {type(grid).__name__}")
        check_choice(data, _NAME, "data", _DATA_KINDS)
        n_wavenumbers = check_int(n_wavenumbers, _NAME, "n_wavenumbers", low=1)
        padding = check_int(padding, _NAME, "padding", low=0)
        cache_size = check_int(cache_size, _NAME, "cache_size", low=1)
        refinement = check_int(refinement, _NAME, "refinement", low=1)
        padding_factor = check_float(padding_factor, _NAME, "padding_factor", low=1.0)
        elec = check_electrodes(grid, electrodes)
        abmn = check_abmn(abmn, elec.shape[0])
        k_factor, (r_min, r_max) = geometric_factor(elec, abmn, grid.z0)

        self.grid = grid
        self.electrodes = elec
        self.abmn = abmn
        self.data = data
        self.n_params = grid.size
        self.n_data = abmn.shape[0]
        self.geometric_factor = k_factor

        # electrodes that take part in a measurement, and local indices into them
        used = np.unique(abmn[abmn >= 0])
        local = np.full(elec.shape[0] + 1, -1)  # last slot keeps -1 for remote electrodes
        local[used] = np.arange(used.size)
        self.mesh = fe_mesh(grid, elec[used], padding, padding_factor, refinement)
        k, w, err = wavenumber_quadrature(r_min, r_max, n_wavenumbers)
        self.wavenumbers, self.weights, self.quadrature_error = k, w, err
        reference = np.array([0.5 * (elec[used, 0].min() + elec[used, 0].max()), grid.z0])
        self._solver = FieldSolver(
            element_matrices(self.mesh, k, reference),
            *csr_pattern(self.mesh),
            self.mesh.element_nodes,
            self.mesh.cell,
            self.mesh.electrode_nodes,
            w / np.pi,
        )
        self._cache: OrderedDict[bytes, _State] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

        self._pot, self._cur, self._scale = selection(local[abmn], np.ones(self.n_data))
        self.correction = np.ones(self.n_data)
        if halfspace_correction:
            # exact / numerical transfer resistance of the unit-conductivity half-space
            numeric = self._solve(np.zeros(self.n_params)).data
            exact = 1.0 / k_factor
            bad = ~(np.isfinite(numeric) & (numeric * exact > 0.0))
            if np.any(bad):
                raise ValueError(
                    f"{_NAME}: the half-space correction failed for abmn row(s) "
                    f"{np.flatnonzero(bad)[:10].tolist()}; refine the grid near the electrodes"
                )
            self.correction = exact / numeric
            self._cache.clear()  # that entry holds uncorrected data
        scale = self.correction * (k_factor if data == "apparent_resistivity" else 1.0)
        self._pot, self._cur, self._scale = selection(local[abmn], scale)

    # --- solves and cache ----------------------------------------------------------------
    def _state(self, m: np.ndarray) -> _State:
        key = m.tobytes()
        with self._lock:
            state = self._cache.get(key)
            if state is not None:
                self._cache.move_to_end(key)
                return state
        state = self._solve(m)  # outside the lock: threads at different m run concurrently
        with self._lock:
            self._cache[key] = state
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return state

    def _solve(self, m: np.ndarray) -> _State:
        sigma, fields, V = self._solver.fields(m)
        if fields is None:
            return _State(np.full(self.n_data, np.nan), None, None)
        d = fk.select_data(V, self._pot, self._cur, self._scale)
        if not np.all(np.isfinite(d)):
            return _State(np.full(self.n_data, np.nan), None, None)
        return _State(d, fields, sigma)

    # --- ForwardOperator -----------------------------------------------------------------
    def vjp(self, m, dd) -> np.ndarray:
        """Apply the transposed Jacobian at ``m`` to a data-space vector ``dd``.

        Parameters
        ----------
        m : array_like
            Linearisation point (log-conductivity), length :attr:`n_params`.
        dd : array_like
            Data-space vector, length :attr:`n_data`.

        Returns
        -------
        numpy.ndarray
            ``J(m)^T dd``. NaN when the solve at ``m`` failed, and also when ``dd`` holds
            NaN or infinite values: that is the cotangent a likelihood passes back for the
            NaN data of a failed solve, so it propagates instead of raising.
        """
        arr = np.asarray(dd, dtype=np.float64)
        if arr.shape == (self.n_data,) and not np.all(np.isfinite(arr)):
            as_vector(m, self.n_params, self.name, "m")
            return np.full(self.n_params, np.nan)
        return super().vjp(m, dd)

    def _forward(self, m):
        return self._state(m).data.copy()

    def _jvp(self, m, dm):
        st = self._state(m)
        if st.fields is None:
            return np.full(self.n_data, np.nan)
        dV = self._solver.perturbation(st.fields, st.sigma, dm)
        return fk.select_data(dV, self._pot, self._cur, self._scale)

    def _vjp(self, m, dd):
        st = self._state(m)
        if st.fields is None:
            return np.full(self.n_params, np.nan)
        W = fk.data_weights(dd, self._pot, self._cur, self._scale, self._solver.n_used)
        return self._solver.gradient(st.fields, st.sigma, W, self.n_params)

    def _build_numba_kernels(self) -> NumbaKernels:
        return self._solver.kernels(self._pot, self._cur, self._scale, self.n_params)
