"""Masking secrets in log text: URL passwords, AWS signatures, known secret values."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

MASK = "***"
MIN_SECRET_CHARS = 4  # shorter values would mask ordinary words

# scheme://user:password@host (the user part may be empty, as in redis://:password@host)
URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)(?P<secret>[^\s@/]+)(?=@)")
# Query parameters of presigned S3 URLs (SigV4 and SigV2) and their header forms.
AWS_PARAMETER = re.compile(
    r"(?P<head>\b(?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|AWSAccessKeyId)"
    r"(?:=|['\"]?\s*:\s*b?['\"]))(?P<secret>[^&\s'\",;]+)",
    re.IGNORECASE,
)


class Redactor:
    """Masks secrets in text.

    Parameters:
      secrets: values that must never appear (passwords, secret keys);
        values shorter than MIN_SECRET_CHARS are ignored.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {value for value in secrets if value and len(value) >= MIN_SECRET_CHARS}
        # Longest first, so a secret containing another is masked whole.
        self.secrets = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
        text = AWS_PARAMETER.sub(lambda m: m["head"] + MASK, text)
        for value in self.secrets:
            if value in text:
                text = text.replace(value, MASK)
        return text


def secret_values(settings: object) -> list[str]:
    """The secrets among ``settings``' values: every SecretStr, and the password
    of every URL-valued field (as written and percent-decoded)."""
    found: list[str] = []
    for name in getattr(type(settings), "model_fields", {}):
        value = getattr(settings, name, None)
        if hasattr(value, "get_secret_value"):
            found.append(value.get_secret_value())
        elif isinstance(value, str) and "://" in value:
            found += _url_password(value)
    return [value for value in found if value]


def _url_password(url: str) -> list[str]:
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    return [password, unquote(password)] if password else []
