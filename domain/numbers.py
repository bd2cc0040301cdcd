"""Whole numbers typed by people or read from outside systems, checked once.

``"²".isdigit()`` is true and ``int("²")`` fails; ``int(" 7")`` and ``int("1_000")``
succeed. Every id, count and limit read as text goes through ``whole_number``,
so each of those places refuses the same things.
"""

from __future__ import annotations

BIGINT_MAX = 2**63 - 1  # a PostgreSQL bigint column


def whole_number(text: str, *, low: int = -BIGINT_MAX, high: int = BIGINT_MAX) -> int:
    """``text`` as an int within [low, high]; ValueError for anything else.

    Parameters:
      text: the text: ASCII digits only, a leading ``-`` when ``low`` is
        negative; no spaces, underscores, exponents or other scripts' digits.
      low, high: the bounds, both included (default: a bigint column's).
    """
    digits = text[1:] if low < 0 and text.startswith("-") else text
    if not digits or not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
        raise ValueError(f"not a whole number: {text[:40]!r}")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{value} is out of range {low}-{high}")
    return value


def whole_number_or_none(text: str, *, low: int = -BIGINT_MAX, high: int = BIGINT_MAX) -> int | None:
    """``whole_number(text, low=low, high=high)``, or None where it raises: for values read from
    another system (SQS attributes), where a malformed one means "unknown", not an error."""
    try:
        return whole_number(text, low=low, high=high)
    except ValueError:
        return None
