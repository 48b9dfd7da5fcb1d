"""Shared machinery of the acoustic operators: kernels' arguments, CFL check, memory."""

from __future__ import annotations

import numpy as np

from bayesinv._checks import check_int, check_positive
from bayesinv._numba import njit
from bayesinv.operators.base import ForwardOperator, kernels_with_state
from bayesinv.operators.wave import _acoustic_numba as K
from bayesinv.operators.wave import _layout
from bayesinv.operators.wave.wavelets import check_wavelet, time_samples

#: largest block (bytes) in which a gradient keeps the boundary history (see
#: ``_acoustic_numba``): below glibc's largest mmap threshold (32 MiB), so that malloc keeps
#: the block from call to call instead of mapping fresh pages (page faults) every time
HISTORY_BYTES = 30 * 2**20


def _frozen(a):
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


class AcousticWaveBase(ForwardOperator):
    """Common part of :class:`AcousticWave1D` and :class:`AcousticWave2D` (not public)."""

    linear = False

    def _setup(self, shape, h, src, rec, dt, duration, wavelet, pad, vref, ck):
        """Build the node layout; ``shape = (nz, nx)``, ``h = (hz, hx or None)``."""
        where = self.name
        nz, nx = shape
        hz, hx = h
        self.dt = check_positive(dt, where, "dt", units="s")
        self.times = time_samples(dt, duration, where)
        self.nt = self.times.size
        if self.nt < 2:
            raise ValueError(f"{where}: duration must cover at least two time samples")
        self.pad = check_int(pad, where, "pad", low=2)
        pad_x = 0 if hx is None else self.pad
        self._factor = _layout.courant_factor(self.dt, hz, hx)
        if vref is None:
            vref = 1.0 / self._factor
        vref = check_positive(vref, where, "reference_velocity", units="m/s")
        self.reference_velocity = vref
        self.checkpoint_interval = _layout.checkpoint_interval(self.nt, ck, where)
        self.n_sources, self.n_receivers = len(src[0]), len(rec[0])
        self.wavelet = check_wavelet(wavelet, self.nt, self.n_sources, where)
        self._cell = _frozen(_layout.cell_map(nz, nx, self.pad, pad_x))
        prof, boxes = _layout.pml(nz, nx, self.pad, pad_x, hz, hx, self.dt, vref)
        self._prof = tuple(_frozen(a) for a in prof)
        self._boxes = _frozen(boxes)
        self._geo = (_frozen(_layout.stencil(hz, hx)), _frozen(_layout.first_derivative(hz, hx)))
        area = hz * (1.0 if hx is None else hx)
        z_first, x_first = h[0] / 2 + self._z0, (None if hx is None else hx / 2 + self._x0)
        si, sw = _layout.point_weights(*src, z_first, x_first, hz, hx, self.pad, pad_x)
        ri, rw = _layout.point_weights(*rec, z_first, x_first, hz, hx, self.pad, pad_x)
        self._src_i, self._src_w = _frozen(si), _frozen(sw / area)
        self._rec_i, self._rec_w = _frozen(ri), _frozen(rw)
        self.n_params = nz * nx
        self.n_data = self.n_sources * self.n_receivers * self.nt

    # --- arguments of the kernels -------------------------------------------------------
    def _args(self):
        return (
            self._cell,
            self.dt,
            self._factor,
            self._prof,
            self._geo,
            self._boxes,
            self._src_i,
            self._src_w,
            self._rec_i,
            self._rec_w,
            self.wavelet,
        )

    @property
    def max_velocity(self) -> float:
        """Largest velocity (m/s) the CFL condition allows with this grid and ``dt``."""
        return 1.0 / self._factor

    def gradient_memory_bytes(self) -> int:
        """Bytes of wavefield storage one shot's gradient allocates (its state + segment).

        Returns
        -------
        int
            ``8 (N (4 n_segments + checkpoint_interval + 10) + h N_b)`` with ``N`` the
            number of halo'd nodes, ``N_b`` those outside the interior box and ``h`` the
            rows of boundary history (as many of the last steps as fit in
            :data:`HISTORY_BYTES`); at most two shots run at once on two threads. (In a
            compiled model with a forward state, every shot's state is kept from the
            forward to the gradient: :attr:`forward_state_size`.)
        """
        # the state, the segment's ck + 2 wavefields, px, pz, w0..w2, yx, yz, gw
        ck, nh = self._plan(state=False)
        return 8 * (self._shot_state_size(nh) + self._cell.size * (ck + 10))

    def _n_outside(self) -> int:
        """Nodes outside the interior box: the PML boxes and the halo (one history row)."""
        return int(K.n_outside(self._cell.shape, self._boxes[0]))

    def _shot_state_size(self, nh: int) -> int:
        """Floats of one shot's state: ``4 n_segments N`` checkpoints + ``nh N_b`` history."""
        ck = self.checkpoint_interval
        return int(K.shot_state_size(self._cell.shape, self.wavelet, ck, self._boxes[0], nh))

    def _plan(self, state: bool) -> tuple[int, int]:
        """``(checkpoint_interval, history rows)`` of the gradient's kernels.

        The boundary history covers the last steps, from a segment start: as many whole
        segments as fit in :data:`HISTORY_BYTES` together with the rest of the block it
        lives in (one shot's checkpoints and segment buffer for the gradient alone,
        ``state=False``; every shot's state for the forward state of a compiled model,
        ``state=True``). The segments before are recomputed in full.
        """
        ck, nsteps, n = self.checkpoint_interval, self.nt - 1, self._cell.size
        shots = self.n_sources if state else 1
        rest = shots * self._shot_state_size(0) + (0 if state else (ck + 2) * n)
        per_row = shots * self._n_outside()
        rows = max(HISTORY_BYTES // 8 - rest, 0) // per_row
        start = -(-(nsteps - min(rows, nsteps)) // ck) * ck  # the first segment it covers
        return ck, nsteps - min(start, nsteps)

    def _n_segments(self) -> int:
        """Checkpoint segments of the ``nt - 1`` time steps (the last one may be shorter)."""
        return -(-(self.nt - 1) // self.checkpoint_interval)

    def traces(self, d) -> np.ndarray:
        """Reshape a data vector to ``(n_sources, n_receivers, nt)``.

        Parameters
        ----------
        d : array_like
            Flat data of length :attr:`n_data`.

        Returns
        -------
        numpy.ndarray
            A reshaped view.
        """
        return np.asarray(d, dtype=np.float64).reshape(self.n_sources, self.n_receivers, self.nt)

    # --- protocol -------------------------------------------------------------------------
    def _check(self, m):
        _layout.check_cfl(m, self._factor, self.name, self.dt)

    def _kernels(self):
        """Return forward, jvp, vjp, forward_state and vjp_state kernels.

        Threaded (``prange`` over shots), or their serial twins for one shot.
        """
        if self.n_sources > 1:
            return K.forward, K.jvp, K.vjp, K.forward_state, K.vjp_state
        return (
            K.forward_serial,
            K.jvp_serial,
            K.vjp_serial,
            K.forward_state_serial,
            K.vjp_state_serial,
        )

    @property
    def forward_state_size(self) -> int:
        """Floats the forward hands to the gradient in a compiled model.

        Every shot's checkpoints and boundary history: ``n_sources (4 n_segments N +
        h N_b)`` (``N`` halo'd nodes, ``N_b`` of them outside the interior box, ``h`` history
        rows: :meth:`_plan`).
        """
        return self.n_sources * self._shot_state_size(self._plan(state=True)[1])

    def _forward(self, m):
        self._check(m)
        return self._kernels()[0](m, *self._args())

    def _jvp(self, m, dm):
        self._check(m)
        return self._kernels()[1](m, dm, *self._args())

    def _vjp(self, m, dd):
        self._check(m)
        return self._kernels()[2](m, dd, *self._args(), *self._plan(state=False))

    def _build_numba_kernels(self):
        """Njit closures over the operator's arrays.

        With ``forward_state``/``vjp_state`` (the forward's checkpoints reused by the
        gradient, which then skips its first pass) when they take at most
        :data:`~bayesinv.operators.base.FORWARD_STATE_BYTES` (:func:`kernels_with_state`).
        """
        args = self._args()
        ck, nh = self._plan(state=False)
        ck_s, nh_s = self._plan(state=True)
        fwd, tan, adj, fwd_s, adj_s = self._kernels()

        @njit(nogil=True)
        def forward(m):
            return fwd(np.ascontiguousarray(m), *args)

        @njit(nogil=True)
        def jvp(m, dm):
            return tan(np.ascontiguousarray(m), np.ascontiguousarray(dm), *args)

        @njit(nogil=True)
        def vjp(m, dd):
            return adj(np.ascontiguousarray(m), np.ascontiguousarray(dd), *args, ck, nh)

        @njit(nogil=True)
        def forward_state(m):
            return fwd_s(np.ascontiguousarray(m), *args, ck_s, nh_s)

        @njit(nogil=True)
        def vjp_state(m, state, dd):
            m, dd = np.ascontiguousarray(m), np.ascontiguousarray(dd)
            return adj_s(m, np.ascontiguousarray(state), dd, *args, ck_s, nh_s)

        size = self.forward_state_size
        return kernels_with_state(self, size, forward, jvp, vjp, forward_state, vjp_state)
