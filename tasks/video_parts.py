"""The actors of a long video's pieces and of its fan-out's checks (CONTRACT 4b).

They run on the worker's own queue VIDEO_PARTS_QUEUE, in Dramatiq's format,
and are declared only when that queue exists (``Container.parts_queue_ready``;
on SQS the operator creates it). ``tasks.video`` imports this module, so the
Procfile's ``dramatiq tasks.video tasks.ai`` consumes the queue.
"""

from __future__ import annotations

import dramatiq

from adapters.worker.context import report_outcome
from adapters.worker.give_up import GIVE_UP
from adapters.worker.labels import JOB_LABELS, JobLabels
from domain.errors import PermanentError
from domain.video.model import VIDEO
from kinds import video_parts
from tasks import broker, container, settings


def _declare(name: str, run, job_type: str, give_up) -> dramatiq.Actor:
    run.__name__ = run.__qualname__ = name
    return dramatiq.actor(
        run, actor_name=name, queue_name=container.parts_queue_names[0], broker=broker, throws=(PermanentError,),
        max_retries=settings.max_retries,
        **{JOB_LABELS: JobLabels(VIDEO, "video_id", job_type=job_type), GIVE_UP: give_up},
    )


def encode_video_piece(**message) -> None:
    piece = video_parts.piece_message(message)
    report_outcome(container.piece_handler.handle(piece.video_id, piece.tenant_id, piece.attempt, piece.piece).value)


def check_video_parts(**message) -> None:
    check = video_parts.check_message(message)
    report_outcome(container.check_handler.handle(check.video_id, check.tenant_id, check.attempt, check.watch).value)


if container.parts_queue_ready:
    encode_video_piece = _declare(video_parts.ENCODE_PIECE, encode_video_piece, "video_piece",
                                  video_parts.give_up_piece(container))
    check_video_parts = _declare(video_parts.CHECK_PARTS, check_video_parts, "video_parts_check",
                                 video_parts.give_up_check(container))
