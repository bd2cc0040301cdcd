"""Actions on every dead letter of a queue: at most one per queue at a time, wherever it was asked.

Two such actions at once on one queue each act on letters the other's
redrives sent back and the worker dead-lettered again: two "redrive all" of
40 poison letters redrove 70. So an action takes its queue's lease in Redis
(``ops:queue-action:{queue}``, holding the action's id) before it starts, and
every dashboard process and the CLI see it; a second one is refused and told
where the first one stands. The running action renews the lease, and marks
its record alive, every ``renew_every`` seconds; a process that dies holding
the lease loses it ``lease_seconds`` after its last renewal. An action that
finds its lease gone (Redis unreachable for longer than that, and someone may
have started another) stops at its next letter rather than run beside it.

The dashboard runs these actions in a background thread of its own process,
so a page answers within the platform router's 30 s; the CLI runs them in the
foreground. Both record their progress (``ops.actions.ActionRecords``).
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from adapters.redis.lock import RedisLease
from domain.operations import QueueAdmin, Tally
from ops.actions import ActionRecords, act, summary

audit = logging.getLogger("ops.audit")
log = logging.getLogger(__name__)

LEASE = "ops:queue-action:"
LEASE_SECONDS = 60
RENEW_EVERY_SECONDS = 10
UPDATE_EVERY_SECONDS = 0.5
TAKE_ATTEMPTS = 3  # a lease let go between a failed take and the look at its holder: take it again
ENDED = ("done", "failed")


class ActionRunning(Exception):
    """Another action on every dead letter of the queue is running; nothing new was started.

    Parameters:
      queue: the job queue.
      action_id: the running action's id.
      record: its progress record, or None when it has none (any more).
    """

    def __init__(self, queue: str, action_id: str, record: dict[str, str] | None) -> None:
        self.queue, self.action_id, self.record = queue, action_id, record
        super().__init__(self._sentence())

    @property
    def page(self) -> str:
        """Where the dashboard follows the running action."""
        return f"/actions/{self.action_id}"

    def _sentence(self) -> str:
        record = self.record or {}
        what = {"redrive": "A redrive", "delete": "A delete"}.get(record.get("action", ""), "An action")
        where = "with python -m ops" if record.get("via") == "cli" else "on the dashboard"
        who = f" (started by {record['user']} {where} at {record.get('started_at', '?')})" if record.get("user") else ""
        progress = summary(record) if record else "Its progress is not recorded."
        text = f"{what} of every dead letter of {self.queue} is already running{who}: {progress}"
        if record.get("state") == "interrupted":
            text += f" Its hold on the queue ends {LEASE_SECONDS} s after its last sign of life."
        return text + " Nothing new was started."


class LeaseLost(Exception):
    """The action no longer holds its queue's lease, so it stops: another may have started meanwhile."""


class AllActions:
    """Runs actions on every dead letter of a queue, one per queue at a time, recording their progress.

    Parameters:
      queues: the broker's QueueAdmin.
      records: where progress is recorded.
      client: the redis-py client holding the queues' leases.
      lease_seconds: how long a lease outlives its last renewal.
      renew_every: seconds between renewals.
    """

    def __init__(self, queues: QueueAdmin, records: ActionRecords, client: redis.Redis, *,
                 lease_seconds: float = LEASE_SECONDS, renew_every: float = RENEW_EVERY_SECONDS) -> None:
        self.queues = queues
        self.records = records
        self.client = client
        self.lease_seconds = lease_seconds
        self.renew_every = renew_every

    def start(self, action: str, queue: str, *, user: str) -> str:
        """Begin ``action`` on every dead letter of ``queue`` in a background thread; the record's id.

        Raises ActionRunning when one runs on the queue already, redis.RedisError when Redis
        cannot be reached: then nothing was started.
        """
        action_id, tally, lease = self._begin(action, queue, user, "dashboard")
        audit.warning("audit: %s by %s (dashboard) on %s, every dead letter: started in the background as %s",
                    action, user, queue, action_id)
        thread = threading.Thread(target=self._in_background, args=(action_id, tally, lease, user), daemon=True,
                                  name=f"ops-action-{action_id[:8]}")
        thread.start()
        return action_id

    def run(self, action: str, queue: str, *, user: str, via: str) -> Tally:
        """Do ``action`` on every dead letter of ``queue`` now, in this thread; what was done.

        Raises as ``start`` does, and what the action raises (after its audit line).
        """
        action_id, tally, lease = self._begin(action, queue, user, via)
        self._run(action_id, tally, lease, user, via)
        return tally

    def _begin(self, action: str, queue: str, user: str, via: str) -> tuple[str, Tally, RedisLease]:
        tally = Tally(action, queue)
        # The record first: whoever finds the lease taken finds its holder's record too.
        action_id = self.records.create(tally, user, via)
        lease = RedisLease(self.client, LEASE + queue, ttl_ms=int(self.lease_seconds * 1000))
        try:
            holder, record = None, None
            for _ in range(TAKE_ATTEMPTS):
                if lease.take(action_id):
                    return action_id, tally, lease
                holder = lease.holder()
                record = self.records.get(holder) if holder is not None else None
                if holder is not None and (record or {}).get("state") not in ENDED:
                    break
                time.sleep(0.05)  # it is letting go right now
            raise ActionRunning(queue, holder or "", record)
        except BaseException:
            try:
                self.records.forget(action_id)
            except redis.RedisError:
                pass  # it says "running" until it reads as interrupted; nobody has its id
            raise

    def _in_background(self, action_id: str, tally: Tally, lease: RedisLease, user: str) -> None:
        try:
            self._run(action_id, tally, lease, user, "dashboard")
        except Exception:  # audited by act(); the record says how it ended
            pass

    def _run(self, action_id: str, tally: Tally, lease: RedisLease, user: str, via: str) -> None:
        keeper = _Keeper(lease, action_id, self.records, self.renew_every)
        last = [0.0]

        def progress(current: Tally) -> None:
            keeper.check()
            now = time.monotonic()
            if now - last[0] >= UPDATE_EVERY_SECONDS:
                last[0] = now
                self._record(action_id, current)

        tally.on_change = progress
        keeper.start()
        try:
            act(self.queues, tally, None, user=user, via=via)
        except BaseException as error:
            self._record(action_id, tally, state="failed", error=f"{type(error).__name__}: {error}"[:300])
            raise
        else:
            self._record(action_id, tally, state="done")
        finally:
            keeper.stop()
            try:
                lease.release(action_id)
            except redis.RedisError as error:
                log.warning("could not let go of %s (it lapses within %g s): %s", lease.key, self.lease_seconds, error)

    def _record(self, action_id: str, tally: Tally, **state) -> None:
        try:
            self.records.update(action_id, tally, **state)
        except redis.RedisError as error:
            log.warning("could not record the progress of action %s: %s", action_id, error)


class _Keeper(threading.Thread):
    """Renews an action's lease and marks its record alive until stopped; notes when the lease is gone.

    Parameters:
      lease: the queue's lease.
      action_id: the action holding it.
      records: the action's progress records.
      every: seconds between renewals.
    """

    def __init__(self, lease: RedisLease, action_id: str, records: ActionRecords, every: float) -> None:
        super().__init__(daemon=True, name=f"ops-lease-{action_id[:8]}")
        self.lease, self.action_id, self.records, self.every = lease, action_id, records, every
        self.lost = False
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.every):
            try:
                if not self.lease.renew(self.action_id):
                    self.lost = True
                    log.warning("action %s lost %s; it stops at its next letter", self.action_id, self.lease.key)
                    return
                self.records.touch(self.action_id)
            except redis.RedisError as error:  # renewed next time, unless the lease lapses meanwhile
                log.warning("could not renew %s for action %s: %s", self.lease.key, self.action_id, error)

    def check(self) -> None:
        """Raise LeaseLost once the lease is gone."""
        if self.lost:
            raise LeaseLost(f"lost its hold on the queue ({self.lease.key}: Redis unreachable for longer than the "
                            "lease?); stopped so that two actions never run on one queue at once")

    def stop(self) -> None:
        self._done.set()
        self.join(5)
