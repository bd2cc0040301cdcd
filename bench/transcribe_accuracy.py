"""Transcription accuracy: English word error rate on speech synthesized from known text.

The evaluation set is what the project can make offline: espeak-ng reads
five short lecture passages (174 words) at three speeds, and at the middle
speed again with pink noise mixed in at three levels (the signal-to-noise
ratio printed is the mean power of the whole clip, pauses included, over
that of the noise). Each sample runs
through the real engine in its sandbox (decode, VAD, Whisper, cues), as a
job would. WER is jiwer's, on lower-cased words without punctuation.

Korean: espeak-ng's Korean is not intelligible to Whisper, and no package of
PyPI, npm or Debian found ships recorded Korean speech with its text, so no
Korean figure is printed: there is nothing worth measuring it on.

    .venv/bin/python bench/transcribe_accuracy.py [--passages 5] [--speeds 120,150,190] [--noise=-30,-20,-10]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jiwer  # noqa: E402
import numpy as np  # noqa: E402

from adapters.ai.engines.transcribe import SPEC  # noqa: E402
from adapters.ai.sandbox import SandboxedEngine  # noqa: E402
from bench.common import parse_options  # noqa: E402
from tests.engine_runs import run_engine  # noqa: E402
from tests.speech_samples import speak, with_noise, words_of  # noqa: E402
from tests.unit.fakes import FakeStorage  # noqa: E402

PASSAGES = [
    "Welcome to the second lecture on distributed systems. Today we look at message queues, retries, and what "
    "it means for a job to run exactly once. A worker receives a message, takes a lock, and writes the final "
    "state in one conditional update.",
    "Photosynthesis turns light into chemical energy. Inside the leaf, chlorophyll absorbs red and blue light, "
    "and the plant uses that energy to split water and to build sugar from carbon dioxide.",
    "In the last class we solved linear equations with two unknowns. This week we move on to matrices, which let "
    "us write a whole system of equations as one short line and solve it step by step.",
    "The French Revolution began in seventeen eighty nine. Bread was expensive, the government was in debt, and "
    "many people believed that the old order could no longer be defended.",
    "Before the exam, please read chapter four again and try the exercises at the end. If something is not "
    "clear, write your question on the course forum and we will answer it on Thursday.",
]
SPEEDS = "120,150,190"  # words per minute; espeak-ng's default is 175
NOISE_DB = "-30,-20,-10"  # pink noise gains, mixed into the middle speed
SMOKE = {"passages": 1, "speeds": "150", "noise": "-20"}


def power_db(paths: list[Path]) -> float:
    samples = []
    for path in paths:
        with wave.open(str(path)) as handle:
            samples.append(np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2").astype(np.float64))
    joined = np.concatenate(samples) / 32768.0
    return 10 * math.log10(float(np.mean(joined * joined)))


def transcribe(path: Path) -> str:
    storage = FakeStorage({"eval": path.read_bytes()})
    result, *_ = run_engine(SandboxedEngine(SPEC), "transcribe", {"file_key": "eval", "lang": "en"}, storage=storage)
    return result["text"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=len(PASSAGES), help="how many of the passages, from the first")
    parser.add_argument("--speeds", default=SPEEDS, help="words per minute, clean")
    parser.add_argument("--noise", default=NOISE_DB, help="pink noise gains in dB, mixed into the middle speed")
    options = parse_options(parser, SMOKE)
    passages = PASSAGES[:options.passages]
    speeds = [int(speed) for speed in options.speeds.split(",")]
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    reference = words_of(" ".join(passages))
    print(f"evaluation text: {len(passages)} passages, {len(reference.split())} words; model whisper-base (int8)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        conditions: list[tuple[str, list[Path]]] = []
        for speed in speeds:
            conditions.append((f"espeak-ng en-us {speed} wpm, clean",
                               [speak(folder / f"p{i}-{speed}.wav", text, words_per_minute=speed)
                                for i, text in enumerate(passages)]))
        middle = len(speeds) // 2
        clean = conditions[middle][1]
        for level in (float(gain) for gain in options.noise.split(",") if gain):
            noisy = [with_noise(path, folder / f"n{level:g}-{path.name}", noise_db=level) for path in clean]
            noise_only = 10 * math.log10(max(10 ** (power_db(noisy) / 10) - 10 ** (power_db(clean) / 10), 1e-12))
            snr = power_db(clean) - noise_only
            conditions.append((f"espeak-ng en-us {speeds[middle]} wpm, pink noise, SNR {snr:.0f} dB", noisy))
        for label, paths in conditions:
            heard = words_of(" ".join(transcribe(path) for path in paths))
            print(f"{label:48s} WER {jiwer.wer(reference, heard):.3f}")
    load = os.getloadavg()
    print(f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("Korean CER: not measured (no intelligible Korean speech with known text is available offline)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
