"""The engine sandbox's child process: ``python -m adapters.ai.child``.

Reads one JSON request on stdin ({"entry", "source", "payload", "memory_mb"},
and optionally "outputs": a folder for the engine's files, "options": the
engine's settings, "measure": true to run a MeasureFunction instead of an
engine), limits its own address space, runs the function and writes JSON
lines to its original stdout: {"progress": f, "message": m} (with "source_seconds": s when
the engine says how much of its source it has decoded) any number of times, then one
{"result": {...}} or {"error": {"kind": ..., "reason": ...}}. Anything the
engine or its libraries print goes to stderr instead, so it cannot corrupt
the protocol.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path

from adapters.ai.spec import load_function
from domain.errors import PermanentError, TransientError


def main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def emit(message: dict) -> None:
        protocol.write(json.dumps(message, ensure_ascii=False) + "\n")

    # Engines load only local files: no library of theirs may reach for a model hub.
    os.environ["HF_HUB_OFFLINE"] = "1"
    limit = int(request["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        function = load_function(request["entry"])
        source = Path(request["source"]) if request.get("source") else None
        if request.get("measure"):
            emit({"result": function(source, request["payload"])})
        else:
            extras = {"outputs": Path(request["outputs"])} if request.get("outputs") else {}
            if request.get("options"):
                extras["options"] = request["options"]

            def report(fraction: float, text: str, *, source_seconds: float | None = None) -> None:
                line = {"progress": fraction, "message": text}
                if source_seconds is not None:
                    line["source_seconds"] = float(source_seconds)
                emit(line)

            emit({"result": function(source, request["payload"], report, **extras)})
    except MemoryError:
        emit({"error": {"kind": "memory", "reason": ""}})
    except PermanentError as error:
        emit({"error": {"kind": "permanent", "class": type(error).__name__, "reason": error.reason}})
    except TransientError as error:
        emit({"error": {"kind": "transient", "class": type(error).__name__, "reason": error.reason}})
    except Exception as error:  # an engine bug: reported, never a traceback in the row
        detail = str(error).splitlines()[0][:200] if str(error) else ""
        emit({"error": {"kind": "crash", "reason": f"{type(error).__name__}: {detail}".rstrip(": ")}})
    protocol.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
