"""Chapters of lectures (CONTRACT 4c): boundaries, titles, no chapters without slides, and the cost.

Accuracy: generated lectures (``tests/slide_samples.py``: three slide
templates, English or Korean headings, bullet builds, a laser pointer over
the heading, a picture-in-picture drifting and jumping) of several lengths, a
talking head with a camera cut and a scrolling screen recording, each
encoded once by the real media adapter (a one-rung ladder: the slide watch
does not depend on the ladder) and decided by ``domain.video.chapters.decide``.
Printed per source: slide changes found within 1 s, chapters that are no
slide change (at a build: none allowed), the title CER on English and on
Korean headings, and how many candidates went to OCR; for both signals the
watch can measure (``--compare``): the heading zone's own difference, and
the whole frame's (scdet's MAFD on the whole small copy).

Cost: the whole video job (ProcessVideoJobHandler, real adapters, S3 on
moto's server, SQLite, Redis) on a 1080p lecture with the default ladder,
with chapters against the same job without them, interleaved in one run.

    .venv/bin/python bench/chapters.py [--quick] [--compare] [--runs 3] [--cost-seconds 180]
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.media import FfmpegMediaProcessor  # noqa: E402
from adapters.media import ffmpeg as ffmpeg_module
from adapters.media.slide_branch import HEADING_ZONE, WHOLE_FRAME  # noqa: E402
from adapters.media.slides import SlideWatcher  # noqa: E402
from bench.common import interleaved, parse_options, summary, video_job_bench  # noqa: E402
from domain.video.chapters import CANDIDATES_FILE, decide, language_of, load_candidates  # noqa: E402
from domain.video.model import Rendition  # noqa: E402
from tests.media_samples import ffmpeg_exe  # noqa: E402
from tests.ocr_samples import character_error_rate  # noqa: E402
from tests.slide_samples import Sample, deck, lecture, screen_recording, talking_head  # noqa: E402

TINY_LADDER = [Rendition("180p", 180, 300, 64)]
SIGNALS = {"heading zone": HEADING_ZONE, "whole frame": WHOLE_FRAME}


@dataclass
class Score:
    """What one source's chapters got right and wrong."""

    changes: int = 0
    found: int = 0  # slide changes with a chapter start within 1 s
    extra: int = 0  # chapters at no slide change
    at_builds: int = 0  # chapters within 3 s of a build
    candidates: int = 0
    offsets: list[float] = field(default_factory=list)  # chapter start - slide change, seconds
    errors: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: {"en": [], "ko": []})

    def spread(self) -> str:
        if not self.offsets:
            return "-"
        return f"{min(self.offsets):+.2f} to {max(self.offsets):+.2f}"

    def cer(self, lang: str) -> str:
        pairs = self.errors[lang]
        return f"{sum(e for e, _ in pairs) / sum(n for _, n in pairs):.3f}" if pairs else "-"


def sources(folder: Path, quick: bool) -> dict[str, Sample]:
    """The generated sources, made once per folder."""
    if quick:
        plans = {"lecture-en-ko-42s": [*deck(21, "en", seed=4, slide_seconds=(21, 21)),
                                       *deck(21, "ko", seed=5, slide_seconds=(21, 21))]}
        extra_seconds = 10
    else:
        plans = {"lecture-en-2min": deck(120, "en", seed=1), "lecture-ko-5min": deck(300, "ko", seed=2),
                 "lecture-en-10min": deck(600, "en", seed=3), "lecture-ko-10min": deck(600, "ko", seed=4)}
        extra_seconds = 180
    made = {name: lecture(folder / f"{name}.mp4", slides, reuse=True) for name, slides in plans.items()}
    made["talking-head"] = talking_head(folder / "talking-head.mp4", extra_seconds)
    made["screen-recording"] = screen_recording(folder / "screen-recording.mp4", extra_seconds)
    return made


def chapters_of(sample: Sample, zone: tuple[float, float, float, float], work: Path):
    """One encode of ``sample`` with the slide watch on ``zone``: (candidates, chapters)."""
    shutil.rmtree(work, ignore_errors=True)
    original = ffmpeg_module.SlideWatcher
    ffmpeg_module.SlideWatcher = functools.partial(SlideWatcher, zone=zone)
    try:
        media = FfmpegMediaProcessor(ffmpeg_exe(), timeout_seconds=3600, preset="ultrafast")
        info = media.probe(sample.path)
        media.transcode_hls(sample.path, work / "hls", info, TINY_LADDER, lambda _: None, slides_dir=work / "slides")
    finally:
        ffmpeg_module.SlideWatcher = original
    candidates = load_candidates((work / "slides" / CANDIDATES_FILE).read_text())
    return candidates, decide(candidates, duration_seconds=info.duration_seconds)


def score(sample: Sample, candidates, chapters) -> Score:
    result = Score(changes=len(sample.changes), candidates=len(candidates))
    for change, heading in zip(sample.changes, sample.headings):
        near = [chapter for chapter in chapters if abs(chapter.start - change) <= 1.0]
        if near:
            result.found += 1
            result.offsets.append(near[0].start - change)
            errors = round(character_error_rate(heading, near[0].title) * len(heading))
            result.errors[language_of(heading)].append((errors, len(heading)))
    for chapter in chapters:
        if not any(abs(chapter.start - change) <= 1.0 for change in sample.changes):
            result.extra += 1
        if any(abs(chapter.start - build) <= 3.0 for build in sample.builds):
            result.at_builds += 1
    return result


def accuracy(made: dict[str, Sample], signals: list[str], work: Path) -> dict[str, Score]:
    totals = {}
    for signal in signals:
        total = Score()
        print(f"\n## Accuracy, {signal} signal\n")
        print("| source | slide changes | found within 1 s | chapter start - change (s) | chapters at no change "
              "| at a build | candidates (OCR) | title CER en | title CER ko |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, sample in made.items():
            candidates, chapters = chapters_of(sample, SIGNALS[signal], work / "encode")
            result = score(sample, candidates, chapters)
            if not sample.changes:
                result.extra = len(chapters)
            print(f"| {name} | {result.changes} | {result.found} | {result.spread()} | {result.extra} | "
                  f"{result.at_builds} | {result.candidates} | {result.cer('en')} | {result.cer('ko')} |")
            for attribute in ("changes", "found", "extra", "at_builds", "candidates", "offsets"):
                setattr(total, attribute, getattr(total, attribute) + getattr(result, attribute))
            for lang in ("en", "ko"):
                total.errors[lang] += result.errors[lang]
        print(f"| **all** | {total.changes} | {total.found} | {total.spread()} | {total.extra} | {total.at_builds} "
              f"| {total.candidates} | {total.cer('en')} | {total.cer('ko')} |")
        totals[signal] = total
    return totals


def cost(seconds: int, height: int, runs: int, work: Path) -> float:
    """The whole job with chapters against without, interleaved; returns the ratio of the medians."""
    sample = lecture(work / f"cost-lecture-{seconds}s-{height}p.mp4", deck(seconds, "en", seed=9),
                     size=(height * 16 // 9 // 2 * 2, height), reuse=True)

    class WithoutChapters(FfmpegMediaProcessor):
        def transcode_hls(self, source, out_dir, info, ladder, on_progress, storyboard_dir=None, slides_dir=None):
            return super().transcode_hls(source, out_dir, info, ladder, on_progress, storyboard_dir)

    with video_job_bench(sample.path) as bench:
        container, job = bench.container, bench.run
        handler = container.handler("video")
        plain = WithoutChapters(handler.media.ffmpeg, timeout_seconds=7200, preset=container.settings.x264_preset,
                                crf=container.settings.video_crf,
                                loudness_target_lufs=container.settings.loudness_target_lufs)
        without = type(handler)(jobs=handler.jobs, lock=handler.lock, progress=handler.progress,
                                storage=handler.storage, media=plain, limits=handler.limits, workdir=handler.workdir)
        cpu: dict[str, list[float]] = {"without_chapters": [], "with_chapters": []}

        def measured(name: str, chosen) -> None:
            before = _cpu_seconds()
            job(chosen)
            cpu[name].append(_cpu_seconds() - before)

        samples = interleaved(runs, without_chapters=lambda: measured("without_chapters", without),
                              with_chapters=lambda: measured("with_chapters", handler))
    ratio = statistics.median(samples["with_chapters"]) / statistics.median(samples["without_chapters"])
    cpu_ratio = statistics.median(cpu["with_chapters"]) / statistics.median(cpu["without_chapters"])
    print(f"\n## Cost: the whole job, {seconds} s {height}p lecture ({len(sample.changes)} slides), default ladder\n")
    print(f"without chapters  wall {summary(samples['without_chapters'])}; CPU {summary(cpu['without_chapters'])}")
    print(f"with chapters     wall {summary(samples['with_chapters'])}; CPU {summary(cpu['with_chapters'])}")
    print(f"ratio (with / without, medians): wall {ratio:.3f}, CPU {cpu_ratio:.3f}   goal <= 1.05")
    return ratio


def _cpu_seconds() -> float:
    """CPU time of this process (its OCR thread included) and of its finished children (ffmpeg, Tesseract)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


SMOKE = {"quick": True, "compare": True}  # what tests/integration/test_bench_chapters.py runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny sources and one run: what the test runs")
    parser.add_argument("--compare", action="store_true", help="also measure the whole frame's signal")
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs of the whole job; 0 skips the cost")
    parser.add_argument("--cost-seconds", type=int, default=180)
    parser.add_argument("--cost-height", type=int, default=1080)
    parser.add_argument("--cost-only", action="store_true", help="skip the accuracy part")
    parser.add_argument("--folder", help="where generated sources are kept between runs (default: a temp dir)")
    options = parse_options(parser, SMOKE)
    one, five, _ = os.getloadavg()
    print(f"load average {one:.1f} / {five:.1f} on {os.cpu_count()} cores")
    work = Path(tempfile.mkdtemp(prefix="bench-chapters-"))
    folder = Path(options.folder) if options.folder else work
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if not options.cost_only:
            made = sources(folder, options.quick)
            zone = accuracy(made, list(SIGNALS) if options.compare else ["heading zone"], work)["heading zone"]
            print(f"\ngoals: every slide change within 1 s ({zone.found}/{zone.changes}), no chapter at a build "
                  f"({zone.at_builds}), none without slides or elsewhere ({zone.extra}), "
                  f"title CER <= 0.10 (en {zone.cer('en')}, ko {zone.cer('ko')})")
        if options.runs:
            if options.quick:
                cost(20, 360, 1, work)
            else:
                cost(options.cost_seconds, options.cost_height, options.runs, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
