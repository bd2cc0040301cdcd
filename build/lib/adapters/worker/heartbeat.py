"""Heartbeat: one timer thread that keeps in-flight work alive."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import dramatiq
from dramatiq.middleware import Middleware

log = logging.getLogger(__name__)


class Heartbeat(Middleware):
    """Calls each beat function every ``interval_seconds`` while the worker runs.

    In production the beats extend the SQS visibility of in-flight messages
    and the Redis locks the process holds, so a 40-minute transcode is
    neither redelivered mid-run nor invisible for hours after a crash: the
    leases are short and only a living worker renews them.

    Parameters:
      interval_seconds: time between beats; at most half the shortest lease.
      beats: functions to call on each beat; one failing does not stop the others.
    """

    def __init__(self, interval_seconds: float, beats: Sequence[Callable[[], object]]) -> None:
        self.interval_seconds = interval_seconds
        self.beats = list(beats)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_seconds)

    def beat(self) -> None:
        for function in self.beats:
            try:
                function()
            except Exception:
                log.warning("heartbeat step %s failed", getattr(function, "__qualname__", function), exc_info=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            self.beat()
