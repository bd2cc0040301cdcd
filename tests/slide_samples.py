"""Generated lectures with known slide changes, for the chapter tests and bench/chapters.py.

Slides are drawn with Pillow (Debian's fonts-nanum, for Hangul and Latin
alike) in three templates, shown for known times through ffmpeg's concat
demuxer, with bullet builds, a laser pointer and a webcam-like
picture-in-picture drifting over them. What was shown when is returned with
the file, so a test knows every slide change, every build and every heading.
Also a talking head (no slides, with a camera cut) and a scrolling screen
recording, which must get no chapters.
"""

from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tests.media_samples import ffmpeg_exe, speech_like

FONTS = Path("/usr/share/fonts/truetype/nanum")
REGULAR, BOLD = FONTS / "NanumGothic.ttf", FONTS / "NanumGothicBold.ttf"
CODE = FONTS / "NanumGothicCoding.ttf"

ENGLISH_HEADINGS = [
    "Why message queues?", "At-least-once delivery", "Idempotent handlers", "Locks and leases",
    "Retries with exponential backoff", "Dead-letter queues", "Fencing tokens", "Visibility timeouts",
    "Exactly-once is a lie", "Measuring throughput", "Backpressure in practice", "Summary and reading list",
    "Consistent hashing", "Two-phase commit", "Vector clocks", "Questions for next week",
]
KOREAN_HEADINGS = [
    "메시지 큐는 왜 필요한가", "최소 한 번 전달", "멱등한 처리기 만들기", "데이터베이스 잠금",
    "지수 백오프로 재시도하기", "실패한 메시지 보관함", "작업 재시도와 잠금", "가시성 시간 초과",
    "처리량 측정하기", "정리와 참고 자료", "분산 시스템의 시계", "다음 주 과제",
    "2. 트랜잭션 격리 수준", "캐시와 일관성", "장애 복구 전략", "질문과 답변",
]
BULLET_WORDS = {
    "en": ["message", "retry", "worker", "lease", "visibility", "timeout", "commit", "delivery", "lock", "token",
           "fence", "queue", "handler", "state", "row", "update"],
    "ko": ["메시지", "재시도", "작업자", "잠금", "시간", "초과", "전달", "처리", "상태", "갱신", "큐", "토큰"],
}
PALETTES = [((24, 60, 120), (250, 250, 247)), ((120, 30, 40), (252, 250, 245)), ((20, 90, 70), (245, 248, 250))]


@dataclass(frozen=True)
class Slide:
    """One slide: its heading, bullets and how long it shows.

    Parameters:
      heading: the title at the top.
      bullets: the body's lines.
      seconds: how long the slide shows.
      builds: how many of the last bullets appear one at a time after the slide shows.
      style: the template (0: heading on a coloured band, 1: dark heading on white with a rule,
        2: centred coloured heading).
    """

    heading: str
    bullets: tuple[str, ...]
    seconds: float
    builds: int = 0
    style: int = 0


@dataclass
class Sample:
    """A generated video and what it shows: slide starts, build times, headings."""

    path: Path
    seconds: float
    changes: list[float] = field(default_factory=list)
    builds: list[float] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)


def deck(seconds: float, lang: str, *, seed: int = 1, slide_seconds: tuple[float, float] = (25, 70)) -> list[Slide]:
    """Slides filling ``seconds``, headings in ``lang`` ("en" or "ko"), every third slide with builds.

    Parameters:
      seconds: the lecture's length.
      lang: the headings' and bullets' language.
      seed: makes the deck reproducible.
      slide_seconds: the shortest and longest time a slide shows.
    """
    rng = random.Random(seed)
    headings = list(ENGLISH_HEADINGS if lang == "en" else KOREAN_HEADINGS)
    rng.shuffle(headings)
    slides, left, index = [], seconds, 0
    while left > 0:
        length = min(left, round(rng.uniform(*slide_seconds), 1))
        if 0 < left - length < slide_seconds[0]:
            length = left  # no short last slide
        bullets = tuple(" ".join(rng.choice(BULLET_WORDS[lang]) for _ in range(rng.randint(3, 6)))
                        for _ in range(rng.randint(3, 5)))
        slides.append(Slide(headings[index % len(headings)], bullets, length,
                            builds=2 if index % 3 == 1 else 0, style=index % 3))
        left -= length
        index += 1
    return slides


def render(slide: Slide, shown: int, size: tuple[int, int]) -> Image.Image:
    """The slide with its first ``shown`` bullets, ``size`` pixels."""
    width, height = size
    accent, paper = PALETTES[slide.style % len(PALETTES)]
    image = Image.new("RGB", size, paper)
    draw = ImageDraw.Draw(image)
    title = ImageFont.truetype(BOLD, round(height * 0.058))
    body = ImageFont.truetype(REGULAR, round(height * 0.04))
    if slide.style == 0:
        draw.rectangle((0, 0, width, round(height * 0.14)), fill=accent)
        draw.text((round(width * 0.05), round(height * 0.04)), slide.heading, font=title, fill="white")
    elif slide.style == 1:
        draw.text((round(width * 0.06), round(height * 0.06)), slide.heading, font=title, fill=(30, 30, 30))
        draw.rectangle((round(width * 0.06), round(height * 0.15), round(width * 0.5), round(height * 0.155)),
                       fill=accent)
    else:
        draw.text((width // 2, round(height * 0.09)), slide.heading, font=title, fill=accent, anchor="mm")
    for line, text in enumerate(slide.bullets[:shown]):
        draw.text((round(width * 0.08), round(height * (0.24 + line * 0.09))), f"• {text}", font=body,
                  fill=(40, 40, 40))
    # A chart on the right, as slides have; it never changes within a slide.
    rng = random.Random(slide.heading)
    for bar in range(5):
        top = round(height * (0.88 - rng.uniform(0.1, 0.35)))
        left = round(width * (0.62 + bar * 0.05))
        draw.rectangle((left, top, left + round(width * 0.03), round(height * 0.88)), fill=accent)
    return image


def lecture(path: Path, slides: list[Slide], *, size: tuple[int, int] = (1280, 720), fps: int = 25,
            pip: bool = True, pointer: bool = True, audio: bool = True, crf: int = 20, reuse: bool = False) -> Sample:
    """Encode ``slides`` to ``path`` (H.264, AAC) and return what it shows when.

    Parameters:
      path: the MP4 to write.
      slides: the deck.
      size: the frame size.
      fps: frames per second.
      pip: a speaker's picture-in-picture drifting along the bottom right, jumping to the
        bottom left half way.
      pointer: a red laser-pointer dot sweeping over each slide (heading included) for a few seconds.
      audio: a voice-like track.
      crf: libx264's rate factor.
      reuse: keep ``path`` when it exists (made by an earlier call with the same arguments).
    """
    work = _pictures_folder(path)
    made = reuse and path.exists()
    sample = Sample(path, sum(slide.seconds for slide in slides))
    entries, start = [], 0.0
    for number, slide in enumerate(slides):
        sample.changes.append(round(start, 3))
        sample.headings.append(slide.heading)
        fixed = len(slide.bullets) - slide.builds
        steps = [fixed + step for step in range(slide.builds + 1)]
        # Builds come in the first half of the slide, a few seconds apart.
        step_seconds = min(6.0, slide.seconds / 2 / max(slide.builds, 1))
        for step, shown in enumerate(steps):
            frame = work / f"slide_{number:03d}_{shown}.png"
            if not made:
                render(slide, shown, size).save(frame)
            length = step_seconds if step < len(steps) - 1 else slide.seconds - step_seconds * slide.builds
            if step:
                sample.builds.append(round(start, 3))
            entries += [f"file '{frame.name}'", f"duration {length:.3f}"]
            start += length
    if made:
        return sample
    entries.append(f"file '{frame.name}'")  # the concat demuxer's last entry keeps its duration
    (work / "deck.txt").write_text("\n".join(entries) + "\n")

    width, height = size
    args = [ffmpeg_exe(), "-nostdin", "-y", "-hide_banner", "-loglevel", "error",
            "-f", "concat", "-safe", "0", "-i", str(work / "deck.txt")]
    graph = [f"[0:v]fps={fps},scale={width}:{height},format=yuv420p,trim=duration={sample.seconds}[v0]"]
    last = "v0"
    inputs = 1
    if pip:
        pip_w, pip_h = width // 5 // 2 * 2, height // 5 // 2 * 2
        args += ["-f", "lavfi", "-i", f"testsrc2=size={pip_w}x{pip_h}:rate={fps}"]
        half = sample.seconds / 2
        x = f"if(lt(t,{half}),{width - pip_w - 30}-30*sin(t/3),30+30*sin(t/3))"
        graph.append(f"[{last}][{inputs}:v]overlay=x='{x}':y='{height - pip_h - 30}-15*sin(t/2)':shortest=1[v1]")
        last, inputs = "v1", inputs + 1
    if pointer:
        dot = work / "pointer.png"
        spot = Image.new("RGBA", (22, 22), (0, 0, 0, 0))
        ImageDraw.Draw(spot).ellipse((0, 0, 21, 21), fill=(255, 30, 30, 230))
        spot.save(dot)
        args += ["-loop", "1", "-framerate", str(fps), "-i", str(dot)]
        # 4 s into every slide the pointer sweeps from the heading down the body for 5 s.
        enable = "+".join(f"between(t,{change + 4:.2f},{change + 9:.2f})" for change in sample.changes)
        x = f"{width * 0.1:.0f}+{width * 0.1:.0f}*mod(t,5)"
        y = f"{height * 0.05:.0f}+{height * 0.12:.0f}*mod(t,5)"
        graph.append(f"[{last}][{inputs}:v]overlay=x='{x}':y='{y}':enable='{enable}':shortest=1[v2]")
        last, inputs = "v2", inputs + 1
    if audio:
        args += ["-f", "lavfi", "-i", speech_like(0.3, seconds=sample.seconds)]
    args += ["-filter_complex", ";".join(graph), "-map", f"[{last}]"]
    if audio:
        args += ["-map", f"{inputs}:a", "-c:a", "aac", "-b:a", "96k"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
             "-t", f"{sample.seconds:.3f}", str(path)]
    subprocess.run(args, check=True, cwd=work, capture_output=True, timeout=1800)
    return sample


def talking_head(path: Path, seconds: float, *, size: tuple[int, int] = (1280, 720), fps: int = 25) -> Sample:
    """A speaker's head swaying before a wall, with sensor noise and one camera cut half way; no slides.

    Parameters:
      path: the MP4 to write.
      seconds: the length.
      size: the frame size.
      fps: frames per second.
    """
    width, height = size
    work = _pictures_folder(path)
    head = Image.new("RGBA", (width // 4, height // 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(head)
    hw, hh = head.size
    draw.ellipse((hw * 0.15, 0, hw * 0.85, hh * 0.7), fill=(224, 180, 150, 255))
    draw.rectangle((0, hh * 0.68, hw, hh), fill=(40, 50, 80, 255))
    for eye in (0.38, 0.62):
        draw.ellipse((hw * eye - 8, hh * 0.28 - 6, hw * eye + 8, hh * 0.28 + 6), fill=(40, 30, 30, 255))
    head.save(work / "head.png")
    for shot, (left, right) in enumerate((((110, 90, 100), (150, 130, 140)), ((70, 90, 110), (160, 170, 150)))):
        # A wall lit from one side; the second camera angle sees another wall.
        wall = Image.linear_gradient("L").rotate(90).resize(size)
        Image.merge("RGB", [wall.point(lambda v, a=a, b=b: a + (b - a) * v // 255) for a, b in zip(left, right)]
                    ).save(work / f"wall_{shot}.png")
    half = seconds / 2
    graph = (f"[0:v]loop=loop=-1:size=1,fps={fps},trim=duration={half},setpts=PTS-STARTPTS[w0];"
             f"[1:v]loop=loop=-1:size=1,fps={fps},trim=duration={seconds - half},setpts=PTS-STARTPTS[w1];"
             f"[w0][w1]concat=n=2:v=1:a=0[wall];[2:v]loop=loop=-1:size=1,fps={fps}[head];"
             f"[wall][head]overlay=x='W/2-w/2+25*sin(t*1.3)+if(lt(t,{half}),0,-W/5)':y='H-h+8*sin(t*2.1)':"
             f"shortest=1,noise=alls=6:allf=t,format=yuv420p[v]")
    return _encode([work / "wall_0.png", work / "wall_1.png", work / "head.png"], graph, 0.3, seconds, path)


def screen_recording(path: Path, seconds: float, *, size: tuple[int, int] = (1280, 720), fps: int = 25) -> Sample:
    """A code editor scrolling for 3 s, then still for 2 s, again and again, with a jump to another file
    half way; small text, no slide headings. Parameters as ``talking_head``'s."""
    width, height = size
    work = _pictures_folder(path)
    rng = random.Random(7)
    pitch = round(height * 0.03)
    font = ImageFont.truetype(CODE, round(pitch * 0.75))
    pages = []
    for page in range(2):
        lines = 200
        image = Image.new("RGB", (width, lines * pitch + height), (30, 31, 34) if page == 0 else (250, 250, 250))
        draw = ImageDraw.Draw(image)
        for line in range(lines):
            words = " ".join(rng.choice(["def", "return", "job", "lease", "queue(", "retry", "token =", "if",
                                         "for row in", "await", "self.lock"]) for _ in range(rng.randint(3, 9)))
            draw.text((20, 10 + line * pitch), f"{line + 1:4d}   {words}", font=font,
                      fill=(169, 183, 198) if page == 0 else (40, 40, 40))
        image.save(work / f"code_{page}.png")
        pages.append(work / f"code_{page}.png")
    half = seconds / 2
    scroll = f"min(ih-{height},{pitch * 2}*(3*floor(t/5)+min(mod(t,5),3)))"
    # Each page is decoded once and repeated (loop), not decoded again for every frame.
    repeat = f"loop=loop=-1:size=1,fps={fps},crop={width}:{height}:0:'{scroll}'"
    graph = (f"[0:v]{repeat},trim=duration={half},setpts=PTS-STARTPTS[a];"
             f"[1:v]{repeat},trim=duration={seconds - half},setpts=PTS-STARTPTS[b];"
             f"[a][b]concat=n=2:v=1:a=0,format=yuv420p[v]")
    return _encode(pages, graph, 0.1, seconds, path)


def _pictures_folder(path: Path) -> Path:
    """Where the pictures of the video ``path`` are drawn (beside it)."""
    folder = path.parent / f".{path.stem}-frames"
    folder.mkdir(exist_ok=True)
    return folder


def _encode(pictures: list[Path], graph: str, voice: float, seconds: float, path: Path) -> Sample:
    """``graph`` over the still ``pictures`` (inputs 0, 1...) to ``[v]``, with a voice of gain ``voice``."""
    args = [ffmpeg_exe(), "-nostdin", "-y", "-hide_banner", "-loglevel", "error"]
    for picture in pictures:
        args += ["-i", str(picture)]
    args += ["-f", "lavfi", "-i", speech_like(voice, seconds=seconds), "-filter_complex", graph,
             "-map", "[v]", "-map", f"{len(pictures)}:a", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
             "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-t", str(seconds), str(path)]
    subprocess.run(args, check=True, capture_output=True, timeout=1800)
    return Sample(path, seconds)
