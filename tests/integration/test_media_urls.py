"""Reading sources by URL with the real ffmpeg and PyAV: ranges, failures, TLS, hostile servers and uploads."""

from __future__ import annotations

import datetime
import functools
import http.server
import re
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.media import FfmpegMediaProcessor
from adapters.media.manifest import PartManifest
from adapters.media.probe import NOT_ACCEPTED
from adapters.media.safety import HEAD_BYTES, RemoteAccess
from domain.video.model import MediaInfo, Rendition, VideoPart
from domain.errors import SourceNotFound, TransientError, UnsupportedMedia
from tests.integration.test_media_parts import presign
from tests.media_samples import ffmpeg_exe, make_media, write_hls_playlist
from tests.range_proxy import RangeProxy
from tests.services import free_port

RUNG = [Rendition("144p", 144, 200, 64)]
FIRST = VideoPart(index=0, start_seconds=0, duration_seconds=2, first_segment=0, attempt="u1")


def processor(**remote) -> FfmpegMediaProcessor:
    return FfmpegMediaProcessor(ffmpeg_exe(), timeout_seconds=60, segment_seconds=1, preset="ultrafast", threads=1,
                                remote=RemoteAccess(**remote))


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    # The index at the front, so a server without ranges can serve it too.
    return make_media(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=4, extra=("-movflags", "+faststart"))


# --- reading a range ------------------------------------------------------------------


def test_a_part_reads_its_range_not_the_whole_upload(moto, bucket, tmp_path):
    source = make_media(tmp_path / "long.mp4", seconds=30, width=480, height=270,
                        video=("-c:v", "libx264", "-preset", "ultrafast", "-b:v", "3M", "-g", "25"))
    size = source.stat().st_size
    media = processor(allow_plain_http=True)
    with RangeProxy(moto.url) as proxy:
        url = proxy.url_for(presign(moto, bucket, source))
        info = media.probe(url)
        probe = proxy.reset()
        middle = VideoPart(index=6, start_seconds=12, duration_seconds=3, first_segment=12, attempt="r1")
        manifest = PartManifest.from_json(media.encode_part(url, tmp_path / "hls", info, RUNG, middle, lambda _: None))
        part = proxy.reset()
    assert [segment.uri for segment in manifest.renditions[0].segments] == ["r1/seg_00012.ts", "r1/seg_00013.ts",
                                                                             "r1/seg_00014.ts"]
    assert probe.bytes_sent < 0.05 * size, (probe.bytes_sent, size)
    # A tenth of the video (from 40 % of it), read by a seek: a few ranged GETs, the last one from
    # the keyframe before the part. What is counted includes what the kernel took into ffmpeg's
    # receive buffer before it was done (up to a few MB on a loaded machine), hence the margin.
    starts = [int(range_.removeprefix("bytes=").split("-")[0]) for _, range_, _ in part.requests if range_]
    assert part.gets <= 4 and len(starts) == part.gets, part.requests
    assert 0.3 * size < starts[-1] < 0.4 * size, (starts, size)
    assert part.bytes_sent < 0.6 * size, (part.requests, size)


def test_the_thumbnail_and_the_audio_are_made_from_a_url(moto, bucket, clip, tmp_path):
    url = presign(moto, bucket, clip)
    media = processor(allow_plain_http=True)
    media.thumbnail(url, tmp_path / "thumbnail.jpg", 1.0)
    assert (tmp_path / "thumbnail.jpg").read_bytes()[:2] == b"\xff\xd8"
    audio = media.encode_audio(url, tmp_path / "hls", media.probe(url), RUNG, "u1", lambda _: None)
    assert audio is not None and audio["track"]["codecs"] == "mp4a.40.2"
    assert sum(seconds for _, seconds, _ in audio["track"]["segments"]) == pytest.approx(4.02, abs=0.05)


# --- failures of the storage or the network ---------------------------------------------


def test_a_source_gone_from_storage_is_not_found(moto, bucket):
    url = moto.client("s3").generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "gone.mp4"})
    media = processor(allow_plain_http=True)
    with pytest.raises(SourceNotFound):
        media.probe(url)
    info = MediaInfo(duration_seconds=4, width=320, height=240, has_audio=False, frame_rate="25/1")
    with pytest.raises(SourceNotFound):
        media.encode_part(url, Path("/nonexistent-out"), info, RUNG, FIRST, lambda _: None)


@pytest.mark.parametrize("status", [403, 503])
def test_an_expired_url_or_a_failing_storage_is_a_transient_failure(answering, tmp_path, status):
    # S3 answers 403 to a presigned URL past its expiry (moto does not check), 503 when it sheds load.
    answering.status = status
    url = answering.server_url + "?X-Amz-Expires=1&X-Amz-Signature=deadbeef"
    media = processor(allow_plain_http=True)
    with pytest.raises(TransientError) as probed:
        media.probe(url)
    info = MediaInfo(duration_seconds=4, width=320, height=240, has_audio=False, frame_rate="25/1")
    with pytest.raises(TransientError) as encoded:
        media.encode_part(url, tmp_path / "hls", info, RUNG, FIRST, lambda _: None)
    for reason in (probed.value.reason, encoded.value.reason):
        assert "X-Amz" not in reason and "deadbeef" not in reason and "\n" not in reason


def test_unreachable_storage_is_a_transient_failure(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/bucket/clip.mp4?X-Amz-Signature=abc"
    media = processor(allow_plain_http=True, io_timeout_seconds=5)
    with pytest.raises(TransientError):
        media.probe(url)
    info = MediaInfo(duration_seconds=4, width=320, height=240, has_audio=False, frame_rate="25/1")
    with pytest.raises(TransientError) as error:
        media.encode_part(url, tmp_path / "hls", info, RUNG, FIRST, lambda _: None)
    assert "127.0.0.1" not in error.value.reason and "abc" not in error.value.reason


def test_plain_http_is_refused_unless_the_storage_is_local(moto, bucket, clip):
    url = presign(moto, bucket, clip)
    with pytest.raises(ValueError, match="must be https"):
        processor().probe(url)
    assert processor(allow_plain_http=True).probe(url).duration_seconds == pytest.approx(4, abs=0.1)


# --- hostile servers and uploads ---------------------------------------------------------


class _Answer(http.server.BaseHTTPRequestHandler):
    """Answers every GET with ``status`` (and ``Location: target`` for a redirect)."""

    status = 302
    target = ""
    server_url = ""

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.send_response(self.status)
        if self.target:
            self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def answering() -> Iterator[type[_Answer]]:
    handler = type("Answer", (_Answer,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.server_url = f"http://127.0.0.1:{server.server_port}/clip.mp4"
    yield handler
    server.shutdown()
    server.server_close()


def test_a_redirect_to_a_local_file_is_refused(answering, clip, tmp_path):
    # The clip itself: were the redirect followed, it would probe and encode fine.
    answering.target = f"file://{clip}"
    media = processor(allow_plain_http=True)
    with pytest.raises(UnsupportedMedia, match=re.escape(NOT_ACCEPTED)):
        media.probe(answering.server_url)
    info = MediaInfo(duration_seconds=4, width=320, height=240, has_audio=True, frame_rate="25/1")
    with pytest.raises(UnsupportedMedia, match="not one we accept"):
        media.encode_part(answering.server_url, tmp_path / "hls", info, RUNG, FIRST, lambda _: None)
    assert not list((tmp_path / "hls").rglob("*.ts"))


def test_a_playlist_uploaded_as_the_source_is_refused_by_its_first_bytes_and_by_ffmpeg(moto, bucket, clip, tmp_path):
    canary = tmp_path / "canary.txt"
    canary.write_text("CANARY-do-not-leak\n")
    source = write_hls_playlist(tmp_path / "source.m3u8", clip, canary)
    url = presign(moto, bucket, source)
    media = processor(allow_plain_http=True)
    head = moto.client("s3").get_object(Bucket=bucket, Key=source.name, Range=f"bytes=0-{HEAD_BYTES - 1}")["Body"].read()
    with pytest.raises(UnsupportedMedia, match="HLS playlist"):
        media.sniff(head)
    # A caller that skipped the sniffing: the demuxer white-list refuses it as well.
    with pytest.raises(UnsupportedMedia, match=re.escape(NOT_ACCEPTED)):
        media.probe(url)


# --- TLS ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def https_server(tmp_path_factory, clip) -> Iterator[tuple[int, Path]]:
    """A local HTTPS server with a certificate for ``localhost`` that no public CA signed."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(clip.parent))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port, cert_file
    server.shutdown()
    server.server_close()


def test_an_untrusted_certificate_is_refused(https_server, tmp_path):
    port, _ = https_server
    url = f"https://localhost:{port}/clip.mp4"
    media = processor()  # the system's CA bundle: nobody it trusts signed this certificate
    with pytest.raises(TransientError):
        media.probe(url)
    info = MediaInfo(duration_seconds=4, width=320, height=240, has_audio=True, frame_rate="25/1")
    with pytest.raises(TransientError):
        media.encode_part(url, tmp_path / "hls", info, RUNG, FIRST, lambda _: None)


def test_a_trusted_certificate_is_read_and_its_host_name_checked(https_server, tmp_path):
    port, cert_file = https_server
    media = processor(ca_file=str(cert_file))
    info = media.probe(f"https://localhost:{port}/clip.mp4")
    assert info.duration_seconds == pytest.approx(4, abs=0.1)
    manifest = media.encode_part(f"https://localhost:{port}/clip.mp4", tmp_path / "hls", info, RUNG, FIRST,
                                 lambda _: None)
    assert len(PartManifest.from_json(manifest).renditions[0].segments) == 2
    with pytest.raises(TransientError):  # the certificate is for localhost, not for this address
        media.probe(f"https://127.0.0.1:{port}/clip.mp4")
