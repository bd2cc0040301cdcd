"""A Django-free publisher of the API's legacy bodies (CONTRACT section 1).

Emits exactly what the Django API emits: one plain UTF-8 JSON object per
message, no base64, no Dramatiq envelope. Used by the tests, the demo and any
producer that is not the API.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any


def video_body(video_id: int, file_key: str, tenant_id: int | None = None, created_at: datetime | None = None) -> str:
    return _dump(
        {"video_id": video_id, "file_key": file_key, "tenant_id": tenant_id, "created_at": _iso(created_at)}
    )


def ai_body(
    job_id: str,
    job_type: str,
    payload: dict[str, Any],
    tenant_id: int | None = None,
    created_at: datetime | None = None,
) -> str:
    return _dump(
        {"job_id": job_id, "job_type": job_type, "tenant_id": tenant_id, "payload": payload, "created_at": _iso(created_at)}
    )


class LegacyPublisher:
    """Sends legacy bodies to the video and AI queues.

    Parameters:
      sqs: a boto3 SQS client.
      video_queue: name of the video queue (setting VIDEO_QUEUE).
      ai_queue: name of the AI queue (setting AI_QUEUE).
    """

    def __init__(self, sqs, *, video_queue: str = "video-jobs", ai_queue: str = "ai-jobs") -> None:
        self.sqs = sqs
        self.video_queue = video_queue
        self.ai_queue = ai_queue
        self._urls: dict[str, str] = {}

    def publish_video(self, video_id: int, file_key: str, tenant_id: int | None = None) -> str:
        return self.send(self.video_queue, video_body(video_id, file_key, tenant_id))

    def publish_ai(self, job_id: str, job_type: str, payload: dict[str, Any], tenant_id: int | None = None) -> str:
        return self.send(self.ai_queue, ai_body(job_id, job_type, payload, tenant_id))

    def send(self, queue: str, body: str) -> str:
        """Send one body as it is; return the SQS MessageId."""
        return self.sqs.send_message(QueueUrl=self._url(queue), MessageBody=body)["MessageId"]

    def _url(self, queue: str) -> str:
        if queue not in self._urls:
            self._urls[queue] = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        return self._urls[queue]


def _iso(moment: datetime | None) -> str:
    return (moment or datetime.now(timezone.utc)).isoformat()


def _dump(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(", ", ": "))
