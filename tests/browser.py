"""Headless Chromium for the browser tests (Debian's chromium and chromium-driver), never downloading,
and the dashboard served on 127.0.0.1 as gunicorn's ``create_app()`` would build it."""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server

from tests.services import POSTGRES_URL, REDIS_URL, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def chromium(width: int, height: int, *, media: bool = False, basic_auth: tuple[str, str] | None = None):
    """A headless Chromium whose pages are exactly ``width`` x ``height`` (screenshots included).

    Parameters:
      width, height: the page's size in CSS pixels.
      media: let media autoplay (muted) without a user gesture.
      basic_auth: (user, password) sent with every request (pages, scripts, polls).
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never download a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", f"--window-size={width},{height}"]
    if media:
        arguments += ["--autoplay-policy=no-user-gesture-required", "--mute-audio"]
    for argument in arguments:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    # Whatever room the headless window's frame takes.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    if basic_auth:
        # More reliable than user:password@ URLs, which scripts' own requests do not carry.
        token = base64.b64encode(":".join(basic_auth).encode()).decode()
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}})
    return driver


def wait(predicate, timeout: float, what: str, interval: float = 0.1):
    """``predicate()``'s first truthy value, polled in real time; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@contextmanager
def serve_dashboard(stack, password: str) -> Iterator[tuple[str, object]]:
    """The dashboard on the stack's queues, bucket and tables: yields its URL and its ``Ops``."""
    from ops.service import Ops
    from ops.web import create_app
    from settings import Settings

    settings = Settings(
        broker="sqs", aws_region="us-east-1", sqs_endpoint_url=stack.moto.url, s3_endpoint_url=stack.moto.url,
        s3_bucket=stack.bucket, video_queue=stack.video_queue, ai_queue=stack.ai_queue,
        video_parts_queue=stack.parts_queue, video_parts_dlq=stack.parts_dlq, database_url=POSTGRES_URL,
        redis_url=REDIS_URL, video_table=stack.tables["video"].name, ai_job_table=stack.tables["ai"].name,
        ops_admin_password=password, ops_secret_key="browser-test-secret",
    )
    ops = Ops(settings)
    server = make_server("127.0.0.1", free_port(), create_app(settings, ops), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", ops
    finally:
        server.shutdown()
        thread.join(timeout=10)
        ops.database.dispose()
