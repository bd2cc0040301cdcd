"""Speech made from known text with espeak-ng (Debian's espeak-ng), for the
transcribe tests and the accuracy bench, wrapped by the real ffmpeg."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.media_samples import ffmpeg_exe

ENGLISH = (
    "Welcome to the second lecture on distributed systems. Today we look at message queues, retries, "
    "and what it means for a job to run exactly once. A worker receives a message, takes a lock, "
    "and writes the final state in one conditional update."
)
# Short: espeak-ng's Korean is not intelligible to Whisper, which then decodes
# it again and again at higher temperatures (about 2 s per second of audio).
KOREAN = "안녕하세요 여러분. 오늘은 두 번째 강의입니다."


def words_of(text: str) -> str:
    """``text`` as lower-case words without punctuation, for word error rates."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def have_espeak() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(path: Path, text: str, *, voice: str = "en-us", words_per_minute: int = 150) -> Path:
    """Write ``text`` spoken by espeak-ng to ``path`` (WAV) and return it.

    Parameters:
      path: the WAV file to write.
      text: what is said.
      voice: an espeak-ng voice (``en-us``, ``ko``).
      words_per_minute: speaking speed.
    """
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(path), text], check=True)
    return path


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-y", "-hide_banner", "-loglevel", "error", *args], check=True)


def as_lecture_video(speech: Path, path: Path, *, lead_seconds: float = 0.0) -> Path:
    """A small MP4 lecture: a test picture with ``speech`` as its AAC sound track,
    whose first sample is ``lead_seconds`` after the first frame (the track
    starts late, as in a recording whose sound was switched on late)."""
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=10", "-itsoffset", str(lead_seconds), "-i", str(speech),
           "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-b:a", "64k", "-shortest", str(path))
    return path


def with_noise(speech: Path, path: Path, *, noise_db: float) -> Path:
    """``speech`` with pink noise mixed in at ``noise_db`` dBFS (WAV)."""
    ffmpeg("-i", str(speech), "-f", "lavfi", "-i", f"anoisesrc=color=pink:amplitude=1:sample_rate=22050:seed=7",
           "-filter_complex", f"[1:a]volume={noise_db}dB[n];[0:a][n]amix=inputs=2:duration=first:normalize=0",
           str(path))
    return path


def silence(path: Path, *, seconds: float) -> Path:
    """An Ogg/Opus file of digital silence, the shape of an audio-only upload."""
    ffmpeg("-f", "lavfi", "-i", f"anullsrc=r=48000:cl=stereo:d={seconds}", "-c:a", "libopus", str(path))
    return path


def mp3_longer_than_its_header(path: Path, speech: Path, *, quiet_seconds: float) -> Path:
    """An MP3 without a Xing header whose first second is CBR 320 kb/s and the rest CBR 32 kb/s
    (``quiet_seconds`` of silence, then ``speech``): demuxers estimate its length from the first
    frames' rate, about a tenth of what it decodes to.

    Parameters:
      path: the MP3 to write.
      speech: a WAV said at the end (so the end's transcription shows the whole file was heard).
      quiet_seconds: the silence before the speech.
    """
    mp3 = ["-ac", "1", "-ar", "44100", "-c:a", "libmp3lame", "-write_xing", "0", "-id3v2_version", "0"]
    fast, slow = path.with_suffix(".320k.mp3"), path.with_suffix(".32k.mp3")
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono:d=1", *mp3, "-b:a", "320k", str(fast))
    ffmpeg("-f", "lavfi", "-i", f"anullsrc=r=44100:cl=mono:d={quiet_seconds}", "-i", str(speech),
           "-filter_complex", "[1:a]aresample=44100,aformat=channel_layouts=mono[s];[0:a][s]concat=n=2:v=0:a=1",
           *mp3, "-b:a", "32k", str(slow))
    path.write_bytes(fast.read_bytes() + slow.read_bytes())
    fast.unlink()
    slow.unlink()
    return path
