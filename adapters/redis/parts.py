"""The board of a video's parts: which piece of which attempt runs where, how far, done or failed.

One hash per video, ``parts:{job key}`` (``parts:video:42``), one field per
piece holding JSON: ``attempt``, ``label`` (``part 8 of 120 (7:00-8:00)``),
``state`` (``queued``, ``running``, ``retrying``, ``done``, ``failed``),
``worker``, ``seconds`` (source seconds encoded), ``reason``, ``started_at``
(its first report of this attempt) and ``updated_at``. It is for people and for the progress percent; whether
a piece is done is decided by its completion record in storage, never by
this hash (a Redis flush loses the board, not the video).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import redis

from adapters.redis.text import as_text

log = logging.getLogger(__name__)


class RedisPartsBoard:
    """PartsBoard on Redis hashes with a TTL.

    Parameters:
      client: a redis-py client.
      ttl_seconds: how long a video's board stays readable after its last change.
      prefix: key prefix.
    """

    def __init__(self, client: redis.Redis, *, ttl_seconds: int = 86400, prefix: str = "parts:") -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.prefix = prefix

    def start(self, key: str, attempt: str, pieces: Mapping[str, str]) -> None:
        """A new fan-out: every piece (name -> how people name it) queued, earlier attempts' entries gone."""
        name = self.prefix + key
        entries = {piece: _entry(attempt, "queued", "", 0.0, "", label, None) for piece, label in pieces.items()}
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(name)
            if entries:
                pipe.hset(name, mapping=entries)
            pipe.expire(name, self.ttl_seconds)
            pipe.execute()
        except redis.RedisError:
            log.warning("could not write the parts board of %s", key)

    def record(self, key: str, attempt: str, piece: str, state: str, *, worker: str = "", seconds: float = 0.0,
               reason: str = "") -> dict[str, float]:
        """Write one piece's entry; return the source seconds encoded by each piece of ``attempt``
        (empty when Redis cannot be reached: the board is for people, never a reason to fail)."""
        name = self.prefix + key
        try:
            before = _decoded({piece: self.client.hget(name, piece) or "{}"}).get(piece, {})
            started = before.get("started_at") if before.get("attempt") == attempt else None
            if state == "running" and not started:
                started = datetime.now(timezone.utc).isoformat()
            entry = _entry(attempt, state, worker, seconds, reason, before.get("label", piece), started)
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(name, piece, entry)
            pipe.expire(name, self.ttl_seconds)
            pipe.hgetall(name)
            *_, board = pipe.execute()
        except redis.RedisError:
            log.warning("could not write the parts board of %s", key)
            return {}
        return {piece: entry["seconds"] for piece, entry in _decoded(board).items() if entry["attempt"] == attempt}

    def read(self, key: str) -> dict[str, dict[str, Any]]:
        """Every piece's entry, by piece name (the latest attempt's and any older ones left)."""
        return _decoded(self.client.hgetall(self.prefix + key))


def _entry(attempt: str, state: str, worker: str, seconds: float, reason: str, label: str,
           started_at: str | None) -> str:
    return json.dumps({"attempt": attempt, "state": state, "worker": worker, "seconds": round(seconds, 3),
                       "reason": reason, "label": label, "started_at": started_at,
                       "updated_at": datetime.now(timezone.utc).isoformat()})


def _decoded(board: dict) -> dict[str, dict[str, Any]]:
    entries = {}
    for piece, raw in board.items():
        try:
            entry = json.loads(as_text(raw))
            entry["seconds"] = float(entry.get("seconds", 0.0))
            entry.setdefault("attempt", "")
        except (ValueError, TypeError, AttributeError):
            continue  # an entry this worker did not write is not shown
        entries[as_text(piece)] = entry
    return entries
