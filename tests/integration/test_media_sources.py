"""What uploads really are (phone rotation, odd sizes, VFR, 10-bit, other codecs, 5.1, 8 kHz mono), through ffmpeg.

Every source goes through the whole transcode (ladder, shared audio, loudness,
storyboard) and the outputs are checked as a player would see them.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import av
import pytest

from adapters.media import FfmpegMediaProcessor
from domain.video.model import Rendition
from domain.video.rules import plan_ladder
from tests.media_samples import AAC, X264, ffmpeg_exe, make_media, measure_loudness, speech_like

RUNGS = [Rendition("240p", 240, 300, 64), Rendition("360p", 360, 500, 96)]
VOICE = speech_like(0.3, seconds=3)


@dataclass(frozen=True)
class Upload:
    """A kind of upload: how to make it, and what the outputs must be."""

    file: str
    width: int = 320
    height: int = 240
    video: tuple[str, ...] = X264
    audio: str | None = VOICE
    audio_codec: tuple[str, ...] = AAC
    extra: tuple[str, ...] = ()
    rotate: int = 0
    renditions: dict[str, tuple[int, int]] = field(default_factory=lambda: {"240p": (320, 240)})
    sample_rate: int = 48000


UPLOADS = {
    # Stored landscape with a 90-degree display rotation: a phone held upright.
    "phone video rotated 90": Upload("rotated.mp4", width=480, height=270, rotate=90,
                                     renditions={"240p": (136, 240), "360p": (202, 360)}),
    # 4:4:4 lets the source keep its odd size; the renditions must still be even (4:2:0).
    "odd frame size": Upload("odd.mkv", width=853, height=481, renditions={"240p": (426, 240), "360p": (640, 360)},
                             video=("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p")),
    # Full-range (JPEG) pictures come out in the limited range every player expects.
    # Frames 10 to 30 dropped, timestamps kept: a 0.8 s gap, as screen recorders write.
    "variable frame rate": Upload("vfr.mkv", extra=("-vf", "select='not(between(n,10,30))'", "-fps_mode", "vfr")),
    "10-bit H.264": Upload("tenbit.mkv", video=("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le")),
    "HEVC": Upload("hevc.mp4", video=("-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1",
                                      "-x265-params", "log-level=error")),
    "VP9 and Opus": Upload("vp9.webm", video=("-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"),
                           audio_codec=("-c:a", "libopus", "-b:a", "64k")),
    "MJPEG and PCM": Upload("mjpeg.avi", video=("-c:v", "mjpeg", "-q:v", "5"), audio_codec=("-c:a", "pcm_s16le")),
    "MPEG-2 and MP2": Upload("mpeg2.mpg", video=("-c:v", "mpeg2video", "-q:v", "5"),
                             audio_codec=("-c:a", "mp2", "-b:a", "128k")),
    "5.1 audio": Upload("surround.mp4", audio_codec=("-c:a", "aac", "-ac", "6", "-b:a", "192k")),
    "8 kHz mono audio": Upload("phone-call.mp4", audio=speech_like(0.3, seconds=3, sample_rate=8000),
                               audio_codec=("-c:a", "aac", "-ac", "1", "-ar", "8000"), sample_rate=8000),
    "44.1 kHz audio kept": Upload("cd-rate.mov", audio=speech_like(0.3, seconds=3, sample_rate=44100),
                                  audio_codec=("-c:a", "pcm_s16le"), sample_rate=44100),
    "96 kHz audio resampled": Upload("hi-res.mkv", audio=speech_like(0.3, seconds=3, sample_rate=96000),
                                     audio_codec=("-c:a", "flac"), sample_rate=48000),
    "no audio": Upload("silent.mp4", audio=None),
}


def make_upload(upload: Upload, folder: Path) -> Path:
    path = make_media(folder / upload.file, seconds=3, width=upload.width, height=upload.height, video=upload.video,
                      audio=upload.audio, audio_codec=upload.audio_codec, extra=upload.extra)
    if not upload.rotate:
        return path
    rotated = folder / f"rotated-{upload.file}"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", "-display_rotation:v:0", str(upload.rotate),
                    "-i", str(path), "-c", "copy", str(rotated)], check=True, timeout=60)
    return rotated


@pytest.fixture(scope="module")
def media() -> FfmpegMediaProcessor:
    return FfmpegMediaProcessor(ffmpeg_exe(), timeout_seconds=120, segment_seconds=2, preset="ultrafast")


@pytest.mark.parametrize("kind", list(UPLOADS))
def test_every_kind_of_upload_plays_upright_with_stereo_at_its_rate_and_a_storyboard(media, tmp_path, kind):
    upload = UPLOADS[kind]
    source = make_upload(upload, tmp_path)
    info = media.probe(source)
    ladder = plan_ladder(info.height, RUNGS)
    assert [r.name for r in ladder] == list(upload.renditions)

    master = media.transcode_hls(source, tmp_path / "out" / "hls", info, ladder, lambda _: None,
                                 storyboard_dir=tmp_path / "out")

    text = master.read_text()
    for name, (width, height) in upload.renditions.items():
        assert f"RESOLUTION={width}x{height}" in text
        segments = sorted((master.parent / name).glob("seg_*.ts"))
        with av.open(str(segments[0])) as container:
            frame = next(container.decode(video=0))
            assert (frame.width, frame.height) == (width, height)  # upright, never upscaled, even
            assert frame.format.name == "yuv420p" and container.streams.video[0].codec_context.name == "h264"
            assert frame.color_range in (0, 1)  # unspecified or limited (MPEG), never full
        durations = [float(line[8:].split(",")[0]) for line in (master.parent / name / "index.m3u8").read_text()
                     .splitlines() if line.startswith("#EXTINF:")]
        assert sum(durations) == pytest.approx(info.duration_seconds, abs=0.3)
    if upload.audio is None:
        assert "TYPE=AUDIO" not in text and not (master.parent / "audio").exists()
    else:
        with av.open(str(master.parent / "audio" / "seg_00000.ts")) as container:
            audio = container.streams.audio[0].codec_context
            assert (audio.name, audio.channels, audio.sample_rate) == ("aac", 2, upload.sample_rate)
        integrated, peak = measure_loudness(master.parent / "audio" / "index.m3u8")
        assert abs(integrated + 16) <= 1 and peak <= -1, (integrated, peak)

    vtt = (tmp_path / "out" / "storyboard.vtt").read_text()
    assert vtt.startswith("WEBVTT") and vtt.count(" --> ") == 1  # 3 s: one 5 s interval
    ends = vtt.split(" --> ")[1].split("\n")[0]
    assert ends == f"00:00:{round(info.duration_seconds * 1000) / 1000:06.3f}"  # the cue runs to the very end
    tile = vtt.split("#xywh=")[1].split("\n")[0].split(",")
    with av.open(str(tmp_path / "out" / "storyboard" / "sprite_000.jpg")) as sprite:
        sheet = next(sprite.decode(video=0))
        width, height = upload.renditions[ladder[-1].name]
        assert tile[2] == "160" and int(tile[3]) == pytest.approx(160 * height / width, abs=2)  # portrait stays so
        assert (sheet.width, sheet.height) == (160, int(tile[3]))
    assert not list((tmp_path / "out" / "hls").glob(".storyboard-tiles"))


def test_a_ten_minute_video_gets_a_hundred_tiles_on_one_sheet(media, tmp_path):
    # One frame a second keeps this quick; the tiles still follow the video's timeline.
    source = make_media(tmp_path / "long.mkv", seconds=601, width=192, height=108, fps=1, audio=None)
    info = media.probe(source)
    master = media.transcode_hls(source, tmp_path / "out" / "hls", info, plan_ladder(info.height, RUNGS),
                                 lambda _: None, storyboard_dir=tmp_path / "out")
    assert master.is_file()
    lines = (tmp_path / "out" / "storyboard.vtt").read_text().splitlines()
    timings = [line for line in lines if " --> " in line]
    assert len(timings) == 100
    assert timings[0] == "00:00:00.000 --> 00:00:06.010" and timings[-1] == "00:09:54.990 --> 00:10:01.000"
    assert lines[-1] == "storyboard/sprite_000.jpg#xywh=1440,810,160,90"
    with av.open(str(tmp_path / "out" / "storyboard" / "sprite_000.jpg")) as sprite:
        sheet = next(sprite.decode(video=0))
        assert (sheet.width, sheet.height) == (1600, 900)
    assert not (tmp_path / "out" / "storyboard" / "sprite_001.jpg").exists()


def test_each_tile_shows_its_own_interval(media, tmp_path):
    # Red for 5 s, then green, then blue: tile k must have interval k's colour.
    source = tmp_path / "colours.mp4"
    colours = [f"color=c={name}:s=320x180:r=25:d=5" for name in ("red", "lime", "blue")]
    inputs = [arg for colour in colours for arg in ("-f", "lavfi", "-i", colour)]
    subprocess.run([ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", *inputs, "-filter_complex",
                    "[0:v][1:v][2:v]concat=n=3:v=1:a=0", *X264, str(source)], check=True, timeout=60)
    info = media.probe(source)
    media.transcode_hls(source, tmp_path / "out" / "hls", info, plan_ladder(info.height, RUNGS), lambda _: None,
                        storyboard_dir=tmp_path / "out")
    with av.open(str(tmp_path / "out" / "storyboard" / "sprite_000.jpg")) as sprite:
        sheet = next(sprite.decode(video=0)).to_image()
    assert sheet.size == (480, 90)
    pixels = [sheet.getpixel((80 + 160 * tile, 45)) for tile in range(3)]
    strongest = [max(range(3), key=lambda channel: pixel[channel]) for pixel in pixels]
    assert strongest == [0, 1, 2], pixels  # red, green, blue


@pytest.mark.parametrize("seconds", [0.6, 2.0, 7.4])
def test_short_videos_get_a_tile_for_every_cue(media, tmp_path, seconds):
    source = make_media(tmp_path / "short.mp4", seconds=seconds, audio=None)
    info = media.probe(source)
    media.transcode_hls(source, tmp_path / "out" / "hls", info, plan_ladder(info.height, RUNGS), lambda _: None,
                        storyboard_dir=tmp_path / "out")
    vtt = (tmp_path / "out" / "storyboard.vtt").read_text()
    fragments = re.findall(r"#xywh=(\d+),0,160,120", vtt)
    assert fragments == [str(160 * tile) for tile in range(math.ceil(seconds / 5))]
    with av.open(str(tmp_path / "out" / "storyboard" / "sprite_000.jpg")) as sprite:
        assert next(sprite.decode(video=0)).width == 160 * len(fragments)
