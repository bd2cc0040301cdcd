"""Loudness: the worker's normalisation against ffmpeg's loudnorm in one pass and in two passes.

Four 60 s speech-like tracks (quiet, normal, clipping-loud, and quiet with
loud clicks) go through each method to AAC 128k; ffmpeg's ebur128 measures
the result. Goal: -16 LUFS +/- 1 LU, true peak at most -1 dBTP.

    .venv/bin/python bench/loudness.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.media import find_ffmpeg  # noqa: E402
from adapters.media.loudness import analysis_command, normalisation_filter, parse_summary  # noqa: E402
from bench.common import parse_options  # noqa: E402
from tests.media_samples import measure_loudness, speech_like  # noqa: E402

TARGET = -16.0
CLICKS = "0.95*lt(mod(t\\,3)\\,0.004)*sin(2*PI*2000*t)"
STEREO = "aformat=channel_layouts=stereo"
SMOKE = {"seconds": 3}


def tracks(seconds: int) -> dict[str, str]:
    return {
        "quiet": speech_like(0.05, seconds=seconds),
        "normal": speech_like(0.3, seconds=seconds),
        "clipping-loud": speech_like(8, clip=True, seconds=seconds),
        "quiet + clicks": speech_like(0.05, seconds=seconds).replace("exprs='", f"exprs='{CLICKS}+", 1),
    }


def encode(ffmpeg: str, source: Path, filters: str, dest: Path) -> None:
    subprocess.run([ffmpeg, "-nostdin", "-y", "-loglevel", "error", "-i", str(source), "-af", filters,
                    "-c:a", "aac", "-b:a", "128k", str(dest)], check=True)


def loudnorm_two_pass(ffmpeg: str, source: Path) -> str:
    first = subprocess.run([ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-i", str(source), "-af",
                            f"{STEREO},loudnorm=I={TARGET}:TP=-2:LRA=20:print_format=json", "-f", "null", "-"],
                           capture_output=True, text=True, check=True).stderr
    measured = json.loads(first[first.rindex("{"):first.rindex("}") + 1])
    return (f"{STEREO},loudnorm=I={TARGET}:TP=-2:LRA=20:measured_I={measured['input_i']}:"
            f"measured_TP={measured['input_tp']}:measured_LRA={measured['input_lra']}:"
            f"measured_thresh={measured['input_thresh']}:offset={measured['target_offset']}:linear=true,"
            "aresample=48000")


def ours(ffmpeg: str, source: Path) -> str:
    def measure(filters: str = ""):
        args = analysis_command(ffmpeg, source, filters)
        return parse_summary(subprocess.run(args, capture_output=True, text=True, check=True).stderr)

    chosen = normalisation_filter(measure(), TARGET, sample_rate=48000, measure=measure)
    return ",".join(step for step in (STEREO, chosen, "aresample=48000") if step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    options = parse_options(parser, SMOKE)
    ffmpeg = find_ffmpeg(None)
    methods = {
        "loudnorm, one pass (dynamic)": lambda source: f"{STEREO},loudnorm=I={TARGET}:TP=-2:LRA=20,aresample=48000",
        "loudnorm, two passes (linear, dynamic fallback)": lambda source: loudnorm_two_pass(ffmpeg, source),
        "the worker (gain, or gain + limiter, measured)": lambda source: ours(ffmpeg, source),
    }
    print(f"target {TARGET} LUFS +/- 1, true peak <= -1 dBTP; AAC 128k; {options.seconds:g} s tracks\n")
    print("| track | source | " + " | ".join(methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    with tempfile.TemporaryDirectory(prefix="bench-loudness-") as tmp:
        for name, track in tracks(options.seconds).items():
            print(row(ffmpeg, name, track, methods, Path(tmp)))


def row(ffmpeg: str, name: str, track: str, methods: dict[str, Callable[[Path], str]], work: Path) -> str:
    """The table's row of one track: its source's loudness, then each method's result and time.

    Parameters:
      ffmpeg: the executable.
      name: the track's name.
      track: its lavfi source.
      methods: label -> the audio filters a method chooses for a source.
      work: a private folder.
    """
    source = work / f"{name.replace(' ', '_')}.wav"
    subprocess.run([ffmpeg, "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i", track, str(source)],
                   check=True)
    cells = []
    for method in methods.values():
        began = time.perf_counter()
        filters = method(source)
        dest = work / f"{name.replace(' ', '_')}-{len(cells)}.m4a"
        encode(ffmpeg, source, filters, dest)
        seconds = time.perf_counter() - began
        integrated, peak = measure_loudness(dest)
        ok = abs(integrated - TARGET) <= 1 and peak <= -1
        cells.append(f"{integrated:.1f} LUFS, {peak:.1f} dBTP{'' if ok else ' **(miss)**'}, {seconds:.1f} s")
    source_i, source_tp = measure_loudness(source)
    return f"| {name} | {source_i:.1f} LUFS, {source_tp:.1f} dBTP | " + " | ".join(cells) + " |"


if __name__ == "__main__":
    main()
