"""Which containers a part can read by range from a presigned URL, and what it costs: GETs and bytes, against moto.

For each container, a generated source (testsrc2 with a tone, ``--seconds``
long, ~4 Mb/s) is put in moto's S3 and read through a counting proxy
(``tests/range_proxy.py``) by what a worker would do with it:

* ``probe``: ``FfmpegMediaProcessor.probe`` (PyAV) of the URL;
* ``part``: ``encode_part`` of one part in the middle (``--part`` seconds
  from 40 % of the video; one small rung, ultrafast, so the CPU is not the
  point), with its storyboard tiles;
* ``audio``: the loudness measurement and ``encode_audio`` (whole source).

Printed: GETs and bytes read as a share of the file (a part's fair share is
part / duration). ``adapters.media.reading`` records the figures and the rule.

    .venv/bin/python bench/range_reads.py [--seconds 60] [--part 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.media import FfmpegMediaProcessor, find_ffmpeg  # noqa: E402
from adapters.media.safety import RemoteAccess  # noqa: E402
from bench.common import parse_options  # noqa: E402
from domain.video.model import Rendition, VideoPart  # noqa: E402
from domain.errors import JobError  # noqa: E402
from tests.range_proxy import RangeProxy  # noqa: E402
from tests.services import AWS_ENV, MotoServer  # noqa: E402

X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-b:v", "4M", "-maxrate", "4M", "-bufsize", "8M", "-g", "50"]
AAC = ["-c:a", "aac", "-b:a", "128k"]
SMOKE = {"seconds": 6, "part": 2, "only": "index at the front"}
CONTAINERS = {
    "mp4 (index at the front)": ("src.mp4", [*X264, *AAC, "-movflags", "+faststart"]),
    "mp4 (index at the end)": ("src.mp4", [*X264, *AAC]),
    "mov": ("src.mov", [*X264, *AAC]),
    "matroska (cues)": ("src.mkv", [*X264, *AAC]),
    "matroska (no cues, streamed)": ("src.mkv", [*X264, *AAC, "-f", "matroska", "pipe:"]),
    "webm (vp9, cues)": ("src.webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "4M",
                                       "-g", "50", "-c:a", "libopus"]),
    "mpegts": ("src.ts", [*X264, *AAC]),
    "avi (idx1)": ("src.avi", [*X264, "-c:a", "mp3"]),
    "flv": ("src.flv", [*X264, *AAC]),
    "mpeg-ps (mpeg-2)": ("src.mpg", ["-c:v", "mpeg2video", "-b:v", "4M", "-g", "15", "-c:a", "mp2"]),
    "ogg (theora)": ("src.ogv", ["-c:v", "libtheora", "-b:v", "4M", "-g", "50", "-c:a", "libvorbis"]),
    "asf (wmv2)": ("src.wmv", ["-c:v", "wmv2", "-b:v", "4M", "-g", "50", "-c:a", "wmav2"]),
}


def make(ffmpeg: str, folder: Path, seconds: int, name: str, args: list[str]) -> Path | None:
    path = folder / name
    inputs = ["-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={seconds}",
              "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    command = [ffmpeg, "-nostdin", "-y", "-loglevel", "error", *inputs, "-shortest", *args]
    if args[-1] == "pipe:":  # written to a pipe: the muxer cannot go back to write an index
        with open(path, "wb") as out:
            result = subprocess.run(command, stdout=out, stderr=subprocess.PIPE)
    else:
        result = subprocess.run([*command, str(path)], capture_output=True)
    if result.returncode != 0:
        print(f"  (cannot make {name}: {result.stderr.decode(errors='replace').strip()[-160:]})")
        return None
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--part", type=int, default=10)
    parser.add_argument("--only", default="", help="comma-separated container names (substrings)")
    options = parse_options(parser, SMOKE)
    ffmpeg = find_ffmpeg(None)
    media = FfmpegMediaProcessor(ffmpeg, timeout_seconds=600, segment_seconds=2, preset="ultrafast", threads=1,
                                 remote=RemoteAccess(allow_plain_http=True))
    ladder = [Rendition("144p", 144, 200, 64)]
    start = (options.seconds * 4 // 10) // 2 * 2
    part = VideoPart(index=1, start_seconds=start, duration_seconds=options.part, first_segment=start // 2, attempt="b")
    moto = MotoServer().start()
    try:
        s3 = moto.client("s3")
        s3.create_bucket(Bucket="bench")
        print(f"{options.seconds} s sources, 640x360 ~4 Mb/s; part {start}-{start + options.part} s "
              f"(fair share {options.part / options.seconds:.3f} of the file)\n")
        print("| container | size MB | probe GETs | probe share | part GETs | part share | part / fair share "
              "| audio GETs | audio share |")
        print("|---|---|---|---|---|---|---|---|---|")
        with tempfile.TemporaryDirectory() as tmp, RangeProxy(moto.url) as proxy:
            folder = Path(tmp)
            for label, (name, args) in CONTAINERS.items():
                if options.only and not any(word in label for word in options.only.split(",")):
                    continue
                source = make(ffmpeg, folder, options.seconds, name, args)
                if source is None:
                    continue
                key = f"{label}/{name}"
                s3.upload_file(str(source), "bench", key)
                size = source.stat().st_size
                url = proxy.url_for(s3.generate_presigned_url("get_object", Params={"Bucket": "bench", "Key": key},
                                                              ExpiresIn=3600))
                proxy.reset()
                out = folder / f"out-{len(key)}"
                try:
                    info = media.probe(url)
                    probe = proxy.reset()
                    media.encode_part(url, out / "hls", info, ladder, part, lambda _: None, tiles_dir=out / "tiles")
                    encoded = proxy.reset()
                    media.encode_audio(url, out / "hls", info, ladder, "b", lambda _: None)
                    audio = proxy.reset()
                except JobError as error:
                    print(f"| {label} | {size / 1e6:.1f} | refused: {error.reason} | | | | | | |", flush=True)
                    continue
                fair = options.part / options.seconds
                print(f"| {label} | {size / 1e6:.1f} | {probe.gets} | {probe.bytes_sent / size:.3f} | {encoded.gets} | "
                      f"{encoded.bytes_sent / size:.3f} | {encoded.bytes_sent / size / fair:.2f} | {audio.gets} | "
                      f"{audio.bytes_sent / size:.2f} |", flush=True)
                source.unlink()
    finally:
        moto.stop()


if __name__ == "__main__":
    import os

    os.environ.update(AWS_ENV)
    main()
