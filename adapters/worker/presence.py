"""Presence: the worker process tells the ops tools it is alive and what it runs."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Protocol

import dramatiq
from dramatiq.middleware import Middleware

from adapters.worker.context import current_job
from adapters.worker.waits import queue_wait

WAIT_WINDOW_SECONDS = 300  # waits reported are those of the messages started in the last 5 minutes

log = logging.getLogger(__name__)


class PresenceStore(Protocol):
    """Where worker presence is written (``adapters.redis.presence.WorkerRegistry``)."""

    def beat(self, worker_id: str, *, host: str, pid: int, queues: list[str], in_flight: list[dict],
             started_at: str, waits: dict[str, dict]) -> None: ...

    def stopped(self, worker_id: str) -> None: ...


class Presence(Middleware):
    """Records this worker process in Redis: host, pid, queues, in-flight jobs.

    It also says how long the messages it started waited in their queues
    (per queue: the last wait, and the longest and the count of the last 5
    minutes), which the ops tools show beside the queues' depths.

    A thread of its own writes at boot, every ``interval_seconds``, and soon
    after a job starts or ends (at most one write per ``min_gap_seconds``, so
    a busy worker does not add a Redis round trip per job, and job threads
    never wait on Redis for it). A clean shutdown marks the worker stopped; a
    killed process stops writing and the ops tools show it as gone. Jobs are
    named from the context JobTracking sets, so it must come after JobTracking.

    Parameters:
      registry: where presence is written.
      interval_seconds: time between writes while nothing changes (HEARTBEAT_SECONDS).
      min_gap_seconds: shortest time between two writes.
      host: the name shown for the machine (default: $DYNO on Heroku,
        $RENDER_INSTANCE_ID on Render, else the hostname).
    """

    def __init__(
        self,
        registry: PresenceStore,
        *,
        interval_seconds: float = 20,
        min_gap_seconds: float = 0.5,
        host: str | None = None,
    ) -> None:
        self.registry = registry
        self.interval_seconds = interval_seconds
        self.min_gap_seconds = min_gap_seconds
        self.host = host or machine_name()
        self.worker_id = ""
        self.queues: list[str] = []
        self.started_at = ""
        self._in_flight: dict[str, dict] = {}
        self._waits: dict[str, deque[tuple[float, float]]] = {}
        self._guard = threading.Lock()
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.worker_id = f"{self.host}:{os.getpid()}:{secrets.token_hex(3)}"
        self.queues = sorted(q for q in broker.get_declared_queues() if not q.endswith((".DQ", ".XQ")))
        self.started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="presence", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self._thread is None:
            return
        self._stopping.set()
        self._changed.set()
        self._thread.join(timeout=5)  # its last write must not say "running" after ours
        try:
            self.registry.stopped(self.worker_id)
        except Exception:
            log.warning("could not record the worker's stop in Redis", exc_info=True)

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        waited = queue_wait(message)
        with self._guard:
            if waited is not None:
                self._waits.setdefault(message.queue_name, deque(maxlen=1000)).append((time.time(), waited))
            self._in_flight[message.message_id] = {
                "message_id": message.message_id,
                "actor": message.actor_name,
                "job": job_label(),
                "since": time.time(),
            }
        self._changed.set()

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        with self._guard:
            self._in_flight.pop(message.message_id, None)
        self._changed.set()

    after_skip_message = after_process_message

    def in_flight(self) -> list[dict]:
        with self._guard:
            return [dict(job) for job in self._in_flight.values()]

    def waits(self) -> dict[str, dict]:
        """Per queue: ``last`` wait (seconds) and when (``last_at``), ``max`` and ``count`` of the window."""
        horizon = time.time() - WAIT_WINDOW_SECONDS
        summary = {}
        with self._guard:
            for queue, recent in self._waits.items():
                while recent and recent[0][0] < horizon:
                    recent.popleft()
                if recent:
                    at, last = recent[-1]
                    summary[queue] = {"last": round(last, 3), "last_at": round(at, 3),
                                      "max": round(max(wait for _, wait in recent), 3), "count": len(recent)}
        return summary

    def beat(self) -> None:
        """Write this worker's presence now."""
        try:
            self.registry.beat(
                self.worker_id,
                host=self.host,
                pid=os.getpid(),
                queues=self.queues,
                in_flight=self.in_flight(),
                started_at=self.started_at,
                waits=self.waits(),
            )
        except Exception:
            # Presence is for people watching; Redis trouble must not stop jobs.
            log.warning("could not write the worker's presence to Redis", exc_info=True)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._changed.clear()
            self.beat()
            if self._stopping.wait(self.min_gap_seconds):
                return
            self._changed.wait(max(self.interval_seconds - self.min_gap_seconds, 0))


def job_label() -> str:
    """How operators see the running job ("video 42", "ocr 5f0c..."): the names JobTracking,
    first in the middleware, set for logs and metrics (bounded, never raw body text)."""
    job = current_job()
    if job is None:
        return "?"
    return f"{job.job_type} {job.job_id}".strip()


def machine_name() -> str:
    """The name shown for this machine: $DYNO on Heroku, $RENDER_INSTANCE_ID on Render, else the host name."""
    return os.environ.get("DYNO") or os.environ.get("RENDER_INSTANCE_ID") or socket.gethostname()
