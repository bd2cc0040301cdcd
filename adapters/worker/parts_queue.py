"""DramatiqPartsQueue: the PartsQueue port as Dramatiq messages on the worker's own parts queue."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import dramatiq


class DramatiqPartsQueue:
    """Sends a fan-out's pieces and its checks as Dramatiq messages (on SQS: base64 envelopes on
    VIDEO_PARTS_QUEUE, which the routed consumer gives the heartbeat, the shutdown return and the
    dead-letter queue of the API's queues).

    Parameters:
      queue_name: the parts queue.
      piece_actor: the actor that encodes one piece.
      check_actor: the actor that checks a fan-out and stitches it once every piece is done.
      broker: the broker to send with (default: Dramatiq's global one, set by ``tasks``).
    """

    def __init__(self, queue_name: str, *, piece_actor: str, check_actor: str,
                 broker: Callable[[], dramatiq.Broker] = dramatiq.get_broker) -> None:
        self.queue_name = queue_name
        self.piece_actor = piece_actor
        self.check_actor = check_actor
        self.broker = broker

    def send_pieces(self, video_id: int, tenant_id: int | None, attempt: str, pieces: Sequence[str]) -> None:
        for piece in pieces:
            self._send(self.piece_actor, {"video_id": video_id, "tenant_id": tenant_id, "attempt": attempt,
                                          "piece": piece})

    def check(self, video_id: int, tenant_id: int | None, attempt: str, *, delay_seconds: float = 0,
              watch: dict[str, Any] | None = None) -> None:
        kwargs = {"video_id": video_id, "tenant_id": tenant_id, "attempt": attempt, "watch": watch}
        self._send(self.check_actor, kwargs, delay_ms=int(delay_seconds * 1000))

    def _send(self, actor: str, kwargs: dict[str, Any], delay_ms: int = 0) -> None:
        message = dramatiq.Message(queue_name=self.queue_name, actor_name=actor, args=(), kwargs=kwargs, options={})
        self.broker().enqueue(message, delay=delay_ms or None)
