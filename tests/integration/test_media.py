"""FfmpegMediaProcessor with the real ffmpeg and PyAV: ladders, thumbnails, hostile sources."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import av
import pytest

from adapters.media import FfmpegMediaProcessor, find_ffmpeg
from adapters.media.encoding import AudioEncoding, VideoEncoding
from adapters.media.ladder import ladder_command
from adapters.media.probe import NOT_ACCEPTED, NOT_DECODABLE
from adapters.media.runner import run_ffmpeg
from adapters.media.safety import open_options
from domain.errors import ProcessingTimeout, TransientError, UnsupportedMedia
from domain.video.model import MediaInfo, Rendition
from domain.video.rules import plan_ladder
from tests.media_samples import ffmpeg_exe, make_video, write_gab2_avi, write_hls_playlist

RUNGS = [Rendition("240p", 240, 300, 64), Rendition("360p", 360, 500, 96), Rendition("720p", 720, 1000, 128)]
CANARY = b"CANARY-7d1f0c2e-do-not-leak"


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("samples")


@pytest.fixture(scope="module")
def clip(samples: Path) -> Path:
    return make_video(samples / "clip.mp4", seconds=3, width=640, height=360)


@pytest.fixture(scope="module")
def long_clip(samples: Path) -> Path:
    return make_video(samples / "long.mp4", seconds=20, width=640, height=360)


@pytest.fixture
def media() -> FfmpegMediaProcessor:
    return FfmpegMediaProcessor(ffmpeg_exe(), timeout_seconds=60, segment_seconds=2, preset="ultrafast")


def playlist_entries(master: Path) -> list[tuple[str, str]]:
    """(EXT-X-STREAM-INF attributes, URI) pairs of a master playlist."""
    lines = [line for line in master.read_text().splitlines() if line.strip()]
    return [(line, lines[i + 1]) for i, line in enumerate(lines) if line.startswith("#EXT-X-STREAM-INF:")]


def stream_facts(path: Path) -> dict[str, tuple[str, int]]:
    with av.open(str(path)) as container:
        facts = {}
        for stream in container.streams:
            size = stream.codec_context.height if stream.type == "video" else 0
            facts[stream.type] = (stream.codec_context.name, size)
        return facts


def ffmpeg_children() -> list[int]:
    """Pids of ffmpeg processes whose parent is this test process (zombies included)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == os.getpid() and "ffmpeg" in comm:
            found.append(int(entry.name))
    return found


# --- ladders -----------------------------------------------------------------


def test_ladder_stops_at_source_height_with_h264_and_one_shared_aac(media, clip, tmp_path):
    info = media.probe(clip)
    assert (info.width, info.height, info.has_audio, info.audio_sample_rate) == (640, 360, True, 48000)
    assert info.duration_seconds == pytest.approx(3, abs=0.1)
    ladder = plan_ladder(info.height, RUNGS)
    assert [r.name for r in ladder] == ["240p", "360p"]

    master = media.transcode_hls(clip, tmp_path / "hls", info, ladder, lambda _: None)

    assert master == tmp_path / "hls" / "master.m3u8"
    entries = playlist_entries(master)
    assert [uri for _, uri in entries] == ["240p/index.m3u8", "360p/index.m3u8", "audio/index.m3u8"]
    assert "RESOLUTION=426x240" in entries[0][0] and "RESOLUTION=640x360" in entries[1][0]
    assert all('AUDIO="audio"' in attributes and "mp4a.40.2" in attributes for attributes, _ in entries[:2])
    assert "RESOLUTION" not in entries[2][0] and 'CODECS="mp4a.40.2"' in entries[2][0]
    assert '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio"' in master.read_text()
    for rendition in ladder:
        segments = sorted((tmp_path / "hls" / rendition.name).glob("seg_*.ts"))
        assert segments and segments[0].name == "seg_00000.ts"
        for segment in segments:
            assert stream_facts(segment) == {"video": ("h264", rendition.height)}  # the audio is not repeated
    audio = sorted((tmp_path / "hls" / "audio").glob("seg_*.ts"))
    assert audio and all(stream_facts(segment) == {"audio": ("aac", 0)} for segment in audio)
    with av.open(str(audio[0])) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.sample_rate, stream.codec_context.channels) == (48000, 2)


def test_source_without_audio_has_no_audio_outputs(media, samples, tmp_path):
    source = make_video(samples / "silent.mp4", seconds=2, width=320, height=240, audio=False)
    info = media.probe(source)
    assert (info.has_audio, info.audio_sample_rate) == (False, 0)

    master = media.transcode_hls(source, tmp_path / "hls", info, plan_ladder(info.height, RUNGS), lambda _: None)

    assert [uri for _, uri in playlist_entries(master)] == ["240p/index.m3u8"]
    assert "mp4a" not in master.read_text() and "AUDIO" not in master.read_text()
    assert not (tmp_path / "hls" / "audio").exists()
    for segment in (tmp_path / "hls" / "240p").glob("seg_*.ts"):
        assert set(stream_facts(segment)) == {"video"}


def test_source_below_lowest_rung_gets_one_rendition_at_its_height(media, samples, tmp_path):
    source = make_video(samples / "tiny.mp4", seconds=1, width=320, height=180)
    info = media.probe(source)
    ladder = plan_ladder(info.height, [RUNGS[1], RUNGS[2]])

    master = media.transcode_hls(source, tmp_path / "hls", info, ladder, lambda _: None)

    assert [uri for _, uri in playlist_entries(master)] == ["180p/index.m3u8", "audio/index.m3u8"]
    assert stream_facts(tmp_path / "hls" / "180p" / "seg_00000.ts")["video"] == ("h264", 180)


def test_segments_follow_segment_seconds(media, samples, tmp_path):
    source = make_video(samples / "five.mp4", seconds=5, width=320, height=240)
    info = media.probe(source)

    media.transcode_hls(source, tmp_path / "hls", info, [RUNGS[0]], lambda _: None)

    variant = (tmp_path / "hls" / "240p" / "index.m3u8").read_text()
    assert len(sorted((tmp_path / "hls" / "240p").glob("seg_*.ts"))) == 3
    assert int(re.search(r"#EXT-X-TARGETDURATION:(\d+)", variant).group(1)) <= 3
    durations = [float(d) for d in re.findall(r"#EXTINF:([\d.]+),", variant)]
    assert durations == pytest.approx([2, 2, 1], abs=0.15)
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in variant and "#EXT-X-ENDLIST" in variant


def test_progress_increases_and_ends_at_one(samples, tmp_path):
    source = make_video(samples / "progress.mp4", seconds=12, width=640, height=360)
    media = FfmpegMediaProcessor(ffmpeg_exe(), timeout_seconds=60, preset="veryfast", threads=1)
    info = media.probe(source)
    fractions: list[float] = []

    media.transcode_hls(source, tmp_path / "hls", info, plan_ladder(info.height, RUNGS), fractions.append)

    assert len(fractions) >= 2
    assert all(0 < f <= 1 for f in fractions)
    assert fractions == sorted(set(fractions))
    assert fractions[-1] == 1.0


# --- thumbnails --------------------------------------------------------------


@pytest.mark.parametrize("at_seconds", [1.0, 99.0, -5.0])
def test_thumbnail_is_a_decodable_jpeg(media, clip, tmp_path, at_seconds):
    dest = tmp_path / "thumb.jpg"
    media.thumbnail(clip, dest, at_seconds)
    assert dest.read_bytes()[:2] == b"\xff\xd8"
    with av.open(str(dest)) as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (640, 360)


def test_thumbnail_is_at_most_1280_wide(media, samples, tmp_path):
    source = make_video(samples / "wide.mp4", seconds=1, width=1600, height=900, audio=False)
    dest = tmp_path / "thumb.jpg"
    media.thumbnail(source, dest, 0.5)
    with av.open(str(dest)) as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (1280, 720)


# --- hostile sources ---------------------------------------------------------


def _hostile(kind: str, folder: Path, clip: Path) -> Path:
    canary = folder / "canary.txt"
    canary.write_bytes(CANARY + b"\n")
    source = folder / "source"  # the worker downloads to a name without extension
    if kind == "hls playlist":
        write_hls_playlist(source, canary)
    elif kind == "concat list":
        source.write_text(f"ffconcat version 1.0\nfile '{canary}'\nfile '/etc/passwd'\n")
    elif kind == "avi with embedded hls":
        # The playlist names a real clip too: were the nested HLS demuxer
        # opened, the AVI would gain a decodable video and probe fine.
        segment = folder / "segment.ts"
        subprocess.run(
            [ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(clip), "-c", "copy", str(segment)], check=True
        )
        write_gab2_avi(source, write_hls_playlist(folder / "evil.m3u8", segment, canary).read_bytes())
    elif kind == "empty file":
        source.write_bytes(b"")
    elif kind == "text file":
        source.write_text("Dear customer,\nplease find attached our video.\n" * 20)
    elif kind == "random bytes":
        source.write_bytes(random.Random(42).randbytes(4096))
    elif kind == "truncated mp4":
        data = clip.read_bytes()
        source.write_bytes(data[: len(data) * 3 // 10])
    return source


HOSTILE = {
    "hls playlist": "the source is an HLS playlist, not a video file",
    "concat list": "the source is an ffmpeg concat list, not a video file",
    "avi with embedded hls": "the source has no video stream ffmpeg can decode",
    "empty file": "the source file is empty",
    "text file": "the source is a text file, not a video file",
    "random bytes": "the source is not ",
    "truncated mp4": "the source is not a video file ffmpeg can decode",
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_source_is_unsupported_everywhere_and_leaks_nothing(media, clip, tmp_path, kind):
    source = _hostile(kind, tmp_path, clip)
    with pytest.raises(UnsupportedMedia) as probed:
        media.probe(source)
    assert HOSTILE[kind] in probed.value.reason
    reasons = [probed.value.reason]

    # The CLI must refuse on its own too (a caller might skip the probe).
    out = tmp_path / "out"
    fake = MediaInfo(duration_seconds=3, width=640, height=360, has_audio=True)
    with pytest.raises(UnsupportedMedia) as transcoded:
        media.transcode_hls(source, out / "hls", fake, [RUNGS[0]], lambda _: None)
    with pytest.raises(UnsupportedMedia) as thumbnailed:
        media.thumbnail(source, out / "thumb.jpg", 1.0)
    reasons += [transcoded.value.reason, thumbnailed.value.reason]

    for reason in reasons:
        assert str(tmp_path) not in reason and "/tmp" not in reason and "\n" not in reason
    for path in out.rglob("*"):
        assert not path.is_file() or CANARY not in path.read_bytes()


def test_random_bytes_reason_reads_well(media, clip, tmp_path):
    with pytest.raises(UnsupportedMedia) as error:
        media.probe(_hostile("random bytes", tmp_path, clip))
    assert error.value.reason in (NOT_DECODABLE, NOT_ACCEPTED)


def test_binary_without_nul_bytes_is_not_taken_for_text(media, tmp_path):
    source = tmp_path / "source"
    source.write_bytes(bytes(range(1, 256)) * 16)
    with pytest.raises(UnsupportedMedia) as error:
        media.probe(source)
    assert "text file" not in error.value.reason


def test_gab2_chunk_is_parsed_so_the_avi_test_is_real(clip, tmp_path):
    # Unrestricted PyAV reaches the GAB2 chunk (its title lands in the
    # stream metadata) - the hostile AVI above really exercises that path.
    source = _hostile("avi with embedded hls", tmp_path, clip)
    with av.open(str(source)) as container:
        assert container.format.name == "avi"
        assert container.streams[0].metadata.get("title") == "evil"


def test_whitelists_reach_nested_demuxers(tmp_path):
    # A GAB2 AVI carrying a harmless SRT: unrestricted, ffmpeg opens a nested
    # SRT demuxer; with our white-list (no srt on it) the nested open is
    # refused - so ffmpeg did copy the white-list into the nested demuxer.
    srt = b"1\n00:00:00,000 --> 00:00:01,000\nhello\n\n"
    source = write_gab2_avi(tmp_path / "srt.avi", srt, title="harmless")
    with av.open(str(source)) as container:
        assert container.streams[0].codec_context.name in ("srt", "subrip")
    with av.open(str(source), container_options=open_options()) as container:
        assert container.streams[0].codec_context is None


def test_whitelists_are_honoured_by_pyav_and_the_cli(media, clip, samples, tmp_path):
    segment = samples / "segment.ts"
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", "-i", str(clip), "-c", "copy", str(segment)], check=True
    )
    # ffmpeg's HLS probe wants a playlist extension; an attacker cannot pick
    # our local name, but the white-list must hold even if one could.
    playlist = write_hls_playlist(tmp_path / "playlist.m3u8", segment)
    # Control: without the white-list both open the playlist and its segment.
    with av.open(str(playlist)) as container:
        assert container.format.name == "hls" and container.streams.video
    control = [ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-protocol_whitelist", "file,crypto,data"]
    assert subprocess.run([*control, "-i", str(playlist), "-f", "null", "-"], capture_output=True).returncode == 0

    with pytest.raises(av.error.ArgumentError):
        av.open(str(playlist), container_options=open_options())
    args = ladder_command(ffmpeg_exe(), playlist, [RUNGS[0]], video=VideoEncoding(preset="ultrafast"),
                          audio=AudioEncoding(kbps=64, sample_rate=48000))
    (tmp_path / "hls").mkdir()
    with pytest.raises(UnsupportedMedia) as error:
        run_ffmpeg(args, action="transcode the source", timeout_seconds=30, cwd=tmp_path / "hls")
    assert "container format is not one we accept" in error.value.reason
    assert str(tmp_path) not in error.value.reason


# --- time limit and interruption ---------------------------------------------


def test_timeout_kills_ffmpeg(long_clip, tmp_path):
    info = FfmpegMediaProcessor(ffmpeg_exe(), timeout_seconds=30).probe(long_clip)
    media = FfmpegMediaProcessor(ffmpeg_exe(), timeout_seconds=0.2, preset="veryfast")
    started = time.monotonic()
    with pytest.raises(ProcessingTimeout) as error:
        media.transcode_hls(long_clip, tmp_path / "hls", info, plan_ladder(info.height, RUNGS), lambda _: None)
    assert time.monotonic() - started < 5
    assert isinstance(error.value, TransientError)
    assert "0.2 s" in error.value.reason
    assert ffmpeg_children() == []


class FakeShutdown(BaseException):
    """Stands in for dramatiq's Shutdown, an asynchronous BaseException."""


def test_interrupted_while_reading_progress_kills_ffmpeg(media, long_clip, tmp_path):
    info = media.probe(long_clip)

    def interrupt(_: float) -> None:
        raise FakeShutdown

    with pytest.raises(FakeShutdown):
        media.transcode_hls(long_clip, tmp_path / "hls", info, plan_ladder(info.height, RUNGS), interrupt)
    assert ffmpeg_children() == []


def test_a_sigterm_to_every_process_leaves_ffmpeg_to_the_worker():
    # Heroku stops a dyno by signalling all its processes. ffmpeg must not end
    # on that copy: it would exit 255 ("received signal 15"), read as a failed
    # source, before the worker's Shutdown returns the message. The worker
    # alone ends ffmpeg (here: the time limit kills it).
    args = [ffmpeg_exe(), "-nostdin", "-re", "-f", "lavfi", "-i", "testsrc2=d=600:s=160x120", "-f", "null", "-"]

    def platform_stop() -> None:
        deadline = time.monotonic() + 10
        while not ffmpeg_children() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        for pid in ffmpeg_children():
            os.kill(pid, signal.SIGTERM)

    stopper = threading.Thread(target=platform_stop)
    stopper.start()
    try:
        with pytest.raises(ProcessingTimeout):
            run_ffmpeg(args, action="transcode the source", timeout_seconds=2.5)
    finally:
        stopper.join()
    assert ffmpeg_children() == []


# --- find_ffmpeg -------------------------------------------------------------


def test_find_ffmpeg_rejects_a_missing_configured_binary(tmp_path):
    with pytest.raises(RuntimeError, match="FFMPEG_BINARY"):
        find_ffmpeg(str(tmp_path / "no-such-ffmpeg"))
    not_executable = tmp_path / "ffmpeg"
    not_executable.write_text("#!/bin/sh\n")
    with pytest.raises(RuntimeError, match="FFMPEG_BINARY"):
        find_ffmpeg(str(not_executable))


def test_find_ffmpeg_defaults_to_an_executable():
    found = find_ffmpeg(None)
    assert os.path.isfile(found) and os.access(found, os.X_OK)
    assert find_ffmpeg(found) == found


def test_an_incomplete_hls_output_is_a_clear_failure(clip, tmp_path):
    # An ffmpeg that exits 0 with a master listing nothing (a build with a broken hls muxer).
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\nprintf '#EXTM3U\\n' > master.m3u8\n")
    fake.chmod(0o755)
    media = FfmpegMediaProcessor(str(fake), timeout_seconds=30)
    info = MediaInfo(duration_seconds=3, width=640, height=360, has_audio=False)
    with pytest.raises(UnsupportedMedia, match="HLS output of the source is incomplete: .*240p/index.m3u8"):
        media.transcode_hls(clip, tmp_path / "hls", info, [RUNGS[0]], lambda _: None)
