"""`python -m ops` given what operators mistype and what hostile rows and bodies hold: one clear
line and a non-zero exit, never a traceback; no secret and no terminal escape in what it prints."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ops.cli import main
from ops.service import Ops
from tests.conftest import insert_video
from tests.e2e.stack import Stack
from tests.integration.test_ops_cli import dead_letter, ops
from tests.ops_site import settings_for
from tests.services import ROOT, free_port, unique

ESCAPES = "\x1b]0;PWNED\x07\x1b[2J\x9b31m\r\u202e"


@pytest.fixture
def cli_stack(moto, pg_database, tables):
    return Stack(moto, pg_database, tables)


def assert_one_clear_line(result, code: int, *fragments: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert len(lines) == 1 or lines[-1].startswith(("error:", "python -m ops")), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("DATABASE_URL", "postgresql://postgres@127.0.0.1:abc/test", "DATABASE_URL: is not a valid SQLAlchemy URL"),
        ("DATABASE_URL", "postgresql://postgres@[::1/test", "DATABASE_URL: is not a valid SQLAlchemy URL"),
        ("DATABASE_URL", "postgresql://postgres@127.0.0.1:99999/test", "DATABASE_URL: port 99999 is out of range"),
        ("REDIS_URL", "redis://127.0.0.1:abc/1", "REDIS_URL: is not a valid Redis URL"),
        ("REDIS_URL", "redis://[::1/1", "REDIS_URL: is not a valid Redis URL"),
        ("REDIS_URL", "redis://127.0.0.1:6379/1?socket_timeout=abc", "REDIS_URL: is not a valid Redis URL"),
        ("REDIS_URL", "redis://127.0.0.1:6379/abc", "REDIS_URL: the database number must be digits"),
        ("SQS_ENDPOINT_URL", "not a url", "SQS_ENDPOINT_URL: must be an http:// or https:// URL"),
        ("S3_ENDPOINT_URL", "http://127.0.0.1:port", "S3_ENDPOINT_URL: is not a valid URL"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(cli_stack, variable, value, fragment):
    result = ops(cli_stack, "status", env=cli_stack.env(**{variable: value}))
    assert_one_clear_line(result, 2, "invalid configuration: " + fragment)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["progress", "video", "1", "--follow", "--interval", "-1"], "--interval: must be more than 0"),
        (["progress", "video", "1", "--follow", "--timeout", "nan"], "--timeout: must be more than 0"),
        (["jobs", "video", "--limit", "-1"], "--limit: must be a whole number from 1 to 1000"),
        (["jobs", "video", "--limit", "²"], "--limit: must be a whole number"),
        (["dlq", "list", "video", "--limit", "0"], "--limit: must be a whole number from 1 to 1000"),
        (["dlq", "redrive", "video", "some-id", "--all", "--yes"], "give dead-letter ids or --all, not both"),
        (["dlq", "delete", "video", "some-id", "--all", "--yes"], "give dead-letter ids or --all, not both"),
        (["enqueue", "video", "²", "uploads/a.mp4"], "not a whole number"),
        (["enqueue", "ai", "x", "ocr", "--payload", "[" * 5000], "--payload: not a JSON object"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(cli_stack, args, fragment):
    assert_one_clear_line(ops(cli_stack, *args), 2, fragment)


def test_redrive_with_ids_and_all_does_nothing(cli_stack):
    dead_letter(cli_stack, '{"video_id": 1}', "bad")
    ops(cli_stack, "dlq", "redrive", "video", "some-id", "--all", "--yes")
    assert cli_stack.depth(cli_stack.video_dlq) == 1 and cli_stack.depth(cli_stack.video_queue) == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["enqueue", "video", "-3", "uploads/a.mp4"], "invalid message: video_id: must be a positive integer"),
        (["enqueue", "video", "3", "k" * 5000], "invalid message: file_key:"),
        (["enqueue", "video", "3", "../etc/passwd"], "file_key: must not contain a '..' segment"),
        (["enqueue", "ai", "job-1", "ocr", "--payload", '{"file_key": "a.png"}'], "job_id: must be a UUID"),
        (["enqueue", "ai", "5f0c2f0e-8d1a-4a52-9a51-0d3c1f1f8b11", "telepathy", "--payload", "{}"],
         "no engine is registered for job_type 'telepathy' (this deployment runs ocr"),
        (["enqueue", "ai", "5f0c2f0e-8d1a-4a52-9a51-0d3c1f1f8b11", "ocr", "--payload", '{"lang": "kor"}'],
         "invalid payload for job_type 'ocr': required key 'payload.file_key' is missing"),
    ],
)
def test_enqueue_refuses_what_the_worker_would_dead_letter(cli_stack, args, fragment):
    assert_one_clear_line(ops(cli_stack, *args), 1, fragment)
    assert cli_stack.depth(cli_stack.video_queue) == 0 and cli_stack.depth(cli_stack.ai_queue) == 0


def test_a_page_past_the_end_and_odd_ids_are_answers_not_database_errors(cli_stack):
    result = ops(cli_stack, "jobs", "video", "--limit", "1000")
    assert result.returncode == 0 and "Traceback" not in result.stderr
    listed = ops(cli_stack, "dlq", "list", "video", "--limit", "1")
    assert listed.returncode == 0 and listed.stdout.strip() == "no dead letters"
    dead_letter(cli_stack, '{"video_id": 1}', "bad")
    listed = ops(cli_stack, "dlq", "list", "video", "--limit", "1")
    assert "bad" in listed.stdout  # the limit no longer hides what is there
    assert ops(cli_stack, "progress", "video", "²").returncode == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([b"jobs", b"ai", b"--job-type", b"ocr\xff"], "job-type: 'ocr\\udcff' is not valid UTF-8"),
        ([b"jobs", b"video", b"--file-key-prefix", b"uploads/\xed\xa0\x80"],
         "file-key-prefix: 'uploads/\\udced\\udca0\\udc80' is not valid UTF-8"),
        ([b"jobs", b"ai", b"--id", b"a\xffb"], "id: 'a\\udcffb' is not valid UTF-8"),
        ([b"progress", b"ai", b"a\xffb"], "no AI job can have the id 'a\\udcffb'"),
        ([b"progress", b"ai", b"a\xffb", b"--follow"], "no AI job can have the id 'a\\udcffb'"),
    ],
)
def test_arguments_that_are_not_utf8_are_one_clear_line_not_a_database_error(cli_stack, args, fragment):
    """Bytes a shell passes as they are (a Latin-1 terminal, a pasted binary): what the database cannot hold."""
    result = subprocess.run([sys.executable.encode(), b"-m", b"ops", *args], cwd=ROOT, env=cli_stack.env(),
                            capture_output=True, text=True, timeout=60)
    assert_one_clear_line(result, 1, "error: " + fragment)
    assert "unexpected" not in result.stderr


def test_nul_characters_are_one_clear_line_not_a_database_error(cli_stack, capsys):
    """A shell cannot pass a NUL in an argument; a script calling ``main`` can."""
    tools = Ops(settings_for(cli_stack), sqs=cli_stack.sqs, s3=cli_stack.s3, redis=cli_stack.redis,
                database=cli_stack.database)
    for args, fragment in (
        (["jobs", "ai", "--job-type", "\x00"], "job-type: '\\x00' holds a NUL character"),
        (["jobs", "video", "--file-key-prefix", "uploads/\x00"], "file-key-prefix: 'uploads/\\x00' holds a NUL"),
        (["jobs", "ai", "--id", "a\x00b"], "id: 'a\\x00b' holds a NUL character"),
        (["progress", "ai", "a\x00b"], "no AI job can have the id 'a\\x00b'"),
    ):
        assert main(args, ops=tools) == 1, args
        printed = capsys.readouterr()
        assert printed.out == "" and printed.err.startswith("error: " + fragment) and printed.err.count("\n") == 1, \
            printed.err


def test_control_characters_are_escaped_in_text_and_exact_in_json(cli_stack):
    stack = cli_stack
    video_id = 424242
    insert_video(stack.database, stack.tables["video"], video_id, "uploads/x.mp4", status="FAILED")
    with stack.database.begin() as connection:
        table = stack.tables["video"]
        connection.execute(table.update().where(table.c.id == video_id).values(error_reason="bad " + ESCAPES))
    dead_letter(stack, "body " + ESCAPES, "reason " + ESCAPES)
    key = f"progress:video:{video_id}"
    stack.redis.hset(key, mapping={"step": "failed", "percent": "3", "message": "msg " + ESCAPES,
                                   "updated_at": "2026-12-02T00:00:00"})
    try:
        outputs = [ops(stack, "jobs", "video", "--status", "failed"), ops(stack, "dlq", "list", "video"),
                   ops(stack, "progress", "video", str(video_id))]
        letter_id = json.loads(ops(stack, "dlq", "list", "video", "--json").stdout)[0]["id"]
        outputs.append(ops(stack, "dlq", "show", "video", letter_id))
        for result in outputs:
            assert result.returncode in (0, 1), result.stderr
            printed = result.stdout + result.stderr
            assert not any(ch in printed for ch in "\x1b\x07\x9b\r\u202e"), printed
            assert "\\x1b]0;PWNED\\x07\\x1b[2J" in printed
        shown = json.loads(ops(stack, "dlq", "show", "video", letter_id, "--json").stdout)
        assert shown["body"] == "body " + ESCAPES and shown["reason"] == "reason " + ESCAPES
        rows = json.loads(ops(stack, "jobs", "video", "--json").stdout)
        assert next(row for row in rows if row["id"] == video_id)["error_reason"] == "bad " + ESCAPES
    finally:
        stack.redis.delete(key)


def test_secrets_are_masked_in_error_lines_and_output(cli_stack):
    secret = "sup3r-s3cret-" + unique("")
    endpoint = f"http://AKIAEXAMPLEKEY:{secret}@127.0.0.1:{free_port()}"  # nothing listens there
    for args in (["status"], ["dlq", "list", "video"], ["status", "--json"]):
        result = ops(cli_stack, *args, env=cli_stack.env(SQS_ENDPOINT_URL=endpoint))
        assert result.returncode == 1, result.stderr
        assert secret not in result.stdout + result.stderr
        assert "***" in result.stdout + result.stderr
    # A row whose reason carries the deployment's own database password.
    env = cli_stack.env(OPS_ADMIN_PASSWORD=secret)
    insert_video(cli_stack.database, cli_stack.tables["video"], 5151, "uploads/y.mp4", status="FAILED")
    with cli_stack.database.begin() as connection:
        table = cli_stack.tables["video"]
        connection.execute(table.update().where(table.c.id == 5151).values(error_reason=f"password {secret} wrong"))
    for args in (["jobs", "video"], ["jobs", "video", "--json"]):
        printed = ops(cli_stack, *args, env=env)
        assert printed.returncode == 0 and secret not in printed.stdout and "password *** wrong" in printed.stdout


@pytest.mark.parametrize(("variable", "value"), [("DATABASE_URL", "postgresql://x@[::1/db"),
                                                 ("REDIS_URL", "redis://127.0.0.1:6379/abc"),
                                                 ("JOB_KIND_MODULES", "no_such_module"),
                                                 ("JOB_KIND_MODULES", "json")])
def test_the_dashboard_with_a_bad_setting_stops_at_start_with_one_line(cli_stack, variable, value):
    """What gunicorn's `ops.web:create_app()` does: no page is ever served from a bad configuration."""
    result = subprocess.run([sys.executable, "-c", "from ops.web import create_app; create_app()"], cwd=ROOT,
                            env=cli_stack.env(**{variable: value, "OPS_ADMIN_PASSWORD": "pw-long-enough"}),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"invalid configuration: {variable}: ")
