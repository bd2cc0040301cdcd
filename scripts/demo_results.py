"""What the demo leaves behind and says at the end: its results kept in a folder, printed, and its exit status.

The folder holds the video's whole output tree as the bucket has it
(``videos/{tenant}/{video_id}/``: HLS, captions, storyboard, thumbnail), the
transcribe job's files (``ai/{tenant}/{job_id}/``), the OCR text, the final
rows, the worker's log and a player page (``index.html``: the dashboard's
preview script with hls.js from ``npm ci``). Playlists, keys, captions and
OCR text are printed verbatim, one per line: never wrapped inside a token,
cut short or coloured, whatever the terminal's width.

Exit statuses (the table at the top of README): 0 every job ran and ended as expected;
1 a job did not (FAILED, not finished in time, captions not added to the
video, the worker stopped); 3 every job that ran ended as expected but some
were left out (a missing program: the printout names what to install);
2 is argparse's, for bad arguments.
"""

from __future__ import annotations

import html
import json
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from string import Template

from rich.console import Console
from rich.markup import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ops.preview import HLS_JS  # noqa: E402 - where `npm ci` puts hls.js

EXIT_OK, EXIT_NOT_AS_EXPECTED, EXIT_LEFT_OUT = 0, 1, 3
PLAYER_PORT = 8080
PAGE = Path(__file__).with_name("demo_player.html")
PREVIEW_JS = ROOT / "ops" / "web" / "static" / "preview.js"
FINAL = {"video": ("READY", "FAILED"), "ai": ("DONE", "FAILED")}
ROW_COLUMNS = ("id", "tenant_id", "status", "hls_path", "thumbnail_key", "duration_seconds",
               "processing_started_at", "updated_at")
# highlight=False: rich's highlighter colours fragments of playlists and keys it takes for numbers or paths.
console = Console(highlight=False)


@dataclass
class Run:
    """What the demo asked of the worker and what came of it.

    Parameters:
      jobs: label shown ("video", "captions", "OCR") -> (job kind, job id).
      left_out: job left out -> why (a missing program and how to install it).
      rows: label -> the job's row once final (missing: not final in time).
    """

    jobs: dict[str, tuple[str, object]]
    left_out: dict[str, str] = field(default_factory=dict)
    rows: dict[str, dict] = field(default_factory=dict)

    def verdict(self) -> tuple[int, str]:
        """The exit status and a sentence saying why."""
        wrong = []
        for label, (kind, _) in self.jobs.items():
            row = self.rows.get(label)
            if row is None:
                wrong.append(f"the {label} job did not finish in time")
            elif row["status"] != FINAL[kind][0]:
                wrong.append(f"the {label} job ended {row['status']}")
            elif label == "captions" and not row["result"].get("video_attached"):
                wrong.append("the captions were not added to the video")
        if wrong:
            return EXIT_NOT_AS_EXPECTED, "; ".join(wrong)
        if self.left_out:
            jobs = " and ".join(self.left_out) + (" jobs were" if len(self.left_out) > 1 else " job was")
            return EXIT_LEFT_OUT, f"the {jobs} left out (what to install is said above)"
        return EXIT_OK, "every job ended as expected"


def results_folder(option: str | None) -> Path:
    """The folder the results go to, made now, so that a bad ``--output`` stops the demo before it starts.

    Parameters:
      option: ``--output``: a new or empty folder; None: ``demo-output/<date-time>/`` in the project.
    Raises ValueError with a sentence when the folder cannot be used.
    """
    if option:
        folder = Path(option).expanduser().resolve()
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"--output {option}: exists and is not a folder")
        if folder.is_dir() and any(folder.iterdir()):
            raise ValueError(f"--output {option}: the folder is not empty; name a new or an empty one")
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    parent = ROOT / "demo-output"
    parent.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for suffix in ["", *(f"-{number}" for number in range(2, 100))]:  # two demos in one second
        try:
            (parent / f"{stamp}{suffix}").mkdir()
            return parent / f"{stamp}{suffix}"
        except FileExistsError:
            continue
    raise ValueError(f"{parent} has no free name for {stamp}")


def download_tree(s3, bucket: str, prefix: str, folder: Path) -> list[dict]:
    """Every object under ``prefix`` into ``folder``, at its key's path; return the objects (Key, Size)."""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            target = (folder / item["Key"]).resolve()
            if not target.is_relative_to(folder):  # a key with ".." stays in the bucket
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(target))
            found.append(item)
    return found


def keep(run: Run, folder: Path, s3, bucket: str, video_prefix: str, tenant: int, log_path: Path) -> None:
    """The results into ``folder``: the video's and the AI jobs' files, the rows, the OCR text, the log.

    Parameters:
      run: the jobs and their final rows.
      folder: from ``results_folder``.
      s3, bucket: the demo's S3 client and bucket.
      video_prefix: ``videos/{tenant}/{video_id}/``.
      tenant: the jobs' tenant (the AI outputs are under ``ai/{tenant}/{job_id}/``).
      log_path: the worker's log.
    """
    download_tree(s3, bucket, video_prefix, folder)
    for kind, job in run.jobs.values():
        if kind == "ai":
            download_tree(s3, bucket, f"ai/{tenant}/{job}/", folder)
    (folder / "rows.json").write_text(json.dumps(run.rows, indent=2, default=str, ensure_ascii=False) + "\n")
    ocr = run.rows.get("OCR")
    if ocr and ocr["status"] == "DONE":
        (folder / "ocr.txt").write_text(ocr["result"]["text"] + "\n")
    if log_path.exists():
        shutil.copyfile(log_path, folder / "worker.log")


def write_player(folder: Path, video: dict, video_prefix: str) -> str | None:
    """``index.html`` with preview.js and hls.js beside the kept video; what to install when hls.js is missing.

    Parameters:
      folder: the results folder, holding the video's tree (``keep``).
      video: the READY video row.
      video_prefix: ``videos/{tenant}/{video_id}/``.
    """
    hls_js = ROOT / HLS_JS
    if hls_js.is_file():
        shutil.copyfile(hls_js, folder / "hls.min.js")
        missing = None
    elif shutil.which("npm"):
        missing = f"hls.js is not installed: run `npm ci` in {ROOT}, then copy {HLS_JS} here"
    else:
        missing = (f"hls.js comes from npm, which is not installed: apt-get install npm (or Node.js 18+), "
                   f"run `npm ci` in {ROOT}, then copy {HLS_JS} here")
    shutil.copyfile(PREVIEW_JS, folder / "preview.js")
    ocr = folder / "ocr.txt"
    fields = {"video_id": video["id"], "master": video["hls_path"], "storyboard": f"{video_prefix}storyboard.vtt",
              "poster": video["thumbnail_key"], "missing_hls": missing or "",
              "ocr_text": ocr.read_text().strip() if ocr.exists() else "(the OCR job did not run)"}
    page = Template(PAGE.read_text()).substitute({name: html.escape(str(value)) for name, value in fields.items()})
    (folder / "index.html").write_text(page)
    return missing


def verbatim(text: str) -> None:
    """``text`` exactly, line for line: no markup, no highlighting, no wrapping."""
    console.out(text, highlight=False)


def problem(what: str, reason: str | None) -> None:
    """A job that did not end as expected: ``what`` in red, then its row's ``reason`` verbatim."""
    console.print(f"[red]{what}[/]", end=" " if reason else "\n")
    if reason:
        verbatim(reason)


def show_video(row: dict | None, s3, bucket: str, prefix: str) -> None:
    if row is None or row["status"] != "READY":
        problem("the video job did not finish in time" if row is None else "the video job is FAILED:",
                row and row["error_reason"])
        return
    console.print("[bold]the READY row (video_video)[/]")
    width = max(map(len, ROW_COLUMNS))
    for name in ROW_COLUMNS:
        verbatim(f"  {name:<{width}}  {row[name]}")
    console.print(f"[bold]its files in s3://{bucket}/[/] (key, bytes, content type)")
    items = [item for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
             for item in page.get("Contents", [])]
    width = max(len(item["Key"]) for item in items)
    for item in items:
        content_type = s3.head_object(Bucket=bucket, Key=item["Key"])["ContentType"]
        verbatim(f"  {item['Key']:<{width}}  {item['Size']:>8}  {content_type}")
    console.print(f"[bold]{row['hls_path']}[/]")
    verbatim(s3.get_object(Bucket=bucket, Key=row["hls_path"])["Body"].read().decode().rstrip("\n"))


def show_captions(row: dict | None, s3, bucket: str, tenant: int) -> None:
    if row is None or row["status"] != "DONE":
        problem("the transcribe job did not finish in time" if row is None
                else f"the transcribe job is {row['status']}:", row and row["error_message"])
        return
    result = row["result"]
    where = ("added to the video's player (hls/subs/en/)" if result.get("video_attached")
             else f"not added to the video: {result.get('video_note')}")
    key = f"ai/{tenant}/{row['id']}/captions.vtt"
    vtt = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    console.print(f"[bold]the DONE transcribe row (ai_aijob)[/]: {result['lang']}, "
                  f"{len(result['segments'])} segment(s), captions {where}", soft_wrap=True)
    console.print(f"[bold]the first captions[/] ({key})", soft_wrap=True)
    verbatim("\n\n".join(vtt.strip().split("\n\n")[1:4]))  # after the WEBVTT header: the first three cues


def show_ocr(row: dict | None) -> None:
    if row is None or row["status"] != "DONE":
        problem("the OCR job did not finish in time" if row is None else f"the OCR job is {row['status']}:",
                row and row["error_message"])
    else:
        console.print(f"[bold]the DONE AI row (ai_aijob)[/]: confidence {row['result']['pages'][0]['confidence']}")
        verbatim(row["result"]["text"])


def report(run: Run, folder: Path, s3, bucket: str, tenant: int, video_id: int, log_path: Path) -> int:
    """Keep the results in ``folder``, print them and how to play the video; return the exit status.

    Parameters:
      run: the jobs and their final rows.
      folder: from ``results_folder``.
      s3, bucket: the demo's S3 client and bucket.
      tenant, video_id: the demo video's.
      log_path: the worker's log (its end is printed when the video job did not finish).
    """
    prefix = f"videos/{tenant}/{video_id}/"
    video = run.rows.get("video")
    show_video(video, s3, bucket, prefix)
    if "captions" in run.jobs:
        show_captions(run.rows.get("captions"), s3, bucket, tenant)
    if "OCR" in run.jobs:
        show_ocr(run.rows.get("OCR"))
    keep(run, folder, s3, bucket, prefix, tenant, log_path)
    console.print(f"[bold]results kept in[/] {escape(str(folder))}/", soft_wrap=True)
    if video is not None and video["status"] == "READY":
        missing = write_player(folder, video, prefix)
        if missing:
            console.print(f"[yellow]    the player page needs hls.js:[/] {escape(missing)}", soft_wrap=True)
        captions = run.rows.get("captions")
        attached = captions and captions["status"] == "DONE" and captions["result"].get("video_attached")
        with_captions = " with its captions" if attached else ""
        console.print(f"[bold]play the video{with_captions}:[/] serve the folder, then open "
                      f"http://127.0.0.1:{PLAYER_PORT}/", soft_wrap=True)
        verbatim(f"  python3 -m http.server {PLAYER_PORT} --bind 127.0.0.1 --directory {shlex.quote(str(folder))}")
    else:
        verbatim(log_path.read_text(errors="replace")[-3000:] if log_path.exists() else "(no worker log)")
    status, why = run.verdict()
    console.print(f"[bold]exit status {status}:[/] {why}", soft_wrap=True)
    return status
