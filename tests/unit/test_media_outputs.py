"""The pure parts of the learner's outputs: storyboard layout, master rewrite, loudness decisions, ladder args."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from PIL import Image

from adapters.media.audio import output_sample_rate, shared_audio_kbps
from adapters.media.encoding import AudioEncoding, TileOutput, VideoEncoding, rendition_crf
from adapters.media.ladder import check_names, ladder_command
from adapters.media.loudness import Loudness, normalisation_filter, parse_summary
from adapters.media.master import playlist_rate, rewrite_master
from adapters.media.storyboard import interval_ms, write_storyboard
from domain.video.model import Rendition
from settings import Settings, parse_ladder

LADDER = [Rendition("360p", 360, 800, 96), Rendition("720p", 720, 2800, 128)]

# --- storyboard ---------------------------------------------------------------


@pytest.mark.parametrize(
    "duration,interval,cues",
    [(1.0, 5000, 1), (12.0, 5000, 3), (500.0, 5000, 100), (500.4, 5004, 100), (3600.0, 36000, 100),
     (14400.0, 144000, 100), (1234.5678, 12346, 100)],
)
def test_one_tile_every_5_s_or_a_hundredth_of_a_long_video(duration, interval, cues):
    assert interval_ms(duration) == interval
    assert math.ceil(round(duration * 1000) / interval) == cues


def tiles(folder: Path, count: int, size=(160, 90)) -> list[Path]:
    folder.mkdir(exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"tile_{index:05d}.png"
        Image.new("RGB", size, (index % 256, 0, 0)).save(path)
        paths.append(path)
    return paths


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    assert text.startswith("WEBVTT\n\n")
    cues = []
    for block in text.strip().split("\n\n")[1:]:
        timing, url = block.splitlines()
        start, end = (sum(float(part) * 60**i for i, part in enumerate(reversed(t.split(":"))))
                      for t in timing.split(" --> "))
        cues.append((start, end, url))
    return cues


def test_cues_cover_the_whole_video_without_gaps_and_point_into_the_sprite(tmp_path):
    vtt = write_storyboard(tiles(tmp_path / "t", 4), tmp_path, duration_seconds=17.32, interval=5000)
    assert vtt == tmp_path / "storyboard.vtt"
    cues = parse_vtt(vtt.read_text())
    assert [(start, end) for start, end, _ in cues] == [(0, 5), (5, 10), (10, 15), (15, 17.32)]
    assert [url for *_, url in cues] == [f"storyboard/sprite_000.jpg#xywh={x},0,160,90" for x in (0, 160, 320, 480)]
    with Image.open(tmp_path / "storyboard" / "sprite_000.jpg") as sheet:
        assert sheet.format == "JPEG" and sheet.size == (640, 90)
        # Tile 2 (red 2) is where its fragment says.
        assert sheet.getpixel((320 + 80, 45))[0] < 20 and sheet.getpixel((480 + 80, 45))[0] < 20


def test_sheets_hold_10_by_10_tiles_and_cues_past_the_last_tile_show_it(tmp_path):
    # 600 s at 5 s: 120 cues (the contract's rule would give 100; the layout must not care).
    vtt = write_storyboard(tiles(tmp_path / "t", 110, (160, 284)), tmp_path, duration_seconds=600, interval=5000)
    cues = parse_vtt(vtt.read_text())
    assert len(cues) == 120 and cues[-1][1] == 600
    assert all(previous[1] == following[0] for previous, following in zip(cues, cues[1:]))
    assert cues[99][2] == "storyboard/sprite_000.jpg#xywh=1440,2556,160,284"
    assert cues[100][2] == "storyboard/sprite_001.jpg#xywh=0,0,160,284"
    assert cues[119][2] == cues[109][2] == "storyboard/sprite_001.jpg#xywh=1440,0,160,284"
    with Image.open(tmp_path / "storyboard" / "sprite_000.jpg") as first, \
            Image.open(tmp_path / "storyboard" / "sprite_001.jpg") as second:
        assert first.size == (1600, 2840) and second.size == (1600, 284)


def test_tiles_of_another_size_are_fitted_to_the_first(tmp_path):
    paths = tiles(tmp_path / "t", 2) + tiles(tmp_path / "u", 1, (160, 120))
    write_storyboard(paths, tmp_path, duration_seconds=15, interval=5000)
    with Image.open(tmp_path / "storyboard" / "sprite_000.jpg") as sheet:
        assert sheet.size == (480, 90)


def test_extra_tiles_are_dropped_and_no_tile_is_an_error(tmp_path):
    write_storyboard(tiles(tmp_path / "t", 5), tmp_path, duration_seconds=9, interval=5000)
    assert len(parse_vtt((tmp_path / "storyboard.vtt").read_text())) == 2
    with Image.open(tmp_path / "storyboard" / "sprite_000.jpg") as sheet:
        assert sheet.size == (320, 90)
    with pytest.raises(ValueError):
        write_storyboard([], tmp_path, duration_seconds=9, interval=5000)


# --- master playlist ----------------------------------------------------------

# What ffmpeg 9's hls muxer writes with var_stream_map and agroup (bandwidths shortened).
FFMPEG_MASTER = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_audio",NAME="audio_2",DEFAULT=YES,CHANNELS="2",URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=900,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2",AUDIO="group_audio"
360p/index.m3u8

#EXT-X-STREAM-INF:BANDWIDTH=2900,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",AUDIO="group_audio"
720p/index.m3u8

#EXT-X-STREAM-INF:BANDWIDTH=140,AVERAGE-BANDWIDTH=130,CODECS="mp4a.40.2",AUDIO="group_audio"
audio/index.m3u8
"""


def media_playlist(folder: Path, segments: list[tuple[float, int]]) -> Path:
    folder.mkdir(parents=True)
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:6", "#EXT-X-PLAYLIST-TYPE:VOD"]
    for index, (seconds, size) in enumerate(segments):
        (folder / f"seg_{index:05d}.ts").write_bytes(b"\0" * size)
        lines += [f"#EXTINF:{seconds},", f"seg_{index:05d}.ts"]
    (folder / "index.m3u8").write_text("\n".join(lines + ["#EXT-X-ENDLIST"]) + "\n")
    return folder / "index.m3u8"


def test_peak_rate_skips_a_last_sliver_of_a_segment(tmp_path):
    rate = playlist_rate(media_playlist(tmp_path / "v", [(6, 6000), (6, 12000), (0.2, 3000)]))
    assert rate.peak == 16000  # 12000 bytes in 6 s; the 0.2 s sliver (120 kb/s) is left out
    assert rate.average == math.ceil(8 * 21000 / 12.2)


def test_master_adds_the_audio_to_every_video_variant_and_lists_audio_only_last(tmp_path):
    media_playlist(tmp_path / "360p", [(6, 60_000), (4, 30_000)])
    media_playlist(tmp_path / "720p", [(6, 300_000), (4, 100_000)])
    media_playlist(tmp_path / "audio", [(6, 9_000), (4, 6_000)])
    (tmp_path / "master.m3u8").write_text(FFMPEG_MASTER)

    master = rewrite_master(tmp_path, LADDER, has_audio=True).read_text().splitlines()

    assert master[:3] == ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    assert master[3] == ('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,'
                         'CHANNELS="2",URI="audio/index.m3u8"')
    audio_peak, audio_average = 12_000, 12_000
    assert master[4:] == [
        f'#EXT-X-STREAM-INF:BANDWIDTH={80_000 + audio_peak},AVERAGE-BANDWIDTH={72_000 + audio_average},'
        'RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2",AUDIO="audio"',
        "360p/index.m3u8",
        f'#EXT-X-STREAM-INF:BANDWIDTH={400_000 + audio_peak},AVERAGE-BANDWIDTH={320_000 + audio_average},'
        'RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",AUDIO="audio"',
        "720p/index.m3u8",
        f'#EXT-X-STREAM-INF:BANDWIDTH={audio_peak},AVERAGE-BANDWIDTH={audio_average},CODECS="mp4a.40.2"',
        "audio/index.m3u8",
    ]


def test_master_of_a_silent_source_has_no_audio_at_all(tmp_path):
    media_playlist(tmp_path / "360p", [(2, 1000)])
    (tmp_path / "master.m3u8").write_text(
        '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360,CODECS="avc1.64001e"\n360p/index.m3u8\n'
    )
    text = rewrite_master(tmp_path, LADDER[:1], has_audio=False).read_text()
    assert "AUDIO" not in text and "mp4a" not in text
    assert 'BANDWIDTH=4000,AVERAGE-BANDWIDTH=4000,RESOLUTION=640x360,CODECS="avc1.64001e"\n360p/index.m3u8' in text


def test_master_missing_a_rendition_is_an_error(tmp_path):
    media_playlist(tmp_path / "360p", [(2, 1000)])
    (tmp_path / "master.m3u8").write_text("#EXTM3U\n")
    with pytest.raises(ValueError, match="360p/index.m3u8"):
        rewrite_master(tmp_path, LADDER[:1], has_audio=False)


# --- loudness -----------------------------------------------------------------

SUMMARY = """[Parsed_ebur128_1 @ 0x55d5c] Summary:

  Integrated loudness:
    I:         -24.7 LUFS
    Threshold: -35.1 LUFS

  Loudness range:
    LRA:         5.0 LU
    Threshold:   -45.0 LUFS
    LRA low:     -28.0 LUFS
    LRA high:    -23.0 LUFS

  True peak:
    Peak:      -13.7 dBFS
[out#0/null @ 0x55d5c] video:0KiB audio:10336KiB subtitle:0KiB
"""


def test_the_last_summary_is_parsed():
    measured = parse_summary("Summary:\n  Integrated loudness:\n    I: -99.0 LUFS\n" + SUMMARY)
    assert measured == Loudness(integrated_lufs=-24.7, range_lu=5.0, true_peak_dbtp=-13.7)
    silent = parse_summary(SUMMARY.replace("-24.7", "-70.0").replace("-13.7", "-inf"))
    assert silent.integrated_lufs == -70 and silent.true_peak_dbtp == -math.inf
    for broken in ("", "no summary here", SUMMARY.split("True peak")[0]):
        with pytest.raises(ValueError):
            parse_summary(broken)


class Meter:
    """Stands in for an audio-only pass: the loudness a tried gain reaches through the limiter."""

    def __init__(self, reached) -> None:
        self.reached, self.tried = reached, []

    def __call__(self, filters: str) -> Loudness:
        gain = float(re.match(r"volume=(-?[\d.]+)dB,", filters).group(1))
        self.tried.append(gain)
        return Loudness(self.reached(gain), 3.0, -2.0)


def never(filters: str) -> Loudness:
    raise AssertionError("a constant gain needs no other pass")


def test_a_constant_gain_when_the_peaks_allow_it():
    assert normalisation_filter(Loudness(-24.7, 5.0, -13.7), -16, sample_rate=48000, measure=never) == \
        "volume=8.70dB"
    assert normalisation_filter(Loudness(-4.7, 5.0, 2.9), -16, sample_rate=48000, measure=never) == \
        "volume=-11.30dB"  # clipping-loud: turned down


def test_peaks_over_the_ceiling_get_a_limiter_and_the_gain_is_corrected_until_on_target():
    # Each dB of gain brings 0.6 LU after limiting (the limiter eats the rest).
    meter = Meter(lambda gain: -21.1 + 0.6 * gain - 3)
    chosen = normalisation_filter(Loudness(-21.1, 3.0, -3.2), -16, sample_rate=44100, measure=meter)
    assert chosen.startswith(f"volume={meter.tried[-1]:.2f}dB,aresample=176400,alimiter=limit=0.7943:level=false,")
    assert chosen.endswith(",aresample=44100")
    assert meter.tried[0] == pytest.approx(5.1) and len(meter.tried) == 3  # the third try is a secant step
    assert abs(-21.1 + 0.6 * meter.tried[-1] - 3 + 16) <= 0.5


def test_corrections_stop_at_the_gain_cap_and_after_four_passes():
    capped = Meter(lambda gain: -40.0)  # the limiter takes everything: more gain never helps
    chosen = normalisation_filter(Loudness(-35.0, 3.0, -1.0), -16, sample_rate=48000, measure=capped)
    assert capped.tried == [19.0, 30.0] and chosen.startswith("volume=30.00dB,")
    stubborn = Meter(lambda gain: -21.0 + 0.3 * gain - 0.02 * gain**2)  # louder, then quieter: no convergence
    normalisation_filter(Loudness(-21.0, 3.0, -1.0), -16, sample_rate=48000, measure=stubborn)
    assert len(stubborn.tried) == 4 and max(stubborn.tried) <= 30


def test_silence_is_left_alone_and_near_silence_is_raised_at_most_30_db():
    assert normalisation_filter(Loudness(-70.0, 0.0, -math.inf), -16, sample_rate=48000, measure=never) == ""
    assert normalisation_filter(Loudness(-math.inf, 0.0, -math.inf), -16, sample_rate=48000, measure=never) == ""
    assert normalisation_filter(Loudness(-60.0, 3.0, -48.0), -16, sample_rate=48000, measure=never) == \
        "volume=30.00dB"


def test_sample_rate_is_kept_unless_players_may_not_take_it():
    assert [output_sample_rate(rate) for rate in (8000, 44100, 48000, 96000, 192000, 7350, 0)] == \
        [8000, 44100, 48000, 48000, 48000, 48000, 48000]
    assert shared_audio_kbps(LADDER) == 128


# --- ladder command -----------------------------------------------------------


def value_after(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def test_capped_crf_makes_each_rung_rate_its_maximum():
    args = ladder_command("ffmpeg", Path("/in.mp4"), LADDER, video=VideoEncoding(crf=21),
                          audio=AudioEncoding(kbps=128, sample_rate=44100, filters="loudnorm=I=-16"))
    # 21 at 1080p: 3 lower per halving of the height.
    assert value_after(args, "-crf:v:0") == "16" and value_after(args, "-crf:v:1") == "19" and "-b:v:0" not in args
    assert value_after(args, "-maxrate:v:0") == "800k" and value_after(args, "-bufsize:v:0") == "1600k"
    assert value_after(args, "-maxrate:v:1") == "2800k" and value_after(args, "-bufsize:v:1") == "5600k"
    graph = value_after(args, "-filter_complex")
    assert "[0:a:0]aformat=channel_layouts=stereo,loudnorm=I=-16,aresample=44100[aout]" in graph
    assert args.count("-c:a") == 1 and value_after(args, "-b:a") == "128k"  # one audio encode
    assert value_after(args, "-var_stream_map") == (
        "v:0,agroup:audio,name:360p v:1,agroup:audio,name:720p a:0,agroup:audio,name:audio")
    assert "image2" not in args


def test_storyboard_tiles_come_from_the_same_run():
    args = ladder_command("ffmpeg", Path("/in.mp4"), LADDER, video=VideoEncoding(), audio=None,
                          tiles=TileOutput(interval_ms=5000, width=160, pattern="t/tile_%05d.png"))
    graph = value_after(args, "-filter_complex")
    assert graph.startswith("[0:V:0]split=3[s0][s1][s2];")
    assert re.search(r"\[s2\]fps=fps=1000/5000:start_time=0:round=near:eof_action=pass,scale=160:", graph)
    assert args[-3:] == ["-f", "image2", "t/tile_%05d.png"] and args.count("-i") == 1
    assert value_after(args, "-var_stream_map") == "v:0,name:360p v:1,name:720p"  # silent: no audio group


@pytest.mark.parametrize("height,crf", [(1080, 19), (720, 17), (540, 16), (360, 14), (240, 12), (2160, 22), (2, 0)])
def test_smaller_renditions_get_a_lower_rate_factor(height, crf):
    assert rendition_crf(19, height) == crf
    assert rendition_crf(50, 4320) == 51


@pytest.mark.parametrize("name", ["360p\n", "a b", "x%v", "../x"])
def test_rendition_names_that_are_not_plain_folder_names_are_refused(name):
    # A trailing newline once passed: "$" matches before it.
    with pytest.raises(ValueError, match="must be 1-32"):
        check_names([Rendition(name, 360, 800)])


@pytest.mark.parametrize("name", ["audio", "subs"])
def test_rendition_names_of_the_audio_and_captions_folders_are_refused(name):
    with pytest.raises(ValueError, match="reserved"):
        ladder_command("ffmpeg", Path("/in.mp4"), [Rendition(name, 360, 800)], video=VideoEncoding(), audio=None)
    with pytest.raises(ValueError, match="audio or captions folder"):
        parse_ladder(f"{name}:360:800:96")


def test_settings_of_rate_control_and_loudness(monkeypatch):
    defaults = Settings(_env_file=None)
    assert (defaults.video_crf, defaults.loudness_target_lufs) == (19, -16.0)
    assert Settings(_env_file=None, loudness_target_lufs="").loudness_target_lufs is None
    monkeypatch.setenv("LOUDNESS_TARGET_LUFS", "-23")
    monkeypatch.setenv("VIDEO_CRF", "20")
    assert (Settings(_env_file=None).video_crf, Settings(_env_file=None).loudness_target_lufs) == (20, -23.0)
    for name, bad in (("VIDEO_CRF", "52"), ("LOUDNESS_TARGET_LUFS", "0"), ("LOUDNESS_TARGET_LUFS", "loud")):
        monkeypatch.setenv(name, bad)
        with pytest.raises(ValueError):
            Settings(_env_file=None)
        monkeypatch.delenv(name)
