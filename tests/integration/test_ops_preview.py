"""The job page's preview: a video's own outputs streamed from the private bucket, nothing else; hls.js served."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from ops.preview import HLS_JS, output_key
from tests.conftest import insert_video
from tests.integration.test_ops_web import ADMIN, VIEWER, make_site, video_ids
from tests.services import ROOT

MASTER = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n360p/index.m3u8\n"
CHAPTERS = '[{"chapter": 1, "start-time": 0.0, "titles": [{"language": "ko", "title": "잠금"}]}]'.encode()


@pytest.fixture
def site(private_stack, pg_database):
    return make_site(private_stack, pg_database)


def ready_video(site, *, tenant_id=7, status="READY") -> int:
    stack = site.stack
    video_id = next(video_ids)
    prefix = f"videos/{tenant_id if tenant_id is not None else 'shared'}/{video_id}"
    insert_video(stack.database, stack.tables["video"], video_id, f"uploads/{video_id}.mp4", status=status,
                 tenant_id=tenant_id)
    with stack.database.begin() as connection:
        connection.execute(update(stack.tables["video"]).where(stack.tables["video"].c.id == video_id)
                           .values(hls_path=f"{prefix}/hls/master.m3u8"))
    objects = {"hls/master.m3u8": (MASTER, "application/vnd.apple.mpegurl"),
               "hls/360p/seg_00000.ts": (b"\x47" * 376, "video/mp2t"),
               "storyboard.vtt": (b"WEBVTT\n", "text/vtt"),
               "storyboard/sprite_000.jpg": (b"\xff\xd8jpeg", "image/jpeg"),
               "hls/chapters.json": (CHAPTERS, "application/json"),
               "hls/chapters/chapter_001.jpg": (b"\xff\xd8slide", "image/jpeg"),
               "thumbnail.jpg": (b"\xff\xd8thumb", "image/jpeg")}
    for name, (body, content_type) in objects.items():
        stack.s3.put_object(Bucket=stack.bucket, Key=f"{prefix}/{name}", Body=body, ContentType=content_type)
    stack.s3.put_object(Bucket=stack.bucket, Key=f"uploads/{video_id}.mp4", Body=b"the source")
    return video_id


def test_a_videos_own_files_are_streamed_with_their_types_to_admin_and_viewer(site):
    video_id = ready_video(site)
    for who in (ADMIN, VIEWER):
        master = site.get(f"/jobs/video/{video_id}/files/hls/master.m3u8", who=who)
        assert master.status_code == 200 and master.data == MASTER
        assert master.headers["Content-Type"] == "application/vnd.apple.mpegurl"
        assert master.headers["Content-Length"] == str(len(MASTER))
    segment = site.get(f"/jobs/video/{video_id}/files/hls/360p/seg_00000.ts")
    assert segment.status_code == 200 and segment.headers["Content-Type"] == "video/mp2t"
    assert site.get(f"/jobs/video/{video_id}/files/storyboard/sprite_000.jpg").data == b"\xff\xd8jpeg"
    assert site.get(f"/jobs/video/{video_id}/files/storyboard.vtt").headers["Content-Type"] == "text/vtt"


def test_a_videos_chapters_and_their_images_are_served_for_the_preview(site):
    video_id = ready_video(site)
    chapters = site.get(f"/jobs/video/{video_id}/files/hls/chapters.json", who=VIEWER)
    assert chapters.status_code == 200 and chapters.data == CHAPTERS
    assert chapters.headers["Content-Type"] == "application/json"
    image = site.get(f"/jobs/video/{video_id}/files/hls/chapters/chapter_001.jpg")
    assert image.status_code == 200 and image.data == b"\xff\xd8slide"
    assert 'id="preview-chapters"' in site.get(f"/jobs/video/{video_id}").text


def test_nothing_is_served_without_credentials(site):
    video_id = ready_video(site)
    assert site.get(f"/jobs/video/{video_id}/files/hls/master.m3u8", who=None).status_code == 401
    assert site.get("/player/hls.min.js", who=None).status_code == 401


@pytest.mark.parametrize("name", [
    "../{other}/hls/master.m3u8", "%2e%2e/{other}/hls/master.m3u8", "hls/..%2f..%2f{other}%2fhls%2fmaster.m3u8",
    "hls/../../{other}/hls/master.m3u8", "/videos/7/{other}/hls/master.m3u8", "hls\\..\\master.m3u8",
    "hls/master.m3u8%00.jpg", "./hls/master.m3u8", "hls//master.m3u8", ".hidden.ts", "thumbnail.png",
    "hls/360p/seg_00000.ts/", "../../../uploads/{self}.mp4",
])
def test_no_name_leaves_the_videos_prefix_or_reads_a_source(site, name):
    video_id, other = ready_video(site), ready_video(site)
    path = f"/jobs/video/{video_id}/files/" + name.format(other=other, self=video_id)
    response = site.get(path, follow_redirects=True)  # werkzeug first merges doubled slashes (308)
    assert response.status_code == 404, path
    assert b"EXTM3U" not in response.data and b"the source" not in response.data


def test_unknown_videos_and_missing_files_are_404(site):
    video_id = ready_video(site)
    assert site.get(f"/jobs/video/{video_id}/files/hls/720p/index.m3u8").status_code == 404
    assert site.get("/jobs/video/999999999999/files/hls/master.m3u8").status_code == 404
    assert site.get(f"/jobs/video/{video_id}x/files/hls/master.m3u8").status_code == 404


def test_only_player_files_are_names_a_key_can_have():
    prefix = "videos/7/42/"
    assert output_key(prefix, "hls/audio/seg_00012.ts") == "videos/7/42/hls/audio/seg_00012.ts"
    assert output_key(prefix, "hls/subs/ko/index.m3u8") == "videos/7/42/hls/subs/ko/index.m3u8"
    for name in ("", "hls", "a/b/c/d/e.ts", "hls/..", "..", "hls/x\n.ts", "x" * 101 + ".ts", "hls/ master.m3u8"):
        assert output_key(prefix, name) is None, name


def test_the_job_page_of_a_ready_video_has_the_player_and_csp_allows_it(site):
    video_id = ready_video(site)
    page = site.get(f"/jobs/video/{video_id}")
    assert page.status_code == 200
    assert f'data-master="/jobs/video/{video_id}/files/hls/master.m3u8"' in page.text
    assert f'data-storyboard="/jobs/video/{video_id}/files/storyboard.vtt"' in page.text
    assert 'src="/player/hls.min.js"' in page.text and "/static/preview.js" in page.text
    policy = page.headers["Content-Security-Policy"]
    assert "media-src 'self' blob:" in policy and "worker-src 'self' blob:" in policy
    failed = ready_video(site, status="FAILED")
    assert "preview-video" not in site.get(f"/jobs/video/{failed}").text


def test_hls_js_is_served_when_npm_installed_it(site):
    response = site.get("/player/hls.min.js", who=VIEWER)
    if (ROOT / HLS_JS).is_file():
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/javascript")
        assert response.data == (ROOT / HLS_JS).read_bytes()
    else:
        assert response.status_code == 404
