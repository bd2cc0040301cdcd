"""Captions in a video's player: the playlist rules, the follow-up of the transcribe engine, re-encodes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from domain.ai.captions_for_video import CaptionsForVideo
from domain.ai.handler import ProcessAIJobHandler
from domain.ai.model import AI, AIJobRequest, AIJobStatus
from domain.errors import LockBusy, UnsupportedMedia, Waiting
from domain.flow import Outcome
from domain.video import subtitles
from domain.video.handler import ProcessVideoJobHandler
from domain.video.model import VIDEO, VideoJob, VideoStatus
from domain.video.playlists import tag_attributes
from tests.unit.fakes import FakeEngine, FakeJobRepository, FakeLock, FakeMedia, FakeProgress, FakeRow, FakeStorage

MASTER = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=500000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2",AUDIO="audio"
360p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=900000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",AUDIO="audio"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=130000,AVERAGE-BANDWIDTH=128000,CODECS="mp4a.40.2"
audio/index.m3u8
"""
VARIANT = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.000,\nseg_00000.ts\n#EXT-X-ENDLIST\n"
CUES = "WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nHello everyone\n"
JOB_ID = "0d9c6a56-2f4e-4f8e-9c55-6f1b2a0c7e11"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


def test_the_master_lists_one_entry_per_language_and_every_video_variant_names_the_group():
    once = subtitles.with_subtitles(MASTER, [subtitles.entry("ko")])
    twice = subtitles.with_subtitles(once, [subtitles.entry("en")])
    again = subtitles.with_subtitles(twice, [subtitles.entry("ko")])  # the same language replaces its entry
    assert again == twice
    assert [tag_attributes(line)["LANGUAGE"] for line in subtitles.entries(again)] == ['"en"', '"ko"']
    lines = again.splitlines()
    videos = [line for line in lines if line.startswith("#EXT-X-STREAM-INF") and "RESOLUTION" in line]
    assert len(videos) == 2 and all(line.endswith(',SUBTITLES="subs"') for line in videos)
    audio_only = next(line for line in lines if line.startswith("#EXT-X-STREAM-INF") and "RESOLUTION" not in line)
    assert "SUBTITLES" not in audio_only
    # Everything the master had is still there, in order; the entries follow the audio group.
    assert [line.replace(',SUBTITLES="subs"', "") for line in lines if "TYPE=SUBTITLES" not in line] == \
        [line for line in MASTER.splitlines() if line]
    assert lines.index(subtitles.entries(again)[0]) == lines.index(MASTER.splitlines()[3]) + 1
    assert subtitles.entry("ko").endswith('LANGUAGE="ko",NAME="한국어",DEFAULT=NO,AUTOSELECT=YES,URI="subs/ko/index.m3u8"')
    assert subtitles.first_variant(again) == "360p/index.m3u8"


def test_the_captions_meet_the_video_timeline_and_fill_one_playlist():
    timed = subtitles.timed_cues(CUES, 1.4)
    assert timed.splitlines()[:3] == ["WEBVTT", "X-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000", ""]
    assert timed.endswith("Hello everyone\n")
    playlist = subtitles.playlist(61.2)
    assert "#EXT-X-TARGETDURATION:62" in playlist and "#EXTINF:61.200,\ncaptions.vtt" in playlist
    assert playlist.rstrip().endswith("#EXT-X-ENDLIST")


def setup(video_status=VideoStatus.READY, video_tenant=7, created=NOW - timedelta(minutes=5), master=True,
          media=None, lang="en", cues=CUES):
    videos = FakeJobRepository(VIDEO, FakeRow(42, video_status, tenant_id=video_tenant))
    storage = FakeStorage()
    if master:
        storage.objects.update({"videos/7/42/hls/master.m3u8": MASTER.encode(),
                                "videos/7/42/hls/360p/index.m3u8": VARIANT.encode(),
                                "videos/7/42/hls/360p/seg_00000.ts": b"ts"})
    lock = FakeLock()
    jobs = FakeJobRepository(AI, FakeRow(JOB_ID, AIJobStatus.PENDING, tenant_id=7))
    jobs.created_at = created
    captions = CaptionsForVideo(videos=videos, jobs=jobs, lock=lock, storage=storage, media=media or FakeMedia(),
                                clock=lambda: NOW, wait_retry_seconds=30)

    def transcribe(request, source, progress):
        return {"text": "Hello everyone" if lang else "", "lang": lang, "duration_seconds": 12.0,
                "video_attached": False, "video_note": "the captions were not added to the video's player"}

    # The result is rebuilt from the saved files as the transcribe engine's earlier_result does.
    engine = FakeEngine(transcribe, files={"captions.vtt": cues.encode()},
                        rebuild=lambda request, saved: transcribe(request, None, None))
    handler = ProcessAIJobHandler(jobs=jobs, lock=lock, progress=FakeProgress(), engines={"transcribe": engine},
                                  storage=storage, follow_ups={"transcribe": captions})
    return handler, jobs, storage, lock


REQUEST = AIJobRequest(JOB_ID, "transcribe", {"file_key": "uploads/7/42.mp4", "video_id": 42}, 7)


def test_a_ready_video_of_the_same_tenant_gets_the_captions_in_its_player():
    handler, jobs, storage, lock = setup()
    assert handler.handle(REQUEST) is Outcome.COMPLETED
    result = jobs.rows[JOB_ID].result
    assert (result["video_attached"], result["video_note"]) == (True, None)
    master = storage.objects["videos/7/42/hls/master.m3u8"].decode()
    assert subtitles.entries(master) == [subtitles.entry("en")]
    assert storage.objects["videos/7/42/hls/subs/en/captions.vtt"].decode().startswith(
        "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,")
    assert "#EXTINF:12.000,\ncaptions.vtt" in storage.objects["videos/7/42/hls/subs/en/index.m3u8"].decode()
    assert f"ai/7/{JOB_ID}/captions.vtt" in storage.objects  # the job's own files too
    assert ("acquire", "video:42") in lock.log and lock.held == set()


@pytest.mark.parametrize(
    ("status", "tenant", "master", "note"),
    [
        (VideoStatus.FAILED, 7, True, "video 42 failed to encode"),
        (VideoStatus.READY, 8, True, "video 42 belongs to another tenant"),
        (VideoStatus.READY, None, True, "video 42 belongs to another tenant"),
        (VideoStatus.READY, 7, False, "video 42 has no HLS playlist to add captions to"),
    ],
)
def test_a_video_that_cannot_take_captions_is_left_alone_and_the_note_says_why(status, tenant, master, note):
    handler, jobs, storage, _ = setup(video_status=status, video_tenant=tenant, master=master)
    before = dict(storage.objects)
    assert handler.handle(REQUEST) is Outcome.COMPLETED
    result = jobs.rows[JOB_ID].result
    assert (result["video_attached"], result["video_note"]) == (False, note)
    assert {key: value for key, value in storage.objects.items() if key.startswith("videos/")} == \
        {key: value for key, value in before.items() if key.startswith("videos/")}


CAPTIONED = subtitles.with_subtitles(MASTER, [subtitles.entry("en")])
ENGLISH_CUES = "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000\n\n00:00:01.000 --> 00:00:03.000\nWelcome back\n"


def captioned_in_english(storage: FakeStorage) -> dict[str, bytes]:
    """The video of ``setup`` with English captions already; returns its objects."""
    storage.objects.update({"videos/7/42/hls/master.m3u8": CAPTIONED.encode(),
                            "videos/7/42/hls/subs/en/captions.vtt": ENGLISH_CUES.encode(),
                            "videos/7/42/hls/subs/en/index.m3u8": subtitles.playlist(12.0).encode()})
    return {key: value for key, value in storage.objects.items() if key.startswith("videos/")}


@pytest.mark.parametrize("lang", [None, "en"])  # "en": a result naming a language while its captions hold no cue
def test_captions_without_a_cue_never_replace_the_captions_a_video_has(lang):
    handler, jobs, storage, lock = setup(lang=lang, cues="WEBVTT\n")  # silence, or speech no word was found in
    before = captioned_in_english(storage)
    assert handler.handle(REQUEST) is Outcome.COMPLETED
    result = jobs.rows[JOB_ID].result
    assert (result["video_attached"], result["video_note"]) == (False, "no speech was found: there are no captions to add")
    assert {key: value for key, value in storage.objects.items() if key.startswith("videos/")} == before
    assert ("acquire", "video:42") not in lock.log
    assert storage.objects[f"ai/7/{JOB_ID}/captions.vtt"] == b"WEBVTT\n"  # the job's own (empty) files are kept


def test_captions_with_cues_replace_the_track_of_their_language():
    handler, jobs, storage, _ = setup()
    captioned_in_english(storage)
    assert handler.handle(REQUEST) is Outcome.COMPLETED
    assert jobs.rows[JOB_ID].result["video_attached"] is True
    assert subtitles.entries(storage.objects["videos/7/42/hls/master.m3u8"].decode()) == [subtitles.entry("en")]
    vtt = storage.objects["videos/7/42/hls/subs/en/captions.vtt"].decode()
    assert "Hello everyone" in vtt and "Welcome back" not in vtt


def test_a_damaged_first_segment_leaves_the_video_alone_and_the_job_done():
    media = FakeMedia(error=UnsupportedMedia("the video's first segment could not be read"), fail_at="start_seconds")
    handler, jobs, storage, lock = setup(media=media)
    before = {key: value for key, value in storage.objects.items() if key.startswith("videos/")}
    assert handler.handle(REQUEST) is Outcome.COMPLETED
    result = jobs.rows[JOB_ID].result
    assert (result["video_attached"], result["video_note"]) == (
        False, "video 42 cannot take captions: the video's first segment could not be read")
    assert {key: value for key, value in storage.objects.items() if key.startswith("videos/")} == before
    assert f"ai/7/{JOB_ID}/captions.vtt" in storage.objects and lock.held == set()


def test_a_missing_video_and_a_job_without_video_id_are_noted():
    handler, jobs, *_ = setup()
    handler.handle(AIJobRequest(JOB_ID, "transcribe", {"file_key": "k", "video_id": 99}, 7))
    assert jobs.rows[JOB_ID].result["video_note"] == "video 99 does not exist"
    handler, jobs, *_ = setup()
    handler.handle(AIJobRequest(JOB_ID, "transcribe", {"file_key": "k"}, 7))
    assert jobs.rows[JOB_ID].result["video_note"] == "the captions were not added to the video's player"


def test_the_job_waits_for_its_video_before_transcribing_then_gives_up_after_six_hours():
    for status in (VideoStatus.PENDING, VideoStatus.UPLOADED, VideoStatus.PROCESSING):
        handler, jobs, storage, _ = setup(video_status=status)
        with pytest.raises(Waiting) as waiting:
            handler.handle(REQUEST)
        assert waiting.value.retry_after_seconds == 30
        assert waiting.value.reason == f"waiting for video 42 to be READY (it is {status.value})"
        assert jobs.rows[JOB_ID].status is AIJobStatus.PROCESSING and not any(k.startswith("ai/") for k in storage.objects)
    handler, jobs, *_ = setup(video_status=VideoStatus.PROCESSING, created=NOW - timedelta(hours=6, minutes=1))
    assert handler.handle(REQUEST) is Outcome.COMPLETED
    assert jobs.rows[JOB_ID].result["video_note"] == "video 42 was not READY within 6 hours"


def test_a_video_locked_at_the_first_attempt_gets_the_captions_of_the_one_transcription():
    handler, jobs, storage, lock = setup()
    engine = handler.engines["transcribe"]
    lock.taken_by_others.add("video:42")
    with pytest.raises(LockBusy):
        handler.handle(REQUEST)
    assert subtitles.entries(storage.objects["videos/7/42/hls/master.m3u8"].decode()) == []
    saved = {key: value for key, value in storage.objects.items() if key.startswith("ai/")}
    assert list(saved) == [f"ai/7/{JOB_ID}/captions.vtt"]
    lock.taken_by_others.clear()  # the retry: the files the first attempt saved are taken back
    assert handler.handle(REQUEST) is Outcome.COMPLETED
    assert engine.runs == 1
    assert jobs.rows[JOB_ID].result["video_attached"] is True
    assert subtitles.entries(storage.objects["videos/7/42/hls/master.m3u8"].decode()) == [subtitles.entry("en")]
    assert "Hello everyone" in storage.objects["videos/7/42/hls/subs/en/captions.vtt"].decode()


def test_a_re_encode_begun_while_the_captions_were_made_makes_them_wait_for_its_master():
    handler, jobs, storage, _ = setup()
    videos = handler.follow_ups["transcribe"].videos
    engine = handler.engines["transcribe"]
    run = engine._run

    def re_encode_meanwhile(request, source, progress):
        videos.rows[42].status = VideoStatus.PROCESSING  # the video was sent again while this ran
        return run(request, source, progress)

    engine._run = re_encode_meanwhile
    with pytest.raises(Waiting, match="waiting for video 42 to be READY again .it is PROCESSING."):
        handler.handle(REQUEST)
    assert subtitles.entries(storage.objects["videos/7/42/hls/master.m3u8"].decode()) == []
    engine._run = run
    videos.rows[42].status = VideoStatus.READY  # the re-encode is done: the next look adds the captions
    assert handler.handle(REQUEST) is Outcome.COMPLETED
    assert jobs.rows[JOB_ID].result["video_attached"] is True
    assert engine.runs == 1  # added to the new master without transcribing again


def test_a_re_encode_keeps_the_captions_its_previous_master_listed():
    storage = FakeStorage({"uploads/7/42/source.mp4": b"x" * 100})
    previous = subtitles.with_subtitles(MASTER, [subtitles.entry("ko"), subtitles.entry("en")])
    storage.objects["videos/7/42/hls/master.m3u8"] = previous.encode()
    videos = FakeJobRepository(VIDEO, FakeRow(42, VideoStatus.UPLOADED, tenant_id=7))
    handler = ProcessVideoJobHandler(jobs=videos, lock=FakeLock(), progress=FakeProgress(), storage=storage,
                                     media=FakeMedia())
    assert handler.handle(VideoJob(42, "uploads/7/42/source.mp4", 7)) is Outcome.COMPLETED
    master = storage.objects["videos/7/42/hls/master.m3u8"].decode()
    assert [tag_attributes(line)["LANGUAGE"] for line in subtitles.entries(master)] == ['"en"', '"ko"']
    assert all('SUBTITLES="subs"' in line for line in master.splitlines()
               if line.startswith("#EXT-X-STREAM-INF") and "RESOLUTION" in line)


@pytest.mark.parametrize("video_id,accepted", [
    (42, True), (None, True), (2**63 - 1, True),
    (0, False), (-3, False), (2**63, False), (True, False), ("42", False), (4.0, False),
])
def test_the_payload_names_a_video_by_a_bigint_id_or_not_at_all(video_id, accepted):
    from adapters.ai.engines.transcribe import SPEC
    from domain.errors import InvalidMessage

    payload = {"file_key": "uploads/7/lecture.mp4", "lang": "en-US"}
    if video_id is not None:
        payload["video_id"] = video_id
    if accepted:
        prepared = SPEC.validate_payload(payload)
        assert prepared.get("video_id") == video_id and prepared["lang"] == "en"
    else:
        with pytest.raises(InvalidMessage, match="video_id"):
            SPEC.validate_payload(payload)


def test_a_null_tenant_matches_only_a_null_tenant_and_its_outputs_live_under_shared():
    handler, jobs, storage, _ = setup(video_tenant=None)
    for key in list(storage.objects):  # the video of no tenant: its outputs under videos/shared/
        storage.objects[key.replace("videos/7/", "videos/shared/")] = storage.objects.pop(key)
    handler.handle(AIJobRequest(JOB_ID, "transcribe", {"file_key": "uploads/shared/42.mp4", "video_id": 42}, None))
    assert jobs.rows[JOB_ID].result["video_attached"] is True
    assert subtitles.entries(storage.objects["videos/shared/42/hls/master.m3u8"].decode()) == [subtitles.entry("en")]


def test_a_retry_rebuilds_the_transcription_result_only_from_a_whole_saved_transcript(tmp_path):
    from adapters.ai.engines.transcribe import NOT_ATTACHED, earlier_result

    transcript = {"lang": "en", "duration_seconds": 12.0, "model": "whisper-base",
                  "segments": [{"start": 0.5, "end": 2.0, "text": "Hello everyone",
                                "words": [{"start": 0.5, "end": 1.0, "word": " Hello", "probability": 0.9}]}]}
    saved = {"transcript.json": json.dumps(transcript), "captions.vtt": CUES, "captions.srt": "1\n"}

    def fetch_from(files):
        def fetch(name):
            if name not in files:
                return None
            (tmp_path / name).write_text(files[name])
            return tmp_path / name
        return fetch

    payload = {"file_key": "uploads/7/42.mp4", "video_id": 42}
    assert earlier_result(payload, fetch_from(saved)) == {
        "text": "Hello everyone", "lang": "en", "duration_seconds": 12.0,
        "segments": [{"start": 0.5, "end": 2.0, "text": "Hello everyone"}], "segments_truncated": False,
        "video_attached": False, "video_note": NOT_ATTACHED}
    assert earlier_result(payload, fetch_from({})) is None  # a first attempt: nothing saved
    without_srt = {name: text for name, text in saved.items() if name != "captions.srt"}
    assert earlier_result(payload, fetch_from(without_srt)) is None  # an upload cut short
    for damaged in ("{", json.dumps({"lang": "en"}), json.dumps({**transcript, "segments": [{"start": "x"}]})):
        assert earlier_result(payload, fetch_from({**saved, "transcript.json": damaged})) is None  # the engine runs
