"""The AI kind's wiring: its queue's body, its table and its declaration (CONTRACT sections 1-4).

The kind's rules and handler live in ``domain/ai/``.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import StrictStr, field_validator
from sqlalchemy import Column, DateTime, String, Text

from adapters.db.tables import JSON_COLUMN, TENANT, JobTableSpec, SearchField, job_columns
from adapters.messages import JobBody
from domain.ai.captions_for_video import CaptionsForVideo
from domain.ai.handler import ProcessAIJobHandler
from domain.ai.model import AI as RULES
from domain.ai.model import AIJobRequest
from domain.errors import UnknownJobType
from domain.video.model import VIDEO
from kinds.declaration import EnqueueField, KindDeclaration, Services, Setting, json_object


class AIJobBody(JobBody):
    """``{"job_id": "<uuid>", "job_type": "ocr", "payload": {...}, "tenant_id": 7, ...}``"""

    job_id: StrictStr
    job_type: StrictStr
    payload: dict[str, Any]

    @field_validator("job_id")
    @classmethod
    def _uuid(cls, value: str) -> str:
        try:
            uuid.UUID(value)
        except ValueError:
            raise ValueError("must be a UUID") from None
        if len(value) > 64:
            raise ValueError("must be at most 64 characters")
        return value

    @field_validator("job_type")
    @classmethod
    def _short(cls, value: str) -> str:
        if not value or len(value) > 50:
            raise ValueError("must be 1 to 50 characters")
        return value

    def to_request(self) -> AIJobRequest:
        return AIJobRequest(self.job_id, self.job_type, dict(self.payload), self.tenant_id)


def _columns() -> list[Column]:
    return [
        Column("job_type", String(50), nullable=False),
        Column("payload", JSON_COLUMN, nullable=False),
        Column("result", JSON_COLUMN, nullable=True),
        Column("error_message", Text, nullable=True),
        Column("started_at", DateTime(timezone=True), nullable=True),
        Column("finished_at", DateTime(timezone=True), nullable=True),
    ]


#: ``ai_aijob`` (setting AI_JOB_TABLE)
TABLE = JobTableSpec(job_columns(str, _columns, status_after="job_type"), started="started_at", error="error_message",
                     result=lambda result: {"result": result}, finished="finished_at",
                     listed=("tenant_id", "job_type"), search=(TENANT, SearchField("job_type", "job-type")))


def handler(services: Services) -> ProcessAIJobHandler:
    settings = services.settings
    workdir = services.workdir
    # The transcribe engine's captions go to the video its payload names: a step across kinds.
    jobs = services.repository(RULES.name)
    captions = CaptionsForVideo(videos=services.repository(VIDEO.name), jobs=jobs, lock=services.lock,
                                storage=services.storage, media=services.media, workdir=workdir,
                                wait_retry_seconds=settings.captions_wait_retry_seconds)
    return ProcessAIJobHandler(
        jobs=jobs,
        lock=services.lock,
        progress=services.progress,
        engines=services.engines,
        storage=services.storage,
        allowed_prefixes=settings.source_prefixes,
        workdir=workdir,
        follow_ups={"transcribe": captions},
    )


def publishable(request: AIJobRequest, services: Services) -> None:
    """An engine is registered for the job_type, and its payload fits the engine's schema."""
    spec = services.engine_specs.get(request.job_type)
    if spec is None:
        raise UnknownJobType(f"no engine is registered for job_type {request.job_type!r} "
                             f"(this deployment runs {', '.join(sorted(services.engine_specs))})")
    spec.validate_payload(request.payload)


AI = KindDeclaration(
    kind=RULES,
    actor="process_ai_job",
    title="AI jobs",
    body=AIJobBody,
    id_field="job_id",
    request=AIJobBody.to_request,
    handler=handler,
    table=TABLE,
    queue=Setting("AI_QUEUE", "ai-jobs"),
    dead_letter_queue=Setting("AI_DLQ", None),
    table_name=Setting("AI_JOB_TABLE", "ai_aijob"),
    enqueue=(
        EnqueueField("job_id", str, "the job's id, a UUID (its row in AI_JOB_TABLE)"),
        EnqueueField("job_type", str, "the engine to run (e.g. ocr)"),
        EnqueueField("payload", json_object, "the engine's payload, a JSON object", option=True),
    ),
    type_field="job_type",
    types=lambda services: services.engines,
    publishable=publishable,
)
