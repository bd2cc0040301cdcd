"""Presence: the worker process tells the ops tools it is alive and what it runs."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from datetime import datetime, timezone

import dramatiq
from dramatiq.middleware import Middleware

from adapters.redis.presence import WorkerRegistry

log = logging.getLogger(__name__)


class Presence(Middleware):
    """Records this worker process in Redis: host, pid, queues, in-flight jobs.

    It writes once at boot, then on every call of ``beat`` (the worker's
    Heartbeat calls it), and marks the worker stopped on a clean shutdown.
    A process killed without a shutdown stops beating and the ops tools show
    it as gone.

    Parameters:
      registry: where presence is written.
      host: the name shown for the machine (default: $DYNO on Heroku,
        $RENDER_INSTANCE_ID on Render, else the hostname).
    """

    def __init__(self, registry: WorkerRegistry, host: str | None = None) -> None:
        self.registry = registry
        self.host = host or os.environ.get("DYNO") or os.environ.get("RENDER_INSTANCE_ID") or socket.gethostname()
        self.worker_id = ""
        self.queues: list[str] = []
        self.started_at = ""
        self._in_flight: dict[str, dict] = {}
        self._guard = threading.Lock()
        self._stopped = False

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.worker_id = f"{self.host}:{os.getpid()}:{secrets.token_hex(3)}"
        self.queues = sorted(q for q in broker.get_declared_queues() if not q.endswith((".DQ", ".XQ")))
        self.started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.beat()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if not self.worker_id:
            return
        self._stopped = True  # a beat racing the shutdown must not say "running" again
        try:
            self.registry.stopped(self.worker_id)
        except Exception:
            log.warning("could not record the worker's stop in Redis", exc_info=True)

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        with self._guard:
            self._in_flight[message.message_id] = {
                "message_id": message.message_id,
                "actor": message.actor_name,
                "job": job_label(message.kwargs),
                "since": time.time(),
            }

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        with self._guard:
            self._in_flight.pop(message.message_id, None)

    after_skip_message = after_process_message

    def in_flight(self) -> list[dict]:
        with self._guard:
            return [dict(job) for job in self._in_flight.values()]

    def beat(self) -> None:
        """Write this worker's presence (called at boot and by the Heartbeat)."""
        if not self.worker_id or self._stopped:
            return
        try:
            self.registry.beat(
                self.worker_id,
                host=self.host,
                pid=os.getpid(),
                queues=self.queues,
                in_flight=self.in_flight(),
                started_at=self.started_at,
            )
        except Exception:
            # Presence is for people watching; Redis trouble must not stop jobs.
            log.warning("could not write the worker's presence to Redis", exc_info=True)


def job_label(kwargs: dict) -> str:
    """How a job is named to operators: "video 42", "ocr 5f0c..."."""
    if "video_id" in kwargs:
        return f"video {kwargs['video_id']}"
    if "job_id" in kwargs:
        return f"{kwargs.get('job_type') or 'ai'} {kwargs['job_id']}"
    return "?"
