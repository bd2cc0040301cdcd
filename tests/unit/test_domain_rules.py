"""Pure rules: ladder planning, key safety, progress monotonicity."""

from __future__ import annotations

import pytest

from domain.errors import UnsafeKey
from domain.ai.model import AI
from domain.jobs import unstorable
from domain.keys import check_object_key
from domain.progress import Progress
from domain.video.model import STEPS as VIDEO_STEPS
from domain.video.model import VIDEO, Rendition
from domain.video.rules import default_ladder, plan_ladder
from tests.unit.fakes import FakeProgress


@pytest.mark.parametrize(
    "height,names",
    [(2160, ["360p", "720p", "1080p"]), (1080, ["360p", "720p", "1080p"]), (720, ["360p", "720p"]),
     (719, ["360p"]), (360, ["360p"]), (240, ["240p"]), (181, ["180p"])],
)
def test_ladder_never_above_source(height, names):
    assert [r.name for r in plan_ladder(height, default_ladder())] == names


def test_below_lowest_rung_keeps_lowest_bitrates():
    (only,) = plan_ladder(240, [Rendition("360p", 360, 800, 96)])
    assert (only.height, only.video_kbps, only.audio_kbps) == (240, 800, 96)


@pytest.mark.parametrize(
    "key,message",
    [("", "empty"), ("/etc/passwd", "start with '/'"), ("uploads/../../x", "'..'"), ("..", "'..'"),
     ("a" * 1025, "1025 characters"), ("a\\b", "backslash"), ("a\nb", "control")],
)
def test_unsafe_keys(key, message):
    with pytest.raises(UnsafeKey, match=message):
        check_object_key(key)


def test_safe_keys_pass():
    for key in ["uploads/7/42/source.mp4", "a..b/c", "x" * 1024]:
        assert check_object_key(key) == key


def test_progress_never_moves_backwards():
    sink = FakeProgress()
    progress = Progress(sink, "video:1", VIDEO_STEPS)
    progress.step("transcoding", 0.4)
    progress.step("downloading")
    progress.step("transcoding", 0.2)
    progress.step("transcoding", 0.401)  # below one percent: dropped
    progress.step("uploading", 0.0)
    percents = [r[2] for r in sink.reports]
    assert [r[1] for r in sink.reports] == ["transcoding", "uploading"]
    assert percents == sorted(percents)


@pytest.mark.parametrize(
    ("kind", "text", "parsed"),
    [(AI, "job-1", "job-1"), (AI, "tenant/7/x", "tenant/7/x"), (AI, "a\x00b", None), (AI, "a\udcffb", None),
     (AI, "x" * 65, None), (AI, "", None), (VIDEO, "42", 42), (VIDEO, "4\x002", None), (VIDEO, "²", None)],
)
def test_ids_no_table_can_hold_parse_to_none(kind, text, parsed):
    assert kind.parse_id(text) == parsed


def test_what_no_text_column_can_hold_is_named():
    assert unstorable("uploads/é中 %_") is None
    assert unstorable("a\x00b") == "holds a NUL character (\\x00)"
    assert unstorable("a\udcffb") == "is not valid UTF-8"
