"""Goal 5: installed size of the worker's runtime dependencies, with and without Django + DRF.

Builds two fresh virtual environments: the worker alone (``pip install .``)
and the worker plus Django and Django REST framework (what a worker image
carried before), and compares the sizes of their site-packages.

    .venv/bin/python bench/footprint.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def size_of(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def venv_with(where: Path, *requirements: str) -> int:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    python = where / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-compile", *requirements], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (site,) = where.glob("lib/python*/site-packages")
    empty = size_of(site / "pip") + sum(size_of(p) for p in site.glob("pip-*"))  # pip itself is not ours
    return size_of(site) - empty


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as tmp:
        # A copy of the sources: building the project in place would leave build/ in the work tree.
        project = Path(tmp) / "project"
        shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info"))
        worker = venv_with(Path(tmp) / "worker", str(project))
        with_django = venv_with(Path(tmp) / "django", str(project), "django", "djangorestframework")
    print(f"worker runtime dependencies      {worker / 1024**2:7.1f} MB")
    print(f"the same plus Django and DRF     {with_django / 1024**2:7.1f} MB")
    print(f"ratio (worker / with Django): {worker / with_django:.3f}   goal <= 0.7")


if __name__ == "__main__":
    main()
