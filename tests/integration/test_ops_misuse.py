"""The ops tools attacked and misused: dead-letter actions that must end, browse without hiding
letters, be audited, and pages that must not leak, loop or break (moto's SQS, PostgreSQL, Redis)."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
import redis as redis_lib

from adapters.redis.lock import RedisLease
from adapters.redis.presence import INDEX, PREFIX
from domain.operations import DeadLetterNotFound, Tally
from ops.all_actions import LEASE, LEASE_SECONDS, ActionRunning, AllActions
from ops.service import Ops
from ops.web import create_app
from tests.conftest import insert_ai_job, insert_video
from tests.integration.test_ops_cli import ops as cli
from tests.ops_site import ADMIN, VIEWER, Site, basic, make_site, settings_for, video_ids
from tests.services import REDIS_URL, free_port, unique


def audit_lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "ops.audit"]


class Requeuer(threading.Thread):
    """Plays a worker that dead-letters every body of a job queue again, at once, as a new message.

    The normal state of a queue with poison in it: whatever is redriven comes straight back.
    """

    def __init__(self, site, queue: str) -> None:
        super().__init__(daemon=True)
        self.site, self.queue = site, queue
        self.stop = threading.Event()
        self.sqs = site.stack.moto.client("sqs")
        self.bounced = 0

    def run(self) -> None:
        url = self.site.stack.url(self.queue)
        while not self.stop.is_set():
            for message in self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                                    VisibilityTimeout=30).get("Messages", []):
                self.site.fill([message["Body"]], queue=self.queue, reason="invalid message: not JSON")
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                self.bounced += 1


def test_redrive_all_ends_with_the_true_count_while_the_same_bodies_keep_coming_back(site, caplog):
    stack = site.stack
    bodies = [f"poison {index} \u00e9" for index in range(40)]
    site.fill(bodies)
    requeuer = Requeuer(site, stack.video_queue)
    requeuer.start()
    try:
        with caplog.at_level(logging.WARNING):
            first = site.ops.act_on_dead_letters("redrive", stack.video_queue, None, user="ann", via="cli")
        assert (first.done, first.total) == (40, 40)
        # Again, from the dashboard, in the background: the copies dead-lettered meanwhile are the 40 now there.
        site.stack.wait_for(lambda: requeuer.bounced >= 40 and stack.depth(stack.video_dlq) == 40, 30, "bounces")
        token = site.confirm_token("/queues/video/dead-letters/redrive/confirm?all=1")
        record = site.finish(site.post("/queues/video/dead-letters/redrive", {"all": "1", "csrf_token": token}))
        assert record["record"]["state"] == "done"
        assert record["summary"] == "Redrove 40 dead letters of the 40 there when it began."
        site.stack.wait_for(lambda: requeuer.bounced >= 80, 30, "the second round of bounces")
    finally:
        requeuer.stop.set()
        requeuer.join(10)
    audit = audit_lines(caplog)
    assert f"audit: redrive by ann (cli) on {stack.video_queue}, every dead letter: 40 done" in audit
    # Byte for byte: what sits in the dead-letter queue now is the same 40 bodies.
    stack.wait_for(lambda: stack.depth(stack.video_dlq) == 40 and stack.depth(stack.video_queue) == 0, 30, "settled")
    assert sorted(site.letters().values()) == sorted(bodies)


def test_two_redrive_alls_at_once_on_one_queue_redrive_each_letter_once(site, pg_database):
    """Two dashboard processes (each its own Ops and threads), two operators confirming at the same moment."""
    stack = site.stack
    other = make_site(stack, pg_database)
    bodies = [f"poison {index}" for index in range(40)]
    site.fill(bodies)
    requeuer = Requeuer(site, stack.video_queue)
    requeuer.start()
    base = "/queues/video/dead-letters"
    try:
        dashboards = (site, other)
        tokens = [dashboard.confirm_token(f"{base}/redrive/confirm?all=1") for dashboard in dashboards]
        together = threading.Barrier(2)
        answers: list = [None, None]

        def confirm(index: int) -> None:
            together.wait()
            answers[index] = dashboards[index].post(f"{base}/redrive", {"all": "1", "csrf_token": tokens[index]})

        clicks = [threading.Thread(target=confirm, args=(index,)) for index in (0, 1)]
        for click in clicks:
            click.start()
        for click in clicks:
            click.join(30)
        redriven = sum(int(dashboard.finish(answer)["record"]["done"])
                       for dashboard, answer in zip(dashboards, answers) if answer.status_code == 303)
        stack.wait_for(lambda: requeuer.bounced >= 40 and stack.depth(stack.video_dlq) == 40
                       and stack.depth(stack.video_queue) == 0, 30, "the redriven letters to come back")
        time.sleep(1)  # anything sent twice would have come back by now
    finally:
        requeuer.stop.set()
        requeuer.join(10)
    assert (redriven, requeuer.bounced) == (40, 40)
    (winner,) = [answer for answer in answers if answer.status_code == 303]
    (loser,) = [answer for answer in answers if answer.status_code != 303]
    running = winner.headers["Location"]
    assert loser.status_code == 409, loser.text
    assert "A redrive of every dead letter of" in loser.text and "is already running" in loser.text
    assert f'href="{running}"' in loser.text and "Nothing new was started" in loser.text
    assert sorted(site.letters().values()) == sorted(bodies)


def hold_queue(site, action: str, *, user: str, via: str) -> str:
    """Be a process in the middle of an action on every dead letter of the video queue (7 of 50 done), that
    renews nothing: its record and its queue's lease, as that process wrote them. The action's id."""
    tally = Tally(action, site.stack.video_queue)
    action_id = site.ops.action_records.create(tally, user, via)
    tally.started(50)
    for _ in range(7):
        tally.count()
    site.ops.action_records.update(action_id, tally)
    assert RedisLease(site.ops.redis, LEASE + site.stack.video_queue, ttl_ms=LEASE_SECONDS * 1000).take(action_id)
    return action_id


def test_an_action_on_every_letter_running_anywhere_refuses_a_second_one_and_says_where_it_is(site):
    stack = site.stack
    site.fill(["one", "two", "three"])
    base = "/queues/video/dead-letters"
    held_by_cli = hold_queue(site, "redrive", user="bob", via="cli")
    try:
        refused = site.post(f"{base}/delete", {"all": "1", "csrf_token": site.confirm_token(f"{base}/delete/confirm?all=1")})
        assert refused.status_code == 409
        assert (f"A redrive of every dead letter of {stack.video_queue} is already running (started by bob with "
                "python -m ops at ") in refused.text
        assert "Running: 7 dead letters so far of the 50 there when it began. Nothing new was started." in refused.text
        assert f'href="/actions/{held_by_cli}"' in refused.text
        assert "7 dead letters so far" in site.get(f"/actions/{held_by_cli}").text
    finally:
        site.ops.redis.delete(LEASE + stack.video_queue)
    held_by_dashboard = hold_queue(site, "delete", user="ann", via="dashboard")
    told = cli(stack, "dlq", "redrive", "video", "--all", "--yes")
    assert told.returncode == 1 and "Traceback" not in told.stderr
    (line,) = [line for line in told.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith(f"error: A delete of every dead letter of {stack.video_queue} is already running "
                           "(started by ann on the dashboard at ")
    assert line.endswith("Running: 7 dead letters so far of the 50 there when it began. Nothing new was started. "
                         f"The dashboard follows it at /actions/{held_by_dashboard}.")
    assert cli(stack, "dlq", "purge", "video", "--yes").returncode == 1
    assert stack.depth(stack.video_dlq) == 3 and stack.depth(stack.video_queue) == 0  # nothing was touched
    # The process holding the queue died (nothing renews its lease): the lease lapses and the next action runs.
    site.ops.redis.pexpire(LEASE + stack.video_queue, 1000)  # as if its last renewal was nearly a lease ago
    stack.wait_for(lambda: site.ops.redis.get(LEASE + stack.video_queue) is None, 10, "the dead holder's lease")
    done = cli(stack, "dlq", "redrive", "video", "--all", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["count"] == 3
    assert site.ops.redis.get(LEASE + stack.video_queue) is None  # and it let go when it ended


def test_a_running_action_keeps_its_queue_past_the_lease_and_stops_when_it_loses_it(site):
    stack = site.stack
    url = stack.url(stack.video_dlq)
    actions = AllActions(site.ops.queues, site.ops.action_records, site.ops.redis, lease_seconds=1, renew_every=0.2)
    key = LEASE + stack.video_queue

    def leased_letter(seconds: int) -> None:  # one letter held by a browse that died: the action waits for it
        site.fill(["held by a dead browse"])
        assert stack.sqs.receive_message(QueueUrl=url, VisibilityTimeout=seconds).get("Messages")

    leased_letter(3)
    action_id = actions.start("delete", stack.video_queue, user="ann")
    time.sleep(1.8)  # longer than the lease: only renewals keep it
    with pytest.raises(ActionRunning) as running:
        actions.run("redrive", stack.video_queue, user="bob", via="cli")
    assert running.value.action_id == action_id
    state = site.finish_record(action_id)
    assert (state["state"], state["done"]) == ("done", "1")
    assert site.ops.redis.get(key) is None
    # Redis lost the lease meanwhile (unreachable past it) and another action took the queue: this one stops.
    leased_letter(2)
    action_id = actions.start("delete", stack.video_queue, user="ann")
    site.ops.redis.set(key, "another-action")
    state = site.finish_record(action_id)
    assert state["state"] == "failed" and "LeaseLost: lost its hold on the queue" in state["error"], state
    assert site.ops.redis.get(key) == b"another-action"  # never released by the one that lost it
    site.ops.redis.delete(key)


def test_browsing_does_not_hide_letters_from_actions(site):
    stack = site.stack
    site.fill([f"letter {index}" for index in range(60)], queue=stack.ai_queue)
    browser_ops = Ops(site.ops.settings, sqs=stack.moto.client("sqs"), redis=site.ops.redis)
    stop = threading.Event()
    pages = []

    def keep_reloading() -> None:  # a viewer reloading the page, as fast as a page loads
        while not stop.is_set():
            pages.append(len(browser_ops.queues.dead_letters(stack.ai_queue, limit=200)))
            time.sleep(0.05)

    browser = threading.Thread(target=keep_reloading, daemon=True)
    browser.start()
    try:
        tally = site.ops.act_on_dead_letters("redrive", stack.ai_queue, None, user="ann", via="cli")
        assert (tally.done, tally.total) == (60, 60)
        singles = site.fill([f"single {index}" for index in range(5)], queue=stack.ai_queue)
        for letter_id in singles:  # one at a time, while the viewer keeps reloading
            assert site.ops.act_on_dead_letters("redrive", stack.ai_queue, [letter_id], user="ann", via="cli").done == 1
    finally:
        stop.set()
        browser.join(10)
    assert len(pages) >= 5  # the viewer did browse all along
    assert stack.depth(stack.ai_queue) == 65


def test_a_letter_leased_by_a_browse_that_died_is_waited_for_not_called_missing(site):
    stack = site.stack
    letter = site.dead_letter("held by a dead browse")
    url = stack.url(stack.video_dlq)
    (held,) = stack.sqs.receive_message(QueueUrl=url, VisibilityTimeout=3).get("Messages", [])
    assert held["MessageId"] == letter  # invisible for 3 s, and nobody will hand it back
    began = time.monotonic()
    assert site.ops.act_on_dead_letters("delete", stack.video_queue, [letter], user="ann", via="cli").done == 1
    assert time.monotonic() - began >= 2  # it waited the lease out
    with pytest.raises(DeadLetterNotFound, match="no dead letter nowhere"):
        site.ops.queues.delete(stack.video_queue, ["nowhere"])


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "image"},
     {"Sec-Fetch-Site": "same-site"},
     {"Origin": "https://evil.example"},
     {"Referer": "https://evil.example/page.html"},
     {"Origin": "null"}],
)
def test_pages_that_receive_from_sqs_refuse_requests_from_other_sites(site, headers):
    letter = site.dead_letter("a body only a browse would show")
    base = f"/queues/{site.stack.video_queue}/dead-letters"
    for path in (f"{base}/", f"{base}/{letter}", f"{base}/redrive/confirm?id={letter}"):
        refused = site.get(path, headers=headers)
        assert refused.status_code == 403, path
        assert "only opens from the dashboard itself" in refused.text and "only a browse" not in refused.text
        attributes = site.stack.sqs.get_queue_attributes(
            QueueUrl=site.stack.url(site.stack.video_dlq), AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"  # nothing was received


def test_pages_that_receive_from_sqs_open_from_the_dashboard_and_from_the_address_bar(site):
    letter = site.dead_letter('{"video_id": 1}')
    base = f"/queues/{site.stack.video_queue}/dead-letters"
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {},
                    {"Origin": "http://localhost"}, {"Referer": "http://localhost/"}):
        assert letter in site.get(f"{base}/", headers=headers).text, headers
    # Other pages do not receive from SQS: a link from a chat message still opens them.
    assert site.get("/jobs/video/", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200


def test_a_partial_action_is_audited_with_what_it_did(site, caplog):
    real = site.dead_letter('{"video_id": 5}')
    base = f"/queues/{site.stack.video_queue}/dead-letters"
    token = site.confirm_token(f"{base}/delete/confirm?id={real}")
    with caplog.at_level(logging.WARNING):
        done = site.post(f"{base}/delete", {"id": [real, "bogus"], "csrf_token": token}, follow_redirects=True)
    assert "no dead letter bogus" in done.text and 'class="flash error"' in done.text
    assert site.letters() == {}  # the real one is gone
    assert audit_lines(caplog) == [
        f"audit: delete by admin (dashboard) on {site.stack.video_queue}, 2 chosen dead letter(s): "
        "1 done; not found: bogus"
    ]


def test_more_ids_than_a_request_may_carry_are_a_400_page(site):
    base = f"/queues/{site.stack.video_queue}/dead-letters"
    query = "&".join(f"id=x{index}" for index in range(101))
    response = site.get(f"{base}/redrive/confirm?{query}")
    assert response.status_code == 400 and "At most 100 dead letters" in response.text


# --- odd input in pages -------------------------------------------------------------------


def test_odd_ids_pages_and_records_are_4xx_or_rendered_never_500(site, pg_database):
    stack = site.stack
    assert site.get("/jobs/video/²").status_code == 404
    assert site.get("/jobs/video/99999999999999999999").status_code == 404
    assert site.get("/jobs/ai/" + "x" * 200).status_code == 404
    assert site.get("/jobs/video/²/progress.json").status_code == 404
    for page in ("99999999999999999999", "0", "-1", "10001"):
        response = site.get(f"/jobs/video/?page={page}")
        assert response.status_code == 400 and "page number must be from 1" in response.text, page
    # An AI id with a slash (the API's ids are strings): its link and its page work.
    job_id = f"tenant/7/{unique('job-')}"
    insert_ai_job(pg_database, stack.tables["ai"], job_id, "ocr", {"file_key": "u/p.png"}, "FAILED")
    listing = site.get("/jobs/ai/").text
    assert f'href="/jobs/ai/{job_id}"' in listing
    page = site.get(f"/jobs/ai/{job_id}")
    assert page.status_code == 200 and job_id in page.text
    assert site.get(f"/jobs/ai/{job_id}/progress.json").get_json()["status"] == "FAILED"
    # A dead letter whose receive count attribute is not ASCII digits.
    stack.sqs.send_message(QueueUrl=stack.url(stack.video_dlq), MessageBody="odd", MessageAttributes={
        "receive_count": {"DataType": "String", "StringValue": "²"},
        "reason": {"DataType": "String", "StringValue": "odd"}})
    listing = site.get(f"/queues/{stack.video_queue}/dead-letters/")
    assert listing.status_code == 200 and "odd" in listing.text


@pytest.mark.parametrize(("path", "code", "said"), [
    ("/jobs/ai/?job-type=%00", 400, "job-type: &#39;\\x00&#39; holds a NUL character"),
    ("/jobs/video/?file-key-prefix=uploads/%00", 400, "file-key-prefix: &#39;uploads/\\x00&#39; holds a NUL character"),
    ("/jobs/ai/?id=a%00b", 400, "id: &#39;a\\x00b&#39; holds a NUL character"),
    ("/jobs/video/?id=1%00", 400, "id: &#39;1\\x00&#39; holds a NUL character"),
    ("/jobs/ai/?tenant=%00", 400, "tenant: &#39;\\x00&#39; holds a NUL character"),
    ("/jobs/ai/?status=%00", 200, "Unknown status"),
    ("/jobs/ai/a%00b", 404, "No AI job can have the id &#39;a\\x00b&#39;."),
    ("/jobs/ai/a%00b/progress.json", 404, "No AI job can have the id &#39;a\\x00b&#39;."),
    ("/jobs/video/1%00", 404, "No video can have the id &#39;1\\x00&#39;."),
])
def test_nul_characters_in_searches_and_ids_are_a_clear_4xx_never_a_500(site, path, code, said):
    response = site.get(path)
    assert response.status_code == code, response.text
    assert said in response.text, response.text
    assert "\x00" not in response.text  # HTML may not carry one; the form shows what was typed as U+FFFD


def test_a_damaged_worker_record_still_renders(site):
    client = redis_lib.Redis.from_url(REDIS_URL)
    worker_id = unique("damaged-")
    client.hset(PREFIX + worker_id, mapping={"host": "h", "pid": "²", "last_beat": "soon", "queues": "q",
                                             "in_flight": "{not json", "state": "running"})
    client.zadd(INDEX, {worker_id: time.time()})
    other = unique("damaged-")
    client.hset(PREFIX + other, mapping={"pid": "1e400", "last_beat": repr(time.time()), "state": "running",
                                         "in_flight": '[{"job": "video 1", "since": "yesterday"}, 7]'})
    client.zadd(INDEX, {other: time.time()})
    try:
        page = site.get("/workers")
        assert page.status_code == 200 and worker_id in page.text and other in page.text
        assert "video 1" in page.text
    finally:
        client.delete(PREFIX + worker_id, PREFIX + other)
        client.zrem(INDEX, worker_id, other)


# --- secrets and transport ----------------------------------------------------------------


def test_secrets_in_problem_texts_are_masked_on_pages(private_stack, pg_database):
    endpoint = f"http://AKIAEXAMPLEKEY:sup3r-s3cret-v4lue@127.0.0.1:{free_port()}"  # nothing listens there
    settings = settings_for(private_stack, sqs_endpoint_url=endpoint)
    ops = Ops(settings, s3=private_stack.s3, redis=redis_lib.Redis.from_url(REDIS_URL), database=pg_database)
    site = Site(private_stack, app := create_app(settings, ops), app.test_client(), ops)
    for path in ("/", f"/queues/{private_stack.video_queue}/dead-letters/"):
        page = site.get(path)
        assert page.status_code == 200, path
        assert "sup3r-s3cret-v4lue" not in page.text and "SQS" in page.text, path
    video_id = next(video_ids)
    insert_video(pg_database, private_stack.tables["video"], video_id, "uploads/x.mp4", status="FAILED")
    with pg_database.begin() as connection:
        table = private_stack.tables["video"]
        connection.execute(table.update().where(table.c.id == video_id).values(
            error_reason=f"could not reach redis://:{ADMIN[1]}@cache:6379/0"))
    page = site.get(f"/jobs/video/{video_id}").text
    assert ADMIN[1] not in page and "redis://:***@cache" in page


def test_behind_a_trusted_https_router_cookies_are_secure_and_hsts_is_sent(private_stack, pg_database):
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    trusting = make_site(private_stack, pg_database, ops_trusted_proxies=1)
    letter = trusting.dead_letter("x")
    page = trusting.get(f"/queues/video/dead-letters/redrive/confirm?id={letter}", headers=https)
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    cookie = page.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    plain = trusting.app.test_client().get(f"/queues/video/dead-letters/redrive/confirm?id={letter}",
                                           headers=basic(*ADMIN))
    assert "Strict-Transport-Security" not in plain.headers and "Secure" not in plain.headers["Set-Cookie"]
    # Without OPS_TRUSTED_PROXIES a client cannot claim HTTPS (nor another address).
    untrusting = make_site(private_stack, pg_database)
    assert "Strict-Transport-Security" not in untrusting.get("/", headers=https).headers


def test_redirects_never_take_their_host_from_the_request(site):
    for path in ("/jobs", "/queues/video/dead-letters"):
        response = site.get(path, headers={"Host": "evil.example"})
        assert response.status_code in (301, 302, 303, 308), path
        location = response.headers["Location"]
        assert location.startswith("/") and "evil.example" not in location, location


def sign_in(site, who, address: str, **headers):
    return site.client.get("/", headers={**basic(*who), **headers}, environ_base={"REMOTE_ADDR": address})


def test_guesses_from_one_address_never_lock_the_admin_out_at_another(site):
    guesser, operator = "198.51.100.1", "198.51.100.2"
    for attempt in range(10):
        assert sign_in(site, ("admin", f"guess{attempt}"), guesser).status_code == 401
    assert sign_in(site, ADMIN, operator).status_code == 200
    throttled = sign_in(site, ADMIN, guesser)
    assert throttled.status_code == 429 and 1 <= int(throttled.headers["Retry-After"]) <= 300
    # Right or wrong, a throttled address gets the same answer: it learns nothing about the password.
    wrong = sign_in(site, ("admin", "guess-again"), guesser)
    assert (wrong.status_code, wrong.headers["Retry-After"], wrong.text) == (429, throttled.headers["Retry-After"],
                                                                              throttled.text)
    # The same address may still sign in as another user, until it has failed 20 times in all.
    assert sign_in(site, VIEWER, guesser).status_code == 200
    # Guesses spread over many addresses are each counted at their own address.
    for attempt in range(30):
        assert sign_in(site, ("admin", f"spread{attempt}"), f"203.0.113.{attempt}").status_code == 401
    assert sign_in(site, ADMIN, operator).status_code == 200
    assert site.get("/healthz", who=None).status_code == 200


def test_an_address_trying_many_user_names_is_throttled_for_every_user(site):
    sprayer = "198.51.100.7"
    for attempt in range(20):
        assert sign_in(site, (f"user{attempt}", "nope"), sprayer).status_code == 401
    for who in (ADMIN, VIEWER, ("user0", "nope")):
        assert sign_in(site, who, sprayer).status_code == 429, who
    assert sign_in(site, ADMIN, "198.51.100.8").status_code == 200
    # An IPv6 host is counted by its /64: the addresses of its own block do not start afresh.
    for attempt in range(10):
        assert sign_in(site, ("admin", "nope"), f"2001:db8:1:2::{attempt + 1:x}").status_code == 401
    assert sign_in(site, ADMIN, "2001:db8:1:2:ffff::1").status_code == 429
    assert sign_in(site, ADMIN, "2001:db8:1:3::1").status_code == 200


def test_behind_a_trusted_router_guesses_are_counted_per_forwarded_client(private_stack, pg_database):
    trusting = make_site(private_stack, pg_database, ops_trusted_proxies=1)
    router = "10.1.2.3"  # every request comes through the platform's router
    for attempt in range(10):
        response = sign_in(trusting, ("admin", f"guess{attempt}"), router, **{"X-Forwarded-For": "203.0.113.50"})
        assert response.status_code == 401
    assert sign_in(trusting, ADMIN, router, **{"X-Forwarded-For": "203.0.113.50"}).status_code == 429
    assert sign_in(trusting, ADMIN, router, **{"X-Forwarded-For": "198.51.100.60"}).status_code == 200


def test_an_action_whose_process_died_shows_as_interrupted_and_unknown_ids_are_404(site):
    from domain.operations import Tally
    from ops.actions import ActionRecords

    then = [time.time() - 3600]
    records = ActionRecords(site.ops.redis, clock=lambda: then[0])
    tally = Tally("delete", site.stack.video_queue)
    action_id = records.create(tally, "ann")
    tally.started(50)
    tally.count()
    records.update(action_id, tally)
    state = site.get(f"/actions/{action_id}.json").get_json()
    assert state["record"]["state"] == "interrupted"
    assert state["summary"].startswith("No news for a minute after 1 dead letter of the 50 there when it began")
    assert "dashboard process running it stopped" in site.get(f"/actions/{action_id}").text
    assert site.get("/actions/" + "0" * 32).status_code == 404
    assert site.get("/actions/../../etc").status_code == 404
