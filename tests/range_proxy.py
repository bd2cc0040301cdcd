"""A counting HTTP proxy in front of moto's S3 server: how many GETs a reader makes, and how many bytes it takes.

ffmpeg reads a presigned URL with (ranged) GETs and closes a connection when
it seeks elsewhere; the bytes counted are those this proxy managed to send
before the reader hung up, i.e. what crossed the network. The Host header is
rewritten to the upstream's, so the presigned signature still holds.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, urlunsplit

_CHUNK = 64 * 1024


@dataclass
class Traffic:
    """What went through the proxy since the last ``reset``."""

    requests: list[tuple[str, str | None, int]] = field(default_factory=list)  # (method, Range, bytes sent)

    @property
    def gets(self) -> int:
        return sum(1 for method, _, _ in self.requests if method == "GET")

    @property
    def bytes_sent(self) -> int:
        return sum(sent for _, _, sent in self.requests)


class RangeProxy:
    """A proxy on 127.0.0.1 that forwards to ``upstream`` (``http://host:port``) and counts the traffic."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.traffic = Traffic()
        self._lock = threading.Lock()
        self._active = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                proxy._forward(self, "GET")

            def do_HEAD(self) -> None:  # noqa: N802
                proxy._forward(self, "HEAD")

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RangeProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url_for(self, presigned: str) -> str:
        """``presigned`` (a URL of the upstream) pointed at this proxy instead."""
        parts = urlsplit(presigned)
        return urlunsplit(parts._replace(netloc=f"127.0.0.1:{self.server.server_port}"))

    def reset(self, settle_seconds: float = 30.0) -> Traffic:
        """Start counting afresh; return what was counted so far.

        Parameters:
          settle_seconds: how long to wait for requests still being answered
            (a reader that has just hung up) to be counted first.
        """
        deadline = time.monotonic() + settle_seconds
        while self._active and time.monotonic() < deadline:
            time.sleep(0.02)
        with self._lock:
            counted, self.traffic = self.traffic, Traffic()
        return counted

    def _forward(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        headers = {key: value for key, value in handler.headers.items() if key.lower() not in ("host", "connection")}
        headers["Host"] = f"{self.upstream_host}:{self.upstream_port}"
        upstream = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=30)
        sent = 0
        with self._lock:
            self._active += 1
        # A small send buffer, so what is counted is close to what the reader took.
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _CHUNK)
        try:
            upstream.request(method, handler.path, headers=headers)
            response = upstream.getresponse()
            handler.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in ("connection", "transfer-encoding"):
                    handler.send_header(key, value)
            handler.send_header("Connection", "close")
            handler.end_headers()
            while method == "GET":
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                handler.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the reader hung up (a seek): what it took is counted
        finally:
            upstream.close()
            handler.close_connection = True
            with self._lock:
                self.traffic.requests.append((method, handler.headers.get("Range"), sent))
                self._active -= 1
