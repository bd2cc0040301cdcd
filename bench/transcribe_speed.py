"""Transcription speed and memory: real-time factor and the engine process's peak RSS.

Lectures of 1, 10 and 30 minutes (espeak-ng reading the accuracy bench's
passages over and over, with pauses, as AAC in an M4A) each go through the
real engine in its sandbox, in a fresh interpreter so that peak figures do
not carry over. Printed per length: the wall time, the real-time factor
(wall time / audio length; the goal is <= 0.3: a 10-minute lecture in 3
minutes) and the peak RSS of the largest process below the job (the engine's
child), with its ratio to the 1-minute figure (flat memory: about 1.0).

    .venv/bin/python bench/transcribe_speed.py [--minutes 1,10,30] [--model FOLDER] [--threads N]

``--model`` runs an operator's model folder (with its manifest, as TRANSCRIBE_MODEL names it)
instead of the pinned base, so an operator can measure a bigger model on the worker's own
machine and set TRANSCRIBE_SECONDS_PER_AUDIO_SECOND and TRANSCRIBE_MEMORY_MB from it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import cached, parse_options  # noqa: E402
from bench.transcribe_accuracy import PASSAGES  # noqa: E402
from tests.speech_samples import ffmpeg, speak  # noqa: E402


SMOKE = {"minutes": "0.1"}


def make_lecture(folder: Path, minutes: float) -> Path:
    """A lecture of ``minutes`` (the passages read in turn, with pauses, again and again), cached.

    Parameters:
      folder: a private folder for the spoken passages.
      minutes: the length.
    """

    def write(path: Path) -> None:
        parts = [speak(folder / f"p{i}.wav", text) for i, text in enumerate(PASSAGES)]
        inputs = [arg for part in parts for arg in ("-i", str(part))]
        pauses = "".join(f"[{i}:a]apad=pad_dur=1.5[a{i}];" for i in range(len(parts)))
        chain = "".join(f"[a{i}]" for i in range(len(parts)))
        ffmpeg(*inputs, "-filter_complex", f"{pauses}{chain}concat=n={len(parts)}:v=0:a=1[out]", "-map", "[out]",
               str(folder / "round.wav"))
        ffmpeg("-stream_loop", "-1", "-i", str(folder / "round.wav"), "-t", str(minutes * 60),
               "-c:a", "aac", "-b:a", "64k", "-f", "ipod", str(path))

    return cached(Path(tempfile.gettempdir()) / f"bench-lecture-{minutes:g}min.m4a", write)


def one(path: Path, model: str, threads: int) -> None:
    """Run one job on ``path`` with ``model`` and print its figures as JSON (in a fresh interpreter)."""
    from adapters.ai.engines.transcribe import SPEC
    from adapters.ai.sandbox import SandboxedEngine
    from tests.engine_runs import run_engine
    from tests.unit.fakes import FakeStorage

    storage = FakeStorage({"lecture": path.read_bytes()})
    began = time.perf_counter()
    engine = SandboxedEngine(SPEC, options={"model": model, "cpu_threads": threads})
    result, *_ = run_engine(engine, "transcribe", {"file_key": "lecture", "lang": "en"}, storage=storage)
    elapsed = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "audio": result["duration_seconds"], "peak_mb": peak_mb,
                      "words": len(result["text"].split())}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="1,10,30", help="the lectures' lengths")
    parser.add_argument("--model", default="base", help="base, or an operator's model folder with its manifest")
    parser.add_argument("--threads", type=int, default=2, help="TRANSCRIBE_CPU_THREADS")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parse_options(parser, SMOKE)
    if args.one:
        one(args.one, args.model, args.threads)
        return 0
    lectures = {}
    for minutes in map(float, args.minutes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            lectures[minutes] = make_lecture(Path(tmp), minutes)
    base_peak = None
    for minutes, path in lectures.items():
        load = os.getloadavg()[0]
        out = subprocess.run([sys.executable, "-m", "bench.transcribe_speed", "--one", str(path),
                              "--model", args.model, "--threads", str(args.threads)],
                             cwd=ROOT, check=True, capture_output=True, text=True)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        base_peak = base_peak or figures["peak_mb"]
        rtf = figures["seconds"] / figures["audio"]
        print(f"{minutes:3g} min lecture: {figures['seconds']:7.1f} s, RTF {rtf:.3f}, "
              f"engine peak RSS {figures['peak_mb']:.0f} MB ({figures['peak_mb'] / base_peak:.2f} x the first), "
              f"{figures['words']} words; load average {load:.2f} at start, {os.getloadavg()[0]:.2f} at end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
