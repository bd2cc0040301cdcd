"""The chapters' rules (domain/chapters.py) and files (domain/chapter_files.py), on made-up candidates."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.video import chapter_files, subtitles
from domain.video.chapters import (
    MAX_TITLE,
    Candidate,
    Chapter,
    decide,
    dump_candidates,
    language_of,
    load_candidates,
    readable,
    same_heading,
    tidy,
)

ZONE_A, ZONE_B = "10" * 256, "c0" * 256


def slide(at: float, heading: str = "", *, signature: str = ZONE_A, confidence: float = 95.0,
          height: float = 0.05) -> Candidate:
    return Candidate(at=at, heading=heading, confidence=confidence if heading else 0.0,
                     height=height if heading else 0.0, signature=signature, image=f"slide_{round(at * 2):06d}.jpg",
                     image_width=160, image_height=90)


def starts_and_titles(chapters: list[Chapter]) -> list[tuple[float, str]]:
    return [(chapter.start, chapter.title) for chapter in chapters]


def test_every_heading_change_is_a_chapter_and_a_build_of_the_same_heading_is_not():
    found = [slide(0, "Why message queues?"), slide(12.3, "Why message queues?"),  # a bullet appeared
             slide(40.2, "At-least-once delivery"), slide(71.9, "멱등한 처리기 만들기")]
    chapters = decide(found, duration_seconds=120)
    assert starts_and_titles(chapters) == [(0.0, "Why message queues?"), (40.2, "At-least-once delivery"),
                                           (71.9, "멱등한 처리기 만들기")]
    assert [chapter.number for chapter in chapters] == [1, 2, 3]
    assert [chapter.language for chapter in chapters] == ["en", "en", "ko"]
    assert chapters[1].image == "slide_000080.jpg" and chapters[1].image_height == 90


def test_candidates_of_several_ranges_in_any_order_decide_alike():
    # Parts: each range opens with its slide as it is; the same heading across a boundary is no new chapter.
    first = [slide(0, "Locks and leases"), slide(35, "Fencing tokens")]
    second = [slide(60, "Fencing tokens"), slide(95, "Visibility timeouts")]
    one_pass = decide([*first, slide(95, "Visibility timeouts")], duration_seconds=130)
    shuffled = [*second, *first]
    random.Random(3).shuffle(shuffled)
    assert decide(shuffled, duration_seconds=130) == one_pass
    assert starts_and_titles(one_pass) == [(0.0, "Locks and leases"), (35, "Fencing tokens"),
                                           (95, "Visibility timeouts")]


def test_ocr_slips_of_one_heading_are_the_same_heading_and_another_heading_is_not():
    assert same_heading(slide(0, "Retries with exponential backoff"), slide(9, "Retries with exponentlal backoff"))
    assert same_heading(slide(0, "지수 백오프로 재시도하기"), slide(9, "지수 백오프로 재시도하7l"))
    assert not same_heading(slide(0, "Locks and leases"), slide(9, "Locks and queues"))
    assert not same_heading(slide(0, "1. 데이터베이스 잠금"), slide(9, "2. 작업 재시도와 잠금"))


def test_a_video_without_a_readable_heading_gets_no_chapters():
    # A talking head's camera cut, a screen recording's small code lines, OCR noise.
    assert decide([slide(0), slide(15, signature=ZONE_B)], duration_seconds=30) == []
    code_line = slide(0, "11 self.lock def retry return token = await", height=0.019)
    noise = slide(20, "ee |", confidence=31)
    assert decide([code_line, noise], duration_seconds=60) == []
    assert decide([], duration_seconds=60) == []


def test_an_unreadable_slide_change_in_a_lecture_is_chapter_n_and_compares_by_its_thumbnail():
    found = [slide(0, "Dead-letter queues"), slide(30, signature=ZONE_B),  # a slide of pictures only
             slide(45, signature=ZONE_B),  # the same picture slide again (a pointer)
             slide(70, "Summary and reading list")]
    assert starts_and_titles(decide(found, duration_seconds=100)) == [
        (0.0, "Dead-letter queues"), (30, "Chapter 2"), (70, "Summary and reading list")]
    assert decide(found, duration_seconds=100)[1].language == "en"


def test_a_short_chapter_joins_the_one_before_and_the_first_joins_the_next():
    found = [slide(0, "Intro"), slide(8, "Why message queues?"), slide(40, "Locks and leases"),
             slide(52, "Fencing tokens"), slide(90, "Visibility timeouts"), slide(115, "Questions")]
    chapters = decide(found, duration_seconds=125, min_seconds=20)
    # 0-8 joins the next (which starts at 0), 40-52 and 115-125 join the ones before them.
    assert starts_and_titles(chapters) == [(0.0, "Why message queues?"), (52, "Fencing tokens"),
                                           (90, "Visibility timeouts")]
    # A short chapter between two of the same heading: one chapter.
    back = [slide(0, "Locks and leases"), slide(30, "Fencing tokens"), slide(38, "Locks and leases"),
            slide(70, "Summary")]
    assert starts_and_titles(decide(back, duration_seconds=100)) == [(0.0, "Locks and leases"), (70, "Summary")]
    assert len(decide(found, duration_seconds=125, min_seconds=0)) == 6


def test_short_first_chapters_chain_into_the_first_long_one_and_a_lone_short_slide_stays():
    found = [slide(0, "Title"), slide(5, "Agenda"), slide(12, "Why message queues?"), slide(50, "Locks")]
    assert starts_and_titles(decide(found, duration_seconds=80)) == [(0.0, "Why message queues?"), (50, "Locks")]
    assert starts_and_titles(decide([slide(0.4, "Only slide")], duration_seconds=12)) == [(0.0, "Only slide")]


def test_the_first_chapter_starts_at_zero_and_candidates_outside_the_video_are_ignored():
    found = [slide(31.5, "Why message queues?"), slide(70, "Locks"), slide(130, "After the end")]
    assert starts_and_titles(decide(found, duration_seconds=100)) == [(0.0, "Why message queues?"), (70, "Locks")]


@pytest.mark.parametrize(("raw", "title"), [
    ("  Why   message\nqueues? ", "Why message queues?"),
    ("| Locks and leases _", "Locks and leases"),
    ("ㆍ 최소 한 번 전달", "최소 한 번 전달"),
    ("2. 트랜잭션 격리 수준", "2. 트랜잭션 격리 수준"),
])
def test_titles_are_one_tidy_line(raw, title):
    assert tidy(raw) == title


def test_a_long_heading_is_cut_to_80_characters_at_a_word():
    long = "Retries with exponential backoff and jitter, dead-letter queues and the visibility timeout of SQS"
    title = tidy(long)
    assert len(title) <= MAX_TITLE and title.endswith("…") and long.startswith(title[:-1].rstrip())
    assert len(tidy("x" * 200)) == MAX_TITLE


@pytest.mark.parametrize(("title", "language"), [
    ("Locks and leases", "en"), ("멱등한 처리기", "ko"), ("2. 작업 재시도와 Locks", "ko"), ("Chapter 3", "en"),
    ("2026", "und"), ("Ελληνικά", "und"), ("日本語の講義", "und"), ("Économie", "en"),
])
def test_the_language_tag_follows_the_script(title, language):
    assert language_of(title) == language


def test_readability_needs_slide_sized_confident_letters():
    assert readable(slide(0, "Locks"))
    assert not readable(slide(0, "Locks", height=0.02))
    assert not readable(slide(0, "Locks", confidence=40))
    assert not readable(slide(0, "2."))


def test_candidates_round_trip_as_json_and_bad_files_say_why():
    found = [slide(0, "멱등한 처리기"), slide(30.25, signature=ZONE_B)]
    assert load_candidates(dump_candidates(found)) == found
    with pytest.raises(ValueError, match="not a list"):
        load_candidates('{"at": 1}')
    with pytest.raises(ValueError, match="no time"):
        load_candidates('[{"heading": "x"}]')
    assert load_candidates('[{"at": 2, "future": 1}]') == [Candidate(at=2)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 600), st.sampled_from(["A slide", "B slide", "C slide", ""])), max_size=30),
       st.floats(1, 600), st.sampled_from([0, 5, 20, 60]))
def test_chapters_are_ordered_numbered_within_the_video_and_long_enough(found, duration, min_seconds):
    candidates = [slide(at, heading, signature=ZONE_A if heading else ZONE_B) for at, heading in found]
    chapters = decide(candidates, duration_seconds=duration, min_seconds=min_seconds)
    assert [chapter.number for chapter in chapters] == list(range(1, len(chapters) + 1))
    starts = [chapter.start for chapter in chapters]
    assert starts == sorted(set(starts)) and (not chapters or starts[0] == 0.0)
    assert all(start < duration for start in starts)
    ends = [*starts[1:], duration]
    if len(chapters) > 1:
        assert all(end - start >= min_seconds for start, end in zip(starts[1:], ends[1:]))
    assert all(0 < len(chapter.title) <= MAX_TITLE for chapter in chapters)


# The files (CONTRACT 4c)

CHAPTERS = [Chapter(1, 0.0, "Why message queues?", "en", "slide_000002.jpg", 160, 90),
            Chapter(2, 36.1, "다음 주 <과제> & 숙제", "ko", "slide_000074.jpg", 160, 90)]


def test_chapters_json_is_apples_hls_chapter_format_with_images_beside_it():
    document = json.loads(chapter_files.chapters_json(CHAPTERS))
    assert document == [
        {"chapter": 1, "start-time": 0.0, "titles": [{"language": "en", "title": "Why message queues?"}],
         "images": [{"image-category": "chapter", "pixel-width": 160, "pixel-height": 90,
                     "url": "chapters/chapter_001.jpg"}]},
        {"chapter": 2, "start-time": 36.1, "titles": [{"language": "ko", "title": "다음 주 <과제> & 숙제"}],
         "images": [{"image-category": "chapter", "pixel-width": 160, "pixel-height": 90,
                     "url": "chapters/chapter_002.jpg"}]},
    ]
    assert chapter_files.listed_images(chapter_files.chapters_json(CHAPTERS)) == ["chapter_001.jpg",
                                                                                  "chapter_002.jpg"]


def test_only_chapter_images_are_ever_named_from_a_chapters_json():
    hostile = json.dumps([{"images": [{"url": "../../../uploads/7/source.mp4"}, {"url": "chapters/../master.m3u8"},
                                      {"url": "chapters/chapter_007.jpg"}, {"url": 5}]}, "x", {"images": "y"}])
    assert chapter_files.listed_images(hostile) == ["chapter_007.jpg"]
    assert chapter_files.listed_images("not json") == [] and chapter_files.listed_images('{"a": 1}') == []


def test_chapters_vtt_has_one_cue_per_chapter_up_to_the_next_and_escapes_titles():
    assert chapter_files.chapters_vtt(CHAPTERS, 95.5) == (
        "WEBVTT\n\n1\n00:00:00.000 --> 00:00:36.100\nWhy message queues?\n\n"
        "2\n00:00:36.100 --> 00:01:35.500\n다음 주 &lt;과제&gt; &amp; 숙제\n")


MASTER = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=385340,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2",AUDIO="audio"
360p/index.m3u8
"""


def test_the_master_lists_the_chapters_with_one_session_data_line_and_loses_it_when_there_are_none():
    listed = chapter_files.with_chapters(MASTER, True)
    assert listed.splitlines()[3] == '#EXT-X-SESSION-DATA:DATA-ID="com.apple.hls.chapters",URI="chapters.json"'
    assert chapter_files.lists_chapters(listed) and not chapter_files.lists_chapters(MASTER)
    assert chapter_files.with_chapters(listed, True) == listed  # never twice
    assert chapter_files.with_chapters(listed, False) == MASTER
    other = '#EXT-X-SESSION-DATA:DATA-ID="com.example.title",VALUE="x"'
    kept = chapter_files.with_chapters(MASTER.replace("#EXT-X-MEDIA", other + "\n#EXT-X-MEDIA", 1), False)
    assert other in kept.splitlines()


def test_the_captions_master_rewrites_keep_the_chapters_line():
    listed = chapter_files.with_chapters(MASTER, True)
    with_english = subtitles.with_subtitles(listed, [subtitles.entry("en")])
    with_both = subtitles.with_subtitles(with_english, [subtitles.entry("ko")])
    for master in (with_english, with_both):
        assert chapter_files.SESSION_DATA in master.splitlines()
        assert master.count("com.apple.hls.chapters") == 1
