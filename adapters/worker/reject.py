"""RejectBeforeRun: dead-letter a message before its actor runs."""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.middleware import Middleware, SkipMessage

from adapters.worker.options import RECEIVE_COUNT, REJECT_CATEGORY, REJECT_REASON
from adapters.worker.reasons import TOO_MANY_RECEIVES

log = logging.getLogger(__name__)


class RejectBeforeRun(Middleware):
    """Fails, without running it, a message that must not run:

    - one the consumer flagged with a ``reject_reason`` (a body that could
      not be decoded or validated);
    - one SQS has delivered more than ``max_receive_count`` times: a job that
      kills its worker (out of memory, segfault) must not loop forever.

    A failed message is nacked, which dead-letters it with its reason.

    Parameters:
      max_receive_count: deliveries of one SQS message allowed before it is
        dead-lettered (setting MAX_RECEIVE_COUNT).
    """

    def __init__(self, max_receive_count: int) -> None:
        self.max_receive_count = max_receive_count

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        received = int(message.options.get(RECEIVE_COUNT, 1))
        if not message.options.get(REJECT_REASON) and received > self.max_receive_count:
            message.options[REJECT_REASON] = (
                f"delivered {received} times (limit {self.max_receive_count}) without finishing: "
                "the job may be crashing its worker"
            )
            message.options[REJECT_CATEGORY] = TOO_MANY_RECEIVES
        if message.options.get(REJECT_REASON):
            log.warning("rejecting message %s: %s", message.message_id, message.options[REJECT_REASON])
            message.fail()
            raise SkipMessage(message.options[REJECT_REASON])
