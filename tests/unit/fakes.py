"""In-memory fakes of every domain port, with the same conditional semantics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Any

from domain.ai.model import EngineOutput
from domain.errors import SourceNotFound
from domain.jobs import JobKind, JobState
from domain.video.chapters import CANDIDATES_FILE, dump_candidates
from domain.video.model import MediaInfo


@dataclass
class FakeRow:
    """A job's row as the fake repository keeps it: ``started`` is the attempt's fence,
    ``result`` what ``complete`` was given, ``error`` what ``fail`` wrote."""

    id: Any
    status: Enum
    tenant_id: int | None = None
    started: datetime | None = None
    error: str | None = None
    result: Any = None


class FakeJobRepository:
    """The JobRepository of any kind: its transitions follow the kind's rules.

    Parameters:
      kind: the kind of job (statuses and transitions).
      rows: the rows there are.
    """

    def __init__(self, kind: JobKind, *rows: FakeRow) -> None:
        self.kind = kind
        self.rows = {row.id: row for row in rows}
        self.writes: list[tuple[str, Any]] = []
        self.created_at = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self._clock = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def status_of(self, job_id):
        row = self.rows.get(job_id)
        return row.status if row else None

    def state_of(self, job_id) -> JobState | None:
        row = self.rows.get(job_id)
        return JobState(row.status, row.tenant_id, self.created_at, row.started) if row else None

    def mark_processing(self, job_id) -> datetime | None:
        row = self.rows.get(job_id)
        if row is None or row.status not in self.kind.start_from:
            return None
        self._clock += timedelta(seconds=1)
        row.status, row.started, row.error = self.kind.processing, self._clock, None
        self.writes.append(("mark_processing", job_id))
        return self._clock

    def attempt_is_current(self, job_id, fence: datetime) -> bool:
        row = self.rows.get(job_id)
        return row is not None and row.status is self.kind.processing and row.started == fence

    def complete(self, job_id, result, *, fence: datetime) -> bool:
        row = self.rows.get(job_id)
        if row is None or row.status not in self.kind.complete_from or row.started != fence:
            return False
        row.status, row.result = self.kind.completed, result
        self.writes.append(("complete", job_id))
        return True

    def fail(self, job_id, reason: str, *, fence: datetime | None = None) -> bool:
        row = self.rows.get(job_id)
        if row is None or row.status not in self.kind.fail_from or (fence is not None and row.started != fence):
            return False
        row.status, row.error = self.kind.failed, reason
        self.writes.append(("fail", job_id))
        return True


class FakeLock:
    def __init__(self) -> None:
        self.held: set[str] = set()
        self.taken_by_others: set[str] = set()
        self.log: list[tuple[str, str]] = []

    def acquire(self, key: str) -> bool:
        if key in self.held or key in self.taken_by_others:
            return False
        self.held.add(key)
        self.log.append(("acquire", key))
        return True

    def release(self, key: str) -> None:
        self.held.discard(key)
        self.log.append(("release", key))


class FakeProgress:
    def __init__(self) -> None:
        self.reports: list[tuple[str, str, int, str]] = []

    def write(self, key: str, step: str, percent: int, message: str) -> None:
        self.reports.append((key, step, percent, message))

    def raise_to(self, key: str, step: str, percent: int, message: str) -> bool:
        last = next((report for report in reversed(self.reports) if report[0] == key), None)
        if last is not None and (percent < last[2] or (percent == last[2] and step != last[1])):
            return False
        self.write(key, step, percent, message)
        return True


class FakeStorage:
    def __init__(self, objects: dict[str, bytes] | None = None) -> None:
        self.objects = dict(objects or {})
        self.deleted: list[str] = []

    def size_of(self, key: str) -> int:
        if key not in self.objects:
            raise SourceNotFound(f"the source {key} does not exist")
        return len(self.objects[key])

    def download(self, key: str, dest: Path) -> None:
        if key not in self.objects:
            raise SourceNotFound(f"the source object {key!r} does not exist in the bucket")
        dest.write_bytes(self.objects[key])

    def upload(self, path: Path, key: str) -> None:
        self.objects[key] = path.read_bytes()

    def read_text(self, key: str) -> str:
        if key not in self.objects:
            raise SourceNotFound(f"the source {key} does not exist")
        return self.objects[key].decode()

    def write_text(self, key: str, text: str) -> None:
        self.objects[key] = text.encode()

    def read_head(self, key: str, size: int) -> bytes:
        self.size_of(key)
        return self.objects[key][:size]

    def exists(self, key: str) -> bool:
        return key in self.objects

    def list_keys(self, prefix: str) -> list[str]:
        return sorted(key for key in self.objects if key.startswith(prefix))

    def delete_keys(self, keys) -> None:
        self.deleted += keys
        for key in keys:
            self.objects.pop(key, None)

    def presigned_url(self, key: str, expires_seconds: int) -> str:
        return f"https://bucket.example/{key}?expires={expires_seconds}"


class FakeMedia:
    """Writes a plausible HLS tree; ``error`` (if set) is raised by ``fail_at``."""

    def __init__(self, info: MediaInfo | None = None, *, error: BaseException | None = None, fail_at: str = "",
                 slides: list | None = None) -> None:
        self.info = info or MediaInfo(duration_seconds=10.0, width=1280, height=720, has_audio=True)
        self.slides = slides  # the candidate slide changes (domain.video.chapters.Candidate) the encode finds
        self.error = error
        self.fail_at = fail_at
        self.ladders: list[list[Any]] = []
        self.workdirs: list[Path] = []
        self.probed: list[Any] = []
        self.encoded: list[str] = []
        self.stitched: list[list[int]] = []
        self.by_range = True

    def start_seconds(self, segment: Path) -> float:
        self._maybe_fail("start_seconds")
        return 1.4  # where ffmpeg's MPEG-TS segments start

    def _maybe_fail(self, step: str) -> None:
        if self.error is not None and self.fail_at == step:
            raise self.error

    def probe(self, source) -> MediaInfo:
        if isinstance(source, Path):
            self.workdirs.append(source.parent)
        self.probed.append(source)
        self._maybe_fail("probe")
        return self.info

    def sniff(self, head: bytes) -> None:
        self._maybe_fail("sniff")

    def reads_by_range(self, info: MediaInfo) -> bool:
        return self.by_range

    def encode_part(self, source, out_dir, info, ladder, part, on_progress, tiles_dir=None, slides_dir=None) -> dict:
        """One segment per rung named by the part's attempt and first segment; a tile; the slides of its
        range (of ``slides``); progress 0.5, 1."""
        self._maybe_fail(f"part {part.index}")
        self.encoded.append(f"part_{part.index:05d}")
        for rendition in ladder:
            segment = out_dir / rendition.name / part.attempt / f"seg_{part.first_segment:05d}.ts"
            segment.parent.mkdir(parents=True, exist_ok=True)
            segment.write_bytes(b"ts")
        if tiles_dir is not None:
            (tiles_dir / f"tile_{part.index:05d}.png").write_bytes(b"png")
        if slides_dir is not None and self.slides is not None:
            end = part.start_seconds + (part.duration_seconds or info.duration_seconds)
            self._write_slides(slides_dir, [c for c in self.slides if part.start_seconds <= c.at < end])
        on_progress(0.5)
        on_progress(1.0)
        return {"index": part.index, "attempt": part.attempt, "first_segment": part.first_segment}

    def encode_audio(self, source, out_dir, info, ladder, attempt, on_progress) -> dict | None:
        self._maybe_fail("audio")
        self.encoded.append("audio")
        on_progress(1.0)
        if not info.has_audio:
            return None
        segment = out_dir / "audio" / attempt / "seg_00000.ts"
        segment.parent.mkdir(parents=True, exist_ok=True)
        segment.write_bytes(b"aac")
        return {"attempt": attempt}

    def stitch_hls(self, hls_dir, ladder, parts, audio) -> Path:
        """Playlists listing each part's segment in order, and a master."""
        self._maybe_fail("stitch")
        self.stitched.append([part["index"] for part in parts])
        hls_dir.mkdir(parents=True, exist_ok=True)
        lines = ["#EXTM3U"]
        for rendition in ladder:
            (hls_dir / rendition.name).mkdir()
            segments = [f"{part['attempt']}/seg_{part['first_segment']:05d}.ts" for part in parts]
            (hls_dir / rendition.name / "index.m3u8").write_text(
                "#EXTM3U\n" + "".join(f"#EXTINF:6.0,\n{name}\n" for name in segments) + "#EXT-X-ENDLIST\n")
            width = rendition.height * 16 // 9 // 2 * 2
            lines += [f"#EXT-X-STREAM-INF:BANDWIDTH={rendition.video_kbps * 1000},RESOLUTION={width}x{rendition.height}",
                      f"{rendition.name}/index.m3u8"]
        if audio is not None:
            (hls_dir / "audio").mkdir()
            (hls_dir / "audio" / "index.m3u8").write_text(f"#EXTM3U\n#EXTINF:6.0,\n{audio['attempt']}/seg_00000.ts\n")
        master = hls_dir / "master.m3u8"
        master.write_text("\n".join(lines) + "\n")
        return master

    def stitch_storyboard(self, parts, tiles_dir, storyboard_dir, info) -> Path:
        (storyboard_dir / "storyboard").mkdir(parents=True, exist_ok=True)
        (storyboard_dir / "storyboard" / "sprite_000.jpg").write_bytes(b"\xff\xd8jpeg")
        vtt = storyboard_dir / "storyboard.vtt"
        vtt.write_text("WEBVTT\n" + "".join(f"\n{path.name}" for path in sorted(tiles_dir.iterdir())))
        return vtt

    def transcode_hls(self, source, out_dir, info, ladder, on_progress, storyboard_dir=None, slides_dir=None) -> Path:
        self._maybe_fail("transcode")
        self.ladders.append(list(ladder))
        out_dir.mkdir(parents=True)
        for fraction in (0.25, 0.1, 0.5, 1.0):  # 0.1: ffmpeg's clock may jitter backwards
            on_progress(fraction)
        lines = ["#EXTM3U"]
        for rendition in ladder:
            (out_dir / rendition.name).mkdir()
            (out_dir / rendition.name / "index.m3u8").write_text("#EXTM3U\n#EXTINF:6.0,\nseg_00000.ts\n")
            (out_dir / rendition.name / "seg_00000.ts").write_bytes(b"ts")
            width = rendition.height * 16 // 9 // 2 * 2
            lines += [f"#EXT-X-STREAM-INF:BANDWIDTH={rendition.video_kbps * 1000},RESOLUTION={width}x{rendition.height}",
                      f"{rendition.name}/index.m3u8"]
        master = out_dir / "master.m3u8"
        master.write_text("\n".join(lines) + "\n")
        if storyboard_dir is not None:
            (storyboard_dir / "storyboard").mkdir(parents=True, exist_ok=True)
            (storyboard_dir / "storyboard" / "sprite_000.jpg").write_bytes(b"\xff\xd8jpeg")
            (storyboard_dir / "storyboard.vtt").write_text("WEBVTT\n")
        if slides_dir is not None and self.slides is not None:
            self._write_slides(slides_dir, self.slides)
        return master

    @staticmethod
    def _write_slides(slides_dir: Path, candidates: list) -> None:
        slides_dir.mkdir(parents=True, exist_ok=True)
        for candidate in candidates:
            (slides_dir / candidate.image).write_bytes(b"\xff\xd8" + candidate.heading.encode())
        (slides_dir / CANDIDATES_FILE).write_text(dump_candidates(candidates))

    def thumbnail(self, source: Path, dest: Path, at_seconds: float) -> None:
        self._maybe_fail("thumbnail")
        dest.write_bytes(b"\xff\xd8jpeg")


class FakeEngine:
    """An Engine that runs a function of the request, with the sandbox's payload and input rules.

    Parameters:
      run: (request, source path or None, progress) -> result.
      takes_file: whether the payload's ``file_key`` names an input to download.
      files: name -> content of the files it hands back (written into the job's folder).
      rebuild: (request, name -> content of the files an earlier attempt saved) -> the result they hold;
        None: the engine always runs afresh. ``runs`` counts the runs.
    """

    def __init__(self, run, *, takes_file: bool = False, files: dict[str, bytes] | None = None, rebuild=None) -> None:
        self._run = run
        self.takes_file = takes_file
        self.files = dict(files or {})
        self.rebuild = rebuild
        self.runs = 0

    def prepare(self, payload):
        return dict(payload)

    def input_key(self, payload):
        return payload.get("file_key") if self.takes_file else None

    def run(self, request, source, workdir, progress):
        self.runs += 1
        result = self._run(request, source, progress)
        for name, content in self.files.items():
            (workdir / name).write_bytes(content)
        return EngineOutput(result, tuple(workdir / name for name in self.files))

    def earlier_output(self, request, fetch, workdir):
        if self.rebuild is None:
            return None
        folder = workdir / "earlier"
        folder.mkdir()
        if not all(fetch(name, folder / name) for name in self.files):
            return None
        saved = {name: (folder / name).read_bytes() for name in self.files}
        return EngineOutput(self.rebuild(request, saved), tuple(folder / name for name in self.files))


class FakePartsQueue:
    """Keeps what a fan-out sends: ("piece", kwargs) and ("check", kwargs, delay) in order."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def send_pieces(self, video_id, tenant_id, attempt, pieces) -> None:
        for piece in pieces:
            self.sent.append(("piece", {"video_id": video_id, "tenant_id": tenant_id, "attempt": attempt,
                                        "piece": piece}))

    def check(self, video_id, tenant_id, attempt, *, delay_seconds=0, watch=None) -> None:
        self.sent.append(("check", {"video_id": video_id, "tenant_id": tenant_id, "attempt": attempt,
                                    "watch": watch}, delay_seconds))

    def take(self) -> list[tuple]:
        sent, self.sent = self.sent, []
        return sent


class FakePartsBoard:
    def __init__(self) -> None:
        self.entries: dict[str, dict[str, dict]] = {}

    def start(self, key, attempt, pieces) -> None:
        self.entries[key] = {piece: {"attempt": attempt, "state": "queued", "seconds": 0.0, "label": label}
                             for piece, label in pieces.items()}

    def record(self, key, attempt, piece, state, *, worker="", seconds=0.0, reason="") -> dict[str, float]:
        self.entries.setdefault(key, {})[piece] = {"attempt": attempt, "state": state, "seconds": seconds,
                                                   "worker": worker, "reason": reason}
        return {name: entry["seconds"] for name, entry in self.entries[key].items() if entry["attempt"] == attempt}


class FakeSources:
    def __init__(self) -> None:
        self.opened: list[tuple[str, str, bool]] = []
        self.forgotten: list[str] = []

    def open(self, key, attempt, *, by_range):
        self.opened.append((key, attempt, by_range))
        return f"https://bucket.example/{key}" if by_range else Path("/copies") / attempt / "source"

    def forget(self, attempt) -> None:
        self.forgotten.append(attempt)
