"""Log lines: formats, the running job's fields, secrets masked."""

from __future__ import annotations

import io
import json
import logging
import sys

from urllib.parse import parse_qs, quote, urlsplit

import boto3
import pytest
from botocore.config import Config
from dramatiq.middleware import Shutdown

from adapters.logs.filters import ExpectedInterruptionsFilter, JobContextFilter, RedactFilter
from adapters.logs.formatters import TextFormatter, json_formatter
from adapters.logs.redact import Redactor, secret_values
from adapters.logs.setup import configure_logging
from adapters.worker.context import JobContext, enter_job, leave_job
from domain.errors import LockBusy
from settings import Settings

SIGNING_PARAMETERS = {
    "x-amz-credential", "x-amz-signature", "x-amz-security-token", "awsaccesskeyid", "signature",
}


@pytest.fixture
def job():
    context = JobContext(job_type="video", job_id="42", attempt=2, key="video:42", step="transcoding")
    enter_job(context)
    yield context
    leave_job()


def emit(formatter: logging.Formatter, redact: Redactor, *args, exc_info=None, **extra) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(JobContextFilter())
    handler.addFilter(RedactFilter(redact))
    logger = logging.getLogger("tests.logs")
    logger.propagate, logger.level = False, logging.DEBUG
    logger.addHandler(handler)
    try:
        logger.info(*args, exc_info=exc_info, extra=extra or None)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql+psycopg2://app:s3cr3t@db:5432/x", "postgresql+psycopg2://app:***@db:5432/x"),
        ("redis://:s3cr3t@cache:6379/0", "redis://:***@cache:6379/0"),
        ("url='rediss://default:p%40ss@h'", "url='rediss://default:***@h'"),
        ("https://host/path?a=1", "https://host/path?a=1"),  # nothing to mask
        ("user@example.org and http://host:8080/x", "user@example.org and http://host:8080/x"),
        ("GET /k?X-Amz-Credential=AKIA%2F20261126&X-Amz-Signature=ab12&X-Amz-Security-Token=IQo",
         "GET /k?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Security-Token=***"),
        ("/k?AWSAccessKeyId=AKIA123&Signature=zz%3D&Expires=1", "/k?AWSAccessKeyId=***&Signature=***&Expires=1"),
        ("{'X-Amz-Security-Token': 'IQoJb3Jp'}", "{'X-Amz-Security-Token': '***'}"),
    ],
)
def test_redactor_masks_url_passwords_and_aws_signatures(text, expected):
    assert Redactor()(text) == expected


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_redactor_masks_a_real_presigned_url(signature_version):
    s3 = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x" * 40,
        aws_session_token="FwoGZXIvYXdzEXAMPLETOKEN", config=Config(signature_version=signature_version),
    )
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "media", "Key": "a/b.mp4"}, ExpiresIn=60)
    query = {name.lower(): values[0] for name, values in parse_qs(urlsplit(url).query).items()}
    secret = {k: v for k, v in query.items() if k in SIGNING_PARAMETERS}
    assert len(secret) == 3, query  # credential or key id, signature, token
    masked = Redactor()(f"downloading {url}")
    for name, value in secret.items():
        assert quote(value, safe="") not in masked and value not in masked, name
    assert "b.mp4" in masked


def test_redactor_masks_known_values_longest_first_and_ignores_tiny_ones():
    redact = Redactor(["hunter2", "hunter2-extended", "ab", ""])
    assert redact("a hunter2-extended b hunter2 ab") == "a *** b *** ab"


def test_secret_values_come_from_secret_settings_and_url_passwords():
    settings = Settings(
        database_url="postgresql+psycopg2://app:p%40ss-word@db/x", redis_url="redis://:r3dis-pw@cache:6379/0",
        ops_admin_password="admin-secret", ops_secret_key="signing-key",
    )
    found = set(secret_values(settings))
    assert {"p%40ss-word", "p@ss-word", "r3dis-pw", "admin-secret", "signing-key"} <= found
    assert "app" not in found and "db" not in found


def test_json_line_has_job_fields_extras_and_masked_message_args_and_traceback(job):
    redact = Redactor(["topsecret"])
    try:
        raise RuntimeError("connect to postgresql://u:topsecret@db failed")
    except RuntimeError as error:
        line = emit(json_formatter(), redact, "saving %s to %s", "result", "https://h/x?Signature=abc", exc_info=error,
                    outcome="completed")
    assert line.count("\n") == 1 and "topsecret" not in line and "abc" not in line
    record = json.loads(line)
    assert record["message"] == "saving result to https://h/x?Signature=***"
    assert record["job_type"] == "video" and record["job_id"] == "42" and record["attempt"] == 2
    assert record["step"] == "transcoding" and record["outcome"] == "completed"
    assert record["level"] == "INFO" and record["logger"] == "tests.logs" and record["time"].endswith("+00:00")
    assert "RuntimeError: connect to postgresql://u:***@db failed" in record["exc_info"]


def test_text_line_shows_job_fields_after_the_message(job):
    line = emit(TextFormatter(), Redactor(), "step %s", "x", duration=1.5)
    assert line.rstrip().endswith("tests.logs: step x  job_type=video job_id=42 attempt=2 step=transcoding duration=1.5")


def test_lines_outside_a_job_have_no_job_fields():
    record = json.loads(emit(json_formatter(), Redactor(), "idle"))
    assert not {"job_type", "job_id", "attempt", "step"} & record.keys()


def test_extra_fields_win_over_the_context(job):
    record = json.loads(emit(json_formatter(), Redactor(), "x", job_id="other"))
    assert record["job_id"] == "other"


@pytest.fixture
def root_logger():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    handler = logging.StreamHandler(io.StringIO())  # as dramatiq's basicConfig leaves it
    root.handlers[:] = [handler]
    yield root, handler
    root.handlers[:], root.level = saved
    logging.captureWarnings(False)


def test_configure_logging_restyles_the_existing_handler_once(root_logger):
    root, handler = root_logger
    before = list(root.handlers)  # ours, and pytest's capture handlers
    configure_logging("json", "WARNING", ["pw-1234"])
    configure_logging("json", "DEBUG", ["pw-5678"])
    assert root.handlers == before and root.level == logging.DEBUG
    assert [type(f) for f in handler.filters] == [ExpectedInterruptionsFilter, JobContextFilter, RedactFilter]
    logging.getLogger("tests.configure").error("first %s second %s", "pw-1234", "pw-5678")
    line = handler.stream.getvalue().splitlines()[-1]
    assert json.loads(line)["message"] == "first pw-1234 second ***"  # only the last call's secrets
    configure_logging("text", "INFO")
    assert isinstance(handler.formatter, TextFormatter)


def test_configure_logging_auto_is_json_when_stderr_is_not_a_terminal(root_logger, monkeypatch):
    _, handler = root_logger
    monkeypatch.setattr("sys.__stderr__", io.StringIO())
    configure_logging("auto")
    assert not isinstance(handler.formatter, TextFormatter)


def test_configure_logging_adds_a_handler_when_there_is_none(root_logger):
    root, _ = root_logger
    root.handlers[:] = []
    configure_logging("text", "INFO")
    assert len(root.handlers) == 1 and isinstance(root.handlers[0].formatter, TextFormatter)
    assert root.handlers[0].stream is sys.stderr


@pytest.mark.parametrize(
    ("error", "level", "message"),
    [
        (Shutdown("stopping"), "WARNING", "job interrupted by the worker's shutdown; its message goes back to the queue"),
        (LockBusy("video 42 is being processed by another worker"), "INFO",
         "video 42 is being processed by another worker; the message is tried again later"),
        (RuntimeError("disk on fire"), "ERROR", "Failed to process message m with unhandled exception."),
    ],
)
def test_designed_interruptions_are_one_line_without_a_traceback(error, level, message):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(ExpectedInterruptionsFilter())
    logger = logging.getLogger("dramatiq.worker.WorkerThread")
    logger.addHandler(handler)
    try:
        try:
            raise error
        except BaseException:
            logger.error("Failed to process message %s with unhandled exception.", "m", exc_info=True)
    finally:
        logger.removeHandler(handler)
    record = json.loads(stream.getvalue())
    assert (record["level"], record["message"]) == (level, message)
    assert ("exc_info" in record) == (level == "ERROR")
