"""Generated sources for the quality benchmark: a lecture, a screen recording, high motion (1080p by default).

Each is made once with ffmpeg (pictures drawn with Pillow where text is
needed, at 1080p, then scaled to the height asked for) and cached in the
system temp dir. All carry the same speech-like audio, at a level given per
source, so the loudness goal is measured on a quiet, a normal and a
clipping-loud recording.
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from adapters.media import find_ffmpeg
from bench.common import cached
from settings import Settings
from tests.media_samples import speech_like

WIDTH, HEIGHT, FPS = 1920, 1080, 30


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _slide(index: int, path: Path) -> Path:
    rng = random.Random(index)
    image = Image.new("RGB", (WIDTH, HEIGHT), (250, 250, 247))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 150), fill=(24, 60, 120))
    draw.text((80, 40), f"Lecture 7 - part {index + 1}: queues and idempotency", font=_font(64), fill="white")
    for line in range(7):
        words = " ".join(rng.choice(["message", "retry", "worker", "lease", "visibility", "timeout", "commit",
                                     "exactly", "once", "delivery", "lock", "token", "fence", "queue"])
                         for _ in range(rng.randint(4, 8)))
        draw.text((120, 220 + line * 90), f"- {words}", font=_font(46), fill=(30, 30, 30))
    # A bar chart, as slides have.
    for bar in range(6):
        top = 900 - rng.randint(80, 380)
        draw.rectangle((1250 + bar * 90, top, 1310 + bar * 90, 900), fill=(200, 80 + bar * 25, 60))
    image.save(path)
    return path


def _code_page(path: Path) -> Path:
    rng = random.Random(7)
    lines, pitch = 180, 32
    image = Image.new("RGB", (WIDTH, lines * pitch + HEIGHT), (30, 31, 34))
    draw = ImageDraw.Draw(image)
    keywords = ["def", "return", "if", "for", "in", "with", "class", "yield", "await", "import"]
    names = ["job", "lease", "message", "queue", "worker", "retry", "fence", "row", "token", "deadline"]
    indent = 0
    for line in range(lines):
        y = 20 + line * pitch
        draw.text((20, y), f"{line + 1:4d}", font=_font(22), fill=(110, 110, 120))
        indent = max(0, min(5, indent + rng.choice([-1, 0, 0, 1])))
        x = 120 + indent * 44
        for _ in range(rng.randint(3, 12)):
            word = rng.choice(keywords + names * 2) + rng.choice(["", "(", ".", ", ", ":", " = "])
            color = (204, 120, 50) if word.rstrip("(.,: =") in keywords else (169, 183, 198)
            draw.text((x, y), word, font=_font(24), fill=color)
            x += int(draw.textlength(word + " ", font=_font(24)))
    image.save(path)
    return path


def _encode(args: list[str], graph: str, height: int, path: Path) -> None:
    # The picture is drawn at 1080p and scaled down to ``height`` last, so a small source shows the same thing.
    # Near-transparent x264 so the reference itself adds few artefacts.
    subprocess.run(
        [find_ffmpeg(None), "-nostdin", "-y", "-hide_banner", "-loglevel", "error", *args,
         "-filter_complex", f"{graph},scale=-2:{height}[v]", "-map", "[v]",
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "10", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "192k", "-shortest", "-f", "mp4", str(path)],
        check=True,
    )


def _cache(name: str, seconds: float, gain: float, height: int, folder: Path | None) -> Path:
    # The 1080p sources keep the names they have always had.
    size = "" if height == HEIGHT else f"-{height}p"
    return (folder or Path(tempfile.gettempdir())) / f"bench-{name}-{seconds:g}s-{gain}{size}.mp4"


def lecture(seconds: float = 60, *, gain: float = 0.3, height: int = HEIGHT, folder: Path | None = None) -> Path:
    """Slides changing every 10 s, a small moving picture-in-picture, a voice.

    Parameters:
      seconds: the length.
      gain: the voice's amplitude (see ``speech_like``).
      height: the picture's height (16:9).
      folder: where to cache it (default: the system temp dir).
    """

    def write(path: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="bench-slides-") as slides_dir:
            slides = [_slide(index, Path(slides_dir) / f"slide-{index}.png")
                      for index in range(math.ceil(seconds / 10))]
            args: list[str] = []
            for slide in slides:
                args += ["-loop", "1", "-framerate", str(FPS), "-t", "10", "-i", str(slide)]
            args += ["-f", "lavfi", "-i", f"testsrc2=size=384x216:rate={FPS}:duration={seconds}"]
            args += ["-f", "lavfi", "-i", speech_like(gain, seconds=seconds)]
            pip, voice = len(slides), len(slides) + 1
            joined = "".join(f"[{index}:v]" for index in range(len(slides)))
            graph = (f"{joined}concat=n={len(slides)}:v=1:a=0,format=yuv420p[deck];"
                     # The speaker drifts slowly along the bottom right, as a webcam overlay jiggles.
                     f"[deck][{pip}:v]overlay=x='1480+40*sin(t/3)':y='820+20*sin(t/2)':shortest=1")
            _encode([*args, "-map", f"{voice}:a", "-t", str(seconds)], graph, height, path)

    return cached(_cache("lecture", seconds, gain, height, folder), write)


def screen_recording(seconds: float = 60, *, gain: float = 0.05, height: int = HEIGHT,
                     folder: Path | None = None) -> Path:
    """A dark-theme code editor scrolling for 3 s, then still for 2 s, again and again.

    Parameters:
      seconds: the length.
      gain: the voice's amplitude (see ``speech_like``); quiet by default.
      height: the picture's height (16:9).
      folder: where to cache it (default: the system temp dir).
    """

    def write(path: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="bench-code-") as page_dir:
            page = _code_page(Path(page_dir) / "code.png")
            scroll = f"min(ih-{HEIGHT},60*(3*floor(t/5)+min(mod(t,5),3)))"
            # The loop filter repeats the page decoded once (the same frames as ``-loop 1``, which
            # decodes the 1920x6840 PNG again for every frame, 30 times slower).
            _encode(["-framerate", str(FPS), "-i", str(page),
                     "-f", "lavfi", "-i", speech_like(gain, seconds=seconds), "-map", "1:a", "-t", str(seconds)],
                    f"[0:v]loop=loop=-1:size=1,crop={WIDTH}:{HEIGHT}:0:'{scroll}',format=yuv420p", height, path)

    return cached(_cache("screen", seconds, gain, height, folder), write)


def high_motion(seconds: float = 60, *, gain: float = 8.0, height: int = HEIGHT, folder: Path | None = None) -> Path:
    """ffmpeg's testsrc2 (moving gradients, shapes and counters all over the frame) and a clipping-loud voice.

    Parameters:
      seconds: the length.
      gain: the voice's amplitude (see ``speech_like``); clipped at full scale.
      height: the picture's height (16:9).
      folder: where to cache it (default: the system temp dir).
    """

    def write(path: Path) -> None:
        _encode(["-f", "lavfi", "-i", f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}:duration={seconds}",
                 "-f", "lavfi", "-i", speech_like(gain, clip=True, seconds=seconds), "-map", "1:a"],
                "[0:v]null", height, path)

    return cached(_cache("motion", seconds, gain, height, folder), write)


SOURCES = {"lecture": lecture, "screen": screen_recording, "motion": high_motion}


def add_source_options(parser: argparse.ArgumentParser, *, sources: str, seconds: float, vmaf_subsample: int) -> None:
    """The options of a script that encodes these sources and scores them with VMAF.

    Parameters:
      parser: the script's parser.
      sources: the default of ``--sources``, names of ``SOURCES``.
      seconds: the default length.
      vmaf_subsample: the default of ``--vmaf-subsample``.
    """
    parser.add_argument("--sources", default=sources, help=f"some of {','.join(SOURCES)}")
    parser.add_argument("--seconds", type=float, default=seconds, help="the sources' length")
    parser.add_argument("--height", type=int, default=HEIGHT, help="the sources' height")
    parser.add_argument("--ladder", default=Settings.model_fields["hls_ladder"].default, help="as HLS_LADDER")
    parser.add_argument("--vmaf-subsample", type=int, default=vmaf_subsample, help="VMAF of every n-th frame")
