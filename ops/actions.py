"""Actions on dead letters: audited whatever happens, and run in the background when large.

Every redrive or delete leaves one audit log line naming the operator, what
was asked and what was done - also when the action stopped half way (a
missing letter, an outage): the tally the adapters keep up to date says how
far it got.

The dashboard runs "all" actions in a background thread of its own process,
so a page answers within the platform router's 30 s, and records their
progress in Redis (``ops:action:{id}``, a hash kept for a day), so that any
dashboard process can show it. A record that stops changing while it says
"running" belonged to a process that died: it is shown as interrupted.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone

import redis

from adapters.redis.text import as_text
from domain.operations import DeadLetterNotFound, DeadLetterRefused, QueueAdmin, Tally

log = logging.getLogger("ops.audit")

RECORD = "ops:action:"
RECORD_TTL_SECONDS = 86400
SILENT_AFTER_SECONDS = 60  # a running record not updated for this long belonged to a process that died
UPDATE_EVERY_SECONDS = 0.5


def act(queues: QueueAdmin, tally: Tally, ids: Sequence[str] | None, *, user: str, via: str) -> int:
    """Run ``tally.action`` on dead letters of ``tally.queue`` and audit it, whatever happens.

    Parameters:
      queues: the broker's QueueAdmin.
      tally: what to do (action, queue); filled in as the action goes.
      ids: the dead letters chosen, or None for all of them.
      user: who asked (the dashboard's signed-in user, or the OS user of the CLI).
      via: "dashboard" or "cli".
    """
    run = queues.redrive if tally.action == "redrive" else queues.delete
    error: BaseException | None = None
    try:
        return run(tally.queue, ids, tally)
    except BaseException as caught:
        error = caught
        raise
    finally:
        audit(tally, ids, user=user, via=via, error=error)


def audit(tally: Tally, ids: Sequence[str] | None, *, user: str, via: str, error: BaseException | None = None) -> None:
    """The audit line of one action (WARNING, logger ``ops.audit``)."""
    asked = "every dead letter" if ids is None else f"{len(ids)} chosen dead letter(s)"
    parts = [f"{tally.done} done"]
    if tally.missing:
        parts.append(f"not found: {', '.join(tally.missing)}")
    if tally.refused:
        parts.append(f"refused: {', '.join(tally.refused)}")
    if error is not None and not isinstance(error, (DeadLetterNotFound, DeadLetterRefused)):  # those are listed
        parts.append(f"stopped by {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}".rstrip(": "))
    log.warning("audit: %s by %s (%s) on %s, %s: %s", tally.action, user, via, tally.queue, asked, "; ".join(parts))


class ActionRecords:
    """Progress of background actions in Redis, readable by every dashboard process.

    Parameters:
      client: a redis-py client.
      clock: epoch seconds (tests pass their own).
    """

    def __init__(self, client: redis.Redis, clock=time.time) -> None:
        self.client = client
        self.clock = clock

    def create(self, tally: Tally, user: str) -> str:
        action_id = uuid.uuid4().hex
        now = self.clock()
        self._write(action_id, {"action": tally.action, "queue": tally.queue, "user": user, "state": "running",
                                "started_at": _iso(now), "updated": repr(now), "done": "0", "total": "",
                                "missing": "", "refused": "", "error": ""})
        return action_id

    def update(self, action_id: str, tally: Tally, *, state: str = "running", error: str = "") -> None:
        fields = {"done": str(tally.done), "total": "" if tally.total is None else str(tally.total),
                  "missing": ",".join(tally.missing), "refused": ",".join(tally.refused),
                  "state": state, "updated": repr(self.clock())}
        if error:
            fields["error"] = error
        self._write(action_id, fields)

    def get(self, action_id: str) -> dict[str, str] | None:
        raw = self.client.hgetall(RECORD + action_id)
        if not raw:
            return None
        fields = {as_text(key): as_text(value) for key, value in raw.items()}
        try:
            updated = float(fields.get("updated", "0"))
        except ValueError:
            updated = 0.0
        if fields.get("state") == "running" and self.clock() - updated > SILENT_AFTER_SECONDS:
            fields["state"] = "interrupted"
        return fields

    def _write(self, action_id: str, fields: dict[str, str]) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(RECORD + action_id, mapping=fields)
        pipe.expire(RECORD + action_id, RECORD_TTL_SECONDS)
        pipe.execute()


class BackgroundActions:
    """Starts actions on every dead letter of a queue in a thread, recording their progress.

    Parameters:
      queues: the broker's QueueAdmin.
      records: where progress is recorded.
    """

    def __init__(self, queues: QueueAdmin, records: ActionRecords) -> None:
        self.queues = queues
        self.records = records

    def start(self, action: str, queue: str, *, user: str) -> str:
        """Begin ``action`` on every dead letter of ``queue``; return the record's id.

        Raises redis.RedisError when the record cannot be written: then nothing was started.
        """
        tally = Tally(action, queue)
        action_id = self.records.create(tally, user)
        log.warning("audit: %s by %s (dashboard) on %s, every dead letter: started in the background as %s",
                    action, user, queue, action_id)
        thread = threading.Thread(target=self._run, args=(action_id, tally, user), daemon=True,
                                  name=f"ops-action-{action_id[:8]}")
        thread.start()
        return action_id

    def _run(self, action_id: str, tally: Tally, user: str) -> None:
        last = [0.0]

        def progress(current: Tally) -> None:
            now = time.monotonic()
            if now - last[0] >= UPDATE_EVERY_SECONDS:
                last[0] = now
                self._record(action_id, current)

        tally.on_change = progress
        try:
            act(self.queues, tally, None, user=user, via="dashboard")
        except Exception as error:  # audited by act(); the record says how it ended
            self._record(action_id, tally, state="failed", error=f"{type(error).__name__}: {error}"[:300])
        else:
            self._record(action_id, tally, state="done")

    def _record(self, action_id: str, tally: Tally, **state) -> None:
        try:
            self.records.update(action_id, tally, **state)
        except redis.RedisError as error:
            log.warning("could not record the progress of action %s: %s", action_id, error)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")
