"""Loudness of the audio learners hear, measured on the encoded AAC with ffmpeg's ebur128, whatever the mic did."""

from __future__ import annotations

import pytest

from adapters.media import FfmpegMediaProcessor
from domain.video.model import Rendition
from tests.media_samples import ffmpeg_exe, make_media, measure_loudness, speech_like

LADDER = [Rendition("240p", 240, 300, 128)]
SECONDS = 12
# A click of 4 ms at nearly full scale every 3 s: peaks the constant gain would push far over the ceiling.
CLICKS = "0.95*lt(mod(t\\,3)\\,0.004)*sin(2*PI*2000*t)"

VOICES = {
    "quiet (about -40 LUFS)": speech_like(0.05, seconds=SECONDS),
    "normal (about -25 LUFS)": speech_like(0.3, seconds=SECONDS),
    "clipping-loud (about -5 LUFS, peaks over 0 dBTP)": speech_like(8, clip=True, seconds=SECONDS),
    "quiet with loud clicks": speech_like(0.05, seconds=SECONDS).replace("exprs='", f"exprs='{CLICKS}+", 1),
}


def encode(tmp_path, audio: str, target: float | None):
    source = make_media(tmp_path / "source.mov", seconds=SECONDS, audio=audio, audio_codec=("-c:a", "pcm_s16le"))
    media = FfmpegMediaProcessor(ffmpeg_exe(), timeout_seconds=120, segment_seconds=4, preset="ultrafast",
                                 loudness_target_lufs=target)
    info = media.probe(source)
    master = media.transcode_hls(source, tmp_path / "hls", info, LADDER, lambda _: None)
    return source, master.parent / "audio" / "index.m3u8"


@pytest.mark.parametrize("voice", list(VOICES))
def test_every_microphone_level_comes_out_at_minus_16_lufs_under_minus_1_dbtp(tmp_path, voice):
    source, audio = encode(tmp_path, VOICES[voice], -16.0)
    before, _ = measure_loudness(source)
    integrated, peak = measure_loudness(audio)
    assert abs(before + 16) > 3  # the source really was off target
    assert abs(integrated + 16) <= 1.0, integrated
    assert peak <= -1.0, peak


def test_another_target_is_met_too(tmp_path):
    _, audio = encode(tmp_path, VOICES["normal (about -25 LUFS)"], -23.0)
    integrated, peak = measure_loudness(audio)
    assert abs(integrated + 23) <= 1.0 and peak <= -1.0


def test_without_a_target_the_level_is_left_as_it_is(tmp_path):
    source, audio = encode(tmp_path, VOICES["quiet (about -40 LUFS)"], None)
    assert measure_loudness(audio)[0] == pytest.approx(measure_loudness(source)[0], abs=0.5)


def test_a_silent_track_stays_silent(tmp_path):
    # Digital silence has no loudness to measure: no gain, no failure.
    _, audio = encode(tmp_path, "anullsrc=sample_rate=48000:channel_layout=stereo", -16.0)
    integrated, _ = measure_loudness(audio)
    assert integrated <= -70


def test_room_noise_is_not_blown_up_to_speech_level(tmp_path):
    # -66 LUFS of hiss: raised by at most 30 dB, not by 50.
    _, audio = encode(tmp_path, "anoisesrc=color=pink:amplitude=0.0008:sample_rate=48000", -16.0)
    integrated, _ = measure_loudness(audio)
    assert integrated <= -35
