"""Actions on dead letters: audited whatever happens, their progress recorded for every process.

Every redrive or delete leaves one audit log line naming the operator, what
was asked and what was done - also when the action stopped half way (a
missing letter, an outage): the tally the adapters keep up to date says how
far it got.

Actions on every dead letter of a queue (see ``ops.all_actions``) record
their progress in Redis (``ops:action:{id}``, a hash kept for a day), so that
any dashboard process can show it, and the CLI's too. A record that stops
changing while it says "running" belonged to a process that died: it is
shown as interrupted.
"""

from __future__ import annotations

import logging
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
    """Progress of actions on every dead letter of a queue in Redis, readable by every process.

    Parameters:
      client: a redis-py client.
      clock: epoch seconds (tests pass their own).
    """

    def __init__(self, client: redis.Redis, clock=time.time) -> None:
        self.client = client
        self.clock = clock

    def create(self, tally: Tally, user: str, via: str = "dashboard") -> str:
        """A new record of an action that is starting; its id.

        Parameters:
          tally: the action (what and on which queue).
          user: who asked.
          via: "dashboard" or "cli".
        """
        action_id = uuid.uuid4().hex
        now = self.clock()
        self._write(action_id, {"action": tally.action, "queue": tally.queue, "user": user, "via": via,
                                "state": "running", "started_at": _iso(now), "updated": repr(now), "done": "0",
                                "total": "", "missing": "", "refused": "", "error": ""})
        return action_id

    def update(self, action_id: str, tally: Tally, *, state: str = "running", error: str = "") -> None:
        fields = {"done": str(tally.done), "total": "" if tally.total is None else str(tally.total),
                  "missing": ",".join(tally.missing), "refused": ",".join(tally.refused),
                  "state": state, "updated": repr(self.clock())}
        if error:
            fields["error"] = error
        self._write(action_id, fields)

    def touch(self, action_id: str) -> None:
        """Say the action is still alive, though nothing changed (it may be waiting for a leased letter)."""
        self._write(action_id, {"updated": repr(self.clock())})

    def forget(self, action_id: str) -> None:
        """Remove the record of an action that never started."""
        self.client.delete(RECORD + action_id)

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


def summary(record: dict[str, str]) -> str:
    """One sentence on where an action stands, from its record."""
    verb = {"redrive": "Redrove", "delete": "Deleted"}.get(record.get("action", ""), "Handled")
    done, total = record.get("done", "0"), record.get("total", "")
    letters = f"{done} dead letter{'' if done == '1' else 's'}"
    of_total = f" of the {total} there when it began" if total else ""
    state = record.get("state")
    if state == "running":
        return f"Running: {letters} so far{of_total}."
    if state == "done":
        text = f"{verb} {letters}{of_total}."
        if total and done != total:
            text += " The others were gone when it reached them (redriven or deleted by someone else meanwhile?)."
        return text
    if state == "failed":
        return f"Stopped after {letters}{of_total}: {record.get('error') or 'an error'}."
    runner = "the `python -m ops` command" if record.get("via") == "cli" else "the dashboard process"
    return (f"No news for a minute after {letters}{of_total}: {runner} running it stopped. "
            "Look at the queue again; what was done is done.")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")
