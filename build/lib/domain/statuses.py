"""Job statuses and the transitions of CONTRACT section 2."""

from __future__ import annotations

from enum import Enum


class VideoStatus(str, Enum):
    PENDING = "PENDING"
    UPLOADED = "UPLOADED"
    PROCESSING = "PROCESSING"
    READY = "READY"
    FAILED = "FAILED"


class AIJobStatus(str, Enum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    DONE = "DONE"
    FAILED = "FAILED"


# The statuses each transition may start from. PROCESSING -> PROCESSING is a
# redelivery after a crash; FAILED -> PROCESSING is a deliberate retry (a
# message redriven from the dead-letter queue or re-sent by the API).
VIDEO_MARK_PROCESSING_FROM = frozenset(
    {VideoStatus.PENDING, VideoStatus.UPLOADED, VideoStatus.PROCESSING, VideoStatus.FAILED}
)
VIDEO_COMPLETE_FROM = frozenset({VideoStatus.PROCESSING})
VIDEO_FAIL_FROM = frozenset({VideoStatus.PENDING, VideoStatus.UPLOADED, VideoStatus.PROCESSING})
VIDEO_FINAL = frozenset({VideoStatus.READY})

AI_MARK_PROCESSING_FROM = frozenset(
    {AIJobStatus.PENDING, AIJobStatus.PROCESSING, AIJobStatus.FAILED}
)
AI_COMPLETE_FROM = frozenset({AIJobStatus.PROCESSING})
AI_FAIL_FROM = frozenset({AIJobStatus.PENDING, AIJobStatus.PROCESSING})
AI_FINAL = frozenset({AIJobStatus.DONE})
