"""What every plain-JSON job body shares (CONTRACT section 1), as pydantic pieces.

Each kind's own body model is declared with the kind (``kinds/``) on
``JobBody``, ``SafeKey`` and ``BigintId``; ``validate_body`` turns any body into
its model or an InvalidMessage naming the first offending field.
Unknown keys are ignored; missing or mistyped required keys are errors.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError, field_validator

from domain.errors import InvalidMessage, UnsafeKey
from domain.keys import check_object_key
from domain.numbers import BIGINT_MAX


def _safe_key(value: str) -> str:
    try:
        return check_object_key(value)
    except UnsafeKey as error:
        raise ValueError(error.reason.removeprefix("file_key ")) from None


def _positive_bigint(value: int) -> int:
    if not 0 < value <= BIGINT_MAX:
        raise ValueError("must be a positive integer that fits the table's BIGINT")
    return value


#: An object key that cannot escape the bucket layout (CONTRACT section 1).
SafeKey = Annotated[StrictStr, AfterValidator(_safe_key)]
#: A row id of a bigint primary key: a JSON integer, positive, at most 2**63 - 1.
BigintId = Annotated[StrictInt, AfterValidator(_positive_bigint)]


class JobBody(BaseModel):
    """What every kind's plain-JSON body may carry besides its own fields: unknown keys are
    ignored (the API may add some), ``tenant_id`` and ``created_at`` are optional."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    tenant_id: StrictInt | None = None
    created_at: datetime | None = None

    @field_validator("created_at", mode="before")
    @classmethod
    def _iso_string(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise ValueError("must be an ISO-8601 string")
        return value


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


def json_object(raw: str | bytes) -> dict[str, Any]:
    """A plain-JSON body decoded; InvalidMessage with a clear reason when it is not one JSON object."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise InvalidMessage(f"invalid message: the body is not valid JSON ({type(error).__name__})") from None
    if not isinstance(data, dict):
        raise InvalidMessage(f"invalid message: the body is a JSON {JSON_TYPES.get(type(data), 'value')}, not an object")
    return data


def parse_body(model: type[JobBody], raw: str | bytes) -> JobBody:
    """Decode and validate a plain-JSON body; raise InvalidMessage with a clear reason."""
    return validate_body(model, json_object(raw))


def validate_body(model: type[BaseModel], data: Any) -> Any:
    """``data`` (a decoded body) as ``model``; InvalidMessage naming the first offending field."""
    if not isinstance(data, dict):
        raise InvalidMessage(f"invalid message: the body is a JSON {JSON_TYPES.get(type(data), 'value')}, not an object")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidMessage(explain(error)) from None
    except RecursionError:
        raise InvalidMessage("invalid message: the body is nested too deeply") from None


def job_id_of(value: Any, kind: type) -> Any:
    """``value`` if it can be the id of a row (a positive bigint, or 1 to 64 characters), else None.

    Parameters:
      value: what a body holds in its id field.
      kind: the kind's id type, ``int`` or ``str``.
    """
    if kind is int and isinstance(value, int) and not isinstance(value, bool) and 0 < value <= BIGINT_MAX:
        return value
    if kind is str and isinstance(value, str) and 0 < len(value) <= 64 and "\0" not in value:
        return value
    return None


def salvage_id(raw: str, field: str, kind: type) -> Any:
    """The job id of a body that failed validation, if one can still be read.

    Lets a rejected message fail its row ("the row, if it exists, becomes FAILED").
    """
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError, TypeError):
        return None
    return job_id_of(data.get(field) if isinstance(data, dict) else None, kind)
