"""The Procfile itself, run by honcho as a platform runs it: a video job goes through the
worker line, the dashboard line serves with basic auth, and SIGTERM stops every process
well within Heroku's 30 s.

honcho, like Heroku, sends SIGTERM to each process's whole group (the dramatiq master, its
worker process and ffmpeg at once), and SIGKILLs what is left 5 s after the first process
stops; so the tests check that no SIGKILL was needed, not only the total time.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from honcho.environ import parse_procfile

from adapters.sqs.publisher import video_body
from tests.conftest import insert_video
from tests.media_samples import make_video
from tests.services import BIN, ROOT, free_port, wait_for_port

pytestmark = pytest.mark.e2e
ids = itertools.count(random.randrange(10**6, 10**9))
HEROKU_GRACE = 30
PASSWORDS = {"OPS_ADMIN_PASSWORD": "admin-secret", "OPS_VIEWER_PASSWORD": "viewer-secret",
             "OPS_SECRET_KEY": "test-secret-key"}


def dashboard_importable() -> bool:
    probe = subprocess.run([sys.executable, "-c", "from ops.web import create_app"], cwd=ROOT, capture_output=True)
    return probe.returncode == 0


class Honcho:
    """``honcho start`` on the repository's Procfile, in its own process group.

    The one change to the Procfile: the dashboard binds 127.0.0.1 instead of 0.0.0.0.
    """

    def __init__(self, env: dict[str, str], tmp_path: Path, *processes: str) -> None:
        text = (ROOT / "Procfile").read_text()
        assert text.count("--bind 0.0.0.0:") == 1
        procfile = tmp_path / "Procfile"
        procfile.write_text(text.replace("--bind 0.0.0.0:", "--bind 127.0.0.1:"))
        names = list(parse_procfile(text).processes)
        self.web_port = free_port()
        # honcho gives each process type PORT = base + 100 * its position in the Procfile.
        base = self.web_port - 100 * names.index("web")
        (tmp_path / "empty.env").write_text("")  # a developer's .env must not leak in
        self.log = tmp_path / "honcho.log"
        self._out = open(self.log, "ab")
        self.process = subprocess.Popen(
            [str(BIN / "honcho"), "start", "-f", str(procfile), "-d", str(ROOT), "-e", str(tmp_path / "empty.env"),
             "-p", str(base), "--no-colour", *processes],
            cwd=ROOT, env={**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"},
            stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def sigterm(self) -> float:
        """SIGTERM to honcho; seconds until honcho and every process it started have exited."""
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=HEROKU_GRACE + 10)
        # honcho's children live in groups of their own; wait for the last of them.
        for pid in self._child_pids():
            while _alive(pid) and time.monotonic() - began < HEROKU_GRACE + 10:
                time.sleep(0.1)
        return time.monotonic() - began

    def _child_pids(self) -> list[int]:
        pids = []
        for line in self.output().splitlines():
            if "started (pid=" in line:
                pids.append(int(line.split("started (pid=")[1].split(")")[0]))
        return pids

    def close(self) -> None:
        for pid in [self.process.pid, *self._child_pids()]:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.process.poll() is None:
            self.process.wait(timeout=10)
        self._out.close()


def _alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def new_video(stack, path) -> tuple[int, str]:
    video_id = next(ids)
    key = f"uploads/7/{video_id}/source.mp4"
    stack.upload(path, key)
    insert_video(stack.database, stack.tables["video"], video_id, key)
    return video_id, key


def assert_stopped_by_sigterm_alone(output: str, *names: str) -> None:
    assert "SIGKILL" not in output, output[-4000:]
    for name in names:
        assert f"{name}.1 stopped" in output, output[-4000:]


@pytest.fixture
def honcho(private_stack, tmp_path):
    started: list[Honcho] = []

    def start(*processes: str, **overrides: str) -> Honcho:
        runner = Honcho(private_stack.env(**PASSWORDS, **overrides), tmp_path, *processes)
        started.append(runner)
        return runner

    yield start
    for runner in started:
        runner.close()


def test_procfile_runs_a_video_job_serves_the_dashboard_and_stops_on_sigterm(honcho, private_stack, sample_video):
    if not dashboard_importable():
        pytest.skip("ops.web is not importable yet")
    stack = private_stack
    run = honcho()
    try:
        wait_for_port(run.web_port, timeout=60)
    except TimeoutError:
        pytest.fail(run.output()[-4000:])
    url = f"http://127.0.0.1:{run.web_port}/"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, auth=("admin", "wrong"), timeout=10).status_code == 401
    assert requests.get(url, auth=("admin", PASSWORDS["OPS_ADMIN_PASSWORD"]), timeout=10).status_code == 200

    video_id, key = new_video(stack, sample_video)
    stack.send(stack.video_queue, video_body(video_id, key, 7))
    row = stack.wait_status(video_id, "READY", "FAILED", timeout=120)
    assert row["status"] == "READY", row["error_reason"]

    seconds = run.sigterm()
    assert seconds < HEROKU_GRACE, run.output()[-4000:]
    assert not run.group_alive()
    assert_stopped_by_sigterm_alone(run.output(), "web", "worker")


def test_worker_line_interrupted_mid_job_returns_the_message_and_exits_in_time(honcho, private_stack, tmp_path):
    stack = private_stack
    source = make_video(tmp_path / "long.mp4", seconds=40, width=1280, height=720)
    run = honcho("worker", HLS_LADDER="360p:360:800:96,720p:720:2800:128", X264_PRESET="slow")
    video_id, key = new_video(stack, source)
    stack.send(stack.video_queue, video_body(video_id, key, 7))
    stack.wait_for(lambda: stack.redis.hget(f"progress:video:{video_id}", "step") == "transcoding", 60,
                   "the transcode to start")

    seconds = run.sigterm()
    assert seconds < HEROKU_GRACE, run.output()[-4000:]
    assert_stopped_by_sigterm_alone(run.output(), "worker")
    # Returned at once (visibility 0), not left for the 30 s visibility timeout; lock released.
    visible = stack.sqs.get_queue_attributes(
        QueueUrl=stack.url(stack.video_queue), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert visible == "1", run.output()[-4000:]
    assert stack.redis.exists(f"lock:video:{video_id}") == 0
    assert stack.video(video_id)["status"] != "READY"
