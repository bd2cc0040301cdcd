"""CoalesceTermSignals: one platform stop is one SIGTERM, however many copies arrive."""

from __future__ import annotations

import logging
import signal
import threading
import time

import dramatiq
from dramatiq.middleware import Middleware

log = logging.getLogger(__name__)


class CoalesceTermSignals(Middleware):
    """Ignores copies of a SIGTERM that arrive right after the first one.

    Heroku (and honcho, and ``kill`` of a process group) signal every process
    of a dyno at once, and Dramatiq's master forwards its own SIGTERM to the
    worker process too: the worker process receives two within milliseconds
    and Dramatiq's handler takes the second as "exit now", skipping the
    graceful shutdown (jobs not returned, locks left to expire). Copies within
    ``window_seconds`` of the first are dropped; a SIGTERM sent later still
    means "exit now", as Dramatiq intends.

    Parameters:
      window_seconds: how long after the first SIGTERM copies are ignored.
    """

    def __init__(self, window_seconds: float = 2.0) -> None:
        self.window_seconds = window_seconds

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may set handlers (the CLI boots there)
        previous = signal.getsignal(signal.SIGTERM)
        if not callable(previous):
            return  # not under Dramatiq's CLI: nothing to protect
        first: float | None = None

        def on_sigterm(signum, frame) -> None:
            nonlocal first
            now = time.monotonic()
            if first is not None and now - first < self.window_seconds:
                log.info("ignoring a copy of SIGTERM %.2f s after the first", now - first)
                return
            first = first or now
            previous(signum, frame)

        signal.signal(signal.SIGTERM, on_sigterm)
