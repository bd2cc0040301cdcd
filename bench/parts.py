"""Parts against the single pass on one worker: CPU seconds, wall time, HLS bytes, VMAF per rung, in one run.

The 1080p lecture and the high-motion source of ``bench/sources.py``
(``--seconds`` long, 10 minutes by default) are encoded by today's single
pass (``transcode_hls``: loudness, ladder, shared audio, storyboard) and in
parts one after the other on this one worker, as a fleet would: every part
(``encode_part``, ``--part`` seconds each, from a local file), the audio once
(``encode_audio``), then the stitching (``stitch_hls``, ``stitch_storyboard``).
CPU seconds are ffmpeg's (children waited for) and this process's; VMAF is
each rendition scaled back to 1080p against the source (``bench/measure.py``).
Goals (CONTRACT 4b's benchmarks): CPU <= 1.10x, wall <= 1.15x, bytes <= 1.03x,
each rung's VMAF within 0.5 points.

    .venv/bin/python bench/parts.py [--seconds 600] [--part 60] [--sources lecture,motion] [--vmaf-subsample 4]
        [--height 1080] [--ladder HLS_LADDER]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.media import FfmpegMediaProcessor, find_ffmpeg  # noqa: E402
from bench.common import load_average, parse_options  # noqa: E402
from bench.measure import folder_bytes, vmaf  # noqa: E402
from bench.sources import SOURCES, add_source_options  # noqa: E402
from domain.video.model import MediaInfo, Rendition  # noqa: E402
from domain.video.parts import plan_parts  # noqa: E402
from domain.video.rules import plan_ladder  # noqa: E402
from settings import Settings, parse_ladder  # noqa: E402

DEFAULTS = Settings(_env_file=None)
SMOKE = {"seconds": 12, "part": 6, "sources": "lecture", "height": 240, "ladder": "144p:144:200:64,240p:240:400:64",
         "vmaf_subsample": 5}


def measured(function: Callable[[], object]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (this process and the children it waited for) of ``function()``."""
    before_self, before_children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    function()
    wall = time.monotonic() - started
    after_self, after_children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
              for before, after in ((before_self, after_self), (before_children, after_children)))
    return wall, cpu


def single_pass(media: FfmpegMediaProcessor, source: Path, info: MediaInfo, ladder: list[Rendition], out: Path) -> None:
    media.transcode_hls(source, out / "hls", info, ladder, lambda _: None, storyboard_dir=out)


def in_parts(media: FfmpegMediaProcessor, source: Path, info: MediaInfo, ladder: list[Rendition], out: Path,
             part_seconds: int) -> None:
    parts = plan_parts(info.duration_seconds, part_seconds=part_seconds, segment_seconds=media.video.segment_seconds,
                       attempt="bench")
    manifests = [media.encode_part(source, out / "hls", info, ladder, part, lambda _: None, tiles_dir=out / "tiles")
                 for part in parts]
    audio = media.encode_audio(source, out / "hls", info, ladder, "bench", lambda _: None)
    media.stitch_hls(out / "hls", ladder, manifests, audio)
    media.stitch_storyboard(manifests, out / "tiles", out, info)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_source_options(parser, sources="lecture,motion", seconds=600, vmaf_subsample=4)
    parser.add_argument("--part", type=int, default=60, help="seconds per part")
    options = parse_options(parser, SMOKE)
    ladder_setting = parse_ladder(options.ladder)
    media = FfmpegMediaProcessor(find_ffmpeg(None), timeout_seconds=4 * 3600,
                                 segment_seconds=DEFAULTS.hls_segment_seconds, preset=DEFAULTS.x264_preset,
                                 crf=DEFAULTS.video_crf,
                                 loudness_target_lufs=DEFAULTS.loudness_target_lufs)
    print(f"{options.seconds:g} s sources, parts of {options.part} s, segments of {media.video.segment_seconds} s, "
          f"libx264 {DEFAULTS.x264_preset}, CRF {DEFAULTS.video_crf}, ladder {options.ladder}; {load_average()}\n")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-parts-") as work:
        for name in options.sources.split(","):
            source = SOURCES[name](options.seconds, height=options.height)
            rows += (measured_rows := source_rows(media, name, source, ladder_setting, options, Path(work) / name))
            print("\n".join(measured_rows), flush=True)
    print(f"\nafter: {load_average()}\n")
    print("| source | measure | single pass | parts, one worker | parts / single | goal |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


def source_rows(media: FfmpegMediaProcessor, name: str, source: Path, ladder_setting: list[Rendition],
                options: argparse.Namespace, work: Path) -> list[str]:
    """The table's rows of one source, encoded in one pass and in parts.

    Parameters:
      media: the media processor.
      name: the source's name.
      source: the source file.
      ladder_setting: the ladder's rungs (those above the source are left out).
      options: the command line's options (``part``, ``vmaf_subsample``: 0 for no VMAF).
      work: a private folder for the outputs.
    """
    info = media.probe(source)
    ladder = plan_ladder(info.height, ladder_setting)
    single_wall, single_cpu = measured(lambda: single_pass(media, source, info, ladder, work / "single"))
    parts_wall, parts_cpu = measured(lambda: in_parts(media, source, info, ladder, work / "parts", options.part))
    single_bytes, parts_bytes = folder_bytes(work / "single" / "hls"), folder_bytes(work / "parts" / "hls")
    rows = [
        f"| {name} | CPU s | {single_cpu:.1f} | {parts_cpu:.1f} | **{parts_cpu / single_cpu:.3f}** | <= 1.10 |",
        f"| {name} | wall s | {single_wall:.1f} | {parts_wall:.1f} | **{parts_wall / single_wall:.3f}** | <= 1.15 |",
        f"| {name} | HLS MB | {single_bytes / 1e6:.2f} | {parts_bytes / 1e6:.2f} | "
        f"**{parts_bytes / single_bytes:.3f}** | <= 1.03 |",
    ]
    for rung in ladder if options.vmaf_subsample else []:
        scores = [vmaf(work / variant / "hls" / rung.name / "index.m3u8", source, size=(info.width, info.height),
                       subsample=options.vmaf_subsample) for variant in ("single", "parts")]
        rows.append(f"| {name} | VMAF {rung.name} | {scores[0]:.2f} | {scores[1]:.2f} | "
                    f"**{scores[1] - scores[0]:+.2f}** | within 0.5 |")
    return rows


if __name__ == "__main__":
    main()
