"""The AI kind: a registered engine run on a payload (CONTRACT sections 1-4)."""

from __future__ import annotations

from pathlib import Path

from adapters.db.tables import AI_JOB_TABLE
from adapters.messages import AIJobBody
from domain.ai.captions_for_video import CaptionsForVideo
from domain.ai.handler import ProcessAIJobHandler
from domain.ai.model import AI as RULES
from domain.ai.model import AIJobRequest
from domain.errors import UnknownJobType
from domain.video.model import VIDEO
from kinds.declaration import EnqueueField, KindDeclaration, Services, Setting, json_object


def handler(services: Services) -> ProcessAIJobHandler:
    settings = services.settings
    workdir = Path(settings.work_dir) if settings.work_dir else None
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
    table=AI_JOB_TABLE,
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
