"""Probing a source with PyAV, under the same restrictions as the ffmpeg CLI."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av

from adapters.media.safety import RemoteAccess, Source, input_url, is_url, open_options, sniff
from domain.errors import LimitExceeded, SourceNotFound, TransientError, UnsupportedMedia
from domain.video.model import MediaInfo

NOT_DECODABLE = "the source is not a video file ffmpeg can decode"
NOT_ACCEPTED = (
    "the source is not in an accepted video container (MP4, MOV, MKV, WebM, AVI, FLV, MPEG-TS, MPEG-PS, Ogg or ASF)"
)
# Far beyond any real upload; a bigger frame is a decompression bomb or junk.
MAX_DIMENSION = 16384
# How many packets of the video stream we read looking for a first frame.
_MAX_PACKETS = 300
# What reading a URL may fail with that is the storage's or the network's
# doing (an expired URL's 403 too): worth another try.
_UNREADABLE = (
    av.error.HTTPError, av.error.HTTPClientError, av.error.HTTPServerError, ConnectionError, TimeoutError,
)  # fmt: skip


def probe_media(source: Source, *, timeout_seconds: float, access: RemoteAccess | None = None) -> MediaInfo:
    """What the source is: duration, frame size of its video, audio or not, frame rate, start.

    Parameters:
      source: the local source file, or a presigned URL of it (untrusted
        either way; a URL's first bytes are judged by ``sniff_head`` before,
        by the caller, who has them from storage).
      timeout_seconds: PyAV's open and read timeout, so a pathological file
        (or a stalled connection) cannot keep the probe busy for ever.
      access: how a URL may be read (protocols, CA bundle).

    The width and height are those a player shows (a phone video stored
    landscape with a 90-degree rotation is reported portrait), because ffmpeg
    applies the rotation when transcoding. Decodes one video frame, so a
    source whose codec ffmpeg lacks or whose data is garbage fails here
    rather than half-way through the transcode.

    The frame rate is ffmpeg's guess (``av_guess_frame_rate``), the rate the
    renditions are made constant at; the start is the timestamp ffmpeg
    shows at 0 (see ``_start_seconds``).

    Raises UnsupportedMedia (with a one-sentence reason) when the source is
    not a decodable, self-contained video file, LimitExceeded when its frame
    is absurdly large; for a URL, SourceNotFound when the storage answers
    404 and TransientError when it cannot be read (network, 5xx, 403 of an
    expired URL).
    """
    if not is_url(source):
        sniff(Path(source))
    try:
        container = av.open(
            input_url(source, access), mode="r", container_options=open_options(source, access), timeout=timeout_seconds
        )
    except av.error.HTTPNotFoundError as error:
        raise SourceNotFound("the source is no longer in storage") from error
    except _UNREADABLE as error:
        raise TransientError(f"the source could not be read from storage ({type(error).__name__})") from error
    except OSError as error:
        # A URL's I/O error is the connection's (a refused certificate
        # too), not the source's; a local file's is the old verdict.
        if is_url(source):
            raise TransientError("the source could not be read from storage (input/output error)") from error
        raise UnsupportedMedia(NOT_DECODABLE) from error
    except av.error.ArgumentError as error:
        # EINVAL from avformat_open_input is how the format white-list says no.
        raise UnsupportedMedia(NOT_ACCEPTED) from error
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise UnsupportedMedia(NOT_DECODABLE) from error
    with container:
        try:
            return _describe(container)
        except _UNREADABLE as error:
            raise TransientError(f"the source could not be read from storage ({type(error).__name__})") from error


def _describe(container: av.container.InputContainer) -> MediaInfo:
    video = _first_video_stream(container)
    if video is None or video.codec_context is None:
        raise UnsupportedMedia("the source has no video stream ffmpeg can decode")
    duration = _duration_seconds(container, video)
    if duration is None:
        raise UnsupportedMedia("the duration of the source could not be determined")
    has_audio = any(stream.codec_context is not None for stream in container.streams.audio)
    # The transcode maps the first audio stream ("0:a:0"): its rate is the one kept.
    first_audio = container.streams.audio[0] if container.streams.audio else None
    sample_rate = first_audio.codec_context.sample_rate if first_audio and first_audio.codec_context else 0
    width, height, rotation = _first_frame_geometry(container, video)
    if width <= 0 or height <= 0:
        raise UnsupportedMedia("the video stream of the source has no frame size")
    if max(width, height) > MAX_DIMENSION:
        raise LimitExceeded(
            f"the video frame is {width}x{height} px; at most {MAX_DIMENSION} px per side are supported"
        )
    if round(abs(rotation)) % 180 == 90:
        width, height = height, width
    rate = video.guessed_rate
    return MediaInfo(
        duration_seconds=duration,
        width=width,
        height=height,
        has_audio=has_audio,
        format_name=container.format.name,
        audio_sample_rate=sample_rate or 0,
        frame_rate=f"{rate.numerator}/{rate.denominator}" if rate else "",
        start_seconds=_start_seconds(container, [video, first_audio] if has_audio and first_audio else [video]),
    )


def _start_seconds(container: av.container.InputContainer, used: list[av.stream.Stream]) -> float:
    """The source timestamp ffmpeg's CLI shows at 0 when it reads the streams ``used``, in seconds.

    The container's start (the earliest stream's), except for formats whose
    timestamps may jump (MPEG-TS, MPEG-PS, FLV): there the CLI takes the
    earliest of the streams it reads, so a video-only or audio-only run
    would start elsewhere than the ladder's; parts and the audio encode are
    given this start explicitly, so they line up with each other and with a
    single pass.
    """
    if container.start_time is None:
        return 0.0
    start_us = container.start_time
    if container.format.flags & av.format.Flags.ts_discont.value:
        starts = [
            round(Fraction(stream.start_time) * stream.time_base * 1_000_000)
            for stream in used
            if stream.start_time is not None and stream.time_base is not None
        ]
        start_us = min(starts, default=start_us)
    return start_us / 1_000_000


def _first_video_stream(container: av.container.InputContainer) -> av.VideoStream | None:
    # Cover art in an MP4/M4A is a one-frame "video" stream; it is not a video.
    # ffmpeg's "V" stream specifier skips the same streams, so the transcode
    # maps this very stream.
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _duration_seconds(container: av.container.InputContainer, video: av.VideoStream) -> float | None:
    if container.duration is not None and container.duration > 0:
        seconds = container.duration / av.time_base
    elif video.duration is not None and video.time_base is not None and video.duration > 0:
        seconds = float(video.duration * video.time_base)
    else:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _first_frame_geometry(container: av.container.InputContainer, video: av.VideoStream) -> tuple[int, int, float]:
    try:
        for count, packet in enumerate(container.demux(video)):
            if count >= _MAX_PACKETS:
                break
            for frame in packet.decode():
                return frame.width, frame.height, float(frame.rotation or 0)
    except av.error.FFmpegError as error:
        raise UnsupportedMedia(NOT_DECODABLE) from error
    raise UnsupportedMedia("no video frame of the source could be decoded")


def start_seconds(segment: Path, *, timeout_seconds: float) -> float:
    """The first timestamp of a media segment's video (else of the container), in seconds.

    Parameters:
      segment: an MPEG-TS segment (one this worker wrote, read back from the bucket).
      timeout_seconds: PyAV's open and read timeout.
    """
    try:
        container = av.open(input_url(segment), mode="r", container_options=open_options(), timeout=timeout_seconds)
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise UnsupportedMedia("the video's first segment could not be read") from error
    with container:
        video = _first_video_stream(container)
        if video is not None and video.start_time is not None and video.time_base is not None:
            return float(video.start_time * video.time_base)
        if container.start_time is not None:
            return container.start_time / 1_000_000
    raise UnsupportedMedia("the video's first segment has no timestamp")
