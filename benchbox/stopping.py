"""Stop requests (SIGINT, SIGTERM), owned by whatever runs cells in a process: the CLI, a
``--jobs`` worker, a Ray worker. Library code that never enters :class:`StopRequests` leaves
the host's signal handling alone (a SIGTERM to pytest still stops pytest).

Outside :meth:`StopRequests.deferred`, a signal raises :class:`Interrupted` at once. Inside it
(a resumable training loop), the signal only sets ``requested``: the loop saves its state after
the current step, then raises :class:`Interrupted` itself. A second SIGINT interrupts at once.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class Interrupted(KeyboardInterrupt):
    """Stopped by SIGINT/SIGTERM; a resumable method saved its training state first, so
    running the same command again resumes it."""


class StopRequests:
    """Context manager: SIGINT and SIGTERM handled as described in the module docstring."""

    _active: StopRequests | None = None

    def __init__(self):
        self.requested: str | None = None
        self._deferring = 0
        self._previous: dict = {}
        self._outer: StopRequests | None = None

    def _handle(self, signum, frame):
        name = signal.Signals(signum).name
        if self._deferring and not (self.requested and signum == signal.SIGINT):
            self.requested = name
            return
        raise Interrupted(name)

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():  # signals reach only that one
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        self._outer, StopRequests._active = StopRequests._active, self
        return self

    def __exit__(self, *exc) -> None:
        StopRequests._active = self._outer
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    @contextmanager
    def deferred(self):
        self._deferring += 1
        try:
            yield self
        finally:
            self._deferring -= 1


class _NeverRequested:
    requested = None


@contextmanager
def deferred():
    """For a training loop that can save and stop cleanly: the active :class:`StopRequests`,
    deferring, or (none active) an object whose ``requested`` stays None."""
    active = StopRequests._active
    if active is None:
        yield _NeverRequested()
        return
    with active.deferred() as stop:
        yield stop
