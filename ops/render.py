"""Plain-text rendering of what the CLI prints (the dashboard has its templates)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# What a terminal would act on rather than show: C0 controls but newline and
# tab (ESC starts colour, title and clear-screen sequences; CR overwrites a
# line), DEL, C1 controls, line separators and bidirectional overrides.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character written out as an escape (``\\x1b``)."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


def masked(data: Any, redact: Callable[[str], str]) -> Any:
    """``data`` with ``redact`` applied to every string in it (JSON output)."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {key: masked(value, redact) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [masked(value, redact) for value in data]
    return data


def action_done(result: dict) -> str:
    line = f"{result['action']}: {result['count']} dead letter(s) of {result['queue']}"
    total = result.get("total")
    if total is not None and result["count"] < total:
        line += (f" ({total - result['count']} of the {total} there at the start were not found: "
                 "redriven or deleted by someone else meanwhile?)")
    return line


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(value.ljust(w) for value, w in zip(row, widths)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def status(data: dict) -> str:
    parts = [f"broker: {data['broker']}", "", queues(data["queues"]), ""]
    for kind, counts in data["jobs"].items():
        parts.append(f"{kind} jobs: " + ", ".join(f"{status} {count}" for status, count in counts.items()))
    parts += ["", workers(data["workers"])]
    return "\n".join(parts)


def queues(items: list[dict]) -> str:
    return table(
        ["queue", "visible", "in flight", "delayed", "waited (last / longest, 5 min)", "dead-letter queue",
         "dead letters"],
        [[q["name"] + (" (missing)" if q.get("missing") else ""), q["visible"], q["in_flight"], q["delayed"],
          waited(q.get("waits")), q["dead_letter_queue"], q["dead_letters"]] for q in items],
    )


def seconds(value: float) -> str:
    """A duration for people: 0.4 s, 12 s, 3 min 5 s, 2 h 1 min."""
    if value < 10:
        return f"{value:.1f} s"
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{int(value // 60)} min {int(value % 60)} s"
    return f"{int(value // 3600)} h {int(value % 3600 // 60)} min"


def waited(waits: dict | None) -> str:
    if not waits:
        return "-"
    return f"{seconds(waits['last'])} / {seconds(waits['max'])}"


def workers(items: list[dict]) -> str:
    if not items:
        return "workers: none has reported (is the worker running with the same REDIS_URL?)"
    return table(
        ["worker", "state", "last beat", "queues", "in flight"],
        [
            [w["worker_id"], w["state"], w["last_beat"], ",".join(w["queues"]),
             ", ".join(job["job"] for job in w["in_flight"]) or "-"]
            for w in items
        ],
    )


def jobs(listed: tuple[str, ...], error: str, rows: list[dict]) -> str:
    """Rows of one kind: id, the kind's listed columns (tenant_id, job_type...), status, time, reason."""
    return table(
        ["id", *(name.removesuffix("_id") for name in listed), "status", "updated", "reason"],
        [[r["id"], *(r.get(name) for name in listed), r["status"], _time(r["updated_at"]), shorten(r.get(error))]
         for r in rows],
    )


def parts(items: list[dict]) -> str:
    """A long video's pieces: counts by state, then one line each (range, state, worker, seconds, reason)."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item["state"]] = counts.get(item["state"], 0) + 1
    summary = ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
    return f"parts of attempt {items[0]['attempt']}: {summary}\n" + table(
        ["piece", "state", "worker", "seconds", "updated", "reason"],
        [[i.get("label", i["piece"]), i["state"], i.get("worker") or "-", f"{i['seconds']:.1f}",
          _time(i.get("updated_at")), shorten(i.get("reason") or "")] for i in items],
    )


def dead_letters(items: list[dict]) -> str:
    if not items:
        return "no dead letters"
    return table(
        ["id", "dead-lettered at", "receives", "reason", "body"],
        [[d["id"], d["dead_lettered_at"][:19], d["receive_count"] or "-", shorten(d["reason"], 60), shorten(d["body"], 40)]
         for d in items],
    )


def dead_letter(item: dict) -> str:
    return "\n".join(
        [
            f"id:               {item['id']}",
            f"queue:            {item['queue']}",
            f"original id:      {item['original_id'] or '-'}",
            f"dead-lettered at: {item['dead_lettered_at']}",
            f"receive count:    {item['receive_count'] if item['receive_count'] is not None else '-'}",
            f"reason:           {item['reason']}",
            "body:",
            item["body"],
        ]
    )


def progress(fields: dict) -> str:
    return f"{fields.get('updated_at', '')[:19]}  {fields.get('step', '?'):<12} {fields.get('percent', '?'):>3}%  {fields.get('message', '')}"


def _time(value) -> str:
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else str(value or "")


def shorten(value: Any, limit: int = 50) -> str:
    """One line of at most ``limit`` characters (the dashboard's ``shorten`` filter too)."""
    text = " ".join(str(value if value is not None else "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
