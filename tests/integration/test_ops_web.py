"""The ops dashboard through Flask's test client, against moto's SQS/S3, PostgreSQL and Redis."""

from __future__ import annotations

import re
import shlex
import subprocess
import time

import redis as redis_lib
import requests

from adapters.db import connect_database
from adapters.redis.presence import INDEX, PREFIX, WorkerRegistry
from adapters.redis.progress import RedisProgress
from bootstrap import OPS_CLIENTS
from ops.service import Ops
from ops.web import create_app
from tests.conftest import insert_ai_job, insert_video
from tests.ops_site import ADMIN, BODIES, SECRET, VIEWER, Site, make_site, receive_all, settings_for, video_ids
from tests.services import BIN, REDIS_URL, ROOT, free_port, unique, wait_for_port

PAGES = ["/", "/jobs/video/", "/jobs/ai/", "/workers", "/queues/{video}/dead-letters/", "/static/style.css",
         "/static/progress.js"]


# --- access -----------------------------------------------------------------------------


def test_without_any_password_every_page_answers_503_and_says_what_to_set(private_stack, pg_database):
    site = make_site(private_stack, pg_database, ops_admin_password=None, ops_viewer_password=None)
    for path in PAGES:
        for who in (None, ADMIN, ("admin", "")):
            response = site.get(path.format(video=private_stack.video_queue), who=who)
            assert response.status_code == 503, path
            assert "set OPS_ADMIN_PASSWORD" in response.text
    assert site.get("/healthz", who=None).text == "ok"


def test_every_page_needs_credentials_but_the_bare_health_check(site):
    for number, path in enumerate(PAGES):
        path = path.format(video=site.stack.video_queue)
        wrong = [("admin", "wrong"), ("admin", VIEWER[1]), ("viewer", ADMIN[1]), ("", "")] if number < 2 else []
        for who in [None, *wrong]:  # wrong passwords on two pages only: more would be throttled (429)
            response = site.get(path, who=who)
            assert response.status_code == 401, (path, who)
            assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
        assert site.get(path).status_code == 200
        assert site.get(path, who=VIEWER).status_code == 200
    health = site.get("/healthz", who=None)
    assert (health.status_code, health.text, health.mimetype) == (200, "ok", "text/plain")
    assert site.client.get("/", headers={"Authorization": "Bearer " + ADMIN[1]}).status_code == 401


def test_the_viewer_reads_but_sees_no_actions_and_gets_403_on_them(site):
    letter = site.dead_letter(BODIES[0])
    base = f"/queues/{site.stack.video_queue}/dead-letters"
    as_admin = site.get(base + "/").text
    as_viewer = site.get(base + "/", who=VIEWER).text
    assert "Redrive all" in as_admin and "Delete all" in as_admin and "/redrive/confirm" in as_admin
    assert letter[:8] in as_viewer and "bad input" in as_viewer
    assert 'class="button' not in as_viewer and "/confirm" not in as_viewer and "<form" not in as_viewer
    assert "/redrive/confirm" not in site.get(f"{base}/{letter}", who=VIEWER).text
    for action in ("redrive", "delete"):
        assert site.get(f"{base}/{action}/confirm?id={letter}", who=VIEWER).status_code == 403
        assert site.get(f"{base}/{action}/confirm?all=1", who=VIEWER).status_code == 403
        token = site.confirm_token(f"{base}/{action}/confirm?id={letter}")  # a token the viewer might get hold of
        assert site.post(f"{base}/{action}", {"id": letter}, who=VIEWER).status_code == 403
        assert site.post(f"{base}/{action}", {"id": letter, "csrf_token": token}, who=VIEWER).status_code == 403
    assert site.post(f"{base}/redrive", {"id": letter}, who=None).status_code == 401
    assert site.letters() == {letter: BODIES[0]}


def test_a_post_without_a_valid_csrf_token_is_refused_with_400(site):
    letter = site.dead_letter(BODIES[1])
    base = f"/queues/{site.stack.video_queue}/dead-letters"
    assert site.post(f"{base}/delete", {"id": letter}).status_code == 400
    assert site.post(f"{base}/delete", {"id": letter, "csrf_token": "forged"}).status_code == 400
    # A token signed with another key (another deployment, or a process without OPS_SECRET_KEY) is refused too.
    other = make_site(site.stack, site.ops.database, ops_secret_key="another-key")
    foreign = other.confirm_token(f"{base}/delete/confirm?id={letter}")
    site.get(f"{base}/delete/confirm?id={letter}")
    assert site.post(f"{base}/delete", {"id": letter, "csrf_token": foreign}).status_code == 400
    assert site.letters() == {letter: BODIES[1]}


# --- dead letters -----------------------------------------------------------------------


def test_dead_letters_are_listed_with_reason_count_time_and_body_and_shown_whole(site):
    long_body = '{"video_id": 7, "file_key": "' + "x" * 300 + '", "note": "<script>alert(1)</script>"}'
    letter = site.dead_letter(long_body, reason="file_key: too long", receive_count=4)
    base = f"/queues/{site.stack.video_queue}/dead-letters"
    listing = site.get(base + "/").text
    row = re.search(rf'<tr data-letter-id="{letter}">.*?</tr>', listing, re.S).group(0)
    assert "file_key: too long" in row and ">4<" in row and "20" in row
    assert "x" * 40 in row and "x" * 300 not in row and "…" in row
    detail = site.get(f"{base}/{letter}")
    assert detail.status_code == 200
    assert "x" * 300 in detail.text
    assert "<script>" not in detail.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in detail.text
    # The overview counts it and links to the list.
    overview = site.get("/").text
    assert site.stack.video_dlq in overview and base + "/" in overview
    assert site.get(f"{base}/not-an-id").status_code == 303


def test_redrive_one_through_its_confirmation_puts_the_original_body_back(site, caplog):
    ids = [site.dead_letter(body, reason=f"reason {i}") for i, body in enumerate(BODIES)]
    base = f"/queues/{site.stack.video_queue}/dead-letters"
    confirm = site.get(f"{base}/redrive/confirm?id={ids[2]}")
    assert confirm.status_code == 200
    assert "will be sent back to" in confirm.text and "reason 2" in confirm.text and ids[2] in confirm.text
    assert site.letters() == dict(zip(ids, BODIES))  # looking changed nothing

    token = re.search(r'name="csrf_token" value="([^"]+)"', confirm.text).group(1)
    done = site.post(f"{base}/redrive", {"id": ids[2], "csrf_token": token})
    assert done.status_code == 303 and done.headers["Location"].endswith(base + "/")
    page = site.get(done.headers["Location"]).text
    assert f"Redrove 1 dead letter from {site.stack.video_dlq} back to {site.stack.video_queue}" in page

    (message,) = receive_all(site.stack, site.stack.video_queue)
    assert message["Body"] == BODIES[2]
    assert site.letters() == {ids[0]: BODIES[0], ids[1]: BODIES[1]}
    audit = [r.getMessage() for r in caplog.records if r.name == "ops.audit"]
    assert audit == [f"audit: redrive by admin (dashboard) on {site.stack.video_queue}, 1 chosen dead letter(s): 1 done"]


def test_delete_one_then_redrive_all_then_delete_all(site):
    ids = [site.dead_letter(body) for body in BODIES]
    base = f"/queues/{site.stack.video_queue}/dead-letters"
    token = site.confirm_token(f"{base}/delete/confirm?id={ids[0]}")
    done = site.post(f"{base}/delete", {"id": ids[0], "csrf_token": token}, follow_redirects=True)
    assert "Deleted 1 dead letter from" in done.text
    assert site.letters() == {ids[1]: BODIES[1], ids[2]: BODIES[2]}
    assert receive_all(site.stack, site.stack.video_queue) == []

    confirm = site.get(f"{base}/redrive/confirm?all=1")
    assert "Every dead letter" in confirm.text and "2 dead letters found now" in confirm.text
    started = site.post(f"{base}/redrive", {"all": "1", "csrf_token": site.confirm_token(f"{base}/redrive/confirm?all=1")})
    assert started.status_code == 303 and "/actions/" in started.headers["Location"]
    record = site.finish(started)
    assert record["summary"] == "Redrove 2 dead letters of the 2 there when it began."
    page = site.get(started.headers["Location"]).text
    assert "Redrove 2 dead letters" in page and 'src="/static/action.js"' in page
    assert sorted(m["Body"] for m in receive_all(site.stack, site.stack.video_queue)) == sorted(BODIES[1:])
    assert site.letters() == {}

    more = [site.dead_letter(body, queue=site.stack.ai_queue) for body in BODIES[:2]]
    ai_base = f"/queues/ai/dead-letters"  # the alias names the same queue
    token = site.confirm_token(f"{ai_base}/delete/confirm?all=1")
    record = site.finish(site.post(f"{ai_base}/delete", {"all": "1", "csrf_token": token}))
    assert record["summary"] == "Deleted 2 dead letters of the 2 there when it began."
    assert record["record"]["queue"] == site.stack.ai_queue and record["record"]["user"] == "admin"
    assert site.letters(site.stack.ai_queue) == {} and len(more) == 2


def test_an_action_on_a_letter_gone_meanwhile_is_a_flash_message_not_an_error(site):
    kept = site.dead_letter(BODIES[0])
    base = f"/queues/{site.stack.video_queue}/dead-letters"
    token = site.confirm_token(f"{base}/redrive/confirm?id=no-such-letter")
    assert "Not in the queue now" in site.get(f"{base}/redrive/confirm?id=no-such-letter").text
    done = site.post(f"{base}/redrive", {"id": "no-such-letter", "csrf_token": token}, follow_redirects=True)
    assert done.status_code == 200
    assert 'class="flash error"' in done.text and "no dead letter no-such-letter" in done.text
    done = site.post(f"{base}/delete", {"csrf_token": token}, follow_redirects=True)
    assert "Choose the dead letters" in done.text
    assert site.letters() == {kept: BODIES[0]}
    assert site.get("/queues/someone-elses-queue/dead-letters/").status_code == 404
    assert site.get(f"{base}/explode/confirm?all=1").status_code == 404


# --- jobs, progress, outputs ------------------------------------------------------------


def test_job_lists_filter_by_status_show_reasons_and_paginate(site, pg_database):
    videos = site.stack.tables["video"]
    failed = [next(video_ids) for _ in range(27)]
    for video_id in failed:
        insert_video(pg_database, videos, video_id, f"uploads/{video_id}.mp4", status="FAILED")
    ready = next(video_ids)
    insert_video(pg_database, videos, ready, "uploads/r.mp4", status="READY")
    with pg_database.begin() as connection:
        connection.execute(videos.update().where(videos.c.id == failed[-1]).values(error_reason="source not found: x"))
    insert_ai_job(pg_database, site.stack.tables["ai"], "ai-" + unique(""), "ocr", {"file_key": "a.png"}, "FAILED")

    first = site.get("/jobs/video/?status=failed")
    assert first.status_code == 200
    ids_shown = re.findall(r'<tr data-job-id="(\d+)">', first.text)
    assert len(ids_shown) == 25 and str(ready) not in ids_shown
    assert "source not found: x" in first.text and 'rel="next"' in first.text
    second = site.get("/jobs/video/?status=FAILED&page=2").text
    assert len(re.findall(r'<tr data-job-id="(\d+)">', second)) == 2 and 'rel="next"' not in second
    assert str(ready) in site.get("/jobs/video/?status=READY").text
    assert "Unknown status" in site.get("/jobs/video/?status=EXPLODED").text
    assert "ocr" in site.get("/jobs/ai/").text
    assert site.get("/jobs/").status_code == 302
    assert site.get("/jobs/music/").status_code == 404
    counts = site.get("/").text
    assert re.search(r'data-kind="video" data-status="FAILED">FAILED <b>(\d+)</b>', counts).group(1) == "27"


def test_the_job_page_shows_the_row_live_progress_and_outputs(site, pg_database):
    stack = site.stack
    video_id = next(video_ids)
    insert_video(pg_database, stack.tables["video"], video_id, "uploads/7/source.mp4", status="PROCESSING", tenant_id=7)
    prefix = f"videos/7/{video_id}/"
    stack.s3.put_object(Bucket=stack.bucket, Key=prefix + "hls/master.m3u8", Body=b"#EXTM3U\n")
    stack.s3.put_object(Bucket=stack.bucket, Key=prefix + "thumbnail.jpg", Body=b"\xff" * 2048)
    stack.s3.put_object(Bucket=stack.bucket, Key=f"videos/7/{video_id}0/other.jpg", Body=b"not this job's")
    progress = RedisProgress(redis_lib.Redis.from_url(REDIS_URL), ttl_seconds=60)
    progress.write(f"video:{video_id}", "transcoding", 40, "360p")

    page = site.get(f"/jobs/video/{video_id}")
    assert page.status_code == 200
    text = page.text
    assert "PROCESSING" in text and "uploads/7/source.mp4" in text
    assert 'id="progress-step">transcoding<' in text and "40 %" in text
    assert f"s3://{stack.bucket}/{prefix}" in text
    assert prefix + "hls/master.m3u8" in text and prefix + "thumbnail.jpg" in text and "2.0 KB" in text
    assert "other.jpg" not in text and "X-Amz-Signature" not in text and "Signature=" not in text
    assert 'src="/static/progress.js"' in text

    data = site.get(f"/jobs/video/{video_id}/progress.json").get_json()
    assert data["progress"]["step"] == "transcoding" and data["progress"]["percent"] == "40"
    assert data["status"] == "PROCESSING" and data["error"] is None
    progress.write(f"video:{video_id}", "uploading", 85, "")
    assert site.get(f"/jobs/video/{video_id}/progress.json").get_json()["progress"]["step"] == "uploading"

    job_id = unique("job-")
    insert_ai_job(pg_database, stack.tables["ai"], job_id, "ocr", {"file_key": "u/p.png"}, "FAILED")
    with pg_database.begin() as connection:
        table = stack.tables["ai"]
        connection.execute(table.update().where(table.c.id == job_id).values(error_message="no such engine"))
    ai_page = site.get(f"/jobs/ai/{job_id}").text
    assert "no such engine" in ai_page and "No progress recorded" in ai_page and "No objects." in ai_page
    assert f"ai/7/{job_id}/" in ai_page and "&#34;file_key&#34;: &#34;u/p.png&#34;" in ai_page
    assert site.get(f"/jobs/ai/{job_id}/progress.json").get_json() == {"progress": {}, "status": "FAILED", "error": None}
    assert site.get("/jobs/video/999999999999").status_code == 404
    assert site.get("/jobs/video/not-a-number").status_code == 404


# --- workers ----------------------------------------------------------------------------


def test_workers_page_shows_running_stopped_and_gone_workers(site):
    client = redis_lib.Redis.from_url(REDIS_URL)
    now = time.time()
    running, stopped, gone = unique("web-1:"), unique("web-2:"), unique("web-3:")
    common = dict(queues=[site.stack.video_queue, site.stack.ai_queue], started_at="2026-11-26T06:00:00+00:00")
    try:
        WorkerRegistry(client).beat(running, host="worker.1", pid=4242, in_flight=[
            {"message_id": "m-1", "actor": "process_video", "job": "video 42", "since": now - 5}], **common)
        registry = WorkerRegistry(client)
        registry.beat(stopped, host="worker.2", pid=4343, in_flight=[], **common)
        registry.stopped(stopped)
        WorkerRegistry(client, clock=lambda: now - 600).beat(gone, host="worker.3", pid=4444, in_flight=[
            {"message_id": "m-2", "actor": "process_video", "job": "video 43", "since": now - 700}], **common)

        text = site.get("/workers").text
        rows = {worker_id: re.search(rf'<tr data-worker-id="{re.escape(worker_id)}" data-state="(\w+)">(.*?)</tr>',
                                     text, re.S) for worker_id in (running, stopped, gone)}
        assert {w: m.group(1) for w, m in rows.items()} == {running: "running", stopped: "stopped", gone: "gone"}
        assert "worker.1" in rows[running].group(2) and "4242" in rows[running].group(2)
        assert "video 42" in rows[running].group(2) and site.stack.video_queue in rows[running].group(2)
        assert "video 43" not in rows[gone].group(2) and "10 min ago" in rows[gone].group(2)
        assert re.search(r"(\d+) running", site.get("/").text)
    finally:
        client.zrem(INDEX, running, stopped, gone)
        client.delete(*(PREFIX + w for w in (running, stopped, gone)))


# --- outages ----------------------------------------------------------------------------


def test_a_missing_queue_is_named_and_the_rest_of_the_page_still_renders(private_stack, pg_database):
    site = make_site(private_stack, pg_database, video_queue=unique("missing-video-"))
    overview = site.get("/")
    assert overview.status_code == 200
    assert "SQS is unreachable" in overview.text and "does not exist" in overview.text
    assert 'data-kind="video" data-status="FAILED"' in overview.text and "running," in overview.text
    letters = site.get(f"/queues/{site.ops.settings.video_queue}/dead-letters/")
    assert letters.status_code == 200 and "does not exist" in letters.text
    confirm = site.get(f"/queues/{site.ops.settings.video_queue}/dead-letters/delete/confirm?all=1")
    assert confirm.status_code == 200 and "does not exist" in confirm.text
    assert "Traceback" not in overview.text + letters.text + confirm.text


def test_redis_and_the_database_down_are_named_not_tracebacks(private_stack):
    stack = private_stack
    settings = settings_for(stack)
    dead_redis = redis_lib.Redis(
        host="127.0.0.1", port=free_port(), socket_connect_timeout=1, socket_timeout=1, retry=OPS_CLIENTS.redis["retry"]
    )
    dead_db = connect_database(f"postgresql+psycopg2://postgres:db-secret-pw@127.0.0.1:{free_port()}/test")
    ops = Ops(settings, sqs=stack.sqs, s3=stack.s3, redis=dead_redis, database=dead_db)
    site = Site(stack, app := create_app(settings, ops), app.test_client(), ops)

    overview = site.get("/")
    assert overview.status_code == 200
    assert "Redis is unreachable" in overview.text and "The database is unreachable" in overview.text
    assert stack.video_dlq in overview.text  # the queues still render
    workers = site.get("/workers")
    assert workers.status_code == 200 and "Redis is unreachable" in workers.text
    jobs = site.get("/jobs/video/")
    assert jobs.status_code == 200 and "The database is unreachable" in jobs.text
    job = site.get("/jobs/video/12")
    assert job.status_code == 200 and "Redis is unreachable" in job.text and "The database is unreachable" in job.text
    data = site.get("/jobs/video/12/progress.json").get_json()
    assert data["progress"] == {} and "Redis" in data["error"] and "database" in data["error"]
    for page in (overview, workers, jobs, job):
        assert "Traceback" not in page.text and "db-secret-pw" not in page.text
    dead_db.dispose()


def test_no_secret_is_ever_in_a_page(site):
    letter = site.dead_letter(BODIES[0])
    base = f"/queues/{site.stack.video_queue}/dead-letters"
    for path in ["/", "/workers", "/jobs/video/", "/jobs/ai/", base + "/", f"{base}/{letter}",
                 f"{base}/redrive/confirm?id={letter}", "/nowhere"]:
        text = site.get(path).text
        for secret in (ADMIN[1], VIEWER[1], SECRET, "testing"):
            assert secret not in text, (path, secret)


def test_headers_forbid_framing_and_caching(site):
    response = site.get("/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


# --- the Procfile's entry point ---------------------------------------------------------


def test_the_procfile_web_line_serves_the_dashboard_under_gunicorn(private_stack, tmp_path):
    line = next(l for l in (ROOT / "Procfile").read_text().splitlines() if "gunicorn" in l)
    argv = shlex.split(line.split(":", 1)[1])
    assert argv[-1] == "ops.web:create_app()"
    port = free_port()
    argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
    env = private_stack.env(OPS_ADMIN_PASSWORD=ADMIN[1], OPS_SECRET_KEY=SECRET)
    log = open(tmp_path / "gunicorn.log", "wb")
    process = subprocess.Popen([str(BIN / "gunicorn"), *argv[1:]], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    typed_in_the_user_box = "my-p4ssword-" + unique("")
    try:
        wait_for_port(port, timeout=30)
        url = f"http://127.0.0.1:{port}"
        assert requests.get(url + "/healthz", timeout=10).text == "ok"
        assert requests.get(url + "/", timeout=10).status_code == 401
        assert requests.get(url + "/", auth=(typed_in_the_user_box, ""), timeout=10).status_code == 401
        page = requests.get(url + "/", auth=ADMIN, timeout=30)
        assert page.status_code == 200 and private_stack.video_dlq in page.text
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
    logged = (tmp_path / "gunicorn.log").read_text(errors="replace")
    assert '"GET / HTTP/1.1" 200' in logged  # the access log is on
    assert ADMIN[1] not in logged and typed_in_the_user_box not in logged


def test_without_ops_secret_key_a_random_key_is_used_and_a_warning_says_to_set_it(private_stack, pg_database, caplog):
    with caplog.at_level("WARNING", logger="ops.web.app"):
        first = make_site(private_stack, pg_database, ops_secret_key=None)
        second = make_site(private_stack, pg_database, ops_secret_key=None)
    assert any("OPS_SECRET_KEY is not set" in record.getMessage() for record in caplog.records)
    assert first.app.secret_key != second.app.secret_key and len(first.app.secret_key) >= 32
    assert first.app.secret_key not in caplog.text
    # The admin can still act through this process.
    letter = first.dead_letter(BODIES[0])
    base = f"/queues/{private_stack.video_queue}/dead-letters"
    token = first.confirm_token(f"{base}/delete/confirm?id={letter}")
    assert "Deleted 1 dead letter" in first.post(f"{base}/delete", {"id": letter, "csrf_token": token},
                                                 follow_redirects=True).text


def test_the_overview_shows_how_long_messages_waited_as_the_workers_report(site):
    client = redis_lib.Redis.from_url(REDIS_URL)
    registry = WorkerRegistry(client, gone_after=60)
    queue = site.stack.video_queue
    worker_ids = [unique("waits-") for _ in range(2)]
    try:
        registry.beat(worker_ids[0], host="a", pid=1, queues=[queue], in_flight=[], started_at="t0",
                      waits={queue: {"last": 3.0, "last_at": time.time() - 30, "max": 40.0, "count": 5}})
        registry.beat(worker_ids[1], host="b", pid=2, queues=[queue], in_flight=[], started_at="t0",
                      waits={queue: {"last": 1.5, "last_at": time.time(), "max": 12.0, "count": 2}})
        overview = site.get("/").text
        assert re.search(rf'data-queue-wait="{queue}">1.5 s / 40 s<', overview)
        assert re.search(rf'data-queue-wait="{site.stack.ai_queue}">-<', overview)
        status = site.ops.status()
        (entry,) = [q for q in status["queues"] if q["name"] == queue]
        assert entry["waits"]["count"] == 7 and entry["waits"]["max"] == 40.0
    finally:
        client.delete(*(PREFIX + worker_id for worker_id in worker_ids))
        client.zrem(INDEX, *worker_ids)
