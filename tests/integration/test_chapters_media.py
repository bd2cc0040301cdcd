"""Chapters found in the ladder's own ffmpeg pass, read by the real Tesseract (CONTRACT 4c).

Short lectures drawn with Pillow (tests/slide_samples.py): English and Korean
headings, a bullet build, a laser pointer over the heading and a drifting
picture-in-picture; and a talking head and a screen recording, which get none.
"""

from __future__ import annotations

import os

import pytest

from adapters.ai.engines.ocr import missing_prerequisites
from adapters.media import FfmpegMediaProcessor
from adapters.media import slides as slide_watch
from domain.video.chapters import CANDIDATES_FILE, decide, load_candidates
from domain.video.model import Rendition
from tests.media_samples import ffmpeg_exe, make_media
from tests.ocr_samples import FONT, character_error_rate
from tests.slide_samples import Slide, lecture, screen_recording, talking_head

pytestmark = pytest.mark.skipif(bool(missing_prerequisites()) or not os.path.exists(FONT),
                                reason="needs tesseract-ocr-kor/-eng and fonts-nanum")

LADDER = [Rendition("180p", 180, 300, 64)]
DECK = [
    Slide("Why message queues?", ("worker lease retry", "queue token commit", "delivery lock fence"), 22, builds=1),
    Slide("2. 작업 재시도와 잠금", ("메시지 재시도 잠금", "작업자 상태 갱신", "토큰 처리 전달"), 22, builds=2, style=1),
    Slide("Locks and leases", ("lease timeout row", "fence token update", "retry handler state"), 22, style=2),
]


def encode(source, tmp_path):
    """The real adapter's one pass over ``source``: the candidates it found and its output folder."""
    media = FfmpegMediaProcessor(ffmpeg_exe(), timeout_seconds=300, segment_seconds=6, preset="ultrafast")
    info = media.probe(source)
    out = tmp_path / "out"
    media.transcode_hls(source, out / "hls", info, LADDER, lambda _: None, storyboard_dir=out,
                        slides_dir=tmp_path / "slides")
    return load_candidates((tmp_path / "slides" / CANDIDATES_FILE).read_text()), info, out


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lecture")
    return lecture(folder / "lecture.mp4", DECK)


def test_slide_changes_become_chapters_within_a_second_titled_by_their_headings(sample, tmp_path, monkeypatch):
    frames_on_disk = []
    poll = slide_watch.SlideWatcher.poll

    def counting(self):
        poll(self)
        frames_on_disk.append(len(list((self.folder / slide_watch.FRAMES).glob("*.jpg"))))

    monkeypatch.setattr(slide_watch.SlideWatcher, "poll", counting)
    candidates, info, out = encode(sample.path, tmp_path)
    chapters = decide(candidates, duration_seconds=info.duration_seconds)

    assert len(chapters) == len(sample.changes), [(c.at, c.heading) for c in candidates]
    for chapter, change, heading in zip(chapters, sample.changes, sample.headings):
        assert abs(chapter.start - change) <= 1.0, (chapter, change)
        assert character_error_rate(heading, chapter.title) <= 0.1, (chapter.title, heading)
    assert [chapter.language for chapter in chapters] == ["en", "ko", "en"]
    # Builds (a bullet appearing) and the pointer over the heading opened no chapter.
    assert sample.builds and all(min(abs(chapter.start - build) for chapter in chapters) > 3 for build in sample.builds)
    # Each chapter's 160 px slide image lies beside the candidates; no frame is left over, and few were
    # ever on disk at once (at 2 frames a second, a 66 s video would leave 132).
    for chapter in chapters:
        assert (tmp_path / "slides" / chapter.image).stat().st_size > 1000
        assert (chapter.image_width, chapter.image_height) == (160, 90)
    assert not (tmp_path / "slides" / slide_watch.FRAMES).exists()
    assert frames_on_disk and max(frames_on_disk) <= 12, frames_on_disk
    # The ladder's outputs are as ever.
    assert (out / "hls" / "master.m3u8").is_file() and (out / "storyboard.vtt").is_file()


@pytest.mark.parametrize("make", [talking_head, screen_recording], ids=["talking-head", "screen-recording"])
def test_videos_without_slides_get_no_chapters(make, tmp_path):
    source = make(tmp_path / "source.mp4", 24).path
    candidates, info, _ = encode(source, tmp_path)
    assert decide(candidates, duration_seconds=info.duration_seconds) == []


def test_an_odd_sized_source_still_encodes_with_its_slide_watch(tmp_path):
    source = make_media(tmp_path / "odd.mkv", seconds=3, width=321, height=241,
                        video=("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"))
    _, _, out = encode(source, tmp_path)  # the slide frames are 320 x 240, even for 4:2:0 JPEG
    assert (out / "hls" / "master.m3u8").is_file()
    assert sorted(path.name for path in (tmp_path / "slides").iterdir() if path.suffix == ".json") == [CANDIDATES_FILE]


def test_parts_find_the_candidates_of_their_ranges_and_the_decision_makes_the_one_pass_chapters(sample, tmp_path):
    """Each part watches its own range (times on the whole video); the chapters decided from all of them
    are those of the one pass, boundaries within a second, titles alike."""
    from domain.video.chapter_outputs import ChapterOutputs
    from domain.video.parts import plan_parts

    media = FfmpegMediaProcessor(ffmpeg_exe(), timeout_seconds=300, segment_seconds=6, preset="ultrafast")
    info = media.probe(sample.path)
    one_pass, _, _ = encode(sample.path, tmp_path / "one")
    folders = []
    for part in plan_parts(info.duration_seconds, part_seconds=12, segment_seconds=6, attempt="a1"):
        folder = tmp_path / f"slides-{part.index}"
        media.encode_part(sample.path, tmp_path / "parts", info, LADDER, part, lambda _: None, None, folder)
        folders.append(folder)
    ChapterOutputs.gather(folders, tmp_path / "gathered")
    in_parts = load_candidates((tmp_path / "gathered" / CANDIDATES_FILE).read_text())
    whole = decide(one_pass, duration_seconds=info.duration_seconds)
    parted = decide(in_parts, duration_seconds=info.duration_seconds)
    assert [chapter.title for chapter in parted] == [chapter.title for chapter in whole]
    assert len(parted) == len(DECK)
    assert all(abs(a.start - b.start) <= 1.0 for a, b in zip(parted, whole))
    assert all((tmp_path / "gathered" / chapter.image).is_file() for chapter in parted)
