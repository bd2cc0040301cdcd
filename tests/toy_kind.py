"""A third kind of job, declared in the tests only: it counts the words of a text file.

Loaded with ``JOB_KIND_MODULES=tests.toy_kind``; everything a kind needs is
here (its domain rules, body, table, handler and declaration), and no
production module names it. Its queue, dead-letter queue and table are read
from DOCUMENT_QUEUE, DOCUMENT_DLQ and DOCUMENT_TABLE.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, DateTime, Integer, String, Text

from adapters.db.tables import JobTableSpec, job_columns
from adapters.messages import BigintId, JobBody, SafeKey
from domain.errors import UnsupportedMedia
from domain.flow import JobHandler
from domain.jobs import JobKind
from domain.numbers import whole_number
from domain.progress import Progress
from kinds import EnqueueField, KindDeclaration, Services, Setting


class DocumentStatus(str, Enum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COUNTED = "COUNTED"
    FAILED = "FAILED"


RULES = JobKind(
    name="document",
    noun="document",
    id_type=int,
    statuses=DocumentStatus,
    start_from=frozenset({DocumentStatus.PENDING, DocumentStatus.PROCESSING, DocumentStatus.FAILED}),
    complete_from=frozenset({DocumentStatus.PROCESSING}),
    fail_from=frozenset({DocumentStatus.PENDING, DocumentStatus.PROCESSING}),
    final=frozenset({DocumentStatus.COUNTED}),
    processing=DocumentStatus.PROCESSING,
    completed=DocumentStatus.COUNTED,
    failed=DocumentStatus.FAILED,
    steps={"queued": (0, 0), "downloading": (1, 40), "counting": (40, 90), "saving": (90, 99), "done": (100, 100)},
    last_step="saving",
    output_root="documents",
)


class DocumentRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    doc_id: int
    file_key: str
    tenant_id: int | None = None

    @property
    def job_id(self) -> int:
        return self.doc_id


class DocumentBody(JobBody):
    """``{"doc_id": 3, "file_key": "uploads/7/essay.txt", "tenant_id": 7}``"""

    doc_id: BigintId
    file_key: SafeKey

    def to_request(self) -> DocumentRequest:
        return DocumentRequest(doc_id=self.doc_id, file_key=self.file_key, tenant_id=self.tenant_id)


def _columns() -> list[Column]:
    return [
        Column("file_key", String(1024), nullable=False),
        Column("words", Integer, nullable=True),
        Column("error", Text, nullable=True),
        Column("begun_at", DateTime(timezone=True), nullable=True),
        Column("ended_at", DateTime(timezone=True), nullable=True),
    ]


TABLE = JobTableSpec(job_columns(int, _columns), started="begun_at", error="error", finished="ended_at",
                     result=lambda words: {"words": words}, listed=("tenant_id", "words"))


class CountWordsHandler(JobHandler[DocumentRequest, int]):
    """Downloads the text file and counts its words."""

    def __init__(self, *, storage, **ports) -> None:
        super().__init__(kind=RULES, **ports)
        self.storage = storage

    def work(self, request: DocumentRequest, fence: datetime, progress: Progress) -> int:
        progress.step("downloading")
        self.storage.size_of(request.file_key)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "document.txt"
            self.storage.download(request.file_key, path)
            progress.step("counting")
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise UnsupportedMedia("the document is not UTF-8 text") from None
        return len(text.split())


def handler(services: Services) -> CountWordsHandler:
    return CountWordsHandler(jobs=services.repository(RULES.name), lock=services.lock, progress=services.progress,
                             storage=services.storage)


DOCUMENT = KindDeclaration(
    kind=RULES,
    actor="count_document_words",
    title="Documents",
    body=DocumentBody,
    id_field="doc_id",
    request=DocumentBody.to_request,
    handler=handler,
    table=TABLE,
    queue=Setting("DOCUMENT_QUEUE", "document-jobs"),
    dead_letter_queue=Setting("DOCUMENT_DLQ", None),
    table_name=Setting("DOCUMENT_TABLE", "toy_document"),
    enqueue=(
        EnqueueField("doc_id", whole_number, "the document's id"),
        EnqueueField("file_key", str, "the text file's key in the bucket"),
    ),
)

KINDS = (DOCUMENT,)
