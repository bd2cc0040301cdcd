"""The rule for queue names: SQS's for standard queues, the strictest of the brokers the worker runs on."""

from __future__ import annotations

import re

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")


def check_queue_name(name: str) -> str:
    """Return ``name`` if SQS accepts it as a standard queue's name; ValueError saying the rule otherwise.

    Parameters:
      name: the queue name from the configuration.
    """
    if not _QUEUE_NAME.fullmatch(name):
        raise ValueError("must be 1 to 80 letters, digits, '-' or '_' (SQS's rule for queue names)")
    return name
