"""Turns an SQS body into a Dramatiq message.

Two kinds of bodies arrive on the API's queues: the API's plain JSON (one
job per message, CONTRACT section 1) and the base64 Dramatiq envelopes that
Dramatiq's own retries enqueue. The worker's own queues (the video parts)
take envelopes only. A body that is neither still becomes a Dramatiq
message - one flagged with ``reject_reason`` - so that the worker
dead-letters it through the same path as every other failure instead of
leaving it to loop on the queue.

Only the transport is decoded here: a plain-JSON object becomes the
message's kwargs as it is, and the actor validates it against its kind's
body model - once, on every broker (an invalid body is a permanent error
there, dead-lettered with the field it names).
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode
from collections.abc import Container, Mapping
from dataclasses import dataclass

import dramatiq

from adapters.messages import json_object
from adapters.worker.options import ORIGINAL_BODY, RECEIVE_COUNT, REJECT_REASON, RETURN_TO_QUEUE, SENT_AT
from domain.errors import InvalidMessage
from domain.numbers import whole_number_or_none

# A Dramatiq envelope is base64 of a JSON object, so it starts with "eyJ"
# (base64 of '{"'); a JSON body can never look like that.
ENVELOPE = re.compile(r"eyJ[A-Za-z0-9+/]*={0,2}")
# The actor name of a rejected body on a queue of envelopes only: no actor has it.
REJECTED_ENVELOPE = "rejected_message"


def sent_timestamp_ms(attributes: Mapping[str, object]) -> int | None:
    """SQS's ``SentTimestamp`` among a received message's attributes (epoch ms), None when absent or malformed."""
    return whole_number_or_none(str(attributes.get("SentTimestamp", "")), low=0)


@dataclass(frozen=True)
class Route:
    """Which actor runs a queue's plain-JSON bodies, and where failures go.

    Parameters:
      actor_name: the Dramatiq actor that runs the queue's plain-JSON bodies
        (one of the API's queues); None for a queue of Dramatiq envelopes only
        (the worker's own).
      dead_letter_queue: the SQS queue failed messages are sent to, original
        body and reason attached (CONTRACT section 6's ``<queue>-dlq``).
    """

    actor_name: str | None
    dead_letter_queue: str


class BodyCodec:
    """Decodes the bodies of one queue.

    Parameters:
      queue_name: the queue the bodies come from.
      route: the actor and schema for plain-JSON bodies.
      known_actors: the actors this worker can run, looked up at each message
        (the broker's own registry, so an actor declared later is known); a
        Dramatiq envelope naming any other actor is rejected, not crashed on.
    """

    def __init__(self, queue_name: str, route: Route, known_actors: Container[str]) -> None:
        self.queue_name = queue_name
        self.route = route
        self.known_actors = known_actors

    def decode(self, body: str, sqs_message_id: str, receive_count: int, sent_ms: int | None = None) -> dramatiq.Message:
        """The Dramatiq message of one delivery (flagged with a reason when it must not run).

        Parameters:
          body: the SQS body, as it arrived.
          sqs_message_id: its SQS MessageId (the message's id).
          receive_count: SQS's ApproximateReceiveCount of this delivery.
          sent_ms: SQS's SentTimestamp, if known (how long it waited is measured from it).
        """
        try:
            message = self._decode(body, sqs_message_id)
        except InvalidMessage as error:
            message = self._rejected(body, sqs_message_id, error.reason)
        message.options[RECEIVE_COUNT] = receive_count
        if sent_ms is not None:
            message.options[SENT_AT] = sent_ms
        return message

    def _decode(self, body: str, sqs_message_id: str) -> dramatiq.Message:
        if ENVELOPE.fullmatch(body.strip()):
            return self._decode_envelope(body)
        if self.route.actor_name is None:
            raise InvalidMessage(f"invalid message: {self.queue_name!r} takes only the worker's own Dramatiq "
                                 "messages, not a plain body")
        return dramatiq.Message(
            queue_name=self.queue_name,
            actor_name=self.route.actor_name,
            args=(),
            kwargs=json_object(body),
            options={ORIGINAL_BODY: body},
            message_id=sqs_message_id,
        )

    def _decode_envelope(self, body: str) -> dramatiq.Message:
        try:
            message = dramatiq.Message.decode(b64decode(body, validate=True))
        except (binascii.Error, ValueError, TypeError, dramatiq.errors.DecodeError, RecursionError):
            raise InvalidMessage("invalid message: the body is neither a JSON object nor a Dramatiq message") from None
        if message.actor_name not in self.known_actors or message.queue_name != self.queue_name:
            raise InvalidMessage(
                f"invalid message: a Dramatiq message for actor {message.actor_name!r} "
                f"on queue {message.queue_name!r} cannot run on {self.queue_name!r}"
            )
        if not isinstance(message.kwargs, dict) or not isinstance(message.options, dict):
            raise InvalidMessage("invalid message: a Dramatiq message with malformed kwargs or options")
        for own in (RETURN_TO_QUEUE, SENT_AT):
            message.options.pop(own, None)  # only this worker decides these, never a sender
        return message

    def _rejected(self, body: str, sqs_message_id: str, reason: str) -> dramatiq.Message:
        # A reject of an envelopes-only queue runs no actor; GiveUp has nothing to fail.
        return dramatiq.Message(
            queue_name=self.queue_name,
            actor_name=self.route.actor_name or REJECTED_ENVELOPE,
            args=(),
            kwargs={},
            options={ORIGINAL_BODY: body, REJECT_REASON: reason},
            message_id=sqs_message_id,
        )
