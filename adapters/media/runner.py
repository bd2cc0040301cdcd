"""Running one ffmpeg process: progress, time limit, and what its failure means."""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from pathlib import Path

from adapters.child_process import run_child
from adapters.media.safety import scrub
from domain.errors import ProcessingTimeout, TransientError, UnsupportedMedia

# Lines that only say "it failed" (or how to silence it); a line before them says why.
_GENERIC = (
    "conversion failed",
    "error opening input",
    "error opening output",
    "error parsing options",
    "failed to set value",
    "to ignore this",
    "last message repeated",
)


def run_ffmpeg(
    args: Sequence[str],
    *,
    action: str,
    timeout_seconds: float,
    cwd: Path | None = None,
    on_out_time: Callable[[float], None] | None = None,
) -> str:
    """Run ffmpeg to completion and return the tail of its stderr, or raise the domain error that says why not.

    Parameters:
      args: the full command line, executable first.
      action: what the run does, as a verb phrase for reasons
        ("transcode the source").
      timeout_seconds: the limit on the whole run, from start to exit.
      cwd: the working directory for relative output names.
      on_out_time: called with the output time in seconds each time
        ``-progress pipe:1`` reports it (only meaningful with that option).

    Pipes, deadline and always reaping ffmpeg are ``adapters.child_process``'s.

    Raises ProcessingTimeout past the limit, TransientError when ffmpeg was
    killed by a signal or ran out of disk space, UnsupportedMedia for any
    other failure (the source probed fine, so it is the source's fault).
    """
    timed_out = ProcessingTimeout(f"ffmpeg took longer than {timeout_seconds:g} s to {action}")
    returncode, stderr_tail = run_child(
        args, timeout_seconds=timeout_seconds, timed_out=timed_out, on_line=_OutTime(on_out_time), cwd=cwd
    )
    if returncode != 0:
        raise _failure(returncode, stderr_tail, action)
    return stderr_tail


def _failure(returncode: int, text: str, action: str) -> Exception:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return TransientError(f"ffmpeg was killed by {name} while trying to {action}")
    if "no space left on device" in text.lower():
        return TransientError(f"ffmpeg ran out of disk space while trying to {action}")
    if "not on whitelist" in text.lower():
        return UnsupportedMedia(f"ffmpeg could not {action}: its container format is not one we accept")
    detail = _last_error_line(text)
    if detail:
        return UnsupportedMedia(f"ffmpeg could not {action}: {detail}")
    return UnsupportedMedia(f"ffmpeg could not {action} (exit status {returncode})")


def _last_error_line(text: str) -> str:
    # The tail may start mid-line; the last specific line is the cause.
    lines = [cleaned for cleaned in map(scrub, text.splitlines()) if cleaned]
    specific = [line for line in lines if not line.lower().startswith(_GENERIC)]
    if specific:
        return specific[-1]
    return lines[-1] if lines else ""


class _OutTime:
    """Reads ``-progress`` ``key=value`` lines and reports out_time in seconds."""

    def __init__(self, on_out_time: Callable[[float], None] | None) -> None:
        self.on_out_time = on_out_time
        self.has_us = False

    def __call__(self, line: str) -> None:
        if self.on_out_time is None:
            return
        key, _, value = line.strip().partition("=")
        # out_time_ms is in microseconds too (a historical ffmpeg quirk);
        # both are written, "N/A" before the first frame is out.
        if not value.lstrip("-").isdigit():
            return
        if key == "out_time_us" or (key == "out_time_ms" and not self.has_us):
            self.has_us = self.has_us or key == "out_time_us"
            self.on_out_time(max(int(value), 0) / 1_000_000)
