"""The ops dashboard in headless Chromium, against the real worker, moto's SQS/S3, PostgreSQL and Redis.

Screenshots of every page go to the test's tmp_path, and also to the folder
named by DASHBOARD_SCREENSHOTS (e.g. ``DASHBOARD_SCREENSHOTS=docs/img``) for
the README.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.browser import CHROMEDRIVER, CHROMIUM, chromium, serve_dashboard, wait
from tests.conftest import insert_video
from tests.media_samples import make_video
from tests.services import ROOT

BROWSER_MISSING = not (CHROMIUM.exists() and CHROMEDRIVER.exists())
ADMIN = ("admin", "browser-admin-pw")

pytestmark = [
    pytest.mark.e2e,
    # In CI (.ci/run installs chromium and chromium-driver) a missing browser is a failure, not a skip.
    pytest.mark.skipif(BROWSER_MISSING and os.environ.get("CI") != "true",
                       reason="needs /usr/bin/chromium and /usr/bin/chromedriver"),
]

BAD_BODIES = ["not json {", '{"video_id": "two", "file_key": 3}']


@pytest.fixture
def dashboard(private_stack):
    """The dashboard on 127.0.0.1, built from settings exactly as gunicorn's ``create_app()`` would be."""
    with serve_dashboard(private_stack, ADMIN[1]) as served:
        yield served


@pytest.fixture
def browser():
    driver = chromium(1280, 900, basic_auth=ADMIN)
    yield driver
    driver.quit()


class Shots:
    """Saves screenshots to tmp_path and, when DASHBOARD_SCREENSHOTS is set, to that folder too."""

    def __init__(self, driver, folder: Path) -> None:
        self.driver, self.folder = driver, folder
        target = os.environ.get("DASHBOARD_SCREENSHOTS")
        self.copy_to = (ROOT / target if not Path(target).is_absolute() else Path(target)) if target else None
        self.names: list[str] = []

    def take(self, name: str) -> None:
        path = self.folder / f"dashboard-{name}.png"
        assert self.driver.save_screenshot(str(path)), name
        self.names.append(path.name)
        if self.copy_to is not None:
            self.copy_to.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, self.copy_to / path.name)



def text_of(driver, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).text


def test_the_dashboard_in_a_browser_while_a_worker_runs(
    private_stack, start_worker, dashboard, browser, pg_database, tmp_path
):
    from selenium.webdriver.common.by import By

    stack, (url, ops), driver = private_stack, dashboard, browser
    shots = Shots(driver, tmp_path)
    worker = start_worker()
    wait(lambda: any(w.state == "running" and stack.video_queue in w.queues for w in ops.workers()), 60,
         "the worker's presence")

    # Dead letters and a FAILED row, the way production makes them: bad bodies and a missing source.
    for body in BAD_BODIES:
        stack.send(stack.video_queue, body)
    failed_id = 7_000_000 + int(time.time()) % 1_000_000
    insert_video(pg_database, stack.tables["video"], failed_id, "uploads/7/missing.mp4")
    stack.send(stack.video_queue, json.dumps({"video_id": failed_id, "file_key": "uploads/7/missing.mp4",
                                              "tenant_id": 7}))
    stack.wait_status(failed_id, "FAILED", timeout=60)
    wait(lambda: stack.depth(stack.video_dlq) == 3, 60, "three dead letters")

    # A real video: the job page is open before the message is sent and follows it without a reload.
    video_id = failed_id + 1
    source = make_video(tmp_path / "source.mp4", seconds=12, width=640, height=360)
    stack.upload(source, f"uploads/7/{video_id}/source.mp4")
    insert_video(pg_database, stack.tables["video"], video_id, f"uploads/7/{video_id}/source.mp4")
    driver.get(f"{url}/jobs/video/{video_id}")
    assert text_of(driver, "progress-step") == "—" and text_of(driver, "status") == "UPLOADED"
    driver.execute_script("window.loadedOnce = 'still the first load';")
    stack.send(stack.video_queue, json.dumps({"video_id": video_id, "file_key": f"uploads/7/{video_id}/source.mp4",
                                              "tenant_id": 7}))
    seen: list[tuple[str, str, str]] = []
    shot_in_progress = False
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        state = (text_of(driver, "progress-step"), text_of(driver, "progress-percent"), text_of(driver, "status"))
        if not seen or seen[-1] != state:
            seen.append(state)
        if not shot_in_progress and state[0] not in ("—", "queued", "done") and state[2] == "PROCESSING":
            shots.take("job-progress")
            shot_in_progress = True
        if state[0] == "done" and state[2] == "READY":
            break
        time.sleep(0.1)
    steps = [step for step, _, _ in seen]
    assert steps[-1] == "done" and seen[-1][2] == "READY", seen
    assert len({step for step in steps if step != "—"}) >= 2, f"the page never showed a step in between: {seen}"
    assert {"PROCESSING", "READY"} <= {status for _, _, status in seen}, seen
    assert driver.execute_script("return window.loadedOnce") == "still the first load"  # never reloaded
    assert int(driver.find_element(By.ID, "progress").get_attribute("data-polls")) >= 2
    assert stack.video(video_id)["status"] == "READY" and text_of(driver, "row-status") == "READY"

    # The job ended while watched: the row and its outputs are swapped in, still without a reload.
    wait(lambda: driver.find_element(By.ID, "progress").get_attribute("data-refreshed") == "true", 20,
         "the row and outputs to refresh")
    assert driver.execute_script("return window.loadedOnce") == "still the first load"
    page = driver.page_source
    assert f"videos/7/{video_id}/hls/master.m3u8" in page and f"videos/7/{video_id}/thumbnail.jpg" in page
    shots.take("job")

    driver.get(url + "/")
    assert "Overview" in driver.title and stack.video_dlq in driver.page_source
    failed_badge = driver.find_element(By.CSS_SELECTOR, 'a[data-kind="video"][data-status="FAILED"]')
    assert failed_badge.text == "FAILED 1"
    shots.take("overview")

    driver.get(f"{url}/jobs/video/")
    assert str(video_id) in driver.page_source and str(failed_id) in driver.page_source
    shots.take("jobs")
    driver.get(f"{url}/jobs/video/?status=FAILED")
    assert str(failed_id) in driver.page_source and "does not exist" in driver.page_source
    assert f'data-job-id="{video_id}"' not in driver.page_source
    shots.take("jobs-failed")
    driver.get(f"{url}/jobs/video/{failed_id}")
    shots.take("job-failed")

    driver.get(f"{url}/workers")
    # Other workers may share this Redis (other test runs): look for ours.
    running = driver.find_elements(By.CSS_SELECTOR, 'tr[data-state="running"]')
    assert any(stack.video_queue in row.text for row in running)
    shots.take("workers")

    # Stop the worker, so that what is redriven stays in the queue for us to check.
    worker.terminate()
    wait(lambda: not any(w.state == "running" and stack.video_queue in w.queues for w in ops.workers()), 30,
         "the worker's stop")

    driver.get(f"{url}/queues/{stack.video_queue}/dead-letters/")
    rows = driver.find_elements(By.CSS_SELECTOR, "tr[data-letter-id]")
    assert len(rows) == 3
    shots.take("dead-letters")

    def row_with(text: str):
        return next(r for r in driver.find_elements(By.CSS_SELECTOR, "tr[data-letter-id]") if text in r.text)

    row_with("missing.mp4").find_element(By.CSS_SELECTOR, "td a").click()
    assert "uploads/7/missing.mp4" in text_of(driver, "body")
    shots.take("dead-letter")

    driver.get(f"{url}/queues/{stack.video_queue}/dead-letters/")
    redriven = row_with(BAD_BODIES[0]).get_attribute("data-letter-id")
    row_with(BAD_BODIES[0]).find_element(By.LINK_TEXT, "Redrive").click()
    assert "Redrive 1 dead letter?" in driver.page_source and redriven in driver.page_source
    shots.take("confirm-redrive")
    driver.find_element(By.ID, "confirm").click()
    wait(lambda: "Redrove 1 dead letter" in driver.page_source, 30, "the redrive's flash message")
    shots.take("redriven")
    (message,) = stack.dead_letters(stack.video_queue, expect=1, timeout=10)  # the job queue, not its DLQ
    assert message["Body"] == BAD_BODIES[0]
    assert len(driver.find_elements(By.CSS_SELECTOR, "tr[data-letter-id]")) == 2

    deleted = row_with('"two"').get_attribute("data-letter-id")
    row_with('"two"').find_element(By.LINK_TEXT, "Delete").click()
    assert "Delete 1 dead letter?" in driver.page_source and "cannot be recovered" in driver.page_source
    shots.take("confirm-delete")
    driver.find_element(By.ID, "confirm").click()
    wait(lambda: "Deleted 1 dead letter" in driver.page_source, 30, "the delete's flash message")
    shots.take("deleted")
    left = {letter.id: letter.body for letter in ops.queues.dead_letters(stack.video_queue)}
    assert deleted not in left and redriven not in left
    assert len(left) == 1 and "missing.mp4" in next(iter(left.values()))
    assert stack.depth(stack.video_queue) == 1  # only the redriven one: a delete sends nothing back

    # Redrive all: it runs in the background and its page follows it to the final count, without a reload.
    driver.find_element(By.LINK_TEXT, "Redrive all").click()
    assert "Redrive every dead letter?" in driver.page_source
    driver.find_element(By.ID, "confirm").click()
    wait(lambda: "/actions/" in driver.current_url, 30, "the action's page")
    driver.execute_script("window.loadedOnce = 'still the first load';")
    wait(lambda: driver.find_element(By.ID, "action").get_attribute("data-state") == "done", 60, "the action's end")
    assert text_of(driver, "action-summary") == "Redrove 1 dead letter of the 1 there when it began."
    assert driver.execute_script("return window.loadedOnce") == "still the first load"
    shots.take("action")
    assert ops.queues.dead_letters(stack.video_queue) == [] and stack.depth(stack.video_queue) == 2

    driver.get(f"{url}/workers")
    stopped = driver.find_elements(By.CSS_SELECTOR, 'details.stopped tr[data-state="stopped"]')
    assert any(stack.video_queue in row.get_attribute("textContent") for row in stopped)
    assert len(shots.names) == 14
