"""The one place configuration is read: environment variables (and a .env file).

The names of CONTRACT section 6 are part of the contract with the Django side;
the rest tune the worker and have safe defaults. ``load_settings`` validates
everything at start and turns a bad value into one line naming the variable.
"""

from __future__ import annotations

import os
import re
import sys
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.connection import parse_url
from sqlalchemy.engine import make_url

from domain.numbers import whole_number_or_none
from domain.video.model import Rendition
from domain.video.playlists import RESERVED_RENDITION_NAMES

MODULE_LIST = r"^[A-Za-z0-9_.,]*$"
ENV_FILE = ".env"
SQS_MAX_DELAY_MS = 15 * 60 * 1000


class Settings(BaseSettings):
    # extra="allow": the kinds' names (VIDEO_QUEUE, ...) given as keywords (tests, tools) are kept for ``value``.
    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="allow", case_sensitive=False)

    # CONTRACT section 6 (the queue, dead-letter queue and table names - VIDEO_QUEUE, AI_DLQ,
    # VIDEO_TABLE... - are declared by each kind in kinds/ and read through ``value``)
    broker: Literal["sqs", "redis", "stub"] = "sqs"
    aws_region: str = Field("us-east-1", pattern=r"^[a-z0-9-]{2,40}$")
    sqs_endpoint_url: str | None = None
    s3_endpoint_url: str | None = None
    # boto3 reads these itself; they are here only so that every text the tools show masks them.
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    s3_bucket: str = Field("media", min_length=3, max_length=63)
    database_url: str = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # false: accept a self-signed certificate on rediss:// (Heroku Redis presents one)
    redis_tls_verify: bool = True

    # Delivery and retries
    max_retries: int = Field(5, ge=0, le=100)
    min_backoff_ms: int = Field(15_000, ge=100)
    max_backoff_ms: int = Field(SQS_MAX_DELAY_MS, ge=1000, le=SQS_MAX_DELAY_MS)
    max_receive_count: int = Field(5, ge=1, le=1000)
    visibility_timeout_seconds: int = Field(90, ge=10, le=43200)
    heartbeat_seconds: float = Field(20, gt=0)
    lock_ttl_seconds: int = Field(60, ge=5)
    lock_busy_delay_ms: int = Field(10_000, ge=100, le=SQS_MAX_DELAY_MS)
    progress_ttl_seconds: int = Field(86400, ge=60)
    outage_retry_seconds: int = Field(60, ge=1, le=43200)

    # Media
    ffmpeg_binary: str | None = None
    ffmpeg_timeout_seconds: float = Field(3 * 3600, gt=0)
    x264_preset: str = "veryfast"
    hls_segment_seconds: int = Field(6, ge=1, le=60)
    # Long videos in parts (CONTRACT 4b): from this duration on (empty: never), parts of this many
    # source seconds, each a message of the parts queue (VIDEO_PARTS_QUEUE, declared in kinds/video_parts.py)
    video_parts_min_seconds: float | None = Field(300, gt=0)
    video_part_seconds: int = Field(60, ge=1, le=3600)
    # How often a fan-out is looked at (at most SQS's 15-minute delay), and after how long without a
    # piece finishing its missing pieces are sent again; a fan-out still unfinished after
    # VIDEO_PARTS_DEADLINE_SECONDS fails its video.
    video_parts_check_seconds: float = Field(300, ge=1, le=900)
    video_parts_stall_seconds: float = Field(1800, ge=1)
    video_parts_deadline_seconds: float = Field(6 * 3600, ge=60)
    # name:height:max video kbps:audio kbps per rung; the audio is encoded once, at the highest audio kbps
    hls_ladder: str = "360p:360:800:96,720p:720:2800:128,1080p:1080:5000:128"
    # libx264 constant rate factor at 1080p (3 lower per halving of the height), each rung capped at its rate
    video_crf: int = Field(19, ge=0, le=51)
    # Integrated loudness the audio is normalised to (EBU R128); empty: the audio's level is left as it is
    loudness_target_lufs: float | None = Field(-16.0, ge=-70, le=-5)
    max_source_bytes: int = Field(5 * 1024**3, gt=0)
    max_duration_seconds: float = Field(4 * 3600, gt=0)
    max_source_height: int = Field(4320, gt=0)
    work_dir: str | None = None
    # Comma-separated key prefixes sources may be read from (e.g. "uploads/"); empty: the whole bucket.
    allowed_source_prefixes: str = ""
    # The shortest chapter of a lecture's slides (CONTRACT 4c); a shorter one joins the one before it
    chapter_min_seconds: float = Field(20, ge=0, le=3600)

    # AI engines: modules whose SPECS are registered beside the built-in ones
    ai_engine_modules: str = Field("", pattern=MODULE_LIST)
    # Job kinds: modules whose KINDS are declared beside video and ai (see kinds/)
    job_kind_modules: str = Field("", pattern=MODULE_LIST)
    # The transcribe engine: "base" (the pinned Whisper model, adapters/ai/whisper_weights.py) or the
    # absolute path of a folder holding an operator's CTranslate2 Whisper model and its manifest
    # (adapters/ai/whisper_manifest.py); with TRANSCRIBE_MODEL_S3_PREFIX that folder is filled at start
    # from that prefix of S3_BUCKET. Its CPU threads; its memory and time limits (unset: by the model's size).
    transcribe_model: str = "base"
    transcribe_model_s3_prefix: str | None = None
    transcribe_cpu_threads: int = Field(2, ge=1, le=64)
    transcribe_memory_mb: int | None = Field(None, ge=512, le=262_144)
    transcribe_seconds_per_audio_second: float | None = Field(None, gt=0, le=100)
    # A transcribe job whose video is not READY yet looks again this often (for at most 6 hours)
    captions_wait_retry_seconds: float = Field(60, ge=1, le=900)

    # Local runs and tests only: production tables belong to Django's migrations.
    create_tables: bool = False

    # Logs: "json" (one object per line), "text" (readable lines), "auto" (text on a terminal, else json)
    log_format: Literal["auto", "json", "text"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Prometheus: Dramatiq's exposition server on this port (unset: no metrics)
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_host: str = "0.0.0.0"

    # Worker presence for the ops tools: a worker not seen for this long is shown as gone
    worker_gone_seconds: float = Field(60, gt=0)

    # Ops dashboard (Procfile line `web`): HTTP basic auth; the admin may redrive and
    # delete, the viewer only reads. Nothing is served while no password is set.
    ops_admin_user: str = Field("admin", min_length=1)
    ops_admin_password: SecretStr | None = None
    ops_viewer_user: str = Field("viewer", min_length=1)
    ops_viewer_password: SecretStr | None = None
    # Signs the CSRF tokens of the dashboard's forms; set it to one value on every dyno.
    ops_secret_key: SecretStr | None = None
    # Proxies in front of the dashboard whose X-Forwarded-For/-Proto are trusted (Heroku's and
    # Render's router: 1). 0 trusts none: behind a router, HTTPS is then not known to the app.
    ops_trusted_proxies: int = Field(0, ge=0, le=5)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value.startswith("postgres://"):
            # Heroku Postgres still hands out the old scheme, which SQLAlchemy 2 refuses.
            value = "postgresql+psycopg2://" + value.removeprefix("postgres://")
        if not value.startswith(("postgresql", "sqlite")):
            raise ValueError("must be a postgresql+psycopg2:// or sqlite:/// SQLAlchemy URL")
        try:
            url = make_url(value)
        except Exception:  # SQLAlchemy raises ArgumentError or ValueError (a port that is not a number)
            raise ValueError("is not a valid SQLAlchemy URL (check the host, port and brackets)") from None
        if url.port is not None and not 1 <= url.port <= 65535:
            raise ValueError(f"port {url.port} is out of range 1-65535")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        try:
            parse_url(value)  # what redis-py will do with it: port, IPv6 brackets, ?socket_timeout=...
            path = urlsplit(value).path
        except ValueError as error:
            raise ValueError(f"is not a valid Redis URL: {error}") from None
        if not value.startswith("unix://") and not re.fullmatch(r"/?([0-9]{1,5})?", path):
            # redis-py reads "/abc" as database 0 and "/1/2" as 12.
            raise ValueError(f"the database number must be digits, not {path.lstrip('/')[:20]!r}")
        return value

    @field_validator("sqs_endpoint_url", "s3_endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as error:
            raise ValueError(f"is not a valid URL: {error}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("loudness_target_lufs", "video_parts_min_seconds", "transcribe_model_s3_prefix",
                     "transcribe_memory_mb", "transcribe_seconds_per_audio_second", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("transcribe_model")
    @classmethod
    def _model_or_folder(cls, value: str) -> str:
        if value in ("base", ""):  # empty, as a platform's dashboard leaves it: the pinned default
            return "base"
        if not value.startswith("/") or "\0" in value or any(part == ".." for part in value.split("/")):
            raise ValueError("must be base (the pinned Whisper model) or the absolute path of a folder "
                             "holding a CTranslate2 Whisper model and its model-manifest.json")
        return value.rstrip("/") or value

    @field_validator("transcribe_model_s3_prefix")
    @classmethod
    def _model_prefix(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if (not re.fullmatch(r"[A-Za-z0-9!_.*'()/-]{1,900}", value) or value.startswith("/")
                or any(part in (".", "..") for part in value.rstrip("/").split("/"))):
            raise ValueError("must be a key prefix of S3_BUCKET such as models/whisper-medium/ "
                             "(letters, digits, !_.*'()- and /; no leading / or . or .. segment)")
        return value if value.endswith("/") else value + "/"

    @field_validator("hls_ladder")
    @classmethod
    def _ladder_parses(cls, value: str) -> str:
        parse_ladder(value)
        return value

    @model_validator(mode="after")
    def _beat_inside_leases(self) -> Settings:
        if self.heartbeat_seconds * 2 > min(self.visibility_timeout_seconds, self.lock_ttl_seconds):
            raise ValueError(
                "HEARTBEAT_SECONDS must be at most half of VISIBILITY_TIMEOUT_SECONDS and LOCK_TTL_SECONDS"
            )
        if self.lock_ttl_seconds > self.visibility_timeout_seconds:
            # A dead worker's lock must be gone by the time SQS redelivers its message.
            raise ValueError("LOCK_TTL_SECONDS must not exceed VISIBILITY_TIMEOUT_SECONDS")
        if self.video_part_seconds % self.hls_segment_seconds:
            # A part starts on a segment boundary, so its segments continue the previous part's.
            raise ValueError(f"VIDEO_PART_SECONDS ({self.video_part_seconds}) must be a multiple of "
                             f"HLS_SEGMENT_SECONDS ({self.hls_segment_seconds})")
        if self.transcribe_model_s3_prefix and self.transcribe_model == "base":
            raise ValueError("TRANSCRIBE_MODEL_S3_PREFIX needs TRANSCRIBE_MODEL to be the absolute path of the "
                             "folder the model is downloaded to")
        return self

    def value(self, variable: str, default: str | None) -> str | None:
        """A name a job kind declares (``VIDEO_QUEUE``, or ``DOCUMENT_QUEUE`` of a kind that
        JOB_KIND_MODULES adds): given as a keyword, else the environment, else ``.env``; ``default``
        when unset or empty. The kind's declaration checks it."""
        given = (self.model_extra or {}).get(variable.lower())
        return str(given) if given not in (None, "") else (_environment(variable) or default)

    @property
    def redis_client_url(self) -> str:
        """REDIS_URL as clients should use it (with REDIS_TLS_VERIFY applied)."""
        if self.redis_url.startswith("rediss://") and not self.redis_tls_verify:
            return self.redis_url + ("&" if "?" in self.redis_url else "?") + "ssl_cert_reqs=none"
        return self.redis_url

    @property
    def source_prefixes(self) -> tuple[str, ...]:
        return tuple(prefix.strip() for prefix in self.allowed_source_prefixes.split(",") if prefix.strip())

    @property
    def extra_engine_modules(self) -> list[str]:
        return [name for name in self.ai_engine_modules.split(",") if name]

    @property
    def extra_kind_modules(self) -> list[str]:
        return [name for name in self.job_kind_modules.split(",") if name]

    @property
    def engine_options(self) -> dict[str, dict]:
        """Settings handed to the engines that take them, by job_type."""
        return {
            "transcribe": {
                "model": self.transcribe_model,
                "cpu_threads": self.transcribe_cpu_threads,
                "ffmpeg": self.ffmpeg_binary,
                "memory_mb": self.transcribe_memory_mb,
                "seconds_per_audio_second": self.transcribe_seconds_per_audio_second,
            },
        }

    @property
    def ladder(self) -> list[Rendition]:
        return parse_ladder(self.hls_ladder)


def _environment(variable: str) -> str | None:
    """A variable no field declares, looked up as pydantic-settings looks up the fields (which it
    alone cannot do for names only known at run time): the environment (any case), then .env."""
    wanted = variable.upper()
    for name, value in os.environ.items():
        if name.upper() == wanted:
            return value
    for name, value in dotenv_values(ENV_FILE).items() if os.path.exists(ENV_FILE) else ():
        if name.upper() == wanted:
            return value
    return None


def parse_ladder(text: str) -> list[Rendition]:
    """``name:height:video_kbps:audio_kbps`` rungs, comma separated."""
    rungs = []
    for item in text.split(","):
        name, *numbers = item.strip().split(":")
        values = [whole_number_or_none(number, low=0, high=100_000) for number in numbers]
        if len(values) != 3 or None in values or not name:
            raise ValueError(f"rung {item.strip()!r} is not name:height:video_kbps:audio_kbps")
        height, video_kbps, audio_kbps = values
        if name in RESERVED_RENDITION_NAMES:
            raise ValueError(f"rung name {name!r} is the HLS audio or captions folder; choose another")
        if height < 2 or height % 2:
            raise ValueError(f"rung {name!r} needs an even height of at least 2")
        rungs.append(Rendition(name, height, video_kbps, audio_kbps))
    if not rungs:
        raise ValueError("needs at least one rung")
    return rungs


def describe(error: ValidationError) -> str:
    """One line naming the first offending variable and what is wrong with it."""
    first = error.errors()[0]
    name = "_".join(str(part) for part in first["loc"]).upper()
    message = first["msg"].removeprefix("Value error, ")
    return f"invalid configuration: {name}: {message}" if name else f"invalid configuration: {message}"


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    """Read and validate the settings once; exit with one clear line if they are wrong."""
    try:
        return Settings()
    except ValidationError as error:
        print(describe(error), file=sys.stderr)
        raise SystemExit(2) from None
