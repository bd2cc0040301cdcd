"""Running one ffmpeg process: progress, time limit, and what its failure means."""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from pathlib import Path

from adapters.child_process import run_child
from adapters.media.safety import scrub
from domain.errors import ProcessingTimeout, SourceNotFound, TransientError, UnsupportedMedia

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
# What ffmpeg logs when reading a source by URL failed for a reason outside
# the source: the network, the storage, an expired presigned URL (403).
_NETWORK = (
    "connection refused",
    "connection reset",
    "connection timed out",
    "operation timed out",
    "network is unreachable",
    "no route to host",
    "broken pipe",
    "failed to resolve hostname",
    "stream ends prematurely",
    "server returned 5",
    "server returned 403",
    "server returned 429",
    "certificate verify failed",
    "tls handshake",
    "error in the pull function",
    "input/output error",
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
    killed by a signal, ran out of disk space or could not read a source
    URL (network, storage, expired signature), SourceNotFound when the
    storage says the source is gone (404), UnsupportedMedia for any other
    failure (the source probed fine, so it is the source's fault).
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
    lowered = text.lower()
    if "no space left on device" in lowered:
        return TransientError(f"ffmpeg ran out of disk space while trying to {action}")
    if "server returned 404" in lowered:
        return SourceNotFound(f"ffmpeg could not {action}: the source is no longer in storage")
    if any(pattern in lowered for pattern in _NETWORK):
        detail = _last_error_line(text)
        return TransientError(f"ffmpeg could not read the source to {action}" + (f": {detail}" if detail else ""))
    if "not on whitelist" in lowered:
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


class ProgressFraction:
    """Turns ffmpeg's output times into a clamped, never-decreasing progress fraction.

    Parameters:
      duration_seconds: the output time that is 1.0.
      on_progress: called with each new, higher fraction.
    """

    def __init__(self, duration_seconds: float, on_progress: Callable[[float], None]) -> None:
        self.duration = duration_seconds
        self.on_progress = on_progress
        self.last = 0.0

    def at(self, seconds: float) -> None:
        if self.duration <= 0:
            return
        fraction = min(max(seconds / self.duration, 0.0), 1.0)
        if fraction > self.last:
            self.last = fraction
            self.on_progress(fraction)

    def done(self) -> None:
        if self.last < 1.0:
            self.last = 1.0
            self.on_progress(1.0)
