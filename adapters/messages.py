"""The message bodies of CONTRACT section 1, as pydantic models.

Used by the SQS consumer (to reject bad bodies before they run), by the
actors (to validate what they are given on any broker) and by the publisher.
Unknown keys are ignored; missing or mistyped required keys are errors.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError, field_validator

from domain.ai.model import AIJobRequest
from domain.errors import InvalidMessage, UnsafeKey
from domain.keys import check_object_key
from domain.numbers import BIGINT_MAX
from domain.video.model import VideoJob


def _safe_key(value: str) -> str:
    try:
        return check_object_key(value)
    except UnsafeKey as error:
        raise ValueError(error.reason.removeprefix("file_key ")) from None


#: An object key that cannot escape the bucket layout (CONTRACT section 1).
SafeKey = Annotated[StrictStr, AfterValidator(_safe_key)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    tenant_id: StrictInt | None = None
    created_at: datetime | None = None

    @field_validator("created_at", mode="before")
    @classmethod
    def _iso_string(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise ValueError("must be an ISO-8601 string")
        return value


class VideoJobBody(_Body):
    """``{"video_id": 42, "file_key": "uploads/7/42/source.mp4", "tenant_id": 7, "created_at": ...}``"""

    video_id: StrictInt
    file_key: SafeKey

    @field_validator("video_id")
    @classmethod
    def _positive(cls, value: int) -> int:
        if not 0 < value <= BIGINT_MAX:
            raise ValueError("must be a positive integer that fits the table's BIGINT")
        return value

    def to_job(self) -> VideoJob:
        return VideoJob(video_id=self.video_id, file_key=self.file_key, tenant_id=self.tenant_id)


class AIJobBody(_Body):
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


JSON_TYPES = {type(None): "null", bool: "boolean", int: "number", float: "number", str: "string", list: "array"}


def explain(error: ValidationError, *, subject: str = "invalid message", within: str = "") -> str:
    """One sentence naming the first offending field.

    Parameters:
      error: what pydantic found.
      subject: how the sentence starts.
      within: a prefix for field paths (``payload`` for an engine's payload).
    """
    first = error.errors()[0]
    field = ".".join([within, *map(str, first["loc"])] if within else map(str, first["loc"])) or within or "body"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        return f"{subject}: required key {field!r} is missing"
    return f"{subject}: {field}: {message}"


def parse_body(model: type[_Body], raw: str | bytes) -> _Body:
    """Decode and validate a plain-JSON body; raise InvalidMessage with a clear reason."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise InvalidMessage(f"invalid message: the body is not valid JSON ({type(error).__name__})") from None
    return validate_body(model, data)


def validate_body(model: type[_Body], data: Any) -> _Body:
    if not isinstance(data, dict):
        raise InvalidMessage(f"invalid message: the body is a JSON {JSON_TYPES.get(type(data), 'value')}, not an object")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidMessage(explain(error)) from None
    except RecursionError:
        raise InvalidMessage("invalid message: the body is nested too deeply") from None


def salvage_id(raw: str, field: str, kind: type) -> Any:
    """The job id of a body that failed validation, if one can still be read.

    Lets a rejected message fail its row ("the row, if it exists, becomes FAILED").
    """
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError, TypeError):
        return None
    value = data.get(field) if isinstance(data, dict) else None
    if kind is int and isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if kind is str and isinstance(value, str) and 0 < len(value) <= 64:
        return value
    return None
