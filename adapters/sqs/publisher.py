"""A Django-free publisher of the API's plain-JSON bodies (CONTRACT section 1).

Emits exactly what the Django API emits: one plain UTF-8 JSON object per
message, no base64, no Dramatiq envelope. Used by the tests, the demo, the
ops tools and any producer that is not the API.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any


def json_body(fields: dict[str, Any], created_at: datetime | None = None) -> str:
    """A body as the API writes it: the job's fields, then ``created_at`` (now, unless given)."""
    return json.dumps({**fields, "created_at": (created_at or datetime.now(timezone.utc)).isoformat()},
                      separators=(", ", ": "))


def video_body(video_id: int, file_key: str, tenant_id: int | None = None, created_at: datetime | None = None) -> str:
    """The video queue's body of CONTRACT section 1."""
    return json_body({"video_id": video_id, "file_key": file_key, "tenant_id": tenant_id}, created_at)


def ai_body(
    job_id: str,
    job_type: str,
    payload: dict[str, Any],
    tenant_id: int | None = None,
    created_at: datetime | None = None,
) -> str:
    """The AI queue's body of CONTRACT section 1."""
    return json_body({"job_id": job_id, "job_type": job_type, "tenant_id": tenant_id, "payload": payload}, created_at)


class JsonPublisher:
    """Sends plain-JSON bodies to SQS queues, by name; looks each queue's URL up once.

    Parameters:
      sqs: a boto3 SQS client.
    """

    def __init__(self, sqs) -> None:
        self.sqs = sqs
        self._urls: dict[str, str] = {}

    def send(self, queue: str, body: str) -> str:
        """Send one body as it is; return the SQS MessageId."""
        return self.sqs.send_message(QueueUrl=self._url(queue), MessageBody=body)["MessageId"]

    def _url(self, queue: str) -> str:
        if queue not in self._urls:
            self._urls[queue] = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        return self._urls[queue]
