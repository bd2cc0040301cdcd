"""The video kind's own messages: the pieces of a long video and the checks of its fan-out (CONTRACT 4b).

They are not a kind of job - no table, no API body, no API queue. Their
handlers live with the video kind (``domain/video/fan_out.py``,
``pieces.py``, ``fan_in.py``); their actors are ``tasks/video_parts.py``'s;
this module wires them: the worker's own queue and its dead-letter queue
(VIDEO_PARTS_QUEUE, VIDEO_PARTS_DLQ), the messages' schema, the policy, and
how a piece or a check about to be dead-lettered fails its video.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr

from adapters.messages import BigintId, validate_body
from domain.errors import InvalidMessage
from domain.video.chapter_outputs import ChapterOutputs
from domain.video.fan_in import CheckPartsHandler
from domain.video.fan_out import VideoParts
from domain.video.parts import PartsPolicy
from domain.video.pieces import EncodePieceHandler
from kinds.declaration import QUEUE_NAME, Configuration, Setting

PARTS_QUEUE = Setting("VIDEO_PARTS_QUEUE", "video-parts")
PARTS_DLQ = Setting("VIDEO_PARTS_DLQ", "video-parts-dlq")
ENCODE_PIECE = "encode_video_piece"
CHECK_PARTS = "check_video_parts"


class PieceMessage(BaseModel):
    """``{"video_id": 42, "tenant_id": 7, "attempt": "20261205T161121123456", "piece": "part_00007"}``"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    video_id: BigintId
    tenant_id: StrictInt | None
    attempt: StrictStr
    piece: StrictStr


class CheckMessage(BaseModel):
    """``{"video_id": 42, "tenant_id": 7, "attempt": "...", "watch": {"done": 3, "since": "..."} | null}``"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    video_id: BigintId
    tenant_id: StrictInt | None
    attempt: StrictStr
    watch: dict[str, Any] | None = None


def queue_names(settings: Configuration) -> tuple[str, str]:
    """The parts queue and its dead-letter queue."""
    return PARTS_QUEUE.read(settings, QUEUE_NAME), PARTS_DLQ.read(settings, QUEUE_NAME)


def policy(settings: Any, queue_ready: bool) -> PartsPolicy:
    return PartsPolicy(
        min_seconds=settings.video_parts_min_seconds, part_seconds=settings.video_part_seconds,
        segment_seconds=settings.hls_segment_seconds, queue_ready=queue_ready,
        check_seconds=settings.video_parts_check_seconds, stall_seconds=settings.video_parts_stall_seconds,
        deadline_seconds=settings.video_parts_deadline_seconds,
    )


def video_parts(services: Any) -> VideoParts | None:
    """What the video handler fans long videos out with; None when parts are off or their queue is missing."""
    if not services.parts_policy.may_part:
        return None
    return VideoParts(policy=services.parts_policy, queue=services.parts_queue, board=services.parts_board,
                      storage=services.storage)


def piece_handler(services: Any) -> EncodePieceHandler:
    return EncodePieceHandler(
        videos=services.repository("video"), lock=services.lock, progress=services.progress,
        storage=services.storage, media=services.media, board=services.parts_board, queue=services.parts_queue,
        sources=services.sources, worker=services.worker_name, workdir=services.workdir,
    )


def check_handler(services: Any) -> CheckPartsHandler:
    return CheckPartsHandler(
        videos=services.repository("video"), lock=services.lock, progress=services.progress,
        storage=services.storage, media=services.media, queue=services.parts_queue,
        policy=services.parts_policy, workdir=services.workdir,
        chapters=ChapterOutputs(services.storage, min_seconds=services.settings.chapter_min_seconds),
    )


def give_up_piece(services: Any) -> Callable[[dict[str, Any], str, str], None]:
    """The ``give_up`` option of the piece actor: the video fails, naming the piece's range."""

    def give_up(kwargs: dict[str, Any], body: str, reason: str) -> None:
        try:
            message = piece_message(kwargs)
        except InvalidMessage:
            return  # a message this worker did not send names no video it may fail
        services.piece_handler.give_up(message.video_id, message.tenant_id, message.attempt, message.piece, reason)

    return give_up


def give_up_check(services: Any) -> Callable[[dict[str, Any], str, str], None]:
    """The ``give_up`` option of the check actor: the video fails, saying its parts could not be put together."""

    def give_up(kwargs: dict[str, Any], body: str, reason: str) -> None:
        try:
            message = check_message(kwargs)
        except InvalidMessage:
            return
        services.check_handler.give_up(message.video_id, message.tenant_id, message.attempt, reason)

    return give_up


def piece_message(kwargs: dict[str, Any]) -> PieceMessage:
    return validate_body(PieceMessage, kwargs)


def check_message(kwargs: dict[str, Any]) -> CheckMessage:
    return validate_body(CheckMessage, kwargs)
