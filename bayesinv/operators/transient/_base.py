"""Shared machinery of the transient diffusion operators (time grid, observations, kernels)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from bayesinv._checks import check_array, check_choice, check_int
from bayesinv._numba import njit
from bayesinv.operators._cholesky_numba import CholeskyPattern
from bayesinv.operators.base import ForwardOperator, NumbaKernels, kernels_with_state
from bayesinv.operators.transient import _kernels_numba as kk
from bayesinv.operators.transient import _stepping_numba as k
from bayesinv.operators.transient._mesh import Mesh, point_weights
from bayesinv.operators.transient.schedule import PumpingSchedule, graded_steps

_DATA_KINDS = ("drawdown", "head")
#: the gradient keeps every state below this size, and checkpoints above it
STATE_MEMORY_BYTES = 64 * 2**20


def check_inside(mesh: Mesh, points: np.ndarray, where: str, name: str) -> None:
    """Raise if a point lies outside the mesh (its boundary included as inside)."""
    xe, ze = mesh.x_edges, mesh.z_edges
    x, z = points[:, 0], points[:, 1]
    out = (x < xe[0]) | (x > xe[-1]) | (z < ze[0]) | (z > ze[-1])
    if np.any(out):
        i = int(np.flatnonzero(out)[0])
        raise ValueError(
            f"{where}: {name}[{i}] = {tuple(float(v) for v in points[i])} lies outside the grid "
            f"x in [{xe[0]:g}, {xe[-1]:g}], z in [{ze[0]:g}, {ze[-1]:g}]"
        )


def check_times(times, where: str) -> np.ndarray:
    """Observation times: 1-D, ``>= 0`` (the start) and strictly increasing."""
    t = check_array(times, where, "times", ndim=1)
    if t.size == 0:
        raise ValueError(f"{where}: times must hold at least one observation time")
    if t[0] < 0.0:
        raise ValueError(
            f"{where}: times must be >= 0 s (the start), got {float(t[0])!r} at index 0"
        )
    bad = np.flatnonzero(np.diff(t) <= 0.0)
    if bad.size:
        i = int(bad[0]) + 1
        raise ValueError(
            f"{where}: times must be strictly increasing, got {float(t[i])!r} at index {i} after "
            f"{float(t[i - 1])!r}"
        )
    return t


def time_grid(where, schedule, t_end, steps, dt_min, dt_max, steps_per_level):
    """Return validated step sizes covering ``[0, t_end]`` with every breakpoint on a node."""
    if steps is None:
        dt_max = t_end / 20.0 if dt_max is None else dt_max
        dt_min = min(dt_max, t_end / 2000.0) if dt_min is None else dt_min
        return graded_steps(
            t_end, dt_min, dt_max, breakpoints=schedule.breakpoints, steps_per_level=steps_per_level
        )
    dt = check_array(steps, where, "steps", ndim=1)
    bad = np.flatnonzero(~(dt > 0.0))
    if dt.size == 0 or bad.size:
        raise ValueError(f"{where}: steps must be a non-empty array of durations > 0 s")
    nodes = np.concatenate([[0.0], np.cumsum(dt)])
    if nodes[-1] < t_end * (1.0 - 1e-12):
        raise ValueError(f"{where}: steps end at {nodes[-1]:g} s, before the last time {t_end:g}")
    for b in schedule.breakpoints[schedule.breakpoints < nodes[-1]]:
        if np.min(np.abs(nodes - b)) > 1e-9 * max(b, 1.0):
            raise ValueError(
                f"{where}: steps must have a boundary at every schedule change; none at {b:g} s"
            )
    return dt


class TransientBase(ForwardOperator):
    """Common part of :class:`TransientDiffusion2D` and :class:`RadialTransientDiffusion`."""

    linear = False

    def _setup(self, mesh: Mesh, sources: np.ndarray, schedule, wells, times, options) -> None:
        where = self.name
        if schedule is None and sources.shape[0] == 0:
            schedule = PumpingSchedule([1e300], np.zeros((1, 0)))  # no forcing
        if not isinstance(schedule, PumpingSchedule):
            raise TypeError(f"{where}: schedule must be a PumpingSchedule, got {type(schedule)}")
        if schedule.n_sources != sources.shape[0]:
            raise ValueError(
                f"{where}: schedule has rates for {schedule.n_sources} source(s), "
                f"got {sources.shape[0]} source(s)"
            )
        check_inside(mesh, wells, where, "wells")
        times = check_times(times, where)
        n = mesh.size
        self.mesh, self.schedule, self.wells, self.times = mesh, schedule, wells, times
        self.data_kind = check_choice(options["data"], where, "data", _DATA_KINDS)
        self.estimate_storage = bool(options["estimate_storage"])
        self.n_cells = n
        self.n_params = 2 * n if self.estimate_storage else n
        self.n_data = wells.shape[0] * times.size
        self._log_s = self._fixed_storage(options["storage"], n)
        self.initial_head = self._initial_head(options["initial_head"], n)
        spl = check_int(options["steps_per_level"], where, "steps_per_level", low=1)
        dt = time_grid(
            where, schedule, max(times[-1], 1e-300), options["steps"], options["dt_min"],
            options["dt_max"], spl,
        )  # fmt: skip
        self.steps = dt
        self.step_times = np.concatenate([[0.0], np.cumsum(dt)])
        self.step_sizes, self._level = np.unique(dt, return_inverse=True)
        mid = 0.5 * (self.step_times[1:] + self.step_times[:-1])
        self._interval = np.searchsorted(schedule.breakpoints, mid).astype(np.int64)
        rates = np.vstack([schedule.rates, np.zeros((1, schedule.n_sources))])
        self._forcing = np.ascontiguousarray(-rates @ sources)  # extraction lowers the head
        self._observations(point_weights(mesh, wells))
        self.checkpoint_every = self._checkpoints(options["checkpoint_every"], n, dt.size)
        # one symbolic analysis (RCM ordering, envelope) for every B = M + c A
        cells = np.arange(n, dtype=np.int64)
        fa, fb = mesh.face_a, mesh.face_b
        self._pattern = CholeskyPattern(np.r_[cells, fa, fb], np.r_[cells, fb, fa], n)

    def _checkpoints(self, every, n, n_steps) -> int:
        """Return the steps per checkpoint segment: all if the states fit in 64 MB, else ~sqrt."""
        if every is not None:
            return check_int(every, self.name, "checkpoint_every", low=1)
        if 8 * (2 * n_steps + 1) * n <= STATE_MEMORY_BYTES:
            return max(n_steps, 1)
        return max(1, round(float(np.sqrt(n_steps / 2.0))))

    def _fixed_storage(self, storage, n):
        if self.estimate_storage:
            if storage is not None:
                raise ValueError(
                    f"{self.name}: storage is estimated (estimate_storage=True); do not give it"
                )
            return np.zeros(n)
        if storage is None:
            raise ValueError(f"{self.name}: give storage (1/m) or set estimate_storage=True")
        s = np.broadcast_to(check_array(storage, self.name, "storage"), (n,)).copy()
        bad = np.flatnonzero(~(s > 0.0))
        if bad.size:
            raise ValueError(
                f"{self.name}: storage must be > 0 (1/m), got {float(s[bad[0]])!r} at cell {bad[0]}"
            )
        return np.log(s)

    def _initial_head(self, h0, n):
        h = check_array(h0, self.name, "initial_head")
        if h.ndim > 1 or (h.ndim == 1 and h.size != n):
            raise ValueError(f"{self.name}: initial_head must be a number or have {n} values")
        return np.ascontiguousarray(np.broadcast_to(h, (n,)), dtype=np.float64)

    def _observations(self, pts) -> None:
        """Per step node: (data index, time weight) pairs, for linear interpolation in time."""
        self._pcells, self._pw = pts
        n_t = self.times.size
        rows: list[list[tuple[int, float]]] = [[] for _ in self.step_times]
        for i, t in enumerate(self.times):
            s = min(int(np.searchsorted(self.step_times, t, side="right")) - 1, self.steps.size)
            theta = 0.0 if s == self.steps.size else (t - self.step_times[s]) / self.steps[s]
            for w in range(self.wells.shape[0]):
                rows[s].append((w * n_t + i, 1.0 - theta))
                if theta > 0.0:
                    rows[s + 1].append((w * n_t + i, theta))
        self._node_ptr = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
        self._node_obs = np.array([j for r in rows for j, _ in r], dtype=np.int64)
        self._node_w = np.array([w for r in rows for _, w in r], dtype=np.float64)
        self._obs_point = np.repeat(np.arange(self.wells.shape[0]), n_t).astype(np.int64)
        self._sign = -1.0 if self.data_kind == "drawdown" else 1.0
        at_wells = np.einsum("pk,pk->p", self._pw, self.initial_head[self._pcells])
        self._offset = (
            np.repeat(at_wells, n_t) if self.data_kind == "drawdown" else np.zeros(self.n_data)
        )

    # --- public helpers ------------------------------------------------------------------
    def parameters(self, conductivity, storage=None) -> np.ndarray:
        """Return the model vector ``m`` of given hydraulic conductivity (and storage) fields.

        Parameters
        ----------
        conductivity : float or array_like
            K (m/s), a number or one value per cell, every value ``> 0``.
        storage : float or array_like, optional
            S (1/m), required when :attr:`estimate_storage` is set, refused otherwise.

        Returns
        -------
        numpy.ndarray
            ``log K`` or ``[log K, log S]``.
        """
        out = []
        for name, value in (("conductivity", conductivity), ("storage", storage)):
            if name == "storage" and not self.estimate_storage:
                if value is not None:
                    raise ValueError(f"{self.name}.parameters: storage is fixed; do not give it")
                break
            if value is None:
                raise ValueError(f"{self.name}.parameters: give {name}")
            v = np.broadcast_to(check_array(value, self.name, name), (self.n_cells,))
            bad = np.flatnonzero(~(v > 0.0))
            if bad.size:
                raise ValueError(
                    f"{self.name}.parameters: {name} must be > 0, got {float(v[bad[0]])!r} at cell "
                    f"{bad[0]}"
                )
            out.append(np.log(v))
        return np.concatenate(out)

    def states(self, m) -> tuple[np.ndarray, np.ndarray]:
        """Heads at every step node: ``(step_times, H)`` with ``H`` of shape ``(N+1, n_cells)``.

        Parameters
        ----------
        m : array_like
            Model vector (see :meth:`parameters`).

        Returns
        -------
        tuple of numpy.ndarray
            NaN heads if the model is not physical (see Notes of the class).
        """
        m = self._check_m(m)
        ok, H = kk.simulate(m, self._kernel_data())
        if not ok:
            return self.step_times.copy(), np.full((self.steps.size + 1, self.n_cells), np.nan)
        return self.step_times.copy(), H

    def matrices(self, m) -> tuple[np.ndarray, sp.csr_matrix]:
        """Return the diagonal of ``M = diag(S V)`` and the stiffness matrix ``A`` at ``m``."""
        m = self._check_m(m)
        _, _, T, mass = k.coefficients(m, self.n_cells, self._log_s, *self._geometry())
        fa, fb = self.mesh.face_a, self.mesh.face_b
        rows = np.concatenate([fa, fb, fa, fb])
        cols = np.concatenate([fa, fb, fb, fa])
        vals = np.concatenate([T, T, -T, -T])
        n = self.n_cells
        return mass, sp.csr_matrix((vals, (rows, cols)), shape=(n, n))

    def explicit_step_limit(self, m) -> float:
        """Largest stable step of forward Euler, ``2 / lambda_max(M^-1 A)`` (Gershgorin)."""
        mass, A = self.matrices(m)
        return float(2.0 / np.max(2.0 * A.diagonal() / mass))

    # --- internals -----------------------------------------------------------------------
    def _check_m(self, m):
        from bayesinv.operators.base import as_vector

        return as_vector(m, self.n_params, self.name, "m")

    def _geometry(self):
        me = self.mesh
        return me.face_a, me.face_b, me.res_a, me.res_b, me.volume

    def _obs_args(self):
        return (self._node_ptr, self._node_obs, self._node_w, self._obs_point, self._pcells,
                self._pw, self._sign)  # fmt: skip

    def _data(self) -> tuple:
        """Everything the kernels read, as one tuple (frozen into the compiled closures)."""
        sizes = np.ascontiguousarray(self.step_sizes)
        level = self._level.astype(np.int64)
        chol = self._pattern.arrays
        return (self.n_cells, self._log_s, self._geometry(), sizes, level, self._interval,
                self._forcing, self.initial_head, chol, self._obs_args(), self._offset,
                self.n_params, self.checkpoint_every)  # fmt: skip

    def _kernel_data(self) -> tuple:
        cached = self.__dict__.get("_data_cache")
        if cached is None:
            cached = self.__dict__["_data_cache"] = self._data()
        return cached

    # the Python path calls the module-level kernels with the data tuple (no closure to
    # compile); compiled PyTensor graphs use the closures of _build_numba_kernels
    propagates_nan = True  # vjp of a failed solve's NaN cotangent is NaN

    def _forward(self, m):
        return kk.forward_kernel(m, self._kernel_data())

    def _jvp(self, m, dm):
        return kk.jvp_kernel(m, dm, self._kernel_data())

    def _vjp(self, m, dd):
        return kk.vjp_kernel(m, dd, self._kernel_data())

    def _build_numba_kernels(self) -> NumbaKernels:
        return build_kernels(self)

    @property
    def forward_state_size(self) -> int:
        """Floats of the state the forward hands to the gradient (factors + kept states)."""
        layout = kk.state_layout(
            self.n_cells, self.steps.size, self.checkpoint_every, self.step_sizes.size,
            int(self._pattern.arrays[2][-1]),
        )  # fmt: skip
        return int(layout[3])


def build_kernels(op: TransientBase) -> NumbaKernels:
    """Njit closures of forward, jvp and vjp over the operator's constant data tuple.

    With ``forward_state``/``vjp_state`` (the forward's factors and kept states handed to
    the gradient) when that state takes at most :data:`FORWARD_STATE_BYTES`.
    """
    data = op._data()
    fwd, jvp_k, vjp_k = kk.forward_kernel, kk.jvp_kernel, kk.vjp_kernel
    fs_k, vs_k = kk.forward_state_kernel, kk.vjp_state_kernel

    @njit(nogil=True)
    def forward(m):
        return fwd(m, data)

    @njit(nogil=True)
    def jvp(m, dm):
        return jvp_k(m, dm, data)

    @njit(nogil=True)
    def vjp(m, dd):
        return vjp_k(m, dd, data)

    @njit(nogil=True)
    def forward_state(m):
        return fs_k(m, data)

    @njit(nogil=True)
    def vjp_state(m, state, dd):
        return vs_k(m, state, dd, data)

    size = op.forward_state_size
    return kernels_with_state(op, size, forward, jvp, vjp, forward_state, vjp_state)
