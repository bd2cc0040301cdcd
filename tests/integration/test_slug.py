"""The Heroku slug: under 450 MiB compressed, and its cuts keep what the dynos run (bench/slug.py measures it)."""

from __future__ import annotations

import subprocess

import pytest

from bench.slug import GOAL_MIB, installed_slug, report, total_mib
from bench.slug_layout import ignored_by_slugignore
from tests.services import ROOT

# What the Procfile's processes and the buildpacks read from the app tree.
SHIPPED = ("domain/", "adapters/", "kinds/", "tasks/", "ops/", "settings.py", "bootstrap/", "Procfile",
           "requirements.txt", "pyproject.toml", "Aptfile", "package.json", "package-lock.json", "app.json",
           "bin/post_compile")


@pytest.mark.timeout(900)  # compresses about 1 GB: one to four minutes on a busy 2-core machine
def test_the_heroku_slug_stays_under_450_mib_compressed():
    parts = installed_slug()
    assert total_mib(parts) <= GOAL_MIB, report(parts)


def test_slugignore_keeps_every_file_the_dynos_and_the_build_read():
    patterns = [line.strip() for line in (ROOT / ".slugignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
    shipped = [name for name in tracked if name.startswith(SHIPPED)]
    assert len(shipped) > 50 and not [name for name in shipped if ignored_by_slugignore(name, patterns)]
    assert ignored_by_slugignore("tests/conftest.py", patterns) and ignored_by_slugignore("docs/img/a.png", patterns)
    assert not ignored_by_slugignore("ops/web/templates/tests.html", patterns)  # anchored: top level only


def test_post_compile_drops_node_and_keeps_the_hls_js_the_dashboard_serves(tmp_path):
    for name in (".heroku/node/bin/node", ".heroku/node/lib/node_modules/npm/index.js",
                 "node_modules/hls.js/dist/hls.min.js", "node_modules/hls.js/dist/hls.js.map",
                 "node_modules/hls.js/src/hls.ts", "node_modules/hls.js/LICENSE", "node_modules/hls.js/package.json",
                 ".heroku/python/bin/python3.11", "ops/web/app.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    subprocess.run(["bash", str(ROOT / "bin" / "post_compile")], cwd=tmp_path, check=True)
    left = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file())
    assert left == [".heroku/python/bin/python3.11", "node_modules/hls.js/LICENSE",
                    "node_modules/hls.js/dist/hls.min.js", "node_modules/hls.js/package.json", "ops/web/app.py"]
