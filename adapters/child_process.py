"""Running a child process under a deadline, reading its output line by line.

Shared by ffmpeg (adapters/media) and the AI engine sandbox (adapters/ai).
stdout and stderr are read by one loop with a selector, so neither pipe can
fill up and block the child, and no thread is needed. Whatever happens -
success, failure, timeout, an exception from a callback or an asynchronous
exception such as Dramatiq's Shutdown - the child is killed if still running
and waited for before ``run_child`` returns or raises.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

# Longest wait between two looks at the clock; also bounds how long an
# asynchronous exception (Dramatiq's Shutdown, TimeLimitExceeded) can be
# held up, since Python delivers those only between bytecodes.
POLL_SECONDS = 0.25
STDERR_TAIL_BYTES = 8192
_READ_BYTES = 65536


class Deadline:
    """A child's time limit, counted from when this is made; it may be pushed back while the child
    runs (an engine that turns out to have more to do), never brought forward.

    Parameters:
      seconds: the limit.
    """

    def __init__(self, seconds: float) -> None:
        self.started = time.monotonic()
        self.seconds = seconds

    def extend_to(self, seconds: float) -> None:
        """Make the limit ``seconds`` from the start, if that is later than it is."""
        self.seconds = max(self.seconds, seconds)

    def remaining(self) -> float:
        return self.started + self.seconds - time.monotonic()


def run_child(
    args: Sequence[str],
    *,
    timeout_seconds: float | Deadline,
    timed_out: Exception | Callable[[], Exception],
    on_line: Callable[[str], None] | None = None,
    stdin: bytes | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[int, str]:
    """Run a child to completion; return its exit status and the tail of its stderr.

    Parameters:
      args: the command line, executable first.
      timeout_seconds: the limit on the whole run (a Deadline: one that
        ``on_line`` may push back); past it the child is killed and
        ``timed_out`` raised.
      timed_out: the exception to raise on timeout, or a function making it
        (called then, so that it can tell the limit reached).
      on_line: called with each complete line the child writes to stdout.
      stdin: bytes written to the child's stdin before reading (then closed).
      cwd: the child's working directory.
      env: the child's environment (None: this process's).
    """
    deadline = timeout_seconds if isinstance(timeout_seconds, Deadline) else Deadline(timeout_seconds)
    proc: subprocess.Popen[bytes] | None = None
    try:
        proc = _start(args, stdin=stdin is not None, cwd=cwd, env=env)
        if stdin is not None and proc.stdin is not None:
            with proc.stdin:
                proc.stdin.write(stdin)
        stderr_tail = _pump(proc, deadline, _Lines(on_line), timed_out)
        try:
            returncode = proc.wait(timeout=max(deadline.remaining(), 0.01))
        except subprocess.TimeoutExpired:
            raise _exception(timed_out) from None
    finally:
        if proc is not None:
            _reap(proc)
    return returncode, stderr_tail.decode("utf-8", errors="replace")


def _start(
    args: Sequence[str], *, stdin: bool, cwd: Path | None, env: Mapping[str, str] | None
) -> subprocess.Popen[bytes]:
    # A platform stops a dyno by sending SIGTERM to every process in it
    # (Heroku, honcho). A child that died of that copy would exit first and
    # look like a failed job (ffmpeg exits 255, "received signal 15"), before
    # the worker's own Shutdown arrives and returns the message. So the child
    # starts with SIGTERM blocked (a signal mask survives exec; this thread's
    # is restored at once): the worker alone ends it, by killing it.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        return subprocess.Popen(
            list(args),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=None if env is None else dict(env),
        )
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _pump(proc: subprocess.Popen[bytes], deadline: Deadline, lines: _Lines,
          timed_out: Exception | Callable[[], Exception]) -> bytes:
    """Read both pipes until the child closes them; return the tail of stderr."""
    stderr_tail = b""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ, "out")
        selector.register(proc.stderr, selectors.EVENT_READ, "err")
        while selector.get_map():
            remaining = deadline.remaining()
            if remaining <= 0:
                raise _exception(timed_out)
            for key, _ in selector.select(min(remaining, POLL_SECONDS)):
                chunk = os.read(key.fd, _READ_BYTES)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.data == "out":
                    lines.feed(chunk)
                else:
                    stderr_tail = (stderr_tail + chunk)[-STDERR_TAIL_BYTES:]
    lines.flush()
    return stderr_tail


def _exception(timed_out: Exception | Callable[[], Exception]) -> Exception:
    return timed_out if isinstance(timed_out, BaseException) else timed_out()


def _reap(proc: subprocess.Popen[bytes]) -> None:
    # Kill first: even if the wait below is interrupted, the child is dead
    # and the Popen object reaps the zombie later.
    try:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    finally:
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()


class _Lines:
    """Splits a byte stream into text lines for ``on_line``."""

    def __init__(self, on_line: Callable[[str], None] | None) -> None:
        self.on_line = on_line
        self.pending = b""

    def feed(self, chunk: bytes) -> None:
        if self.on_line is None:
            return
        *complete, self.pending = (self.pending + chunk).split(b"\n")
        for raw in complete:
            self.on_line(raw.decode("utf-8", errors="replace"))

    def flush(self) -> None:
        if self.on_line is not None and self.pending:
            self.on_line(self.pending.decode("utf-8", errors="replace"))
        self.pending = b""
