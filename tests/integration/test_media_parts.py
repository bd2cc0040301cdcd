"""A video encoded in parts with the real ffmpeg, read by presigned URL from moto's S3: seams, and the single pass's outputs.

Segments of 1 s and parts of 1 or 2 s on clips of a few seconds keep this
quick; every part boundary is then also a segment boundary and a boundary
of the storyboard's partition, which is where seams break.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import av
import pytest

from adapters.media import FfmpegMediaProcessor
from adapters.media.manifest import AudioManifest, PartManifest
from adapters.media.master import playlist_entries
from adapters.media.safety import RemoteAccess
from domain.video.model import MediaInfo, Rendition
from domain.video.parts import plan_parts
from domain.video.rules import plan_ladder
from tests.integration.test_media_sources import UPLOADS, make_upload
from tests.media_samples import X264, ffmpeg_exe, make_media

RUNGS = [Rendition("240p", 240, 300, 64), Rendition("360p", 360, 500, 96)]
SEGMENT = 1
FRAME = 1 / 25


@pytest.fixture(scope="module")
def media() -> FfmpegMediaProcessor:
    # veryfast: the production preset, whose B-frames delay the video's first packet.
    return FfmpegMediaProcessor(ffmpeg_exe(), timeout_seconds=120, segment_seconds=SEGMENT, preset="veryfast",
                                threads=1, remote=RemoteAccess(allow_plain_http=True))


def presign(moto, bucket: str, path: Path, expires: int = 3600) -> str:
    """Put ``path`` in the bucket and return a presigned GET URL of it."""
    s3 = moto.client("s3")
    s3.upload_file(str(path), bucket, path.name)
    return s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": path.name}, ExpiresIn=expires)


def encode_in_parts(media: FfmpegMediaProcessor, source, out: Path, info: MediaInfo, ladder: Sequence[Rendition],
                    part_seconds: int) -> tuple[Path, list[PartManifest], AudioManifest | None]:
    """Every part, the audio, then the stitching, as workers would; the manifests go through JSON."""
    manifests = []
    for part in plan_parts(info.duration_seconds, part_seconds=part_seconds, segment_seconds=SEGMENT, attempt="a1"):
        manifest = media.encode_part(source, out / "hls", info, ladder, part, lambda _: None, tiles_dir=out / "tiles")
        manifests.append(json.loads(json.dumps(manifest)))
    audio = media.encode_audio(source, out / "hls", info, ladder, "a1", lambda _: None)
    audio = json.loads(json.dumps(audio))
    master = media.stitch_hls(out / "hls", ladder, manifests, audio)
    media.stitch_storyboard(manifests, out / "tiles", out, info)
    return master, [PartManifest.from_json(manifest) for manifest in manifests], \
        AudioManifest.from_json(audio) if audio else None


def single_pass(media: FfmpegMediaProcessor, source: Path, out: Path, info: MediaInfo,
                ladder: Sequence[Rendition]) -> Path:
    return media.transcode_hls(source, out / "hls", info, ladder, lambda _: None, storyboard_dir=out)


def timestamps(playlist: Path) -> list[float]:
    """Presentation times of every packet of a rendition, in playlist order."""
    found: list[float] = []
    for uri, _ in playlist_entries(playlist.read_text()):
        with av.open(str(playlist.parent / uri)) as container:
            stream = container.streams[0]
            found += sorted(float(p.pts * stream.time_base) for p in container.demux(stream) if p.pts is not None
                            and p.size)
    return found


def decode_errors(playlist: Path) -> str:
    """What ffmpeg complains about while decoding a whole rendition through its playlist."""
    result = subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(playlist), "-f", "null", "-"],
                            capture_output=True, text=True, timeout=120)
    return result.stderr.strip()


def names(ladder: Sequence[Rendition], info: MediaInfo) -> list[str]:
    return [rendition.name for rendition in ladder] + (["audio"] if info.has_audio else [])


def assert_same_as_single_pass(single: Path, parted: Path, ladder: Sequence[Rendition], info: MediaInfo) -> None:
    """The stitched outputs are the single pass's: playlists (but for the attempt folder), timestamps, storyboard."""
    for name in names(ladder, info):
        ours = (parted / "hls" / name / "index.m3u8").read_text().replace("a1/", "")
        assert ours == (single / "hls" / name / "index.m3u8").read_text(), name
        assert timestamps(parted / "hls" / name / "index.m3u8") == timestamps(single / "hls" / name / "index.m3u8")
    assert (parted / "storyboard.vtt").read_text() == (single / "storyboard.vtt").read_text()
    sheets = sorted(path.name for path in (single / "storyboard").iterdir())
    assert sheets == sorted(path.name for path in (parted / "storyboard").iterdir())
    for sheet in sheets:
        assert (parted / "storyboard" / sheet).read_bytes() == (single / "storyboard" / sheet).read_bytes()


def assert_seamless(hls: Path, ladder: Sequence[Rendition], info: MediaInfo, source_frames: int, parts: int) -> None:
    for rendition in ladder:
        playlist = hls / rendition.name / "index.m3u8"
        assert decode_errors(playlist) == "", rendition.name
        pts = timestamps(playlist)
        assert abs(len(pts) - source_frames) <= parts, (len(pts), source_frames)
        steps = [later - earlier for earlier, later in zip(pts, pts[1:])]
        assert max(steps) <= FRAME * 1.5 and min(steps) >= FRAME * 0.5, (min(steps), max(steps))  # no gap, no overlap
        entries = playlist_entries(playlist.read_text())
        assert [uri for uri, _ in entries] == [f"a1/seg_{number:05d}.ts" for number in range(len(entries))]
        assert all(abs(seconds - SEGMENT) <= FRAME for _, seconds in entries[:-1])
        if info.has_audio:
            assert abs(timestamps(hls / "audio" / "index.m3u8")[0] - pts[0]) <= FRAME


def source_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


# --- seams ------------------------------------------------------------------------


def test_parts_read_by_url_meet_seamlessly_and_make_the_single_pass(media, moto, bucket, tmp_path):
    source = make_media(tmp_path / "clip.mp4", seconds=8, width=480, height=360)
    url = presign(moto, bucket, source)
    info = media.probe(url)
    assert info == media.probe(source)
    ladder = plan_ladder(info.height, RUNGS)
    assert [rendition.name for rendition in ladder] == ["240p", "360p"]

    master, manifests, audio = encode_in_parts(media, url, tmp_path / "parts", info, ladder, part_seconds=2)
    single_pass(media, source, tmp_path / "single", info, ladder)

    assert len(manifests) == 4
    assert_seamless(master.parent, ladder, info, source_frames(source), parts=4)
    assert_same_as_single_pass(tmp_path / "single", tmp_path / "parts", ladder, info)
    single_master = (tmp_path / "single" / "hls" / "master.m3u8").read_text()
    assert [line.split("BANDWIDTH")[0] for line in master.read_text().splitlines()] == \
        [line.split("BANDWIDTH")[0] for line in single_master.splitlines()]  # CODECS, RESOLUTION, groups: the same
    # Only what the manifests list is left beside the playlists.
    written = {path.relative_to(master.parent).as_posix() for path in master.parent.rglob("*") if path.is_file()}
    tracks = [track for manifest in manifests for track in manifest.renditions] + [audio.track]
    listed = {f"{track.name}/{segment.uri}" for track in tracks for segment in track.segments}
    assert written == listed | {"master.m3u8", "240p/index.m3u8", "360p/index.m3u8", "audio/index.m3u8"}


def test_a_slide_shown_across_a_part_boundary_stays_until_the_next(media, tmp_path):
    # Red until 2.5 s, then blue; a screen recorder wrote no frame from 1.6 s to 2.5 s, so at the
    # part boundary (2 s) the picture is still the red frame of 1.56 s.
    source = tmp_path / "slides.mkv"
    colours = [arg for colour in ("red", "blue") for arg in ("-f", "lavfi", "-i", f"color=c={colour}:s=320x240:r=25:d=2.5")]
    subprocess.run([ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", *colours, "-filter_complex",
                    "[0:v][1:v]concat=n=2:v=1:a=0,select='not(between(n,40,61))'", "-fps_mode", "vfr", *X264,
                    str(source)], check=True, timeout=60)
    info = media.probe(source)
    ladder = plan_ladder(info.height, RUNGS)

    encode_in_parts(media, source, tmp_path / "parts", info, ladder, part_seconds=2)
    single_pass(media, source, tmp_path / "single", info, ladder)

    assert_same_as_single_pass(tmp_path / "single", tmp_path / "parts", ladder, info)
    with av.open(str(tmp_path / "parts" / "hls" / "240p" / "a1" / "seg_00002.ts")) as container:
        first = next(container.decode(video=0)).to_image()
    red, _, blue = first.getpixel((160, 120))
    assert red > 200 and blue < 60, first.getpixel((160, 120))
    assert_seamless(tmp_path / "parts" / "hls", ladder, info, source_frames=125, parts=3)


def test_a_video_stream_that_ends_before_the_audio_leaves_the_later_parts_empty(media, tmp_path):
    source = tmp_path / "short-video.mp4"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=25:duration=3", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000:duration=6", *X264, "-c:a", "aac", str(source)],
                   check=True, timeout=60)
    info = media.probe(source)
    ladder = plan_ladder(info.height, RUNGS)

    master, manifests, _ = encode_in_parts(media, source, tmp_path / "parts", info, ladder, part_seconds=2)
    single_pass(media, source, tmp_path / "single", info, ladder)

    assert [track.frames for manifest in manifests for track in manifest.renditions] == [50, 25, 0]
    assert_same_as_single_pass(tmp_path / "single", tmp_path / "parts", ladder, info)
    assert decode_errors(master.parent / "240p" / "index.m3u8") == ""


@pytest.mark.parametrize("kind", list(UPLOADS))
def test_every_kind_of_upload_still_plays_when_parted(media, tmp_path, kind):
    source = make_upload(UPLOADS[kind], tmp_path)
    info = media.probe(source)
    ladder = plan_ladder(info.height, RUNGS)

    master, manifests, _ = encode_in_parts(media, source, tmp_path / "parts", info, ladder, part_seconds=1)
    single_pass(media, source, tmp_path / "single", info, ladder)

    assert len(manifests) == 3
    for rendition in ladder:
        assert decode_errors(master.parent / rendition.name / "index.m3u8") == ""
    assert_same_as_single_pass(tmp_path / "single", tmp_path / "parts", ladder, info)


@pytest.mark.parametrize("name,codecs", [
    ("ntsc.mp4", ("-r", "30000/1001")),
    # No keyframe index: a part seeks a pre-roll earlier; two-second GOPs.
    ("gops.ts", ("-g", "50")),
    ("flash.flv", ("-g", "50")),
    ("windows.wmv", ("-c:v", "wmv2", "-g", "50", "-c:a", "wmav2")),
])  # fmt: skip
def test_ntsc_rates_and_containers_without_an_index_by_url_make_the_single_pass(media, moto, bucket, tmp_path, name,
                                                                               codecs):
    source = make_media(tmp_path / name, seconds=5, extra=codecs)
    url = presign(moto, bucket, source)
    info = media.probe(url)
    ladder = plan_ladder(info.height, RUNGS)

    encode_in_parts(media, url, tmp_path / "parts", info, ladder, part_seconds=2)
    single_pass(media, source, tmp_path / "single", info, ladder)

    assert_same_as_single_pass(tmp_path / "single", tmp_path / "parts", ladder, info)


def test_progress_of_a_part_rises_to_one(media, tmp_path):
    source = make_media(tmp_path / "clip.mp4", seconds=6)
    info = media.probe(source)
    part = plan_parts(info.duration_seconds, part_seconds=2, segment_seconds=SEGMENT, attempt="p")[1]
    fractions: list[float] = []
    media.encode_part(source, tmp_path / "hls", info, [RUNGS[0]], part, fractions.append)
    assert fractions == sorted(set(fractions)) and fractions[-1] == 1.0 and all(0 < f <= 1 for f in fractions)


def test_a_ten_minute_video_in_parts_gets_the_single_pass_storyboard(tmp_path):
    # One frame a second keeps this quick; a tile every 6.01 s, parts of 60 s: tiles straddle parts.
    media = FfmpegMediaProcessor(ffmpeg_exe(), timeout_seconds=120, segment_seconds=6, preset="ultrafast", threads=1)
    source = make_media(tmp_path / "long.mkv", seconds=601, width=192, height=108, fps=1, audio=None)
    info = media.probe(source)
    ladder = plan_ladder(info.height, RUNGS)
    manifests = []
    for part in plan_parts(info.duration_seconds, part_seconds=60, segment_seconds=6, attempt="a1"):
        manifests.append(media.encode_part(source, tmp_path / "parts" / "hls", info, ladder, part, lambda _: None,
                                           tiles_dir=tmp_path / "tiles"))
    media.stitch_storyboard(manifests, tmp_path / "tiles", tmp_path / "parts", info)
    media.transcode_hls(source, tmp_path / "single" / "hls", info, ladder, lambda _: None, storyboard_dir=tmp_path / "single")

    assert len(manifests) == 10 and sum(len(manifest["tiles"]) for manifest in manifests) == 100
    assert (tmp_path / "parts" / "storyboard.vtt").read_text() == (tmp_path / "single" / "storyboard.vtt").read_text()
    ours = tmp_path / "parts" / "storyboard" / "sprite_000.jpg"
    assert ours.read_bytes() == (tmp_path / "single" / "storyboard" / "sprite_000.jpg").read_bytes()
