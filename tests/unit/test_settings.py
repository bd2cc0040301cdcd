"""Settings: CONTRACT section 6 names, defaults, and one clear line for a bad value."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kinds import load_kinds
from settings import Settings, describe
from tests.services import ROOT

CONTRACT_NAMES = ["BROKER", "AWS_REGION", "SQS_ENDPOINT_URL", "S3_ENDPOINT_URL", "VIDEO_QUEUE", "AI_QUEUE",
                  "VIDEO_DLQ", "AI_DLQ", "S3_BUCKET", "DATABASE_URL", "REDIS_URL", "VIDEO_TABLE", "AI_JOB_TABLE"]


@pytest.fixture
def clean_env(monkeypatch):
    for name in CONTRACT_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir("/")  # no .env file


def test_defaults_follow_the_contract(clean_env):
    s = Settings()
    assert [kind.queue_name(s) for kind in load_kinds().values()] == ["video-jobs", "ai-jobs"]
    assert [kind.dead_letter_queue_name(s) for kind in load_kinds().values()] == ["video-jobs-dlq", "ai-jobs-dlq"]
    assert [kind.table_named(s) for kind in load_kinds().values()] == ["video_video", "ai_aijob"]
    assert [r.name for r in s.ladder] == ["360p", "720p", "1080p"]
    assert s.max_backoff_ms <= 900_000 and s.lock_ttl_seconds <= s.visibility_timeout_seconds


def test_every_contract_name_is_read(clean_env, monkeypatch):
    values = {"BROKER": "redis", "AWS_REGION": "ap-northeast-2", "SQS_ENDPOINT_URL": "http://127.0.0.1:1",
              "S3_ENDPOINT_URL": "http://127.0.0.1:2", "VIDEO_QUEUE": "v", "AI_QUEUE": "a", "VIDEO_DLQ": "vd",
              "AI_DLQ": "ad", "S3_BUCKET": "bucket", "DATABASE_URL": "sqlite:///x.db",
              "REDIS_URL": "redis://127.0.0.1:6379/3", "VIDEO_TABLE": "vt", "AI_JOB_TABLE": "at"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    s = Settings()
    declared = {"VIDEO_QUEUE", "AI_QUEUE", "VIDEO_DLQ", "AI_DLQ", "VIDEO_TABLE", "AI_JOB_TABLE"}  # by the kinds
    assert [str(getattr(s, name.lower())) for name in values if name not in declared] == [
        value for name, value in values.items() if name not in declared]
    assert [kind.queue_name(s) for kind in load_kinds().values()] == ["v", "a"]
    assert [kind.dead_letter_queue_name(s) for kind in load_kinds().values()] == ["vd", "ad"]
    assert [kind.table_named(s) for kind in load_kinds().values()] == ["vt", "at"]


@pytest.mark.parametrize(
    "name,value,expected",
    [
        ("BROKER", "kafka", "BROKER: Input should be 'sqs', 'redis' or 'stub'"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL: must be a postgresql+psycopg2:// or sqlite:///"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL: must start with redis://"),
        ("MAX_BACKOFF_MS", "3600000", "MAX_BACKOFF_MS: Input should be less than or equal to 900000"),
        ("HLS_LADDER", "720p:721:1:1", "HLS_LADDER: rung '720p' needs an even height"),
        ("LOCK_TTL_SECONDS", "600", "LOCK_TTL_SECONDS must not exceed VISIBILITY_TIMEOUT_SECONDS"),
        ("TRANSCRIBE_MODEL", "large-v3", "TRANSCRIBE_MODEL: must be base (the pinned Whisper model) or the absolute "
                                         "path of a folder"),
        ("TRANSCRIBE_MODEL", "models/medium", "TRANSCRIBE_MODEL: must be base"),
        ("TRANSCRIBE_MODEL", "/models/../etc", "TRANSCRIBE_MODEL: must be base"),
        ("TRANSCRIBE_MODEL_S3_PREFIX", "models/medium/", "TRANSCRIBE_MODEL_S3_PREFIX needs TRANSCRIBE_MODEL to be "
                                                         "the absolute path of the folder"),
        ("TRANSCRIBE_MODEL_S3_PREFIX", "/models/medium/", "TRANSCRIBE_MODEL_S3_PREFIX: must be a key prefix"),
        ("TRANSCRIBE_MODEL_S3_PREFIX", "models/../uploads/", "TRANSCRIBE_MODEL_S3_PREFIX: must be a key prefix"),
        ("TRANSCRIBE_MEMORY_MB", "100", "TRANSCRIBE_MEMORY_MB: Input should be greater than or equal to 512"),
        ("TRANSCRIBE_SECONDS_PER_AUDIO_SECOND", "0", "TRANSCRIBE_SECONDS_PER_AUDIO_SECOND: Input should be greater "
                                                     "than 0"),
        ("TRANSCRIBE_CPU_THREADS", "0", "TRANSCRIBE_CPU_THREADS: Input should be greater than or equal to 1"),
    ],
)
def test_bad_values_name_the_variable(clean_env, monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(Exception) as caught:
        Settings()
    assert expected in describe(caught.value)


@pytest.mark.parametrize(("name", "value", "line"), [
    ("VIDEO_QUEUE", "bad name",
     "invalid configuration: VIDEO_QUEUE: must be 1 to 80 letters, digits, '-' or '_' (SQS's rule for queue names)"),
    ("AI_JOB_TABLE", "jobs; drop",
     "invalid configuration: AI_JOB_TABLE: must be a letter or '_' followed by at most 62 letters, digits or '_'"),
    ("TRANSCRIBE_CPU_THREADS", "0",
     "invalid configuration: TRANSCRIBE_CPU_THREADS: Input should be greater than or equal to 1"),
])
def test_worker_stops_with_one_line_naming_the_variable(name, value, line):
    result = subprocess.run(
        [sys.executable, "-c", "import tasks.video"], cwd=ROOT, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "BROKER": "stub", name: value}, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [line]


def test_platform_urls_are_accepted_as_heroku_hands_them_out(clean_env):
    heroku = Settings(database_url="postgres://u:p@db.example.com:5432/d", redis_url="rediss://:p@r.example.com:6380")
    assert heroku.database_url == "postgresql+psycopg2://u:p@db.example.com:5432/d"
    assert heroku.redis_client_url == "rediss://:p@r.example.com:6380"  # verified unless told otherwise
    self_signed = Settings(redis_url="rediss://:p@r.example.com:6380/0?db=0", redis_tls_verify=False)
    assert self_signed.redis_client_url == "rediss://:p@r.example.com:6380/0?db=0&ssl_cert_reqs=none"
    assert Settings(redis_url="redis://h:1/0", redis_tls_verify=False).redis_client_url == "redis://h:1/0"


def test_an_operators_whisper_model_and_its_limits_reach_the_engine(clean_env, monkeypatch):
    default = Settings().engine_options["transcribe"]
    assert (default["model"], default["memory_mb"], default["seconds_per_audio_second"]) == ("base", None, None)
    for name, value in {"TRANSCRIBE_MODEL": "/srv/models/whisper-medium/", "TRANSCRIBE_MODEL_S3_PREFIX":
                        "models/whisper-medium", "TRANSCRIBE_MEMORY_MB": "8192",
                        "TRANSCRIBE_SECONDS_PER_AUDIO_SECOND": "2.5"}.items():
        monkeypatch.setenv(name, value)
    s = Settings()
    assert s.transcribe_model_s3_prefix == "models/whisper-medium/"  # a prefix, so a folder's keys
    options = s.engine_options["transcribe"]
    assert (options["model"], options["memory_mb"], options["seconds_per_audio_second"]) == (
        "/srv/models/whisper-medium", 8192, 2.5)
    for name in ("TRANSCRIBE_MODEL_S3_PREFIX", "TRANSCRIBE_MEMORY_MB", "TRANSCRIBE_SECONDS_PER_AUDIO_SECOND"):
        monkeypatch.setenv(name, "")  # empty: unset, as platforms' dashboards leave them
    s = Settings()
    assert (s.transcribe_model_s3_prefix, s.transcribe_memory_mb, s.transcribe_seconds_per_audio_second) == (
        None, None, None)
