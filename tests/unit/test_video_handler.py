"""ProcessVideoJobHandler against in-memory fakes of every port."""

from __future__ import annotations

import pytest

from domain.errors import JobNotFound, LockBusy, SourceNotFound, TransientError, UnsafeKey, UnsupportedMedia
from domain.flow import Outcome
from domain.video.handler import ProcessVideoJobHandler, VideoLimits
from domain.video.model import VIDEO, MediaInfo, VideoJob, VideoStatus
from tests.unit.fakes import FakeJobRepository, FakeLock, FakeMedia, FakeProgress, FakeRow, FakeStorage

SOURCE = "uploads/7/42/source.mp4"


def build(status=VideoStatus.UPLOADED, *, media=None, objects=None, limits=None):
    repo = FakeJobRepository(VIDEO, FakeRow(42, status, tenant_id=7))
    lock, progress = FakeLock(), FakeProgress()
    storage = FakeStorage({SOURCE: b"x" * 100} if objects is None else objects)
    media = media or FakeMedia()
    handler = ProcessVideoJobHandler(
        jobs=repo, lock=lock, progress=progress, storage=storage, media=media, limits=limits
    )
    return handler, repo, lock, progress, storage, media


JOB = VideoJob(video_id=42, file_key=SOURCE, tenant_id=7)


def test_happy_path_writes_ready_row_outputs_and_monotonic_progress():
    handler, repo, lock, progress, storage, media = build()
    assert handler.handle(JOB) is Outcome.COMPLETED
    row = repo.rows[42]
    assert row.status is VideoStatus.READY
    assert row.result.hls_path == "videos/7/42/hls/master.m3u8"
    assert row.result.thumbnail_key == "videos/7/42/thumbnail.jpg"
    assert row.result.duration_seconds == 10.0
    assert "videos/7/42/hls/720p/index.m3u8" in storage.objects
    assert "videos/7/42/hls/1080p/index.m3u8" not in storage.objects  # never above the source
    # The storyboard lies beside hls/, at the names CONTRACT 4a gives.
    assert {"videos/7/42/storyboard.vtt", "videos/7/42/storyboard/sprite_000.jpg"} <= set(storage.objects)
    assert repo.writes == [("mark_processing", 42), ("complete", 42)]
    assert lock.log == [("acquire", "video:42"), ("release", "video:42")]
    steps = [r[1] for r in progress.reports]
    assert steps[0] == "downloading" and steps[-1] == "done"
    order = ["downloading", "probing", "transcoding", "thumbnail", "uploading", "finalizing", "done"]
    assert [s for s in order if s in steps] == order
    percents = [r[2] for r in progress.reports]
    assert percents == sorted(percents) and percents[-1] == 100
    assert not media.workdirs[0].exists()  # temp dir removed


def test_shared_prefix_without_tenant():
    handler, repo, *_ = build()
    handler.handle(VideoJob(video_id=42, file_key=SOURCE, tenant_id=None))
    assert repo.rows[42].result.hls_path == "videos/shared/42/hls/master.m3u8"


def test_ready_row_is_skipped_without_writes_or_processing():
    handler, repo, lock, progress, storage, media = build(VideoStatus.READY)
    assert handler.handle(JOB) is Outcome.SKIPPED
    assert repo.writes == [] and media.workdirs == [] and progress.reports == []
    assert lock.held == set()


@pytest.mark.parametrize("status", [VideoStatus.PENDING, VideoStatus.PROCESSING, VideoStatus.FAILED])
def test_every_startable_status_is_processed(status):
    handler, repo, *_ = build(status)
    assert handler.handle(JOB) is Outcome.COMPLETED
    assert repo.rows[42].status is VideoStatus.READY


def test_busy_lock_is_transient_and_touches_nothing():
    handler, repo, lock, *_ = build()
    lock.taken_by_others.add("video:42")
    with pytest.raises(LockBusy) as caught:
        handler.handle(JOB)
    assert isinstance(caught.value, TransientError)
    assert repo.writes == []


def test_missing_row_is_permanent():
    handler, *_ = build()
    with pytest.raises(JobNotFound, match="video 99 does not exist"):
        handler.handle(VideoJob(video_id=99, file_key=SOURCE))


@pytest.mark.parametrize(
    "media,objects,error,reason",
    [
        (None, {}, SourceNotFound, "does not exist"),
        (None, {SOURCE: b""}, UnsupportedMedia, "the source file is empty"),
        (FakeMedia(error=UnsupportedMedia("the source is not a video file"), fail_at="probe"), None,
         UnsupportedMedia, "not a video file"),
    ],
)
def test_permanent_errors_fail_row_with_reason_and_release(media, objects, error, reason):
    handler, repo, lock, progress, *_ = build(media=media, objects=objects)
    with pytest.raises(error):
        handler.handle(JOB)
    row = repo.rows[42]
    assert row.status is VideoStatus.FAILED and reason in row.error
    assert progress.reports[-1][1] == "failed"
    assert lock.held == set()


def test_unsafe_key_fails_row():
    handler, repo, *_ = build(objects={"../etc/passwd": b"x"})
    with pytest.raises(UnsafeKey):
        handler.handle(VideoJob(video_id=42, file_key="../etc/passwd"))
    assert repo.rows[42].status is VideoStatus.FAILED


def test_limits_are_permanent():
    media = FakeMedia(MediaInfo(duration_seconds=7200, width=1920, height=1080, has_audio=True))
    handler, repo, *_ = build(media=media, limits=VideoLimits(max_duration_seconds=3600))
    with pytest.raises(UnsupportedMedia.__mro__[1]):
        handler.handle(JOB)
    assert "7200 s long; the limit is 3600 s" in repo.rows[42].error
    handler, repo, *_ = build(limits=VideoLimits(max_source_bytes=10))
    with pytest.raises(UnsupportedMedia.__mro__[1]):
        handler.handle(JOB)
    assert "limit" in repo.rows[42].error


def test_transient_error_leaves_row_processing_releases_lock_and_reraises():
    media = FakeMedia(error=TransientError("S3 answered 503"), fail_at="transcode")
    handler, repo, lock, *_ = build(media=media)
    with pytest.raises(TransientError):
        handler.handle(JOB)
    assert repo.rows[42].status is VideoStatus.PROCESSING
    assert lock.held == set()
    assert not media.workdirs[0].exists()


def test_interrupt_releases_lock():
    media = FakeMedia(error=KeyboardInterrupt(), fail_at="transcode")
    handler, repo, lock, *_ = build(media=media)
    with pytest.raises(KeyboardInterrupt):
        handler.handle(JOB)
    assert lock.held == set()


def test_stale_attempt_cannot_overwrite_newer_one():
    handler, repo, *_ = build()
    original = repo.complete

    def newer_attempt_takes_over(video_id, output, *, fence):
        repo.mark_processing(video_id)  # another worker, after our lock expired
        return original(video_id, output, fence=fence)

    repo.complete = newer_attempt_takes_over
    assert handler.handle(JOB) is Outcome.SUPERSEDED
    assert repo.rows[42].status is VideoStatus.PROCESSING


def test_give_up_fails_unfinished_row_but_never_a_ready_one():
    handler, repo, _, progress, *_ = build(VideoStatus.PROCESSING)
    assert handler.give_up(42, "gave up after 5 attempts") is True
    assert repo.rows[42].status is VideoStatus.FAILED
    assert progress.reports[-1][1:] == ("failed", 0, "gave up after 5 attempts")
    handler, repo, *_ = build(VideoStatus.READY)
    assert handler.give_up(42, "late") is False
    assert repo.rows[42].status is VideoStatus.READY


def test_give_up_leaves_a_row_that_another_worker_is_running():
    handler, repo, lock, *_ = build(VideoStatus.PROCESSING)
    lock.taken_by_others.add("video:42")
    assert handler.give_up(42, "gave up") is False
    assert repo.rows[42].status is VideoStatus.PROCESSING


def test_an_attempt_taken_over_while_stalled_uploads_nothing():
    media = FakeMedia()
    handler, repo, lock, progress, storage, _ = build(media=media)
    original = media.thumbnail

    def stall_then_lose_the_row(source, dest, at_seconds):
        original(source, dest, at_seconds)
        repo.mark_processing(42)  # another worker took over while this one was stalled

    media.thumbnail = stall_then_lose_the_row
    assert handler.handle(JOB) is Outcome.SUPERSEDED
    assert [k for k in storage.objects if k.startswith("videos/")] == []
    assert repo.rows[42].status is VideoStatus.PROCESSING and lock.held == set()


def test_keys_outside_the_allowed_prefixes_fail_permanently():
    handler, repo, *_ = build(limits=VideoLimits(allowed_prefixes=("uploads/",)))
    handler.handle(JOB)
    assert repo.rows[42].status is VideoStatus.READY
    handler, repo, *_ = build(objects={"private/secret.mp4": b"x"}, limits=VideoLimits(allowed_prefixes=("uploads/",)))
    with pytest.raises(UnsafeKey):
        handler.handle(VideoJob(video_id=42, file_key="private/secret.mp4"))
    assert repo.rows[42].error == "file_key is outside the allowed prefixes (uploads/)"


def test_a_reencode_removes_the_segments_its_playlists_no_longer_list_and_keeps_the_rest():
    old = {f"videos/7/42/hls/720p/20261201T100000000000/seg_{n:05d}.ts": b"ts" for n in range(3)}
    kept = {"videos/7/42/hls/subs/en/captions.vtt": b"WEBVTT", "videos/7/42/hls/720p/seg_00000.ts": b"old"}
    handler, repo, lock, progress, storage, media = build(objects={SOURCE: b"x" * 100, **old, **kept})
    assert handler.handle(JOB) is Outcome.COMPLETED
    assert not set(old) & set(storage.objects)  # an earlier encode's segments, listed by no playlist now
    assert set(kept) <= set(storage.objects)  # captions stay; the new encode's own segment is listed
