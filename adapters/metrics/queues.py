"""QueueDepths: each job queue's messages by state, read from the broker when Prometheus scrapes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from domain.operations import QueueStats

log = logging.getLogger(__name__)


class QueueDepths:
    """A prometheus_client collector for the exposition process.

    ``media_worker_queue_messages{queue, state}`` with state ``visible``,
    ``in_flight``, ``delayed`` and ``dead_letters`` (SQS's approximate
    attributes, or Dramatiq's Redis keys), and ``media_worker_queue_depths_up``
    (0 when the broker could not be read). Read at most once per
    ``cache_seconds``, so frequent scrapes do not become frequent API calls.

    Parameters:
      stats: reads the queues (a QueueAdmin's ``stats``).
      cache_seconds: how long one reading is served.
      clock: monotonic seconds (tests pass their own).
    """

    def __init__(self, stats: Callable[[], Sequence[QueueStats]], *, cache_seconds: float = 10,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stats = stats
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._read_at: float | None = None
        self._reading: Sequence[QueueStats] | None = None

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        reading = self._read()
        up = GaugeMetricFamily("media_worker_queue_depths_up", "1 when the queues' depths could be read.")
        up.add_metric([], 0 if reading is None else 1)
        yield up
        if reading is None:
            return
        depths = GaugeMetricFamily("media_worker_queue_messages", "Messages of a job queue, by state.",
                                   labels=["queue", "state"])
        for queue in reading:
            for state in ("visible", "in_flight", "delayed", "dead_letters"):
                depths.add_metric([queue.name, state], getattr(queue, state))
        yield depths

    def _read(self) -> Sequence[QueueStats] | None:
        now = self.clock()
        if self._read_at is None or now - self._read_at >= self.cache_seconds:
            self._read_at = now
            try:
                self._reading = list(self.stats())
            except Exception as error:  # the scrape still answers, saying the depths are unknown
                log.warning("could not read the queues' depths: %s: %s", type(error).__name__, error)
                self._reading = None
        return self._reading
