"""Progress of one attempt: steps in order, a percent that never moves backwards."""

from __future__ import annotations

from collections.abc import Sequence

from domain.ports import ProgressSink


class Progress:
    """Reports the progress of one attempt of one job to a ProgressSink.

    Parameters:
      sink: where each report is written (Redis in production).
      key: the job's key, e.g. ``video:42``.
      steps: the ordered steps and the percent band of each.
      min_interval_percent: reports within a step that move the percent by
        less than this are dropped, so a long transcode writes ~100 times, not
        once per ffmpeg progress line.
    """

    def __init__(
        self,
        sink: ProgressSink,
        key: str,
        steps: dict[str, tuple[int, int]],
        *,
        min_interval_percent: int = 1,
    ) -> None:
        self._sink = sink
        self._key = key
        self._steps = steps
        self._order: Sequence[str] = list(steps)
        self._min_interval = min_interval_percent
        self._step_index = -1
        self._percent = -1

    @property
    def percent(self) -> int:
        return max(self._percent, 0)

    def step(self, name: str, fraction: float = 0.0, message: str = "") -> None:
        """Report ``fraction`` (0..1) of step ``name``; moves backwards are ignored."""
        index = self._order.index(name)
        if index < self._step_index:
            return
        low, high = self._steps[name]
        fraction = min(max(fraction, 0.0), 1.0)
        percent = max(low + round((high - low) * fraction), self._percent)
        if index == self._step_index and percent - self._percent < self._min_interval:
            return
        self._step_index, self._percent = index, percent
        self._sink.write(self._key, name, percent, message or name)

    def note(self, message: str) -> None:
        """Say why the current step (or the first, before any) is held up, keeping step and percent."""
        self._sink.write(self._key, self._order[max(self._step_index, 0)], self.percent, message)

    def failed(self, reason: str) -> None:
        """Report the terminal ``failed`` step, keeping the percent reached."""
        self._step_index = len(self._order)
        self._sink.write(self._key, "failed", self.percent, reason)
