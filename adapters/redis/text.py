"""Replies of a redis-py client as text, whether it decodes responses or not."""

from __future__ import annotations


def as_text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
