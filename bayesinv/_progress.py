"""Progress of long runs as one line on a stream, for runs without a terminal.

On a terminal, nutpie draws its own progress bar. Without one (CI, a batch job, ``nohup``),
the ``bayesinv`` command opens :func:`reporting` around a run; the code doing the work calls
:func:`stage` when it starts a new stage and :func:`update` as work gets done, and a line::

    bayesinv: sampling joint model: 1200/4000 draws, 35 s

goes to the stream at most every ``interval`` seconds, plus one line when a stage starts
and one when it finishes. Outside :func:`reporting` both calls do nothing, so library code
can call them freely. The reporter lives in a :class:`contextvars.ContextVar`: nothing is
global, and nested or concurrent runs in other contexts do not see each other's reporter.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import time

__all__ = ["Progress", "finish", "reporting", "stage", "update"]


class Progress:
    """A one-line progress reporter (see the module docstring).

    Parameters
    ----------
    stream : file-like
        Where lines go (default: ``sys.stderr``).
    interval : float
        Least number of seconds between two update lines of one stage.
    clock : callable
        Monotonic clock in seconds (replaceable in tests).
    """

    def __init__(self, stream=None, interval: float = 10.0, clock=time.monotonic):
        self.stream = sys.stderr if stream is None else stream
        self.interval = float(interval)
        self.clock = clock
        self.name = None
        self._t0 = self._last = clock()
        self._done = self._total = None

    def _write(self, text: str) -> None:
        print(f"bayesinv: {text}", file=self.stream, flush=True)

    def stage(self, name: str) -> None:
        """Start a stage (finishing the previous one)."""
        self.finish()
        self.name = str(name)
        self._t0 = self._last = self.clock()
        self._done = self._total = None
        self._write(f"{self.name}: started")

    def update(self, done: int, total: int | None = None, unit: str = "draws") -> None:
        """Record work done in the current stage; print a line when ``interval`` has passed."""
        self._done, self._total, self._unit = int(done), total, unit
        now = self.clock()
        if now - self._last >= self.interval:
            self._last = now
            self._write(self._line(now))

    def _line(self, now: float) -> str:
        of = "" if self._total is None else f"/{int(self._total)}"
        work = "" if self._done is None else f"{self._done}{of} {self._unit}, "
        return f"{self.name}: {work}{now - self._t0:.0f} s"

    def finish(self) -> None:
        """End the current stage with one line (nothing when no stage is open)."""
        if self.name is not None:
            self._write(self._line(self.clock()) + " (done)")
            self.name = None


_CURRENT: contextvars.ContextVar[Progress | None] = contextvars.ContextVar(
    "bayesinv_progress", default=None
)


@contextlib.contextmanager
def reporting(stream=None, interval: float = 10.0):
    """Report progress to ``stream`` within the ``with`` block.

    Parameters
    ----------
    stream : file-like, optional
        Where lines go (default: ``sys.stderr``).
    interval : float
        Least number of seconds between two update lines.

    Yields
    ------
    Progress
        The reporter.
    """
    progress = Progress(stream, interval)
    token = _CURRENT.set(progress)
    try:
        yield progress
    finally:
        progress.finish()
        _CURRENT.reset(token)


def stage(name: str) -> None:
    """Start a stage of the current run (no-op outside :func:`reporting`)."""
    progress = _CURRENT.get()
    if progress is not None:
        progress.stage(name)


def update(done: int, total: int | None = None, unit: str = "draws") -> None:
    """Record work done in the current stage (no-op outside :func:`reporting`)."""
    progress = _CURRENT.get()
    if progress is not None and progress.name is not None:
        progress.update(done, total, unit)


def finish() -> None:
    """End the current stage of the current run (no-op outside :func:`reporting`)."""
    progress = _CURRENT.get()
    if progress is not None:
        progress.finish()
