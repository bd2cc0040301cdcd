"""Message options this project adds to Dramatiq's own, and how middleware reads an actor's options."""

from __future__ import annotations

from typing import Any

import dramatiq

# The original body, byte for byte: what a dead letter carries. (The wire name is older than the
# constant: retried messages already waiting in queues carry it.)
ORIGINAL_BODY = "legacy_body"
REJECT_REASON = "reject_reason"  # set when the body must not run; the reason it is dead-lettered
REJECT_CATEGORY = "reject_category"  # with REJECT_REASON: its category for metrics (see reasons.py)
RECEIVE_COUNT = "receive_count"  # SQS's ApproximateReceiveCount of this delivery
RETURN_TO_QUEUE = "return_to_queue"  # interrupted by shutdown: make visible again, don't delete
GIVE_UP_PENDING = "give_up_pending"  # the row could not be failed (outage): keep the message, try later
SENT_AT = "sent_at"  # epoch ms the broker says the message was sent (SQS's SentTimestamp)
DUE_AT = "due_at"  # epoch ms a message enqueued by a worker may run (now, or after its retry's delay)


def actor_option(broker: dramatiq.Broker, message: dramatiq.Message, name: str) -> Any:
    """The option ``name`` of the actor a message names, None when it has none or the actor is unknown.

    Parameters:
      broker: the broker the actors are declared on.
      message: the message.
      name: the actor option (declared by a middleware's ``actor_options``).
    """
    try:
        return broker.get_actor(message.actor_name).options.get(name)
    except dramatiq.ActorNotFound:
        return None
