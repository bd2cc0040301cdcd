"""Turns an SQS body into a Dramatiq message.

Two kinds of bodies arrive on the legacy queues: the API's plain JSON (one
job per message, CONTRACT section 1) and the base64 Dramatiq envelopes that
Dramatiq's own retries enqueue. A body that is neither, or that fails the
queue's schema, still becomes a Dramatiq message - one flagged with
``reject_reason`` - so that the worker dead-letters it through the same path
as every other failure instead of leaving it to loop on the queue.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode
from collections.abc import Container, Mapping
from dataclasses import dataclass

import dramatiq
from pydantic import BaseModel

from adapters.messages import parse_body
from adapters.worker.options import LEGACY_BODY, RECEIVE_COUNT, REJECT_REASON, RETURN_TO_QUEUE, SENT_AT
from domain.errors import InvalidMessage

# A Dramatiq envelope is base64 of a JSON object, so it starts with "eyJ"
# (base64 of '{"'); a JSON body can never look like that.
ENVELOPE = re.compile(r"eyJ[A-Za-z0-9+/]*={0,2}")


def sent_timestamp_ms(attributes: Mapping[str, object]) -> int | None:
    """SQS's ``SentTimestamp`` among a received message's attributes (epoch ms), None when absent or malformed."""
    value = str(attributes.get("SentTimestamp", ""))
    return int(value) if value.isascii() and value.isdigit() else None


@dataclass(frozen=True)
class LegacyRoute:
    """Which actor runs a queue's plain-JSON bodies, their schema, and where failures go.

    Parameters:
      actor_name: the Dramatiq actor that processes the queue's jobs.
      schema: the pydantic model of the queue's body.
      dead_letter_queue: the SQS queue failed messages are sent to, original
        body and reason attached (CONTRACT section 6's ``<queue>-dlq``).
    """

    actor_name: str
    schema: type[BaseModel]
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

    def __init__(self, queue_name: str, route: LegacyRoute, known_actors: Container[str]) -> None:
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
        if not ENVELOPE.fullmatch(body.strip()):
            parsed = parse_body(self.route.schema, body)
            return dramatiq.Message(
                queue_name=self.queue_name,
                actor_name=self.route.actor_name,
                args=(),
                kwargs=parsed.model_dump(mode="json"),
                options={LEGACY_BODY: body},
                message_id=sqs_message_id,
            )
        return self._decode_envelope(body)

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
        return dramatiq.Message(
            queue_name=self.queue_name,
            actor_name=self.route.actor_name,
            args=(),
            kwargs={},
            options={LEGACY_BODY: body, REJECT_REASON: reason},
            message_id=sqs_message_id,
        )
