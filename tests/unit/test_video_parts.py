"""A long video in parts, on fakes of every port: fan-out, pieces, fan-in, and what goes wrong."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from domain.errors import InvalidMessage, LockBusy, UnsupportedMedia
from domain.flow import Outcome
from domain.video.chapter_outputs import ChapterOutputs
from domain.video.chapters import Candidate
from domain.video.fan_in import CheckPartsHandler
from domain.video.fan_out import VideoParts
from domain.video.handler import ProcessVideoJobHandler
from domain.video.model import VIDEO, MediaInfo, VideoJob, VideoStatus
from domain.video.parts import Layout, PartsPolicy, attempt_name, plan_parts
from domain.video.pieces import EncodePieceHandler
from tests.unit.fakes import (
    FakeJobRepository,
    FakeLock,
    FakeMedia,
    FakePartsBoard,
    FakePartsQueue,
    FakeProgress,
    FakeRow,
    FakeSources,
    FakeStorage,
)

SOURCE = "uploads/7/42/lecture.mp4"
JOB = VideoJob(42, SOURCE, 7)
LONG = MediaInfo(duration_seconds=230.0, width=1920, height=1080, has_audio=True, format_name="mov,mp4")
POLICY = PartsPolicy(min_seconds=120, part_seconds=60, segment_seconds=6, check_seconds=300, stall_seconds=900,
                     deadline_seconds=3600)


class World:
    """One video, the worker's handlers on fakes, and a queue the test drives by hand."""

    def __init__(self, info: MediaInfo = LONG, policy: PartsPolicy = POLICY, status=VideoStatus.UPLOADED) -> None:
        self.now = datetime(2026, 12, 5, 10, 0, tzinfo=timezone.utc)
        self.videos = FakeJobRepository(VIDEO, FakeRow(42, status, tenant_id=7))
        self.lock, self.progress = FakeLock(), FakeProgress()
        self.storage = FakeStorage({SOURCE: b"\x00\x00\x00\x18ftypmp42" + b"x" * 100})
        self.media = FakeMedia(info)
        self.queue, self.board, self.sources = FakePartsQueue(), FakePartsBoard(), FakeSources()
        parts = VideoParts(policy=policy, queue=self.queue, board=self.board, storage=self.storage,
                           clock=lambda: self.now)
        self.video = ProcessVideoJobHandler(jobs=self.videos, lock=self.lock, progress=self.progress,
                                            storage=self.storage, media=self.media, parts=parts)
        self.pieces = EncodePieceHandler(videos=self.videos, lock=self.lock, progress=self.progress,
                                         storage=self.storage, media=self.media, board=self.board, queue=self.queue,
                                         sources=self.sources, worker="host:1")
        self.checks = CheckPartsHandler(videos=self.videos, lock=self.lock, progress=self.progress,
                                        storage=self.storage, media=self.media, queue=self.queue, policy=policy,
                                        chapters=ChapterOutputs(self.storage, min_seconds=20),
                                        clock=lambda: self.now)

    @property
    def row(self) -> FakeRow:
        return self.videos.rows[42]

    @property
    def attempt(self) -> str:
        return attempt_name(self.row.started)

    def run(self, message: tuple) -> Outcome:
        kind, kwargs = message[0], message[1]
        if kind == "piece":
            return self.pieces.handle(**kwargs)
        return self.checks.handle(**kwargs)

    def drain(self, skip_delayed: bool = True) -> list[Outcome]:
        """Run every message sent so far (and those they send), delayed checks aside."""
        outcomes = []
        while True:
            ready = [m for m in self.queue.take() if not (skip_delayed and m[0] == "check" and m[2] > 0)]
            if not ready:
                return outcomes
            outcomes += [self.run(message) for message in ready]


def test_a_long_video_fans_out_check_first_then_plan_then_pieces_and_stays_processing():
    world = World()
    assert world.video.handle(JOB) is Outcome.DEFERRED
    assert world.row.status is VideoStatus.PROCESSING and world.row.result is None
    sent = world.queue.take()
    assert sent[0][0] == "check" and sent[0][2] == 300 and sent[0][1]["watch"] == {"done": 0, "since": world.now.isoformat()}
    assert [m[1]["piece"] for m in sent[1:]] == ["audio", "part_00000", "part_00001", "part_00002", "part_00003"]
    plan = json.loads(world.storage.objects[Layout("videos/7/42", world.attempt).plan])
    assert [part["duration_seconds"] for part in plan["parts"]] == [60, 60, 60, None]
    assert world.media.probed == [f"https://bucket.example/{SOURCE}?expires=21600"]  # probed by URL, not downloaded
    assert world.progress.reports[-1][1:] == ("transcoding", 12, "encoding in 4 parts")


def test_a_short_video_takes_one_pass_even_with_parts_on():
    world = World(MediaInfo(duration_seconds=60, width=1280, height=720, has_audio=True))
    assert world.video.handle(JOB) is Outcome.COMPLETED
    assert world.row.status is VideoStatus.READY and world.queue.sent == []


def test_parts_off_or_queue_missing_means_one_pass():
    for policy in (PartsPolicy(min_seconds=None), PartsPolicy(min_seconds=120, queue_ready=False)):
        world = World(policy=policy)
        assert world.video.handle(JOB) is Outcome.COMPLETED and world.queue.sent == []
        assert world.media.probed and all(not isinstance(p, str) for p in world.media.probed)


def test_pieces_then_their_checks_stitch_the_video_once_with_every_segment_in_order():
    world = World()
    world.video.handle(JOB)
    attempt = world.attempt
    outcomes = world.drain()
    assert outcomes.count(Outcome.COMPLETED) == 6  # five pieces and the one check that stitched
    assert world.row.status is VideoStatus.READY and world.videos.writes.count(("complete", 42)) == 1
    assert world.row.result.hls_path == "videos/7/42/hls/master.m3u8"
    assert world.media.stitched == [[0, 1, 2, 3]]
    playlist = world.storage.objects["videos/7/42/hls/1080p/index.m3u8"].decode()
    assert [line for line in playlist.splitlines() if line.endswith(".ts")] == [
        f"{attempt}/seg_{n:05d}.ts" for n in (0, 10, 20, 30)]
    assert f"videos/7/42/hls/audio/{attempt}/seg_00000.ts" in world.storage.objects
    assert "videos/7/42/thumbnail.jpg" in world.storage.objects
    assert "tile_00003.png" in world.storage.objects["videos/7/42/storyboard.vtt"].decode()
    assert world.storage.list_keys("videos/7/42/parts/") == []  # the attempt's plan and records are cleaned up
    assert [r[1] for r in world.progress.reports][-3:] == ["uploading", "finalizing", "done"]
    percents = [r[2] for r in world.progress.reports]
    assert percents == sorted(percents)


def test_a_piece_check_before_the_others_are_done_does_nothing():
    world = World()
    world.video.handle(JOB)
    pieces = [m for m in world.queue.take() if m[0] == "piece"]
    assert world.run(pieces[0]) is Outcome.COMPLETED
    (check,) = world.queue.take()
    assert world.run(check) is Outcome.SKIPPED and world.row.status is VideoStatus.PROCESSING


def test_a_duplicate_of_the_api_message_during_the_fan_out_starts_nothing():
    world = World()
    world.video.handle(JOB)
    world.queue.take()
    writes = list(world.videos.writes)
    assert world.video.handle(JOB) is Outcome.SKIPPED
    assert world.videos.writes == writes and world.queue.sent == []


def named(messages: list, piece: str) -> tuple:
    """The message of ``piece`` among the sent ones."""
    return next(m for m in messages if m[0] == "piece" and m[1]["piece"] == piece)


def test_a_duplicate_piece_writes_once_and_still_asks_for_the_check():
    world = World()
    world.video.handle(JOB)
    piece = named(world.queue.take(), "part_00000")
    world.run(piece)
    world.queue.take()
    assert world.run(piece) is Outcome.SKIPPED and world.media.encoded == ["part_00000"]
    assert [m[0] for m in world.queue.take()] == ["check"]


def test_a_piece_locked_elsewhere_comes_back_later():
    world = World()
    world.video.handle(JOB)
    piece = named(world.queue.take(), "part_00000")
    world.lock.taken_by_others.add("video:42:part_00000")
    with pytest.raises(LockBusy, match="part 1 of 4"):
        world.run(piece)


def test_a_reencode_supersedes_the_older_attempt_whose_late_pieces_write_nothing():
    world = World()
    world.video.handle(JOB)
    old = world.queue.take()
    old_attempt = world.attempt
    world.row.status = VideoStatus.UPLOADED  # the API sets the row back, then sends again
    assert world.video.handle(JOB) is Outcome.DEFERRED and world.attempt != old_attempt
    new = world.queue.take()
    before = set(world.storage.objects)
    assert {world.run(m) for m in old if m[0] == "piece"} == {Outcome.SUPERSEDED}
    assert world.run(old[0]) is Outcome.SKIPPED  # the old attempt's delayed check stops
    assert set(world.storage.objects) == before
    for message in new:
        if message[0] == "piece":
            world.run(message)
    world.drain()
    assert world.row.status is VideoStatus.READY
    assert all(old_attempt not in line for line in
               world.storage.objects["videos/7/42/hls/1080p/index.m3u8"].decode().splitlines())


def test_a_deleted_row_stops_its_pieces_and_checks_without_writing():
    world = World()
    world.video.handle(JOB)
    sent = world.queue.take()
    del world.videos.rows[42]
    before = dict(world.storage.objects)
    assert [world.run(m) for m in sent] == [Outcome.SKIPPED] + [Outcome.SUPERSEDED] * 5
    assert world.storage.objects == before


def test_a_piece_that_fails_for_good_fails_the_video_once_naming_its_range():
    world = World()
    world.media.error, world.media.fail_at = UnsupportedMedia("the source could not be decoded"), "part 2"
    world.video.handle(JOB)
    piece = next(m for m in world.queue.take() if m[0] == "piece" and m[1]["piece"] == "part_00002")
    with pytest.raises(UnsupportedMedia):
        world.run(piece)
    assert world.board.entries["video:42"]["part_00002"]["state"] == "failed"
    assert world.pieces.give_up(**piece[1], reason="the source could not be decoded") is True
    assert world.row.status is VideoStatus.FAILED
    assert world.row.error == "part 3 of 4 (2:00-3:00) could not be encoded: the source could not be decoded"
    assert world.pieces.give_up(**piece[1], reason="again") is False  # once
    assert world.videos.writes.count(("fail", 42)) == 1


def test_an_older_attempts_piece_giving_up_never_fails_the_newer_attempt():
    world = World()
    world.video.handle(JOB)
    old = next(m for m in world.queue.take() if m[0] == "piece")
    world.row.status = VideoStatus.UPLOADED
    world.video.handle(JOB)
    assert world.pieces.give_up(**old[1], reason="boom") is False
    assert world.row.status is VideoStatus.PROCESSING


def test_the_delayed_check_sends_lost_pieces_again_after_a_stall_then_finishes():
    world = World()
    world.video.handle(JOB)
    sent = world.queue.take()
    watch = sent[0]
    for message in sent[1:3]:  # two pieces run; the others are lost (a flushed Redis broker)
        world.run(message)
    world.queue.take()
    world.now += timedelta(seconds=300)
    assert world.run(watch) is Outcome.DEFERRED  # progress since the start: no resend yet
    (again,) = world.queue.take()
    assert again[1]["watch"]["done"] == 2 and again[2] == 300
    world.now += timedelta(seconds=901)
    assert world.run(again) is Outcome.DEFERRED
    resent = world.queue.take()
    assert [m[1]["piece"] for m in resent if m[0] == "piece"] == ["part_00001", "part_00002", "part_00003"]
    for message in resent:
        if message[0] == "piece":
            world.run(message)
    world.drain()
    assert world.row.status is VideoStatus.READY


def test_the_delayed_check_fails_a_fan_out_past_its_deadline_naming_the_missing_parts():
    world = World()
    world.video.handle(JOB)
    watch = world.queue.take()[0]
    world.now += timedelta(seconds=3601)
    assert world.run(watch) is Outcome.COMPLETED
    assert world.row.status is VideoStatus.FAILED
    assert world.row.error.startswith("5 of 5 parts of the video did not finish within 1 hours (the audio, part 1 of 4 (0:00-1:00)")
    assert world.queue.sent == []  # no further check


def test_a_fan_out_past_its_deadline_is_not_live_and_a_new_message_starts_over():
    world = World()
    world.video.handle(JOB)
    first = world.attempt
    world.queue.take()
    world.now += timedelta(seconds=3601)
    assert world.video.handle(JOB) is Outcome.DEFERRED and world.attempt != first


def test_the_transcoding_percent_is_the_share_of_seconds_encoded_and_never_moves_back():
    world = World()
    world.video.handle(JOB)
    sent = world.queue.take()
    world.run(named(sent, "part_00003"))  # the last part (50 s of 230)
    world.run(named(sent, "part_00000"))  # 60 s more
    transcoding = [r for r in world.progress.reports if r[1] == "transcoding"]
    assert transcoding[-1][2] == 12 + round(73 * 110 / 230)
    assert world.progress.raise_to("video:42", "transcoding", 13, "stale") is False
    assert "2 of 5 pieces done" in transcoding[-1][3]


def test_malformed_piece_messages_are_invalid_not_crashes():
    world = World()
    with pytest.raises(InvalidMessage, match="attempt"):
        world.pieces.handle(42, 7, "../../etc", "part_00000")
    with pytest.raises(InvalidMessage, match="piece"):
        world.pieces.handle(42, 7, "20261205T100000000000", "seg; rm")
    with pytest.raises(InvalidMessage, match="attempt"):
        world.checks.handle(42, 7, "a/b")


def test_parts_are_planned_on_the_segment_grid_and_a_sliver_joins_the_last_part():
    assert [(p.start_seconds, p.duration_seconds, p.first_segment) for p in
            plan_parts(123.0, part_seconds=60, segment_seconds=6, attempt="a")] == [(0, 60, 0), (60, None, 10)]
    assert len(plan_parts(126.0, part_seconds=60, segment_seconds=6, attempt="a")) == 3
    with pytest.raises(ValueError, match="multiple of the segment"):
        plan_parts(100, part_seconds=50, segment_seconds=6, attempt="a")


def slide(at: float, heading: str) -> Candidate:
    return Candidate(at=at, heading=heading, confidence=95.0, height=0.05, signature="10" * 256,
                     image=f"slide_{round(at * 2):06d}.jpg", image_width=160, image_height=90)


def test_chapters_come_from_every_parts_candidates_decided_at_the_fan_in():
    world = World()
    world.media.slides = [slide(0, "Why queues?"), slide(30, "Why queues?"), slide(70.5, "Retries"),
                          slide(130, "Locks and leases"), slide(185, "Locks and leases")]
    world.video.handle(JOB)
    world.drain()
    assert world.row.status is VideoStatus.READY
    document = json.loads(world.storage.objects["videos/7/42/hls/chapters.json"])
    assert [(entry["start-time"], entry["titles"][0]["title"]) for entry in document] == [
        (0.0, "Why queues?"), (70.5, "Retries"), (130.0, "Locks and leases")]
    assert '#EXT-X-SESSION-DATA:DATA-ID="com.apple.hls.chapters",URI="chapters.json"' in \
        world.storage.objects["videos/7/42/hls/master.m3u8"].decode()
    assert "videos/7/42/chapters.vtt" in world.storage.objects
    # A re-encode in parts that finds no slides leaves no chapters listed or readable.
    world.row.status, world.media.slides = VideoStatus.UPLOADED, None
    world.video.handle(JOB)
    world.drain()
    assert "videos/7/42/hls/chapters.json" not in world.storage.objects
    assert "videos/7/42/chapters.vtt" not in world.storage.objects
    assert "SESSION-DATA" not in world.storage.objects["videos/7/42/hls/master.m3u8"].decode()
