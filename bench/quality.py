"""Goal 7: what learners get - capped-CRF ladder, shared audio, loudness - against the fixed ladder, in one run.

Three generated 60 s 1080p sources (``bench/sources.py``): a lecture (slides,
picture-in-picture, a voice at a normal level), a screen recording (scrolling
code, a quiet voice) and high motion (testsrc2, a clipping-loud voice). Each
is encoded, interleaved, by today's worker (capped CRF, one shared AAC track,
loudness normalisation, storyboard, the master rewritten) and by the fixed
ladder it replaced (average rate per rung, one AAC encode per rendition).
Printed: bytes per rung and in total, VMAF of every rung scaled back to
1080p (libvmaf, bicubic), loudness of the audio players get (ebur128), the
encode's wall time, and - for the lecture - the whole job's wall time
(``bench/ladder_job.py``).

    .venv/bin/python bench/quality.py [--runs 3] [--seconds 60] [--height 1080] [--crf 19] [--vmaf-subsample 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.media import FfmpegMediaProcessor, find_ffmpeg  # noqa: E402
from bench.common import interleaved, load_average, parse_options, summary  # noqa: E402
from bench.fixed_ladder import fixed_rate_ladder_command  # noqa: E402
from bench.measure import folder_bytes, vmaf  # noqa: E402
from bench.sources import SOURCES, add_source_options  # noqa: E402
from settings import Settings, parse_ladder  # noqa: E402
from tests.media_samples import measure_loudness as loudness  # noqa: E402

DEFAULTS = Settings(_env_file=None)
SMOKE = {"runs": 1, "seconds": 2, "height": 240, "ladder": "144p:144:200:64,240p:240:400:64", "vmaf_subsample": 5,
         "job_runs": 1}
GOALS = {
    "lecture": "bytes <= 0.40 x, top rung VMAF >= 95, every rung within 2 points",
    "screen": "bytes <= 0.40 x, top rung VMAF >= 95, every rung within 2 points",
    "motion": "bytes <= 1.05 x, every rung within 1 point",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_source_options(parser, sources=",".join(SOURCES), seconds=60, vmaf_subsample=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--crf", type=int, default=DEFAULTS.video_crf)
    parser.add_argument("--job-runs", type=int, default=3, help="whole-job runs for the lecture; 0 skips them")
    options = parse_options(parser, SMOKE)
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as work:
        compare(options, Path(work))


def compare(options: argparse.Namespace, work: Path) -> None:
    """Encode each source both ways and print the tables.

    Parameters:
      options: the command line's options.
      work: a private folder for the outputs.
    """
    names = options.sources.split(",")
    ladder = parse_ladder(options.ladder)
    ffmpeg = find_ffmpeg(None)
    media = FfmpegMediaProcessor(ffmpeg, timeout_seconds=7200, crf=options.crf,
                                 loudness_target_lufs=DEFAULTS.loudness_target_lufs)
    print(f"ffmpeg {ffmpeg}, ladder {options.ladder}, libx264 {DEFAULTS.x264_preset}, CRF {options.crf}, "
          f"loudness target {DEFAULTS.loudness_target_lufs} LUFS")
    print(f"before: {load_average()}")
    sources = {name: SOURCES[name](options.seconds, height=options.height) for name in names}
    infos = {name: media.probe(path) for name, path in sources.items()}

    def fixed(name: str) -> None:
        out = work / name / "fixed"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        args = fixed_rate_ladder_command(ffmpeg, sources[name], ladder, has_audio=True, segment_seconds=6,
                                         preset=DEFAULTS.x264_preset, threads=0)
        subprocess.run(args, cwd=out, check=True, stdout=subprocess.DEVNULL)

    def capped(name: str) -> None:
        out = work / name / "capped"
        shutil.rmtree(out, ignore_errors=True)
        media.transcode_hls(sources[name], out / "hls", infos[name], ladder, lambda _: None, storyboard_dir=out)

    variants = {}
    for name in names:
        variants[f"{name} fixed"] = lambda name=name: fixed(name)
        variants[f"{name} capped"] = lambda name=name: capped(name)
    times = interleaved(options.runs, **variants)
    print(f"after the encodes: {load_average()}")

    print("\n## Encode wall time (ffmpeg only; capped CRF = loudness analysis + ladder + storyboard + master)\n")
    print("| source | fixed ladder | capped CRF | ratio |\n|---|---|---|---|")
    for name in names:
        old, now = times[f"{name} fixed"], times[f"{name} capped"]
        print(f"| {name} | {summary(old)} | {summary(now)} | "
              f"**{statistics.median(now) / statistics.median(old):.2f}** |")

    print(f"\n## Bytes and VMAF (n_subsample={options.vmaf_subsample})\n")
    print("| source | rung | fixed MB | capped CRF MB | ratio | fixed VMAF | capped CRF VMAF | difference |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        old_dir, new_dir = work / name / "fixed", work / name / "capped" / "hls"
        size = (infos[name].width, infos[name].height)
        for rung in ladder:
            old_bytes, new_bytes = folder_bytes(old_dir / rung.name), folder_bytes(new_dir / rung.name)
            old_vmaf = vmaf(old_dir / rung.name / "index.m3u8", sources[name], size=size,
                            subsample=options.vmaf_subsample)
            new_vmaf = vmaf(new_dir / rung.name / "index.m3u8", sources[name], size=size,
                            subsample=options.vmaf_subsample)
            print(f"| {name} | {rung.name} | {old_bytes / 1e6:.2f} | {new_bytes / 1e6:.2f} | "
                  f"{new_bytes / old_bytes:.3f} | {old_vmaf:.2f} | {new_vmaf:.2f} | {new_vmaf - old_vmaf:+.2f} |")
        audio = folder_bytes(new_dir / "audio")
        old_total, new_total = folder_bytes(old_dir), folder_bytes(new_dir)
        new_root = work / name / "capped"
        storyboard = folder_bytes(new_root / "storyboard") + (new_root / "storyboard.vtt").stat().st_size
        print(f"| {name} | shared audio | (in each rung) | {audio / 1e6:.2f} | | | | |")
        print(f"| {name} | **total** | {old_total / 1e6:.2f} | {new_total / 1e6:.2f} | "
              f"**{new_total / old_total:.3f}** | | | {GOALS[name]} |")
        print(f"| {name} | storyboard (outside hls/) | | {storyboard / 1e6:.3f} | | | | |")

    print("\n## Loudness of the audio players get (ebur128; target "
          f"{DEFAULTS.loudness_target_lufs} LUFS +/- 1, true peak <= -1 dBTP)\n")
    print(f"| source | source's audio | fixed ladder ({ladder[0].name}) | capped CRF (audio/) | within 1 LU |")
    print("|---|---|---|---|---|")
    for name in names:
        source_i, source_tp = loudness(sources[name])
        old_i, old_tp = loudness(work / name / "fixed" / ladder[0].name / "index.m3u8")
        new_i, new_tp = loudness(work / name / "capped" / "hls" / "audio" / "index.m3u8")
        ok = abs(new_i - DEFAULTS.loudness_target_lufs) <= 1 and new_tp <= -1
        print(f"| {name} | {source_i:.1f} LUFS, {source_tp:.1f} dBTP | {old_i:.1f} LUFS, {old_tp:.1f} dBTP | "
              f"{new_i:.1f} LUFS, {new_tp:.1f} dBTP | {'yes' if ok else '**no**'} |")
    print(f"\nafter the measurements: {load_average()}")

    if options.job_runs and "lecture" in sources:
        from bench.ladder_job import compare_jobs

        compare_jobs(sources["lecture"], runs=options.job_runs, crf=options.crf, ladder=options.ladder)
        print(f"after the jobs: {load_average()}")


if __name__ == "__main__":
    main()
