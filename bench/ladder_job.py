"""The whole video job with today's media output against the same job with the fixed ladder it replaced.

Both run ProcessVideoJobHandler with the real adapters (S3 on moto's server
over HTTP, PyAV probe, SQLite row, Redis lock and progress); the baseline's
media processor encodes the fixed-rate ladder (one AAC per rendition, no
loudness pass, no storyboard) instead. Used by ``bench/quality.py``.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.common import interleaved, summary, video_job_bench
from bench.fixed_ladder import FixedLadderProcessor


def compare_jobs(source: Path, *, runs: int, crf: int, ladder: str) -> None:
    """Print the median wall time of the whole job, today's output against the fixed ladder's.

    Parameters:
      source: the local source uploaded once to the bucket.
      runs: runs of each, interleaved.
      crf: today's rate factor.
      ladder: the rungs, as HLS_LADDER.
    """
    with video_job_bench(source, video_crf=crf, hls_ladder=ladder) as bench:
        today = bench.container.handler("video")
        fixed = FixedLadderProcessor(today.media.ffmpeg, timeout_seconds=7200,
                                     preset=bench.container.settings.x264_preset)
        before = type(today)(jobs=today.jobs, lock=today.lock, progress=today.progress, storage=today.storage,
                             media=fixed, limits=today.limits, workdir=today.workdir)
        samples = interleaved(runs, fixed_ladder=lambda: bench.run(before), capped_crf=lambda: bench.run(today))
    ratio = statistics.median(samples["capped_crf"]) / statistics.median(samples["fixed_ladder"])
    print(f"\n## Whole job, lecture source ({source.stat().st_size / 1e6:.1f} MB, S3 on moto)\n")
    print(f"fixed ladder  {summary(samples['fixed_ladder'])}")
    print(f"capped CRF    {summary(samples['capped_crf'])}")
    print(f"ratio (capped CRF / fixed ladder, medians): {ratio:.3f}   goal <= 1.00")
