"""Every script of ``bench/`` runs here in its smoke mode, so that a rename breaks a test, not a benchmark.

The rule for ``bench/``: a module with ``if __name__ == "__main__":`` is a script; it parses its
command line with ``bench.common.parse_options(parser, SMOKE)``, where ``SMOKE`` gives the option
values of a tiny run (a 2 s 240p source, one run: seconds, not minutes), which ``--smoke`` selects.
Any other module is a library that some script imports, and is exercised through it. Each script
runs as ``python -m bench.<name> --smoke`` from the project's root, with PostgreSQL and Redis on
127.0.0.1 (the scripts start their own moto server).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.fixed_ladder import fixed_rate_ladder_command
from domain.video.model import Rendition
from tests.services import ROOT

BENCH = ROOT / "bench"
SMOKE_TIMEOUT_SECONDS = 600


def module_tree(name: str) -> ast.Module:
    return ast.parse((BENCH / f"{name}.py").read_text(), filename=f"bench/{name}.py")


def is_script(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.If) and ast.unparse(node.test) == "__name__ == '__main__'" for node in tree.body)


def bench_imports(tree: ast.Module) -> set[str]:
    """The modules of bench/ that a module imports, at its top or inside a function."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bench."):
            names.add(node.module.split(".")[1])
        elif isinstance(node, ast.ImportFrom) and node.module == "bench":
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name.split(".")[1] for alias in node.names if alias.name.startswith("bench."))
    return names


def calls_parse_options(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] == "parse_options"
               for node in ast.walk(tree))


TREES = {path.stem: module_tree(path.stem) for path in sorted(BENCH.glob("*.py")) if path.stem != "__init__"}
SCRIPTS = [name for name, tree in TREES.items() if is_script(tree)]
# Scripts whose smoke run a test of their own makes, checking their figures too (not run twice).
SMOKED_ELSEWHERE = {"chapters": "tests/integration/test_bench_chapters.py"}


def test_every_bench_module_is_a_script_with_a_smoke_mode_or_a_library_a_script_uses():
    without_smoke = [name for name in SCRIPTS if not calls_parse_options(TREES[name])]
    assert not without_smoke, (
        f"bench scripts without a smoke mode: {without_smoke}; parse the options with "
        "bench.common.parse_options(parser, SMOKE), SMOKE naming the option values of a run of a few seconds")
    used, reached = set(), set(SCRIPTS)
    while reached:
        used |= reached
        reached = {imported for name in reached for imported in bench_imports(TREES[name])} - used
    unused = sorted(set(TREES) - used)
    assert not unused, f"bench modules no script imports (nothing runs them): {unused}"


@pytest.mark.timeout(SMOKE_TIMEOUT_SECONDS + 60)
@pytest.mark.parametrize("script", [name for name in SCRIPTS if name not in SMOKED_ELSEWHERE])
def test_the_bench_script_runs_in_its_smoke_mode(script):
    try:
        run = subprocess.run([sys.executable, "-m", f"bench.{script}", "--smoke"], cwd=ROOT, env=os.environ.copy(),
                             capture_output=True, text=True, timeout=SMOKE_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"bench/{script}.py --smoke still ran after {SMOKE_TIMEOUT_SECONDS} s; its output:\n"
                    f"{expired.stdout}\n{expired.stderr}")
    assert run.returncode == 0, f"bench/{script}.py --smoke failed:\n{run.stderr[-6000:]}\n{run.stdout[-2000:]}"
    assert run.stdout.strip(), f"bench/{script}.py --smoke printed no figures"


def test_the_fixed_rate_baseline_is_todays_ladder_with_the_old_rate_control_and_audio():
    ladder = [Rendition("360p", 360, 800, 96), Rendition("720p", 720, 2800, 128)]
    args = fixed_rate_ladder_command("ffmpeg", Path("/in.mp4"), ladder, has_audio=True, segment_seconds=6,
                                     preset="veryfast", threads=0)

    def value_after(option: str) -> str:
        return args[args.index(option) + 1]

    assert value_after("-b:v:1") == "2800k" and value_after("-maxrate:v:1") == "2996k"
    assert value_after("-bufsize:v:0") == "1200k"
    assert not [arg for arg in args if arg.startswith("-crf")] and args.count("-maxrate:v:0") == 1
    assert value_after("-b:a:0") == "96k" and value_after("-b:a:1") == "128k" and args.count("0:a:0") == 2
    assert value_after("-var_stream_map") == "v:0,a:0,name:360p v:1,a:1,name:720p"
    assert args[-1] == "%v/index.m3u8"
    silent = fixed_rate_ladder_command("ffmpeg", Path("/in.mp4"), ladder, has_audio=False, segment_seconds=6,
                                       preset="veryfast", threads=0)
    assert "-c:a" not in silent and silent[silent.index("-var_stream_map") + 1] == "v:0,name:360p v:1,name:720p"
