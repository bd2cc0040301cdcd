"""The slide watch's branch of an ffmpeg run's filter graph, and its output (no process work here).

The branch takes the decoded picture the ladder already has (one more output
of its ``split``): samples on a grid from 0, a small grey copy of the heading
zone whose mean difference from the sample before (scdet's MAFD) is printed
as it goes, and every few samples a JPEG frame for the heading's OCR.
``adapters.media.slides`` reads both while ffmpeg runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The heading zone: the top 40% of the picture, without its right quarter,
# where webcam overlays sit. A build lower on the slide, a pointer or a
# picture-in-picture in a bottom corner barely moves it; a new heading does.
HEADING_ZONE = (0.0, 0.0, 0.75, 0.4)
WHOLE_FRAME = (0.0, 0.0, 1.0, 1.0)
_SMALL = (160, 90)  # the grey copy the difference is measured on
# What a file name inside the filter graph may hold without escaping (no ':', ',', ';', quotes, brackets).
PLAIN_PATH = re.compile(r"^[A-Za-z0-9._/-]+$")


@dataclass(frozen=True)
class SlideOutput:
    """What the slide watcher reads from the same ffmpeg run.

    Parameters:
      motion_file: the text file, relative to the working directory (plain
        name characters only: it goes into the filter graph), where each
        sample's difference from the one before is printed
        (``lavfi.scd.mafd``, percent of full scale).
      frames_pattern: the image2 pattern, relative to the working directory,
        of the JPEG frames OCR may read, numbered from 0; its folder must exist.
      sample_rate: motion samples per second.
      frame_rate: JPEG frames per second (a divisor of ``sample_rate``).
      zone: the part of the picture whose difference is measured, as
        fractions (x, y, width, height) of the frame.
      frame_width: the frames' largest width in pixels.
    """

    motion_file: str
    frames_pattern: str
    sample_rate: int = 10
    frame_rate: int = 2
    zone: tuple[float, float, float, float] = HEADING_ZONE
    frame_width: int = 1280


def slide_chain(label: str, slides: SlideOutput) -> str:
    """The filter-graph chains from the split's output ``label`` (e.g. ``s3``); ends in ``[slides]``.

    Parameters:
      label: the split's output pad, without brackets.
      slides: the samples and frames to make.
    """
    if not PLAIN_PATH.match(slides.motion_file):
        raise ValueError(f"the motion file's path {slides.motion_file!r} cannot go into a filter graph")
    x, y, w, h = slides.zone
    small_w, small_h = _SMALL
    # The zone is cut from the picture before it is scaled down: only its pixels are averaged.
    zone = (f"crop=w=iw*{w:g}:h=ih*{h:g}:x=iw*{x:g}:y=ih*{y:g},"
            f"scale={max(round(small_w * w), 2)}:{max(round(small_h * h), 2)}:flags=area")
    return (
        f"[{label}]fps=fps={slides.sample_rate}:start_time=0:round=near,split=2[slm][slf];"
        f"[slm]{zone},format=gray,scdet=threshold=100,"
        # direct: printed unbuffered, so the watcher reads it while ffmpeg runs.
        f"metadata=mode=print:key=lavfi.scd.mafd:file={slides.motion_file}:direct=1,nullsink;"
        f"[slf]fps=fps={slides.frame_rate}:start_time=0:round=near,"
        # Even sizes, as 4:2:0 JPEG wants them.
        f"scale='trunc(min({slides.frame_width},iw)/2)*2':-2,format=yuvj420p[slides]"
    )


def slide_output_args(slides: SlideOutput) -> list[str]:
    """The output arguments that write the ``[slides]`` frames as JPEGs.

    Parameters:
      slides: the samples and frames to make.
    """
    return [
        "-map", "[slides]", "-c:v", "mjpeg", "-q:v", "3", "-fps_mode", "passthrough", "-map_metadata", "-1",
        # A frame's file appears whole (renamed into place), so it is read while ffmpeg runs.
        "-f", "image2", "-atomic_writing", "1", "-start_number", "0", slides.frames_pattern,
    ]  # fmt: skip
