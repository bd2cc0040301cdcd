"""Running one ffmpeg process: progress, stderr, time limit, and always reaping it."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from adapters.media.safety import scrub
from domain.errors import ProcessingTimeout, TransientError, UnsupportedMedia

# Longest wait between two looks at the clock; also bounds how long an
# asynchronous exception (Dramatiq's Shutdown, TimeLimitExceeded) can be
# held up, since Python delivers those only between bytecodes.
_POLL_SECONDS = 0.25
_STDERR_TAIL_BYTES = 8192
_READ_BYTES = 65536
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
) -> None:
    """Run ffmpeg to completion, or raise the domain error that describes why not.

    Parameters:
      args: the full command line, executable first.
      action: what the run does, as a verb phrase for reasons
        ("transcode the source").
      timeout_seconds: the limit on the whole run, from start to exit.
      cwd: the working directory for relative output names.
      on_out_time: called with the output time in seconds each time
        ``-progress pipe:1`` reports it (only meaningful with that option).

    stdout (progress) and stderr (errors) are both read by one loop with a
    selector, so neither pipe can fill up and block ffmpeg, and no thread is
    needed. Whatever happens - success, failure, timeout, an exception from
    ``on_out_time`` or an asynchronous exception - the child is killed if
    still running and waited for before this returns or raises.

    Raises ProcessingTimeout past the limit, TransientError when ffmpeg was
    killed by a signal or ran out of disk space, UnsupportedMedia for any
    other failure (the source probed fine, so it is the source's fault).
    """
    deadline = time.monotonic() + timeout_seconds
    timed_out = ProcessingTimeout(f"ffmpeg took longer than {timeout_seconds:g} s to {action}")
    proc: subprocess.Popen[bytes] | None = None
    try:
        proc = subprocess.Popen(
            list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd
        )
        stderr_tail = _pump(proc, deadline, _ProgressLines(on_out_time), timed_out)
        try:
            returncode = proc.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            raise timed_out from None
    finally:
        if proc is not None:
            _reap(proc)
    if returncode != 0:
        raise _failure(returncode, stderr_tail, action)


def _pump(proc: subprocess.Popen[bytes], deadline: float, lines: _ProgressLines, timed_out: Exception) -> bytes:
    """Read both pipes until ffmpeg closes them; return the tail of stderr."""
    stderr_tail = b""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ, "out")
        selector.register(proc.stderr, selectors.EVENT_READ, "err")
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise timed_out
            for key, _ in selector.select(min(remaining, _POLL_SECONDS)):
                chunk = os.read(key.fd, _READ_BYTES)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.data == "out":
                    lines.feed(chunk)
                else:
                    stderr_tail = (stderr_tail + chunk)[-_STDERR_TAIL_BYTES:]
    return stderr_tail


def _reap(proc: subprocess.Popen[bytes]) -> None:
    # Kill first: even if the wait below is interrupted, ffmpeg is dead and
    # the Popen object reaps the zombie later.
    try:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    finally:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def _failure(returncode: int, stderr_tail: bytes, action: str) -> Exception:
    text = stderr_tail.decode("utf-8", errors="replace")
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


class _ProgressLines:
    """Splits ``-progress`` output into ``key=value`` lines and reports out_time."""

    def __init__(self, on_out_time: Callable[[float], None] | None) -> None:
        self.on_out_time = on_out_time
        self.pending = b""
        self.has_us = False

    def feed(self, chunk: bytes) -> None:
        if self.on_out_time is None:
            return
        *complete, self.pending = (self.pending + chunk).split(b"\n")
        for raw in complete:
            key, _, value = raw.decode("ascii", errors="replace").strip().partition("=")
            # out_time_ms is in microseconds too (a historical ffmpeg quirk);
            # both are written, "N/A" before the first frame is out.
            if not value.lstrip("-").isdigit():
                continue
            if key == "out_time_us" or (key == "out_time_ms" and not self.has_us):
                self.has_us = self.has_us or key == "out_time_us"
                self.on_out_time(max(int(value), 0) / 1_000_000)
