"""The slug laid out as Heroku's buildpacks lay it: the parts measured exactly (see bench/slug.py).

The app tree as git ships it less ``.slugignore``, and the runtime dependencies
as pip installed them, hard-linked into a folder that ``Slug.measure`` compresses
with tar + gzip -6, part by part.
"""

from __future__ import annotations

import fnmatch
import gzip
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

MIB = 1024 * 1024
# The buildpack's own installers (Heroku counts them with Python itself).
INSTALLERS = {"pip", "setuptools", "wheel"}
PYTHON = ".heroku/python"


@dataclass
class Part:
    """One contributor to the slug and its sizes in bytes (``estimated``: not the exact files Heroku ships)."""

    name: str
    raw: int = 0
    compressed: int = 0
    estimated: bool = False


class _Counter:
    """A write-only file that counts what is written to it."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return len(data)

    def flush(self) -> None:
        pass


class Slug:
    """A slug laid out in ``folder`` as Heroku's buildpacks lay it out, each file remembering its part.

    Parameters:
      folder: an empty folder on the same file system as the sources, if possible (hard links).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.parts: dict[str, Part] = {}
        self.owner: dict[str, str] = {}  # path in the slug -> part name

    def add(self, part: str, source: Path, name: str, *, estimated: bool = False, strip: bool = False) -> None:
        """Put ``source`` in the slug as ``name``, a file of ``part`` (``strip``: a copy without symbols)."""
        target = self.folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            if strip:
                raise OSError("a copy to strip, never the original")
            os.link(source, target)
        except OSError:  # another file system, a file this user may not link, or one to strip
            shutil.copy2(source, target)
            if strip and shutil.which("strip"):
                subprocess.run(["strip", "--strip-all", str(target)], check=True)
        self.parts.setdefault(part, Part(part, estimated=estimated))
        self.owner[name] = part

    def measure(self, extra: dict[str, int] | None = None) -> list[Part]:
        """Compress what is in the folder now, in one tar + gzip stream; each part's share is what the
        stream grew by while its files went in. ``extra``: compressed bytes of parts with no files here."""
        counter = _Counter()
        by_part: dict[str, list[str]] = {}
        for name, part in sorted(self.owner.items()):
            if (self.folder / name).is_file():
                by_part.setdefault(part, []).append(name)
        with gzip.GzipFile(fileobj=counter, mode="wb", compresslevel=6, mtime=0) as zipped:
            with tarfile.open(fileobj=zipped, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for part, names in by_part.items():
                    before = counter.count
                    for name in names:
                        tar.add(self.folder / name, arcname=f"app/{name}", recursive=False)
                        self.parts[part].raw += (self.folder / name).stat().st_size
                    zipped.flush()  # out of zlib's buffers: this part's bytes
                    self.parts[part].compressed = counter.count - before
        for part, size in (extra or {}).items():
            self.parts[part].compressed += size
        return [part for part in self.parts.values() if part.compressed]


def ignored_by_slugignore(path: str, patterns: list[str]) -> bool:
    """Whether ``.slugignore``'s patterns (gitignore's syntax, without negation) remove ``path``."""
    parts = path.split("/")
    for pattern in patterns:
        anchored = "/" in pattern.rstrip("/")
        pattern = pattern.strip("/")
        for depth in range(1, len(parts) + 1):
            if fnmatch.fnmatchcase("/".join(parts[:depth]) if anchored else parts[depth - 1], pattern):
                return True
    return False


def add_app_tree(slug: Slug, root: Path) -> None:
    """The repository's tracked files, less what ``.slugignore`` names."""
    ignore = root / ".slugignore"
    patterns = [line.strip() for line in ignore.read_text().splitlines()
                if line.strip() and not line.startswith("#")] if ignore.exists() else []
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=root, check=True, capture_output=True).stdout
    for name in tracked.decode().split("\0"):
        if name and (root / name).is_file() and not ignored_by_slugignore(name, patterns):
            slug.add("app tree (git, less .slugignore)", root / name, name)


def runtime_distributions(site: Path, project: str = "media-worker") -> list[metadata.Distribution]:
    """``project`` and every distribution its requirements (no extras) pull in, as installed in ``site``."""
    installed = {canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions(path=[str(site)])}
    wanted: dict[str, metadata.Distribution] = {}
    queue = [canonicalize_name(project)]
    while queue:
        name = queue.pop()
        if name in wanted or name in INSTALLERS or name not in installed:
            continue
        wanted[name] = installed[name]
        for line in wanted[name].requires or ():
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                queue.append(canonicalize_name(requirement.name))
    return list(wanted.values())


def installed_files(dist: metadata.Distribution) -> list[tuple[Path, str]]:
    files = [(Path(dist.locate_file(f)), str(f)) for f in dist.files or ()]
    return [(path, name) for path, name in files if ".." not in Path(name).parts and path.is_file()]


def add_dependencies(slug: Slug, site: Path, biggest: int = 12) -> None:
    """The runtime closure's files; the ``biggest`` distributions each a part of their own."""
    dists = [(dist, installed_files(dist)) for dist in runtime_distributions(site)]
    dists.sort(key=lambda item: -sum(path.stat().st_size for path, _ in item[1]))
    for rank, (dist, files) in enumerate(dists):
        part = (f"{dist.metadata['Name']} {dist.version}" if rank < biggest
                else f"{len(dists) - biggest} other distributions")
        for path, name in files:
            slug.add(part, path, f"{PYTHON}/lib/site-packages/{name}")
