"""StopReceiving: no new SQS messages once the worker starts shutting down."""

from __future__ import annotations

import dramatiq
from dramatiq.middleware import Middleware


class StopReceiving(Middleware):
    """Tells the broker's consumers to stop receiving at the start of shutdown.

    Dramatiq stops its worker threads before its consumers, so that brokers
    with heartbeats keep beating while jobs finish. On SQS that window is
    harmful: a message a job just returned to the queue (visibility 0)
    would be received again by this very worker and picked up by a worker
    thread that no shutdown notification will ever interrupt.
    """

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        stop = getattr(broker, "stop_receiving", None)
        if stop is not None:
            stop()
