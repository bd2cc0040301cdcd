"""Finding a job: by id, tenant, file_key prefix or job_type, and status, in the CLI and the dashboard."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import insert_ai_job, insert_video
from tests.e2e.stack import Stack
from tests.integration.test_ops_cli import ops
from tests.ops_site import video_ids


@pytest.fixture
def cli_stack_search(moto, pg_database, tables):
    return Stack(moto, pg_database, tables)


def seed(stack, pg_database):
    videos = [next(video_ids) for _ in range(5)]
    keys = ["uploads/7/100%_real.mp4", "uploads/7/100x_real.mp4", "uploads/7/a_b.mp4", "uploads/8/c.mp4",
            "uploads/7/axb.mp4"]
    for video_id, key, tenant, status in zip(videos, keys, (7, 7, 7, 8, 7),
                                             ("FAILED", "FAILED", "READY", "FAILED", "UPLOADED")):
        insert_video(pg_database, stack.tables["video"], video_id, key, status=status, tenant_id=tenant)
    insert_ai_job(pg_database, stack.tables["ai"], "job-ocr-1", "ocr", {"file_key": "a.png"}, "FAILED")
    insert_ai_job(pg_database, stack.tables["ai"], "job-echo-1", "test_echo", {}, "DONE")
    return videos


def test_the_cli_finds_jobs_by_the_kinds_own_fields_with_wildcards_taken_literally(cli_stack_search):
    stack = cli_stack_search
    videos = seed(stack, stack.database)

    def found(*args):
        result = ops(stack, "jobs", *args, "--json")
        assert result.returncode == 0, result.stderr
        return [row["id"] for row in json.loads(result.stdout)]

    assert found("video", "--file-key-prefix", "uploads/7/100%") == [videos[0]]  # % is not a wildcard
    assert sorted(found("video", "--file-key-prefix", "uploads/7/a_")) == [videos[2]]  # nor is _
    assert sorted(found("video", "--tenant", "7", "--status", "failed")) == sorted(videos[:2])
    assert found("video", "--id", str(videos[3])) == [videos[3]]
    assert found("video", "--tenant", "7", "--limit", "2") and len(found("video", "--tenant", "7", "--limit", "2")) == 2
    assert found("ai", "--job-type", "ocr") == ["job-ocr-1"]
    assert found("ai", "--job-type", "ocr", "--status", "done") == []
    for args, reason in ((["video", "--tenant", "seven"], "tenant: not a whole number"),
                         (["video", "--id", "²"], "no video can have the id '²'"),
                         (["video", "--tenant", "99999999999999999999"], "tenant: not a whole number")):
        result = ops(stack, "jobs", *args)
        assert result.returncode == 1 and reason in result.stderr and "Traceback" not in result.stderr
    usage = ops(stack, "jobs", "ai", "--file-key-prefix", "x")  # not a field of AI jobs
    assert usage.returncode == 2 and "unrecognized arguments" in usage.stderr


def test_the_dashboard_finds_jobs_and_keeps_the_search_while_paging(site, pg_database):
    videos = seed(site.stack, pg_database)
    page = site.get("/jobs/video/?file-key-prefix=uploads/7/100%25&status=")
    assert page.status_code == 200
    assert re.findall(r'<tr data-job-id="(\d+)">', page.text) == [str(videos[0])]
    assert 'value="uploads/7/100%"' in page.text  # the form keeps what was typed
    page = site.get("/jobs/video/?tenant=8")
    assert re.findall(r'<tr data-job-id="(\d+)">', page.text) == [str(videos[3])]
    ai = site.get("/jobs/ai/?job-type=test_echo").text
    assert re.findall(r'<tr data-job-id="([^"]+)">', ai) == ["job-echo-1"]
    bad = site.get("/jobs/video/?tenant=%C2%B2")
    assert bad.status_code == 400 and "tenant: not a whole number" in bad.text
    assert 'name="file-key-prefix"' in site.get("/jobs/video/").text and 'name="job-type"' in ai
    assert 'name="file-key-prefix"' not in ai
