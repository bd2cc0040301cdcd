"""Object keys from messages and payloads: what may be read from the bucket."""

from __future__ import annotations

from collections.abc import Sequence

from domain.errors import UnsafeKey

MAX_KEY_LENGTH = 1024


def check_object_key(key: str) -> str:
    """Return ``key`` if it is a safe object key, else raise UnsafeKey."""
    if not key:
        raise UnsafeKey("file_key is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise UnsafeKey(f"file_key is {len(key)} characters long; at most {MAX_KEY_LENGTH} are allowed")
    if key.startswith("/"):
        raise UnsafeKey("file_key must not start with '/'")
    if ".." in key.split("/"):
        raise UnsafeKey("file_key must not contain a '..' segment")
    if "\\" in key or any(ord(ch) < 32 for ch in key):
        raise UnsafeKey("file_key contains a backslash or a control character")
    return key


def check_prefix(key: str, allowed_prefixes: Sequence[str]) -> str:
    """Return ``key`` if it lies under one of ``allowed_prefixes`` (none: any key), else raise UnsafeKey."""
    if allowed_prefixes and not any(key.startswith(prefix) for prefix in allowed_prefixes):
        raise UnsafeKey(f"file_key is outside the allowed prefixes ({', '.join(allowed_prefixes)})")
    return key
