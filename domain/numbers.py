"""Whole numbers typed by people or read from outside systems, checked once.

``"²".isdigit()`` is true and ``int("²")`` fails; ``int(" 7")`` and ``int("1_000")``
succeed. Every id, count and limit read as text goes through ``whole_number``,
so each of those places refuses the same things.
"""

from __future__ import annotations

BIGINT_MAX = 2**63 - 1  # a PostgreSQL bigint column


def whole_number(text: str, *, low: int = -BIGINT_MAX, high: int = BIGINT_MAX, signed: bool = False) -> int:
    """``text`` as an int within [low, high]; ValueError for anything else.

    Parameters:
      text: the text: ASCII digits only (a leading ``-`` when ``signed``);
        no spaces, underscores, exponents or other scripts' digits.
      low, high: the bounds, both included.
      signed: whether a leading minus sign is allowed.
    """
    digits = text[1:] if signed and text.startswith("-") else text
    if not digits or not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
        raise ValueError(f"not a whole number: {text[:40]!r}")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{value} is out of range {low}-{high}")
    return value
