"""The pure rules of a video in parts: planning, frame and tile windows, commands, manifests, stitching, URL safety."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import pytest
from PIL import Image

from adapters.media.encoding import AudioEncoding, TileOutput, VideoEncoding
from adapters.media.manifest import AudioManifest, PartManifest, Segment, Tile, Track
from adapters.media.grid import mux_shift, part_window
from adapters.media.parts import audio_command, part_command
from adapters.media.reading import reads_by_range
from adapters.media.runner import _failure
from adapters.media.safety import (
    HEAD_BYTES,
    RemoteAccess,
    check_url,
    input_args,
    open_options,
    protocols,
    scrub,
    sniff_head,
)
from adapters.media.stitch import media_playlist, ordered_parts, seam_gaps, stitch_hls, stitch_storyboard
from domain.video.model import MediaInfo, Rendition, VideoPart
from domain.errors import SourceNotFound, TransientError, UnsupportedMedia
from domain.video.parts import check_attempt, check_piece, plan_parts

LADDER = [Rendition("360p", 360, 800, 96), Rendition("720p", 720, 2800, 128)]
INFO = MediaInfo(duration_seconds=125.3, width=1280, height=720, has_audio=True, format_name="mov,mp4,m4a,3gp,3g2,mj2",
                 audio_sample_rate=48000, frame_rate="30000/1001", start_seconds=0.0)


def value_after(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


# --- planning -----------------------------------------------------------------


@pytest.mark.parametrize("duration,starts,last_first_segment", [
    (3, [0], 0), (65.9, [0], 0), (66, [0, 60], 10), (300.2, [0, 60, 120, 180, 240], 40), (7200, list(range(0, 7200, 60)), 1190),
])  # fmt: skip
def test_parts_follow_the_part_length_and_a_sliver_joins_the_last(duration, starts, last_first_segment):
    parts = plan_parts(duration, part_seconds=60, segment_seconds=6, attempt="a-1")
    assert [part.start_seconds for part in parts] == starts
    assert [part.index for part in parts] == list(range(len(starts)))
    assert all(part.duration_seconds == 60 for part in parts[:-1]) and parts[-1].duration_seconds is None
    assert parts[-1].first_segment == last_first_segment


@pytest.mark.parametrize("part_seconds,segment_seconds", [(50, 6), (4, 6), (0, 6), (6, 0)])
def test_a_part_length_off_the_segment_grid_is_refused(part_seconds, segment_seconds):
    with pytest.raises(ValueError, match="multiple of the segment length"):
        plan_parts(600, part_seconds=part_seconds, segment_seconds=segment_seconds, attempt="a")


@pytest.mark.parametrize("attempt", ["", "../x", "a/b", "a b", "x" * 65, "%v", "a\n"])
def test_an_attempt_must_be_a_plain_folder_name(attempt):
    # "a\n" once passed: "$" matches before a trailing newline.
    with pytest.raises(ValueError, match="attempt"):
        check_attempt(attempt)
    with pytest.raises(ValueError, match="piece"):
        check_piece(f"part_00001{attempt[-1:] or chr(10)}")


# --- windows on the frame and tile grids ----------------------------------------


@pytest.mark.parametrize("rate", [Fraction(25), Fraction(30000, 1001), Fraction(24000, 1001), Fraction(60)])
def test_parts_own_every_frame_of_the_grid_once(rate):
    parts = plan_parts(7200, part_seconds=60, segment_seconds=6, attempt="a")
    windows = [part_window(part, rate, None, 7200) for part in parts]
    for window, following in zip(windows, windows[1:]):
        assert window.frames is not None and following.first_frame == window.first_frame + window.frames
        assert window.start == Fraction(window.first_frame) / rate
    assert windows[0].first_frame == 0 and windows[-1].frames is None
    # the first frame of a part is the first at or after its start: no frame before it belongs to it
    for part, window in zip(parts, windows):
        assert (window.first_frame - 1) / rate < part.start_seconds <= window.first_frame / rate


@pytest.mark.parametrize("duration,interval", [(125.3, 5000), (7200, 72000), (1234.5, 12346), (3600, 36000)])
def test_parts_own_every_storyboard_tile_once(duration, interval):
    parts = plan_parts(duration, part_seconds=60, segment_seconds=6, attempt="a")
    windows = [part_window(part, Fraction(25), interval, duration) for part in parts]
    owned = []
    for part, window in zip(parts, windows):
        owned += list(range(window.first_tile, window.first_tile + window.tiles))
        for tile in range(window.first_tile, window.first_tile + window.tiles):
            middle = (tile + 0.5) * interval / 1000
            assert middle >= part.start_seconds and (part.duration_seconds is None
                                                     or middle < part.start_seconds + part.duration_seconds)
    assert owned == list(range(math.ceil(duration * 1000 / interval)))


def test_the_shift_covers_the_longest_encoder_delay_on_the_mpeg_ts_clock():
    assert mux_shift(Fraction(25), 2, Fraction(1024, 48000)) == Fraction(2, 25)
    assert mux_shift(Fraction(25), 0, Fraction(1024, 48000)) == Fraction(1024, 48000)
    assert mux_shift(Fraction(25), 2, Fraction(1024, 8000)) == Fraction(1024, 8000)
    assert mux_shift(Fraction(25), 0, Fraction(1024, 44100)) == Fraction(2090, 90000)  # rounded up, as the muxer does
    assert mux_shift(Fraction(30000, 1001), 2, None) == Fraction(6006, 90000)
    assert mux_shift(Fraction(25), 0, None) == 0


# --- commands -------------------------------------------------------------------


def test_a_middle_part_seeks_early_decodes_its_frames_only_and_continues_the_numbers():
    part = VideoPart(index=2, start_seconds=120, duration_seconds=60, first_segment=20, attempt="att1")
    tiles = TileOutput(interval_ms=5000, width=160, pattern="/t/tile_%05d.png")
    args = part_command("ffmpeg", "https://s3.example/bucket/key?X-Amz-Signature=abc", LADDER, part, INFO,
                        video=VideoEncoding(segment_seconds=6), tiles=tiles, shift=Fraction(2, 25))
    assert value_after(args, "-protocol_whitelist") == "https,tls,tcp"
    assert value_after(args, "-tls_verify") == "1" and value_after(args, "-ca_file")
    assert "-copyts" in args and "-noaccurate_seek" in args and value_after(args, "-seek_timestamp") == "1"
    first = math.ceil(120 * Fraction(30000, 1001))  # 3597
    assert value_after(args, "-ss") == f"{round((Fraction(first) - Fraction(1, 20)) / Fraction(30000, 1001) * 10**6)}us"
    assert value_after(args, "-itsoffset") == f"-{round(Fraction(first * 1001, 30000) * 10**6)}us"
    assert value_after(args, "-frames:v") == str(math.ceil(180 * Fraction(30000, 1001)) - first)
    assert value_after(args, "-r") == "30000/1001" and value_after(args, "-fps_mode:v") == "cfr"
    assert value_after(args, "-output_ts_offset") == f"{round((Fraction(first * 1001, 30000) + Fraction(2, 25)) * 10**6)}us"
    assert value_after(args, "-avoid_negative_ts") == "disabled"
    assert value_after(args, "-hls_segment_filename") == "%v/att1/seg_%05d.ts"
    assert args[args.index("-hls_segment_filename") :].count("-start_number") == 2  # segments, then tiles
    assert value_after(args, "-var_stream_map") == "v:0,name:360p v:1,name:720p"  # no audio in a part
    graph = value_after(args, "-filter_complex")
    assert graph.startswith("[0:V:0]setpts='if(lt(PTS*TB,-0.01668")
    start = float(Fraction(first * 1001, 30000))
    assert f"[s2]setpts=PTS+{start!r}/TB,fps=fps=1000/5000:start_time=120.0:" in graph
    assert graph.endswith(f"format=rgb24,setpts=PTS-{start!r}/TB[tiles]")
    assert args[-7:] == ["-frames:v", "12", "-start_number", "24", "-f", "image2", "/t/tile_%05d.png"]
    assert "[0:a:0]" not in graph and "-c:a" not in args


def test_the_first_part_starts_as_the_single_pass_and_the_last_runs_to_the_end():
    first = VideoPart(index=0, start_seconds=0, duration_seconds=60, first_segment=0, attempt="a")
    args = part_command("ffmpeg", Path("/in.mp4"), LADDER, first, INFO, video=VideoEncoding(), tiles=None,
                        shift=Fraction(0))
    assert "-ss" not in args and value_after(args, "-itsoffset") == "0us"
    assert value_after(args, "-filter_complex").startswith("[0:V:0]split=2[s0][s1];")
    assert value_after(args, "-protocol_whitelist") == "file" and "-tls_verify" not in args
    last = VideoPart(index=2, start_seconds=120, duration_seconds=None, first_segment=20, attempt="a")
    assert "-frames:v" not in part_command("ffmpeg", Path("/in.mp4"), LADDER, last, INFO, video=VideoEncoding(),
                                           tiles=None, shift=Fraction(0))


def test_containers_without_a_keyframe_index_are_sought_with_a_preroll():
    part = VideoPart(index=1, start_seconds=60, duration_seconds=60, first_segment=10, attempt="a")
    ts = MediaInfo(duration_seconds=300, width=640, height=360, has_audio=False, format_name="mpegts",
                   frame_rate="25/1", start_seconds=1.4)
    args = part_command("ffmpeg", Path("/in.ts"), LADDER[:1], part, ts, video=VideoEncoding(), tiles=None,
                        shift=Fraction(0))
    assert value_after(args, "-ss") == f"{round((Fraction(14, 10) + 60 - Fraction(1, 500) - 10) * 10**6)}us"
    assert value_after(args, "-itsoffset") == "-61400000us"


@pytest.mark.parametrize("start", [3, 61])
def test_a_part_off_the_segment_grid_is_refused(start):
    part = VideoPart(index=1, start_seconds=start, duration_seconds=60, first_segment=1, attempt="a")
    with pytest.raises(ValueError, match="off the 6 s grid"):
        part_command("ffmpeg", Path("/in.mp4"), LADDER, part, INFO, video=VideoEncoding(), tiles=None, shift=Fraction(0))


def test_the_audio_command_encodes_the_audio_group_alone():
    args = audio_command("ffmpeg", Path("/in.mp4"), INFO, AudioEncoding(kbps=128, sample_rate=48000,
                         filters="volume=3.00dB"), "a1", segment_seconds=6, shift=Fraction(2, 25))
    assert value_after(args, "-filter_complex") == "[0:a:0]aformat=channel_layouts=stereo,volume=3.00dB,aresample=48000[aout]"
    assert value_after(args, "-map") == "[aout]" and "[0:V:0]" not in " ".join(args)
    assert value_after(args, "-hls_segment_filename") == "audio/a1/seg_%05d.ts" and "-var_stream_map" not in args
    assert value_after(args, "-output_ts_offset") == "80000us" and value_after(args, "-avoid_negative_ts") == "disabled"


# --- URLs -----------------------------------------------------------------------


@pytest.mark.parametrize("url,allow_http,error", [
    ("http://127.0.0.1:5000/b/k", False, "must be https"),
    ("ftp://example.com/k", True, "must be https or http"),
    ("file:///etc/passwd", True, "must be https or http"),
    ("HTTPS://example.com/k", False, "must be https"),
    ("rtmp://example.com/live", False, "must be https"),
    ("https:///nohost", False, "must name a host"),
    ("https://user:secret@example.com/k", False, "credentials"),
    ("https://example.com/k\r\nX-Injected: 1", False, "control characters"),
    ("https://example.com/a b", False, "spaces"),
])  # fmt: skip
def test_only_https_urls_are_read_and_http_only_when_allowed(url, allow_http, error):
    with pytest.raises(ValueError, match=error):
        check_url(url, allow_plain_http=allow_http)


def test_each_source_gets_exactly_the_protocols_it_needs():
    assert protocols(Path("/in.mp4")) == "file"
    assert protocols("https://s3.example/k") == "https,tls,tcp"
    assert protocols("http://127.0.0.1:5000/k") == "http,tcp"
    http = input_args("http://127.0.0.1:5000/b/k?sig=1", RemoteAccess(allow_plain_http=True))
    assert value_after(http, "-protocol_whitelist") == "http,tcp" and "-tls_verify" not in http
    assert http[-2:] == ["-i", "http://127.0.0.1:5000/b/k?sig=1"]
    assert value_after(http, "-rw_timeout") == "30000000" and value_after(http, "-reconnect") == "1"
    options = open_options("https://s3.example/k", RemoteAccess(ca_file="/ca.pem"))
    assert options["protocol_whitelist"] == "https,tls,tcp" and options["ca_file"] == "/ca.pem"
    assert options["tls_verify"] == "1" and options["format_whitelist"].startswith("mov,")


def test_a_presigned_url_never_reaches_a_stored_reason():
    line = ("[https @ 0x55d5c] HTTP error 403 Forbidden https://bucket.s3.amazonaws.com/videos/7/src.mp4"
            "?X-Amz-Credential=AKIAEXAMPLE%2F20261205&X-Amz-Signature=deadbeef")
    assert scrub(line) == "HTTP error 403 Forbidden <source URL>"
    reason = _failure(1, line + "\nServer returned 403 Forbidden (access denied)\n", "encode the part").reason
    assert "X-Amz" not in reason and "AKIA" not in reason


@pytest.mark.parametrize("log,error", [
    ("Server returned 404 Not Found", SourceNotFound),
    ("Server returned 403 Forbidden (access denied)", TransientError),
    ("Server returned 503 Service Unavailable", TransientError),
    ("Connection to tcp://127.0.0.1:9 failed: Connection refused", TransientError),
    ("error:0A000086:SSL routines::certificate verify failed", TransientError),
    ("Stream ends prematurely at 1234, should be 99999", TransientError),
    ("Invalid data found when processing input", UnsupportedMedia),
])  # fmt: skip
def test_reading_failures_of_a_url_are_told_from_a_bad_source(log, error):
    assert type(_failure(1, log, "encode the part")) is error


@pytest.mark.parametrize("head,reason", [
    (b"", "empty"),
    (b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n", "HLS playlist"),
    (b"ffconcat version 1.0\nfile '/etc/passwd'\n", "concat list"),
    (b"\xef\xbb\xbf<?xml version='1.0'?><MPD>", "DASH manifest"),
    (b"Dear customer, please find attached", "text file"),
])  # fmt: skip
def test_sniffing_judges_the_first_bytes_of_a_remote_source(head, reason):
    with pytest.raises(UnsupportedMedia, match=reason):
        sniff_head(head + b" " * 10 if head else head)


def test_sniffing_passes_binary_heads_and_looks_at_the_first_bytes_only():
    sniff_head(b"\x00\x00\x00\x20ftypisom" + bytes(100))
    sniff_head(b"\x00\x00\x00\x20ftypisom" + b"#EXTM3U" * HEAD_BYTES)  # a playlist past the head is the probe's


# --- manifests and stitching ------------------------------------------------------


def track(name: str, first: int, count: int, seconds: float = 6.0, size: int = 6000, attempt: str = "a1",
          codecs: str = "avc1.64001f", resolution: str = "1280x720", frame: float = 0.04) -> Track:
    segments = tuple(Segment(f"{attempt}/seg_{number:05d}.ts", seconds, size) for number in range(first, first + count))
    start = 1.4 + first * seconds
    return Track(name, codecs, resolution, segments, start, start + count * seconds - frame, int(count * seconds / frame))


def part(index: int, tracks: list[Track], duration: int | None = 12, attempt: str = "a1",
         tiles: tuple[Tile, ...] = ()) -> PartManifest:
    return PartManifest(index=index, start_seconds=12 * index, duration_seconds=duration, first_segment=2 * index,
                        attempt=attempt, frame_seconds=0.04, renditions=tuple(tracks), tiles=tiles,
                        tile_interval_ms=5000)


def three_parts() -> list[PartManifest]:
    return [
        part(0, [track("360p", 0, 2, size=3000), track("720p", 0, 2, size=9000)]),
        part(1, [track("360p", 2, 2, size=6000, codecs="avc1.64001e"), track("720p", 2, 2, size=12000)]),
        part(2, [track("360p", 4, 1, seconds=2.5, size=1000), track("720p", 4, 1, seconds=2.5, size=3000)], None),
    ]


def test_a_manifest_survives_json():
    manifest = three_parts()[1]
    assert PartManifest.from_json(manifest.to_json()) == manifest
    audio = AudioManifest("a1", track("audio", 0, 3, codecs="mp4a.40.2", resolution=""))
    assert AudioManifest.from_json(audio.to_json()) == audio
    with pytest.raises(ValueError, match="version"):
        PartManifest.from_json({**manifest.to_json(), "version": 99})


def test_stitched_playlists_list_every_part_in_order_and_the_master_measures_them(tmp_path):
    audio = AudioManifest("a1", track("audio", 0, 3, size=750, codecs="mp4a.40.2", resolution=""))
    master = stitch_hls(tmp_path, LADDER, list(reversed(three_parts())), audio)

    playlist = (tmp_path / "360p" / "index.m3u8").read_text().splitlines()
    assert playlist[:6] == ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:6", "#EXT-X-MEDIA-SEQUENCE:0",
                            "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-INDEPENDENT-SEGMENTS"]
    assert [line for line in playlist if not line.startswith("#")] == [f"a1/seg_{n:05d}.ts" for n in range(5)]
    assert playlist[-3:] == ["#EXTINF:2.500000,", "a1/seg_00004.ts", "#EXT-X-ENDLIST"]
    assert "INDEPENDENT" not in (tmp_path / "audio" / "index.m3u8").read_text()
    text = master.read_text()
    audio_rate = 8 * 750 // 6  # 1000 b/s, peak and average
    peak_360 = 8 * 6000 // 6 + audio_rate
    average_360 = math.ceil(8 * (2 * 3000 + 2 * 6000 + 1000) / 26.5) + audio_rate
    assert (f'#EXT-X-STREAM-INF:BANDWIDTH={peak_360},AVERAGE-BANDWIDTH={average_360},RESOLUTION=1280x720,'
            f'CODECS="avc1.64001f,mp4a.40.2",AUDIO="audio"\n360p/index.m3u8') in text  # the higher level wins
    assert text.endswith(f'#EXT-X-STREAM-INF:BANDWIDTH={audio_rate},AVERAGE-BANDWIDTH={audio_rate},'
                         'CODECS="mp4a.40.2"\naudio/index.m3u8\n')


@pytest.mark.parametrize("change,error", [
    (lambda parts: parts[:2], "does not run to the end"),
    (lambda parts: [parts[0], parts[2]], "not 0 to 1"),
    (lambda parts: [parts[0], part(1, list(parts[1].renditions), attempt="b2"), parts[2]], "2 attempts"),
    (lambda parts: [parts[0], parts[1], part(1, [track("360p", 9, 1)]), parts[2]], "two different manifests"),
    (lambda parts: [parts[0], part(1, list(parts[1].renditions), duration=6), parts[2]], "does not start where"),
])  # fmt: skip
def test_an_incomplete_or_mixed_set_of_parts_is_not_stitched(change, error):
    with pytest.raises(ValueError, match=error):
        ordered_parts(change(three_parts()))


def test_a_hole_in_the_segment_numbers_or_a_missing_rendition_is_not_stitched(tmp_path):
    parts = three_parts()
    parts[1] = part(1, [track("360p", 2, 1), track("720p", 2, 2)])
    with pytest.raises(ValueError, match="hole before part 2"):
        stitch_hls(tmp_path, LADDER, parts, None)
    parts[1] = part(1, [track("360p", 2, 2)])
    with pytest.raises(ValueError, match="part 1 has no 720p"):
        stitch_hls(tmp_path, LADDER, parts, None)


def test_target_duration_is_the_longest_segment_rounded_as_ffmpeg_rounds():
    def target(*seconds: float) -> str:
        text = media_playlist([Segment(f"a/seg_{i:05d}.ts", value, 1) for i, value in enumerate(seconds)])
        return text.splitlines()[2]
    assert target(6.006, 6.006, 2.0) == "#EXT-X-TARGETDURATION:6"
    assert target(1.2, 1.2, 0.6) == "#EXT-X-TARGETDURATION:1"
    assert target(6.5, 7.5) == "#EXT-X-TARGETDURATION:8"
    with pytest.raises(ValueError):
        media_playlist([])


def test_seams_are_measured_from_the_last_frame_of_one_part_to_the_first_of_the_next():
    first, second = track("360p", 0, 2), track("360p", 2, 2)
    assert seam_gaps([first, second], 0.04) == [pytest.approx(0)]
    late = Track("360p", "", "", second.segments, second.first_pts + 0.2, second.last_pts, second.frames)
    assert seam_gaps([first, late], 0.04) == [pytest.approx(0.2)]


def test_the_storyboard_is_laid_out_from_every_parts_tiles(tmp_path):
    colours = ["red", "lime", "blue", "yellow", "blue", "white"]
    for index, colour in enumerate(colours):
        Image.new("RGB", (160, 90), colour).save(tmp_path / f"tile_{index:05d}.png")
    tiles = [Tile(index, f"tile_{index:05d}.png", 5.0 * index) for index in range(6)]
    renditions = [list(manifest.renditions) for manifest in three_parts()]
    # 5 s tiles, parts of 12 s: tile n belongs to the part holding (n + 1/2) x 5 s.
    parts = [part(0, renditions[0], tiles=tuple(tiles[:2])), part(1, renditions[1], tiles=tuple(tiles[2:5])),
             part(2, renditions[2], None, tiles=tuple(tiles[5:]))]
    vtt = stitch_storyboard(parts, tmp_path, tmp_path / "out", duration_seconds=26.0)
    assert vtt.read_text().count(" --> ") == 6 and "00:00:25.000 --> 00:00:26.000" in vtt.read_text()
    with Image.open(tmp_path / "out" / "storyboard" / "sprite_000.jpg") as sheet:
        assert sheet.size == (960, 90) and sheet.getpixel((4 * 160 + 80, 45))[2] > 200
    parts[1] = part(1, renditions[1], tiles=tuple(tiles[2:4]))
    with pytest.raises(ValueError, match="without a hole"):
        stitch_storyboard(parts, tmp_path, tmp_path / "out", duration_seconds=26.0)
    parts[1] = part(1, renditions[1], tiles=tuple(tiles[3:5]))
    with pytest.raises(ValueError, match="part 1 does not have its storyboard tiles"):
        stitch_storyboard(parts, tmp_path, tmp_path / "out", duration_seconds=26.0)
    # A video stream that ends in part 1: its first tiles, none after.
    parts[1:] = [part(1, renditions[1], tiles=tuple(tiles[2:3])), part(2, renditions[2], None)]
    assert stitch_storyboard(parts, tmp_path, tmp_path / "out", duration_seconds=26.0).read_text().count("-->") == 6


@pytest.mark.parametrize("format_name,by_range", [
    ("mov,mp4,m4a,3gp,3g2,mj2", True), ("matroska,webm", True), ("avi", True), ("asf", True), ("mpegts", True),
    ("mpeg", True), ("flv", False), ("ogg", False), ("wav", False), ("", False),
])  # fmt: skip
def test_containers_that_seek_by_index_or_bisection_are_read_by_range(format_name, by_range):
    info = MediaInfo(duration_seconds=600, width=640, height=360, has_audio=True, format_name=format_name)
    assert reads_by_range(info) is by_range


def test_a_run_that_met_many_reading_errors_is_a_damaged_source_and_a_few_are_tolerated():
    from adapters.media.parted import check_damage

    seek = "[h264 @ 0x55] co located POCs unavailable\n" * 3
    check_damage(seek)
    damaged = ("[in#0/mpegts @ 0x5650] max resync size reached, could not find sync byte\n"
               "    Last message repeated 27 times\n[h264 @ 0x5647] error while decoding MB 28 17\n")
    with pytest.raises(UnsupportedMedia, match=r"damaged there: ffmpeg met 29 errors reading it \(max resync size"):
        check_damage(damaged)
