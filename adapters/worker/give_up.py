"""GiveUp: fail the row when a message is about to be dead-lettered."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from adapters.worker.options import GIVE_UP_PENDING, ORIGINAL_BODY, actor_option
from adapters.worker.reasons import dead_letter_reason
from domain.errors import TransientError

log = logging.getLogger(__name__)

#: The actor option naming what fails the row of the actor's message.
GIVE_UP = "give_up"
#: (the message's kwargs, its original body, the reason) -> None
GiveUpCallback = Callable[[dict[str, Any], str, str], None]


class GiveUp(Middleware):
    """Runs the actor's ``give_up`` option before a failed message is nacked.

    A message is nacked after its last retry, when a permanent error stopped
    it, or when it was rejected before running. In every case the row (if it
    exists and is not final) must become FAILED with the reason; the
    callbacks' conditional updates make a second call harmless. An actor
    without the option (none of the job kinds' own) has nothing to fail.
    """

    @property
    def actor_options(self) -> set[str]:
        return {GIVE_UP}

    def before_nack(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        callback: GiveUpCallback | None = actor_option(broker, message, GIVE_UP)
        if callback is None:
            return
        try:
            callback(dict(message.kwargs), str(message.options.get(ORIGINAL_BODY) or ""),
                     dead_letter_reason(message).text)
        except TransientError as error:
            log.warning("could not fail the row of message %s (%s); keeping the message", message.message_id,
                        error.reason)
            message.options[GIVE_UP_PENDING] = True
        except Exception:
            # The message is still dead-lettered; a person can redrive it.
            log.exception("could not fail the row of message %s", message.message_id)
