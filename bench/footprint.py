"""Goal 5: installed size of the worker's runtime dependencies, with and without Django + DRF.

Builds a fresh virtual environment with the worker alone (``pip install .``),
measures its site-packages, then adds Django and Django REST framework (what
a worker image carried before) and measures again. pip itself is left out of
both figures.

    .venv/bin/python bench/footprint.py [--no-deps]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import parse_options  # noqa: E402

SMOKE = {"no_deps": True}


def size_of(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


class Environment:
    """A fresh virtual environment whose packages are measured as they are installed.

    Parameters:
      where: its folder.
      no_deps: install what is asked for alone, without its dependencies.
    """

    def __init__(self, where: Path, *, no_deps: bool = False) -> None:
        subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
        self.python = where / "bin" / "python"
        self.flags = ["--no-deps"] if no_deps else []
        (self.site,) = where.glob("lib/python*/site-packages")

    def install(self, *requirements: str) -> None:
        done = subprocess.run(
            [str(self.python), "-m", "pip", "install", "-q", "--no-compile", *self.flags, *requirements],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            raise RuntimeError(f"pip install {' '.join(requirements)} failed:\n{done.stderr}")

    def size(self) -> int:
        """Bytes of site-packages, pip's own left out."""
        pip = size_of(self.site / "pip") + sum(size_of(path) for path in self.site.glob("pip-*"))
        return size_of(self.site) - pip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-deps", action="store_true", help="the packages alone, without their dependencies")
    options = parse_options(parser, SMOKE)
    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as tmp:
        # A copy of the sources: building the project in place would leave build/ in the work tree.
        project = Path(tmp) / "project"
        shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(
            ".venv", ".git", "build", "*.egg-info", "node_modules"))
        environment = Environment(Path(tmp) / "venv", no_deps=options.no_deps)
        environment.install(str(project))
        worker = environment.size()
        environment.install("django", "djangorestframework")
        with_django = environment.size()
    if options.no_deps:
        print("the packages alone, without their dependencies (--no-deps)")
    print(f"worker runtime dependencies      {worker / 1024**2:7.1f} MB")
    print(f"the same plus Django and DRF     {with_django / 1024**2:7.1f} MB")
    print(f"ratio (worker / with Django): {worker / with_django:.3f}   goal <= 0.7")


if __name__ == "__main__":
    main()
