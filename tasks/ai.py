"""The AI actor: one message of the AI queue (CONTRACT section 1)."""

from __future__ import annotations

import dramatiq

from adapters.messages import AIJobBody, validate_body
from adapters.worker.context import report_outcome
from bootstrap import AI_ACTOR
from domain.errors import PermanentError
from tasks import broker, container, settings


@dramatiq.actor(
    actor_name=AI_ACTOR,
    queue_name=settings.ai_queue,
    broker=broker,
    throws=(PermanentError,),
    max_retries=settings.max_retries,
)
def process_ai_job(**body) -> None:
    request = validate_body(AIJobBody, body).to_request()
    report_outcome(container.ai_handler.handle(request).value)
