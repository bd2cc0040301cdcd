"""The embedded demo: a video job, its captions and an OCR job through the real worker, no external services.

moto's server stands in for SQS and S3, fakeredis's TCP server for Redis, a
SQLite file for PostgreSQL. The worker is the real ``dramatiq tasks.video
tasks.ai`` command; this script plays the Django API: it creates the rows,
uploads the sources, publishes the plain-JSON bodies with plain boto3, shows the
live progress from Redis and prints the READY row, the HLS files, the first
captions and the OCR result at the end, keeps them in a folder with a player
page (demo_results.py) and exits with a status saying whether every job ran
and ended as expected. The video speaks when espeak-ng
(Debian) can make speech for it, and a ``transcribe`` job with its
``video_id`` then adds captions to its player; the OCR job needs Tesseract
(Debian's tesseract-ocr, tesseract-ocr-kor). demo.sh installs both when it
runs as root; without one, the demo says at once what to install and runs
the other jobs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
import redis  # noqa: E402
from fakeredis import TcpFakeServer  # noqa: E402
from demo_results import FINAL, Run, console, report, results_folder  # noqa: E402 - beside this script
from rich.markup import escape  # noqa: E402
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from adapters.ai.engines.ocr import SPEC as OCR  # noqa: E402
from adapters.ai.engines.transcribe import SPEC as TRANSCRIBE  # noqa: E402
from adapters.db import connect_database  # noqa: E402
from adapters.media import find_ffmpeg  # noqa: E402
from adapters.sqs.publisher import ai_body, video_body  # noqa: E402
from kinds import configured_tables, load_kinds  # noqa: E402
from settings import Settings  # noqa: E402

BIN = Path(sys.executable).parent
HANGUL_FONT = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")  # Debian's fonts-nanum
OCR_LINES = ["안녕하세요, 오늘의 숙제입니다", "Please read chapter 3 aloud"]
SPEECH = ("Welcome to the media worker demo. This lecture was encoded for the web, "
          "and its captions were written by a speech model running on this machine.")
AWS = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo", "AWS_REGION": "us-east-1",
       "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answered on 127.0.0.1:{port}")


@contextmanager
def moto_server():
    port = free_port()
    process = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **AWS})
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def redis_stand_in():
    server = TcpFakeServer(("127.0.0.1", 0), server_type="redis")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.server_address[1]}/0"
    finally:
        server.shutdown()


def speech_unavailable() -> str | None:
    """Why the demo's video cannot speak, or None when espeak-ng is there."""
    if shutil.which("espeak-ng"):
        return None
    return "espeak-ng is not installed (apt-get install espeak-ng) to make speech for the video"


def make_source(path: Path, seconds: int, height: int, speech: Path | None) -> None:
    """A test picture with ``speech`` as its sound (padded or cut to ``seconds``), else a tone."""
    width = height * 16 // 9 // 2 * 2
    sound = ["-i", str(speech), "-af", "apad"] if speech else ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    subprocess.run(
        [find_ffmpeg(None), "-nostdin", "-y", "-hide_banner", "-loglevel", "error",
         "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30", *sound,
         "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )


def speak(path: Path) -> Path:
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), SPEECH], check=True)
    return path


def make_page(path: Path) -> None:
    """A page of Korean and English text (English only when no Hangul font is installed)."""
    lines = OCR_LINES if HANGUL_FONT.exists() else OCR_LINES[1:]
    font = ImageFont.truetype(str(HANGUL_FONT), 32) if HANGUL_FONT.exists() else ImageFont.load_default(32)
    image = Image.new("L", (900, 60 + 64 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((40, 30 + 64 * index), line, font=font, fill=0)
    image.save(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=12, help="length of the generated source video")
    parser.add_argument("--height", type=int, default=720, help="height of the generated source video")
    parser.add_argument("--timeout", type=float, default=600, help="give up after this many seconds")
    parser.add_argument("--dashboard", type=int, nargs="?", const=8000, default=None, metavar="PORT",
                        help="also serve the ops dashboard on 127.0.0.1:PORT (default 8000) and keep "
                             "everything running until Ctrl-C")
    parser.add_argument("--output", metavar="DIR",
                        help="keep the results in DIR, a new or empty folder (default: demo-output/<date-time>/ "
                             "in the project)")
    args = parser.parse_args()
    try:
        folder = results_folder(args.output)
    except (ValueError, OSError) as error:
        parser.error(str(error))

    work = Path(tempfile.mkdtemp(prefix="media-worker-demo-"))
    try:
        with moto_server() as aws_url, redis_stand_in() as redis_url:
            return run(args, work, folder, aws_url, redis_url)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not any(folder.iterdir()):  # stopped before it had results: no empty folder left behind
            folder.rmdir()


def run(args, work: Path, folder: Path, aws_url: str, redis_url: str) -> int:
    """The demo's jobs from publishing to the printout; return the exit status (demo_results.py).

    Parameters:
      args: the parsed command line.
      work: a temporary folder for the sources, the database and the worker's log.
      folder: where the results are kept.
      aws_url, redis_url: the stand-ins' addresses.
    """
    bucket, queue, video_id, tenant = "demo-media", "video-jobs", 42, 7
    database_url = f"sqlite:///{work / 'demo.db'}"
    s3 = boto3.client("s3", endpoint_url=aws_url, region_name="us-east-1", aws_access_key_id="demo",
                      aws_secret_access_key="demo")
    sqs = boto3.client("sqs", endpoint_url=aws_url, region_name="us-east-1", aws_access_key_id="demo",
                       aws_secret_access_key="demo")
    s3.create_bucket(Bucket=bucket)
    for name in (queue, f"{queue}-dlq", "ai-jobs", "ai-jobs-dlq"):
        sqs.create_queue(QueueName=name)

    # What the Django API does: the row, the uploaded source, the message.
    tables = configured_tables(load_kinds(), Settings(_env_file=None))  # the tables' default names
    engine = connect_database(database_url)
    tables.create(engine)
    source_key = f"uploads/{tenant}/{video_id}/source.mp4"
    no_captions = speech_unavailable() or TRANSCRIBE.unavailable()
    speaking = "" if no_captions else ", speaking (espeak-ng)"
    console.print(f"[bold]1.[/] generating a {args.seconds} s {args.height}p source video with ffmpeg{speaking}")
    source = work / "source.mp4"
    make_source(source, args.seconds, args.height, None if no_captions else speak(work / "speech.wav"))
    s3.upload_file(str(source), bucket, source_key)
    now = datetime.now(timezone.utc)
    with engine.begin() as connection:
        connection.execute(insert(tables["video"]).values(
            id=video_id, tenant_id=tenant, file_key=source_key, status="UPLOADED", created_at=now, updated_at=now))
    body = video_body(video_id, source_key, tenant)
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"], MessageBody=body)
    console.print(f"[bold]2.[/] published to SQS queue {queue!r}: {body}", soft_wrap=True)

    demo = Run(jobs={"video": ("video", video_id)})
    if no_captions:
        left_out(demo, "transcribe", no_captions)
    else:
        payload = {"file_key": source_key, "lang": "en", "video_id": video_id}
        demo.jobs["captions"] = ("ai", publish_ai_job(sqs, engine, tables, tenant, "transcribe", payload))
    unavailable = OCR.unavailable()
    if unavailable:
        left_out(demo, "OCR", unavailable)
    else:
        page_key = f"uploads/{tenant}/answers/page-1.png"
        make_page(work / "page.png")
        s3.upload_file(str(work / "page.png"), bucket, page_key)
        payload = {"file_key": page_key, "lang": "kor+eng"}
        demo.jobs["OCR"] = ("ai", publish_ai_job(sqs, engine, tables, tenant, "ocr", payload))

    env = {**os.environ, **AWS, "BROKER": "sqs", "SQS_ENDPOINT_URL": aws_url, "S3_ENDPOINT_URL": aws_url,
           "S3_BUCKET": bucket, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1",
           "CAPTIONS_WAIT_RETRY_SECONDS": "2"}  # the captions look for their READY video every 2 s, not 60
    dashboard = start_dashboard(args.dashboard, env) if args.dashboard else None
    log_path = work / "worker.log"
    console.print("[bold]3.[/] starting the worker: dramatiq tasks.video tasks.ai --processes 1 --threads 2")
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [str(BIN / "dramatiq"), "tasks.video", "tasks.ai", "--processes", "1", "--threads", "2"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            demo.rows = watch(engine, tables, redis_url, demo.jobs, args.timeout, worker)
            if dashboard:
                status = report(demo, folder, s3, bucket, tenant, video_id, log_path)
                console.print(f"[bold]the dashboard stays up at {dashboard}[/] - Ctrl-C stops the demo")
                wait_for_ctrl_c()
                return status
        finally:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)
    return report(demo, folder, s3, bucket, tenant, video_id, log_path)


def left_out(demo: Run, job: str, reason: str) -> None:
    """Say at once that ``job`` does not run here and why (``reason`` names what to install)."""
    demo.left_out[job] = reason
    console.print(f"[yellow]    the {job} job is left out:[/] {escape(reason.replace('this worker', 'this machine'))}",
                  soft_wrap=True)


def publish_ai_job(sqs, engine, tables, tenant: int, job_type: str, payload: dict) -> str:
    """What the API does for an AI job whose input is uploaded: the row, the message; return the job id."""
    job_id = str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    with engine.begin() as connection:
        connection.execute(insert(tables["ai"]).values(
            id=job_id, tenant_id=tenant, job_type=job_type, status="PENDING", payload=payload,
            created_at=now, updated_at=now))
    body = ai_body(job_id, job_type, payload, tenant)
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName="ai-jobs")["QueueUrl"], MessageBody=body)
    console.print(f"    published to SQS queue 'ai-jobs': {body}", soft_wrap=True)
    return job_id


def start_dashboard(port: int, env: dict[str, str]) -> str:
    """The ops dashboard of the Procfile's web line, in this process, on the demo's services."""
    import secrets

    from werkzeug.serving import make_server

    from ops.service import Ops
    from ops.web import create_app
    from settings import Settings

    password = secrets.token_urlsafe(9)
    os.environ.update(AWS)
    names = ("broker", "sqs_endpoint_url", "s3_endpoint_url", "s3_bucket", "database_url", "redis_url")
    settings = Settings(**{name: env[name.upper()] for name in names}, ops_admin_password=password,
                        ops_secret_key=secrets.token_hex(16))
    server = make_server("127.0.0.1", port, create_app(settings, Ops(settings)), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{port}/"
    console.print(f"    ops dashboard: {url}  (user [bold]admin[/], password [bold]{password}[/])")
    return url


def wait_for_ctrl_c() -> None:
    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)  # `kill` stops the demo as cleanly as Ctrl-C
    try:
        signal.pause()
    except KeyboardInterrupt:
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        console.print("stopping")


def watch(engine, tables, redis_url: str, ids: dict[str, tuple[str, object]], timeout: float,
          worker) -> dict[str, dict]:
    """Live progress from Redis, through the pub/sub channels a viewer would use, until every row is final.

    Parameters:
      ids: label shown -> (job kind, job id).
    """
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    channel = client.pubsub()
    keys = {label: f"progress:{kind}:{job}" for label, (kind, job) in ids.items()}
    channel.subscribe(*keys.values())
    deadline = time.monotonic() + timeout
    rows: dict[str, dict] = {}
    columns = (TextColumn("[bold]{task.description:<8}[/]"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TextColumn("{task.fields[step]}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as bars:
        tasks = {label: bars.add_task(f"{label} job", total=100, step="queued") for label in ids}
        by_channel = {key: kind for kind, key in keys.items()}
        while time.monotonic() < deadline and worker.poll() is None and len(rows) < len(ids):
            update = channel.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if update:
                fields = json.loads(update["data"])
                bars.update(tasks[by_channel[update["channel"]]], completed=int(fields["percent"]), step=fields["step"])
            for label, (kind, job) in ids.items():
                table = tables[kind]
                with engine.connect() as connection:
                    row = dict(connection.execute(select(table).where(table.c.id == job)).mappings().one())
                if row["status"] in FINAL[kind] and label not in rows:
                    rows[label] = row
                    last = client.hgetall(keys[label])
                    bars.update(tasks[label], completed=int(last.get("percent", 0)), step=last.get("step", ""))
    channel.close()
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
