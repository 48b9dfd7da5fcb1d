"""Pumping schedules and graded time grids for the transient diffusion operators."""

from __future__ import annotations

import numpy as np

from bayesinv._checks import check_array, check_float, check_int

__all__ = ["PumpingSchedule", "graded_steps"]


class PumpingSchedule:
    r"""Piecewise-constant pumping rates of one or several sources, starting at ``t = 0``.

    Parameters
    ----------
    durations : array_like
        Lengths of the successive intervals (s), each ``> 0``. Interval ``k`` spans
        ``[t_k, t_{k+1})`` with ``t_0 = 0`` and ``t_{k+1} = t_k + durations[k]``.
    rates : array_like
        Pumping (extraction) rates in m³/s, positive when water is taken out, shape
        ``(n_intervals,)`` for one source or ``(n_intervals, n_sources)``. After the last
        interval every rate is zero (recovery).

    Attributes
    ----------
    breakpoints : numpy.ndarray
        ``t_1, ..., t_K``, the times where a rate changes (length ``n_intervals``).
    rates : numpy.ndarray
        Shape ``(n_intervals, n_sources)``.

    Notes
    -----
    Source :math:`s` adds :math:`-Q_s(t)\,b_s` to the right-hand side of the diffusion
    equation, with :math:`b_s` its distribution over cells (see the operators). A rate that
    is constant on each time step is integrated exactly by the time stepping when every
    breakpoint is a step boundary, which :func:`graded_steps` guarantees.

    Examples
    --------
    >>> s = PumpingSchedule([3600.0, 7200.0], [0.01, 0.0])  # one hour of pumping, recovery
    >>> s.breakpoints
    array([ 3600., 10800.])
    >>> s.rate_at(100.0)
    array([0.01])
    """

    def __init__(self, durations, rates):
        where = "PumpingSchedule"
        d = check_array(durations, where, "durations", ndim=1)
        if d.size == 0:
            raise ValueError(f"{where}: durations must hold at least one interval")
        bad = np.flatnonzero(~(d > 0.0))
        if bad.size:
            raise ValueError(
                f"{where}: durations must be > 0 s, got {float(d[bad[0]])!r} at index {bad[0]}"
            )
        r = check_array(rates, where, "rates")
        if r.ndim == 1:
            r = r[:, None]
        if r.ndim != 2 or r.shape[0] != d.size:
            raise ValueError(
                f"{where}: rates must have shape ({d.size},) or ({d.size}, n_sources), "
                f"got {np.shape(rates)}"
            )
        self.durations = d
        self.rates = np.ascontiguousarray(r)
        self.breakpoints = np.cumsum(d)

    @property
    def n_sources(self) -> int:
        """Number of sources (columns of :attr:`rates`)."""
        return self.rates.shape[1]

    def rate_at(self, t: float) -> np.ndarray:
        """Rates of all sources on the interval holding ``t`` (zero after the schedule).

        Parameters
        ----------
        t : float
            Time (s), ``>= 0``.

        Returns
        -------
        numpy.ndarray
            Length :attr:`n_sources`.
        """
        k = int(np.searchsorted(self.breakpoints, t, side="right"))
        if k >= self.rates.shape[0]:
            return np.zeros(self.n_sources)
        return self.rates[k].copy()

    def __repr__(self) -> str:
        return (
            f"PumpingSchedule({self.durations.size} interval(s), {self.n_sources} source(s), "
            f"ends at {self.breakpoints[-1]:g} s)"
        )


def graded_steps(
    t_end: float,
    dt_min: float,
    dt_max: float,
    *,
    breakpoints=(),
    steps_per_level: int = 4,
) -> np.ndarray:
    r"""Time steps graded geometrically after ``t = 0`` and after every breakpoint.

    Parameters
    ----------
    t_end : float
        End of the simulation (s), ``> 0``.
    dt_min : float
        First step after the start and after each breakpoint (s), ``> 0``.
    dt_max : float
        Largest step (s), ``>= dt_min``.
    breakpoints : array_like
        Times where the forcing changes (e.g. :attr:`PumpingSchedule.breakpoints`); those
        inside ``(0, t_end)`` become step boundaries and restart the grading.
    steps_per_level : int
        Number of steps of each size ``dt_min 2^l`` before doubling.

    Returns
    -------
    numpy.ndarray
        Step sizes summing to ``t_end``.

    Notes
    -----
    After a change of forcing the solution has a boundary layer in time (for a pumping well,
    the drawdown grows like :math:`\log t`), so steps start at ``dt_min`` and double every
    ``steps_per_level`` steps up to ``dt_max``. The sizes are the powers
    :math:`\Delta t_{min} 2^l` (exact in floating point), so the number of distinct step
    sizes, hence of matrix factorisations, is about :math:`\log_2(\Delta t_{max}/
    \Delta t_{min})` plus one shortened last step per interval. With a fixed
    ``steps_per_level`` the scheme keeps its second order in time: the step ratio stays
    bounded (1 or 2).

    Examples
    --------
    >>> dt = graded_steps(100.0, 1.0, 8.0, steps_per_level=2)
    >>> dt[:7].tolist(), float(dt.sum())
    ([1.0, 1.0, 2.0, 2.0, 4.0, 4.0, 8.0], 100.0)
    """
    where = "graded_steps"
    t_end = check_float(t_end, where, "t_end", low=0.0, low_open=True, units="s")
    dt_min = check_float(dt_min, where, "dt_min", low=0.0, low_open=True, units="s")
    dt_max = check_float(dt_max, where, "dt_max", low=dt_min, units="s")
    steps_per_level = check_int(steps_per_level, where, "steps_per_level", low=1)
    bp = check_array(breakpoints, where, "breakpoints", ndim=1)
    ends = np.unique(np.concatenate([bp[(bp > 0.0) & (bp < t_end)], [t_end]]))
    steps: list[float] = []
    start = 0.0
    for stop in ends:
        t, dt, count = start, dt_min, 0
        while t < stop:
            step = min(dt, stop - t)
            if stop - (t + step) < 1e-9 * dt:  # absorb a sliver into this step
                step = stop - t
            steps.append(step)
            t += step
            count += 1
            if count == steps_per_level and dt < dt_max:
                dt, count = min(2.0 * dt, dt_max), 0
        start = stop
    return np.asarray(steps)
