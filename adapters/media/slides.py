"""Candidate slide changes of one ffmpeg run over one time range (CONTRACT 4c's detection).

``SlideWatcher`` reads what the run's slide branch (``slide_branch``) writes
while ffmpeg is still running: the heading zone's difference from one sample
to the next (10 a second) and a JPEG frame every half second. A candidate is
an abrupt change of the zone that settles: the zone changes by CHANGE or
more, stops moving (below STILL for SETTLE_SECONDS) within MAX_TRANSITION of
the change, and is read READ_AFTER after the change at the earliest (later
while it still moves). Scrolling and continuous motion settle too late and
are no candidates; the range's start is one (its slide as it opens). For each
candidate one frame is kept and read (heading, thumbnail, a 160 px JPEG);
every other frame is deleted as soon as no candidate can want it, so a long
encode keeps a few frames on disk, not hours of them.

Times are absolute (``offset_seconds`` + the run's own time): the candidates of
every part of a video go to the same decision (``domain.video.chapters.decide``).
Whether a candidate is a chapter is not decided here.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from adapters.media.headings import Heading, HeadingReader, save_image, signature
from adapters.media.slide_branch import HEADING_ZONE, PLAIN_PATH, SlideOutput
from domain.video.chapters import CANDIDATES_FILE, Candidate, dump_candidates

log = logging.getLogger(__name__)

CHANGE = 1.0  # MAFD (percent of full scale) of a sample that starts a change
STILL = 0.5  # MAFD under which the zone is still (a pointer, compression noise)
SETTLE_SECONDS = 0.5  # how long the zone must be still to be read
READ_AFTER = 1.0  # the earliest a slide is read after its change
MAX_TRANSITION = 2.0  # a change that moves for longer is motion (a scroll, a video), not a new slide
# OCR is the costly part: a video that flashes new slides without end gets at most READ_BURST
# reads plus one per READ_EVERY_SECONDS; past that its changes stay candidates, unread.
READ_BURST = 20
READ_EVERY_SECONDS = 6.0
MOTION_FILE = "motion.txt"
FRAMES = "frames"
_FRAME = "frame_{:06d}.jpg"


@dataclass
class _Change:
    at: float  # when the zone began to change (the run's own time)
    moved: float  # the last sample that moved


class SlideWatcher:
    """Finds candidate slide changes in one ffmpeg run's slide branch, over one time range.

    Parameters:
      folder: the run's private folder for samples, frames and the candidates'
        images (created; emptied first).
      reader: reads headings (Tesseract).
      offset_seconds: where the run's time 0 is on the video's timeline (a part's start).
      sample_rate: motion samples per second.
      frame_rate: frames per second kept for OCR (a divisor of ``sample_rate``).
      zone: the part of the picture whose difference is measured (fractions x, y, width, height).
    """

    def __init__(self, folder: Path, reader: HeadingReader, *, offset_seconds: float = 0.0, sample_rate: int = 10,
                 frame_rate: int = 2, zone: tuple[float, float, float, float] = HEADING_ZONE) -> None:
        if sample_rate % frame_rate:
            raise ValueError("the frame rate must divide the sample rate")
        shutil.rmtree(folder, ignore_errors=True)
        (folder / FRAMES).mkdir(parents=True)
        self.folder = folder
        self.reader = reader
        self.offset = offset_seconds
        self.sample_rate = sample_rate
        self.frame_rate = frame_rate
        self.zone = zone
        self._read_at = 0  # bytes of the motion file already read
        self._partial = ""
        self._time: float | None = None  # the sample whose value comes next
        self._last = -1.0  # the last sample taken
        self._change: _Change | None = _Change(0.0, 0.0)  # the range opens with its slide
        self._moving_since: float | None = None  # set while the zone moves after a change that was motion
        self._kept: set[int] = set()
        self._waiting: list[tuple[float, int]] = []  # kept frames ffmpeg has not written yet
        self._deleted_below = 0
        self._reads: list[Future[Candidate | None]] = []
        self._ocr = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slide-ocr")
        self._reads_done = 0  # the OCR thread's own count
        self.failed = False

    def output(self, cwd: Path) -> SlideOutput:
        """The slide branch's output for a run whose working directory is ``cwd``.

        Parameters:
          cwd: the run's working directory.
        """
        relative = Path(os.path.relpath(self.folder, cwd))
        if not PLAIN_PATH.match(relative.as_posix()):
            raise ValueError(f"the slide watch's folder {relative} cannot be named in a filter graph")
        return SlideOutput(motion_file=(relative / MOTION_FILE).as_posix(),
                           frames_pattern=(relative / FRAMES / "frame_%06d.jpg").as_posix(),
                           sample_rate=self.sample_rate, frame_rate=self.frame_rate, zone=self.zone)

    def poll(self) -> None:
        """Take what the run wrote since the last poll (call it as ffmpeg reports progress); never raises."""
        if self.failed:
            return
        try:
            self._take(self._new_lines())
            self._read_written()
            self._forget_frames()
        except Exception:  # the encode must not fail for its chapters
            log.exception("the slide watch failed; this video gets no chapters")
            self.failed = True

    def finish(self) -> list[Candidate]:
        """After the run: the candidates (also written to ``candidates.json`` in the folder); [] on failure."""
        self.poll()
        try:
            if not self.failed:
                self._close()
                self._read_written(ended=True)
            found = [read.result() for read in self._reads] if not self.failed else []
        except Exception:
            log.exception("the slide watch failed; this video gets no chapters")
            found, self.failed = [], True
        finally:
            self._ocr.shutdown(wait=True, cancel_futures=True)
            shutil.rmtree(self.folder / FRAMES, ignore_errors=True)
        candidates = [candidate for candidate in found if candidate is not None]
        (self.folder / CANDIDATES_FILE).write_text(dump_candidates(candidates), encoding="utf-8")
        return candidates

    def stop(self) -> None:
        """The run failed: no candidates; the OCR thread is let go."""
        self.failed = True
        self._ocr.shutdown(wait=False, cancel_futures=True)

    def _new_lines(self) -> list[str]:
        path = self.folder / MOTION_FILE
        if not path.exists():
            return []
        with open(path, "rb") as handle:
            handle.seek(self._read_at)
            chunk = handle.read()
        self._read_at += len(chunk)
        text = self._partial + chunk.decode("ascii", errors="replace")
        lines = text.split("\n")
        self._partial = lines.pop()
        return lines

    def _take(self, lines: list[str]) -> None:
        # metadata=print writes "frame:N pts:P pts_time:T" and then "lavfi.scd.mafd=V" for each sample.
        for line in lines:
            if line.startswith("frame:"):
                time = line.rpartition("pts_time:")[2].strip()
                self._time = float(time) if _is_number(time) else None
            elif line.startswith("lavfi.scd.mafd=") and self._time is not None:
                value = line.partition("=")[2].strip()
                self._sample(self._time, float(value) if _is_number(value) else 0.0)
                self._time = None

    def _sample(self, t: float, mafd: float) -> None:
        self._last = t
        if self._moving_since is not None:  # motion, not a slide: wait until it stops
            if mafd >= STILL:
                self._moving_since = t
            elif t - self._moving_since >= SETTLE_SECONDS:
                self._moving_since = None
            return
        change = self._change
        if change is None:
            if mafd >= CHANGE:
                self._change = _Change(t, t)
            return
        if mafd >= STILL:
            change.moved = t
        if change.moved - change.at > MAX_TRANSITION:
            self._change, self._moving_since = None, t
        elif t - change.moved >= SETTLE_SECONDS - 1e-6 and t >= change.at + READ_AFTER - 1e-6:
            self._keep(change.at, math.floor(t * self.frame_rate + 1e-6))

    def _close(self) -> None:
        """The end of the run: a change still at the end is read from the last frame, however soon."""
        change = self._change
        if change is not None and self._last - change.moved >= SETTLE_SECONDS - 1e-6:
            last = max((_index(path) for path in (self.folder / FRAMES).glob("frame_*.jpg")), default=None)
            if last is not None and last / self.frame_rate > change.moved:
                self._keep(change.at, last)

    def _keep(self, at: float, index: int) -> None:
        self._change = None
        self._kept.add(index)
        self._waiting.append((at, index))

    def _read_written(self, *, ended: bool = False) -> None:
        """Hand the kept frames ffmpeg has written (all of them once it has ended) to the OCR thread."""
        waiting = []
        for at, index in self._waiting:
            if ended or (self.folder / FRAMES / _FRAME.format(index)).exists():
                self._reads.append(self._ocr.submit(self._read, at, index))
            else:
                waiting.append((at, index))
        self._waiting = waiting

    def _forget_frames(self) -> None:
        """Delete the frames no candidate can still want: those a half-second window before the last sample."""
        below = math.floor((self._last - SETTLE_SECONDS) * self.frame_rate + 1e-6)
        for index in range(self._deleted_below, max(below, 0)):
            if index not in self._kept:
                (self.folder / FRAMES / _FRAME.format(index)).unlink(missing_ok=True)
        self._deleted_below = max(self._deleted_below, below)

    def _read(self, at: float, index: int) -> Candidate | None:
        path = self.folder / FRAMES / _FRAME.format(index)
        try:
            with Image.open(path) as opened:
                frame = opened.convert("RGB")
        except (OSError, ValueError):
            log.warning("the frame at %.1f s for a slide change could not be read", index / self.frame_rate)
            return None
        name = f"slide_{index:06d}.jpg"
        width, height = save_image(frame, self.folder / name)
        gray = frame.convert("L")
        zone = signature(gray)
        heading = self._heading(gray, at)
        path.unlink(missing_ok=True)
        return Candidate(at=round(self.offset + at, 3), heading=heading.text, confidence=round(heading.confidence, 1),
                         height=round(heading.height, 4), signature=zone, image=name,
                         image_width=width, image_height=height)


    def _heading(self, gray: Image.Image, at: float) -> Heading:
        """The heading of a kept frame, unless the reads' budget is spent."""
        if self._reads_done >= READ_BURST + at / READ_EVERY_SECONDS:
            return Heading()
        self._reads_done += 1
        return self.reader.read(gray)


def _index(path: Path) -> int:
    return int(path.stem.rpartition("_")[2])


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
