"""`python -m ops queues create-parts`: the worker's own parts queue and its dead-letter queue.

The worker may not create queues (its IAM policy has no ``sqs:CreateQueue``);
an operator runs this once, with credentials that may, before or after
deploying a worker with parts on (docs/DEPLOYMENT.md, "Long videos in parts").
A queue that exists is left as it is.
"""

from __future__ import annotations

from adapters.sqs.admin import queue_exists
from kinds import video_parts
from ops.service import OpsError

HELP = "the worker's own queues: create the parts queue and its dead-letter queue"
DLQ_RETENTION_SECONDS = 14 * 86400  # SQS's longest: time to look at a part that failed
QUEUE_RETENTION_SECONDS = 4 * 86400


def add_actions(actions) -> None:
    """``create-parts``, on the ``queues`` command's subcommand parsers."""
    actions.add_parser("create-parts", help="create VIDEO_PARTS_QUEUE and VIDEO_PARTS_DLQ where they are missing")


def command(ops, args, out) -> int:
    if ops.settings.broker != "sqs":
        raise OpsError("only SQS queues need creating; Dramatiq's Redis broker makes its own")
    queue, dead_letters = video_parts.queue_names(ops.settings)
    done = []
    for name, retention in ((dead_letters, DLQ_RETENTION_SECONDS), (queue, QUEUE_RETENTION_SECONDS)):
        if queue_exists(ops.sqs, name):
            done.append({"queue": name, "state": "exists"})
            continue
        ops.sqs.create_queue(QueueName=name, Attributes={
            "MessageRetentionPeriod": str(retention),
            "VisibilityTimeout": str(ops.settings.visibility_timeout_seconds),
        })
        done.append({"queue": name, "state": "created"})
    out.emit(done, lambda items: "\n".join(f"{item['queue']}: {item['state']}" for item in items))
    return 0
