"""The video handler's chapters (CONTRACT 4c) against in-memory fakes: written, listed, and never left stale."""

from __future__ import annotations

import json

from domain.flow import Outcome
from domain.video import subtitles
from domain.video.chapter_files import SESSION_DATA
from domain.video.chapters import Candidate
from domain.video.handler import ProcessVideoJobHandler, VideoLimits
from domain.video.model import VIDEO, MediaInfo, VideoJob, VideoStatus
from tests.unit.fakes import FakeJobRepository, FakeLock, FakeMedia, FakeProgress, FakeRow, FakeStorage

SOURCE = "uploads/7/42/source.mp4"
PREFIX = "videos/7/42"
JOB = VideoJob(video_id=42, file_key=SOURCE, tenant_id=7)
INFO = MediaInfo(duration_seconds=150.0, width=1280, height=720, has_audio=True)


def slide(at: float, heading: str) -> Candidate:
    return Candidate(at=at, heading=heading, confidence=95.0, height=0.05, signature="10" * 256,
                     image=f"slide_{round(at * 2):06d}.jpg", image_width=160, image_height=90)


LECTURE = [slide(0, "Why message queues?"), slide(14, "Why message queues?"), slide(40.2, "최소 한 번 전달"),
           slide(95.5, "Locks and leases")]


def encode(storage: FakeStorage, slides: list[Candidate] | None, *, min_seconds: float = 20) -> FakeStorage:
    repo = FakeJobRepository(VIDEO, FakeRow(42, VideoStatus.UPLOADED, tenant_id=7))
    handler = ProcessVideoJobHandler(jobs=repo, lock=FakeLock(), progress=FakeProgress(), storage=storage,
                                     media=FakeMedia(INFO, slides=slides),
                                     limits=VideoLimits(chapter_min_seconds=min_seconds))
    assert handler.handle(JOB) is Outcome.COMPLETED
    return storage


def text(storage: FakeStorage, name: str) -> str:
    return storage.objects[f"{PREFIX}/{name}"].decode()


def test_a_lecture_gets_chapters_json_its_images_the_vtt_and_the_master_line():
    storage = encode(FakeStorage({SOURCE: b"x"}), LECTURE)
    document = json.loads(text(storage, "hls/chapters.json"))
    assert [(entry["chapter"], entry["start-time"], entry["titles"]) for entry in document] == [
        (1, 0.0, [{"language": "en", "title": "Why message queues?"}]),
        (2, 40.2, [{"language": "ko", "title": "최소 한 번 전달"}]),
        (3, 95.5, [{"language": "en", "title": "Locks and leases"}]),
    ]
    for entry in document:
        (image,) = entry["images"]
        assert image["url"] == f"chapters/chapter_{entry['chapter']:03d}.jpg"
        assert (image["image-category"], image["pixel-width"], image["pixel-height"]) == ("chapter", 160, 90)
        assert f"{PREFIX}/hls/{image['url']}" in storage.objects
    # The image is the slide of the candidate that opened the chapter (the fake writes its heading in it).
    assert storage.objects[f"{PREFIX}/hls/chapters/chapter_002.jpg"] == b"\xff\xd8" + "최소 한 번 전달".encode()
    assert text(storage, "chapters.vtt").startswith("WEBVTT\n\n1\n00:00:00.000 --> 00:00:40.200\nWhy message queues?")
    assert SESSION_DATA in text(storage, "hls/master.m3u8").splitlines()


def test_a_video_without_slides_gets_neither_file_nor_the_line():
    for slides in (None, [], [Candidate(at=0, signature="10" * 256, image="slide_000002.jpg")]):
        storage = encode(FakeStorage({SOURCE: b"x"}), slides)
        assert not [key for key in storage.objects if "chapters" in key]
        assert "SESSION-DATA" not in text(storage, "hls/master.m3u8")


def test_a_re_encode_that_finds_no_slides_removes_every_earlier_chapter_file():
    storage = encode(FakeStorage({SOURCE: b"x"}), LECTURE)
    assert len([key for key in storage.objects if "chapter" in key]) == 5
    encode(storage, [])
    assert not [key for key in storage.objects if "chapter" in key]
    assert "SESSION-DATA" not in text(storage, "hls/master.m3u8")
    assert set(storage.deleted) >= {f"{PREFIX}/hls/chapters.json", f"{PREFIX}/chapters.vtt",
                                    *(f"{PREFIX}/hls/chapters/chapter_{n:03d}.jpg" for n in (1, 2, 3))}


def test_a_re_encode_with_fewer_chapters_removes_the_images_past_its_last():
    storage = encode(FakeStorage({SOURCE: b"x"}), LECTURE)
    encode(storage, LECTURE[:3])
    assert [entry["chapter"] for entry in json.loads(text(storage, "hls/chapters.json"))] == [1, 2]
    assert sorted(key for key in storage.objects if "/chapters/" in key) == [
        f"{PREFIX}/hls/chapters/chapter_001.jpg", f"{PREFIX}/hls/chapters/chapter_002.jpg"]
    assert storage.deleted == [f"{PREFIX}/hls/chapters/chapter_003.jpg"]


def test_the_setting_joins_short_chapters():
    storage = encode(FakeStorage({SOURCE: b"x"}), LECTURE, min_seconds=50)
    document = json.loads(text(storage, "hls/chapters.json"))
    # 0-40.2 is shorter than 50 s: the first chapter joins the next, which then starts at 0.
    assert [(entry["start-time"], entry["titles"][0]["title"]) for entry in document] == [
        (0.0, "최소 한 번 전달"), (95.5, "Locks and leases")]


def test_captions_added_later_and_a_re_encode_keep_the_chapters_line():
    storage = encode(FakeStorage({SOURCE: b"x"}), LECTURE)
    master = text(storage, "hls/master.m3u8")
    # The captions' master rewrite (domain.ai.captions_for_video writes exactly this).
    storage.write_text(f"{PREFIX}/hls/master.m3u8", subtitles.with_subtitles(master, [subtitles.entry("ko")]))
    assert SESSION_DATA in text(storage, "hls/master.m3u8").splitlines()
    encode(storage, LECTURE)
    again = text(storage, "hls/master.m3u8")
    assert SESSION_DATA in again.splitlines() and 'URI="subs/ko/index.m3u8"' in again
    assert again.count("com.apple.hls.chapters") == 1


def test_a_damaged_candidates_file_or_a_missing_image_means_no_chapters_not_a_failed_video(tmp_path):
    class Damaged(FakeMedia):
        def transcode_hls(self, source, out_dir, info, ladder, on_progress, storyboard_dir=None, slides_dir=None):
            master = super().transcode_hls(source, out_dir, info, ladder, on_progress, storyboard_dir, slides_dir)
            (slides_dir / LECTURE[2].image).unlink()
            return master

    storage = FakeStorage({SOURCE: b"x"})
    repo = FakeJobRepository(VIDEO, FakeRow(42, VideoStatus.UPLOADED, tenant_id=7))
    handler = ProcessVideoJobHandler(jobs=repo, lock=FakeLock(), progress=FakeProgress(), storage=storage,
                                     media=Damaged(INFO, slides=LECTURE))
    assert handler.handle(JOB) is Outcome.COMPLETED
    assert not [key for key in storage.objects if "chapter" in key]
