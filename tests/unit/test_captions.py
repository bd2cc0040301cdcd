"""The caption layout rules: cue lengths, line breaks, timestamps, Korean text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.ai.captions import (
    CJK_LINE_CHARS,
    LATIN_LINE_CHARS,
    MAX_CUE_SECONDS,
    Cue,
    TimedSegment,
    TimedWord,
    build_cues,
    line_limit,
    to_srt,
    to_webvtt,
)

LECTURE = (
    "Welcome to the second lecture on distributed systems. Today we look at message queues, retries, "
    "and what it means for a job to run exactly once, even when a worker dies half way through."
)
KOREAN = (
    "안녕하세요 여러분 오늘은 분산 시스템의 두 번째 강의입니다 메시지 큐와 재시도 그리고 "
    "작업이 정확히 한 번 실행된다는 것이 무엇을 뜻하는지 살펴보겠습니다"
)


def timed(text: str, start: float = 0.0, seconds_per_word: float = 0.35) -> TimedSegment:
    words = [TimedWord(start + i * seconds_per_word, start + (i + 1) * seconds_per_word - 0.05, " " + w)
             for i, w in enumerate(text.split())]
    return TimedSegment(words[0].start, words[-1].end, text, tuple(words))


def check_cues(cues: list[Cue], max_chars: int) -> None:
    for cue in cues:
        assert 0 < cue.end - cue.start <= MAX_CUE_SECONDS + 1e-9, cue
        assert 1 <= len(cue.lines) <= 2, cue
        assert all(0 < len(line) <= max_chars for line in cue.lines), cue
    for before, after in zip(cues, cues[1:]):
        assert before.end <= after.start, (before, after)


def test_english_lecture_is_cut_into_two_line_cues_without_losing_a_word():
    cues = build_cues([timed(LECTURE)], LATIN_LINE_CHARS)
    check_cues(cues, LATIN_LINE_CHARS)
    assert " ".join(" ".join(cue.lines) for cue in cues) == LECTURE
    assert any(len(cue.lines) == 2 for cue in cues)


def test_two_lines_are_balanced_not_greedy():
    words = "one two three four five six seven eight nine ten eleven twelve thirteen"
    (cue,) = build_cues([timed(words, seconds_per_word=0.3)], LATIN_LINE_CHARS)
    first, second = cue.lines
    assert abs(len(first) - len(second)) <= 8, cue.lines


def test_korean_lines_hold_at_most_16_characters():
    assert line_limit("ko") == CJK_LINE_CHARS == 16 and line_limit("en") == 42
    assert line_limit(None, KOREAN) == 16 and line_limit(None, LECTURE) == 42
    cues = build_cues([timed(KOREAN)], line_limit("ko"))
    check_cues(cues, 16)
    assert "".join("".join(cue.lines) for cue in cues).replace(" ", "") == KOREAN.replace(" ", "")
    assert "안녕하세요 여러분" in cues[0].lines[0]


def test_korean_text_without_word_timings_is_spread_over_its_segment():
    segment = TimedSegment(10.0, 22.0, KOREAN)
    cues = build_cues([segment], 16)
    check_cues(cues, 16)
    assert cues[0].start == 10.0 and cues[-1].end == pytest.approx(22.0, abs=0.01)
    assert len(cues) >= 3  # 12 s of speech cannot be one 7 s cue


def test_a_cue_never_stays_past_7_seconds_even_for_slow_speech():
    cues = build_cues([timed("slow words " * 6, seconds_per_word=2.0)], LATIN_LINE_CHARS)
    check_cues(cues, LATIN_LINE_CHARS)
    assert len(cues) >= 3


def test_a_pause_and_a_new_segment_start_new_cues():
    cues = build_cues([timed("first thought", 0.0), timed("second thought", 0.8)], LATIN_LINE_CHARS)
    assert [cue.lines for cue in cues] == [("first thought",), ("second thought",)]
    words = (TimedWord(0.0, 0.4, " before"), TimedWord(3.0, 3.4, " after"))
    assert len(build_cues([TimedSegment(0.0, 3.4, "before after", words)], 42)) == 2


def test_a_word_longer_than_a_line_is_cut():
    url = "https://example.org/" + "a" * 60
    cues = build_cues([timed(f"see {url} now")], LATIN_LINE_CHARS)
    check_cues(cues, LATIN_LINE_CHARS)
    assert "".join("".join(cue.lines) for cue in cues).replace(" ", "") == f"see{url}now"


def test_webvtt_and_srt_timestamps_and_escaping():
    cues = [Cue(0.0, 1.5, ("a < b & c",)), Cue(3661.25, 3662.0, ("one", "two"))]
    assert to_webvtt(cues) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\na &lt; b &amp; c\n\n"
        "01:01:01.250 --> 01:01:02.000\none\ntwo\n"
    )
    assert to_srt(cues) == "1\n00:00:00,000 --> 00:00:01,500\na < b & c\n\n2\n01:01:01,250 --> 01:01:02,000\none\ntwo\n"
    assert to_webvtt([]) == "WEBVTT\n" and to_srt([]) == ""


def test_overlapping_and_zero_length_segments_give_ordered_cues():
    segments = [TimedSegment(5.0, 5.0, "instant"), TimedSegment(4.0, 6.0, "earlier overlapping"),
                TimedSegment(6.0, 6.0, "   ")]
    cues = build_cues(segments, LATIN_LINE_CHARS)
    check_cues(cues, LATIN_LINE_CHARS)
    assert [cue.lines for cue in cues] == [("earlier overlapping",), ("instant",)]


words_strategy = st.lists(
    st.tuples(
        st.text(alphabet="abcdefghij가나다라마바사아자차카", min_size=1, max_size=30),
        st.floats(0, 3, allow_nan=False),
        st.floats(0, 2, allow_nan=False),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(words_strategy, st.sampled_from([16, 42]))
def test_any_transcript_gives_cues_within_the_limits(raw, max_chars):
    at, words = 0.0, []
    for text, gap, length in raw:
        words.append(TimedWord(at + gap, at + gap + length, " " + text))
        at += gap + length
    cues = build_cues([TimedSegment(words[0].start, words[-1].end, "", tuple(words))], max_chars)
    check_cues(cues, max_chars)
    shown = "".join("".join(cue.lines) for cue in cues).replace(" ", "")
    assert shown == "".join(text for text, _, _ in raw)
    vtt = to_webvtt(cues)
    assert len(re.findall(r"^\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}$", vtt, re.M)) == len(cues)
