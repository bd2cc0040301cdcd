"""Message options this project adds to Dramatiq's own."""

LEGACY_BODY = "legacy_body"  # the original body, byte for byte: what a dead letter carries
REJECT_REASON = "reject_reason"  # set when the body must not run; the reason it is dead-lettered
RECEIVE_COUNT = "receive_count"  # SQS's ApproximateReceiveCount of this delivery
RETURN_TO_QUEUE = "return_to_queue"  # interrupted by shutdown: make visible again, don't delete
GIVE_UP_PENDING = "give_up_pending"  # the row could not be failed (outage): keep the message, try later
SENT_AT = "sent_at"  # epoch ms the broker says the message was sent (SQS's SentTimestamp)
DUE_AT = "due_at"  # epoch ms a message enqueued by a worker may run (now, or after its retry's delay)
