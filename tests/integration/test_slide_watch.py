"""SlideWatcher's reading of one ffmpeg run, fed by hand: samples and frames as the slide branch writes them."""

from __future__ import annotations

import pytest
from PIL import Image

from adapters.media import slides as slide_watch
from adapters.media.headings import Heading, HeadingReader
from domain.video.chapters import CANDIDATES_FILE, load_candidates


class CountingReader(HeadingReader):
    """Reads every frame as the same heading, counting the reads (no Tesseract needed)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def read(self, frame) -> Heading:
        self.reads += 1
        return Heading("Locks and leases", 95.0, 0.05)


def feed(watcher, mafd: list[float], *, frames: int | None = None, poll_every: int | None = None) -> None:
    """Write the samples (10 a second) and the frames (2 a second) the branch would, polling as ffmpeg reports."""
    motion = watcher.folder / slide_watch.MOTION_FILE
    count = frames if frames is not None else len(mafd) // 5 + 1
    for index in range(count):
        Image.new("RGB", (320, 180), (200, 200, 200)).save(watcher.folder / slide_watch.FRAMES / f"frame_{index:06d}.jpg")
    for index, value in enumerate(mafd):
        with open(motion, "a") as handle:
            handle.write(f"frame:{index} pts:{index} pts_time:{index / 10:g}\nlavfi.scd.mafd={value}\n")
        if poll_every and index % poll_every == 0:
            watcher.poll()


def still(seconds: float) -> list[float]:
    return [0.05] * round(seconds * 10)


@pytest.fixture
def reader():
    return CountingReader()


def test_a_part_reports_absolute_times_of_its_opening_slide_and_its_cuts(tmp_path, reader):
    watcher = slide_watch.SlideWatcher(tmp_path / "slides", reader, offset_seconds=60.0)
    feed(watcher, still(3) + [20.0] + still(3))
    found = watcher.finish()
    assert [candidate.at for candidate in found] == [60.0, 63.0]
    assert load_candidates((tmp_path / "slides" / CANDIDATES_FILE).read_text()) == found
    assert all((tmp_path / "slides" / candidate.image).is_file() for candidate in found)


def test_a_scroll_or_a_playing_video_is_no_candidate_but_an_animated_transition_is(tmp_path, reader):
    watcher = slide_watch.SlideWatcher(tmp_path / "slides", reader)
    scroll = [1.5] * 30  # three seconds of steady motion
    transition = [3.0] * 8  # a 0.8 s push to the next slide
    feed(watcher, still(2) + scroll + still(2) + transition + still(2))
    assert [candidate.at for candidate in watcher.finish()] == [0.0, 7.0]


def test_a_slide_is_read_once_still_however_long_it_keeps_moving_after_its_change(tmp_path, reader):
    watcher = slide_watch.SlideWatcher(tmp_path / "slides", reader)
    feed(watcher, still(2) + [8.0] + [0.8] * 15 + still(2))  # a build animation 1.5 s long after the cut
    found = watcher.finish()
    assert [candidate.at for candidate in found] == [0.0, 2.0]
    # Read from the frame at 4.0 s (the first half second still after 3.6 s), not at 3.0 s.
    assert found[1].image == "slide_000008.jpg"


def test_a_change_in_the_last_second_is_read_from_the_last_frame(tmp_path, reader):
    watcher = slide_watch.SlideWatcher(tmp_path / "slides", reader)
    feed(watcher, still(3) + [15.0] + still(0.7))
    found = watcher.finish()
    assert [candidate.at for candidate in found] == [0.0, 3.0] and found[1].image == "slide_000007.jpg"


def test_frames_go_as_soon_as_no_candidate_can_want_them(tmp_path, reader):
    watcher = slide_watch.SlideWatcher(tmp_path / "slides", reader)
    feed(watcher, still(30), poll_every=10)
    left = sorted(path.name for path in (watcher.folder / slide_watch.FRAMES).iterdir())
    assert len(left) <= 4, left  # of 61 written: the last half second after the last poll, and the rest
    watcher.finish()
    assert not (watcher.folder / slide_watch.FRAMES).exists()


def test_a_kept_frame_ffmpeg_has_not_written_yet_is_read_once_it_is(tmp_path, reader):
    watcher = slide_watch.SlideWatcher(tmp_path / "slides", reader)
    feed(watcher, still(2), frames=0, poll_every=1)  # samples ahead of the frames
    assert reader.reads == 0
    Image.new("RGB", (320, 180)).save(watcher.folder / slide_watch.FRAMES / "frame_000002.jpg")
    found = watcher.finish()
    assert [candidate.at for candidate in found] == [0.0] and reader.reads == 1


def test_endless_flashing_slides_spend_a_bounded_number_of_reads(tmp_path, reader):
    watcher = slide_watch.SlideWatcher(tmp_path / "slides", reader)
    flashing = []
    for _ in range(100):
        flashing += [30.0] + still(1.4)
    feed(watcher, flashing)
    found = watcher.finish()
    assert len(found) == 100
    # 20, and one per 6 s of the 150 s: about 45 reads of 100 slides.
    assert 40 <= reader.reads <= slide_watch.READ_BURST + 150 / slide_watch.READ_EVERY_SECONDS + 1
    assert not found[-1].heading and found[-1].signature  # unread past the budget, still compared by look


def test_garbage_in_the_samples_means_no_candidates_and_no_exception(tmp_path, reader):
    watcher = slide_watch.SlideWatcher(tmp_path / "slides", reader)
    (watcher.folder / slide_watch.MOTION_FILE).write_bytes(b"frame:0 pts:0 pts_time:nan\nlavfi.scd.mafd=x\n\xff\xfe")
    watcher.poll()
    assert watcher.finish() == []


def test_a_folder_that_cannot_be_named_in_a_filter_graph_is_refused(tmp_path, reader):
    watcher = slide_watch.SlideWatcher(tmp_path / "sl:ides,x", reader)
    with pytest.raises(ValueError, match="filter graph"):
        watcher.output(tmp_path)
    watcher.stop()
