"""The Heroku slug: the compressed size of what a Procfile deployment ships.

Heroku builds the slug from the repository's tracked files minus those
``.slugignore`` names; the buildpacks of ``app.json`` add what they install;
``bin/post_compile`` (run by the Python buildpack, last) may remove some of it;
the result is a gzipped tar, refused over 500 MB, warned about over 300 MB.
This lays the slug out the same way in a temporary folder (hard links, so it
costs no copy), runs ``bin/post_compile`` there, and compresses what is left
with tar + gzip -6, part by part:

- the app tree, as git ships it, minus ``.slugignore``;
- the project's runtime dependencies (``pip install .``, no extras, byte code
  as pip compiles it), one line per big distribution;
- Python itself, as Heroku's Python buildpack ships it (estimated from this
  interpreter as Heroku's runtime build trims its own: the standard library
  without tests, ensurepip, ``-O`` byte code or static libpython, binaries
  stripped; and pip, setuptools and wheel, which the buildpack installs);
- the Aptfile's packages and those of their dependencies a stack image lacks
  (estimated: the ones nothing else installed on this machine needs), from
  their installed files, else the size of their .deb;
- with heroku/nodejs among app.json's buildpacks: its Node.js runtime
  (estimated from this machine's ``nodejs`` package, the official build
  repackaged) and the production ``node_modules``.

    .venv/bin/python bench/slug.py               # a fresh virtualenv, `pip install .` (minutes)
    .venv/bin/python bench/slug.py --installed   # this virtualenv's runtime distributions (as the test)
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import parse_options  # noqa: E402
from bench.slug_layout import (  # noqa: E402
    INSTALLERS, MIB, PYTHON, Part, Slug, add_app_tree, add_dependencies, installed_files,
)

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MIB, WARNING_MIB, GOAL_MIB = 500, 300, 450
SMOKE = {"installed": True, "app_only": True}


def add_python(slug: Slug, python: str, site: Path) -> None:
    """The interpreter of ``python`` as Heroku's runtime build keeps it, and the buildpack's installers."""
    probe = "import sys, sysconfig; print(sys.base_prefix, sysconfig.get_paths()['stdlib'], sys.version.split()[0])"
    base, stdlib, version = subprocess.run([python, "-c", probe], check=True, capture_output=True,
                                           text=True).stdout.split()
    part = f"Python {version} itself, with pip, setuptools and wheel"
    stdlib_path, prefix = Path(stdlib), Path(base)
    skip = {"site-packages", "test", "tests", "idle_test", "ensurepip"}
    for path in stdlib_path.rglob("*"):
        relative = path.relative_to(stdlib_path)
        if (path.is_file() and not path.is_symlink() and not skip & set(relative.parts)
                and ".opt-" not in path.name and path.suffix != ".a"):  # Heroku builds no static libpython
            slug.add(part, path, f"{PYTHON}/lib/python/{relative}", estimated=True, strip=path.suffix == ".so")
    major_minor = ".".join(version.split(".")[:2])
    for binary in [prefix / "bin" / f"python{major_minor}", *prefix.glob("lib/libpython*.so*")]:
        if binary.is_file() and not binary.is_symlink():  # linked with --strip-all there
            slug.add(part, binary, f"{PYTHON}/{binary.relative_to(prefix)}", estimated=True, strip=True)
    for dist in metadata.distributions(path=[str(site)]):
        if canonicalize_name(dist.metadata["Name"]) in INSTALLERS:
            for path, name in installed_files(dist):
                slug.add(part, path, f"{PYTHON}/lib/site-packages/{name}", estimated=True)


def _dpkg_depends() -> dict[str, set[str]]:
    """Each installed Debian package and the packages it depends on (alternatives all counted)."""
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${db:Status-Abbrev}\t${Pre-Depends}, ${Depends}\n"],
                         check=True, capture_output=True, text=True).stdout
    graph = {}
    for line in out.splitlines():
        name, status, depends = line.split("\t")
        if status.startswith("ii"):
            graph[name] = {re.split(r"[\s(:]", alt.strip())[0] for alt in re.split(r"[,|]", depends) if alt.strip()}
    return graph


def add_aptfile(slug: Slug, root: Path) -> dict[str, int]:
    """The Aptfile's packages and the dependencies only they need on this machine (what the apt buildpack
    adds to a stack image that has the common libraries); return the .deb sizes of those not installed."""
    wanted = [line.strip() for line in (root / "Aptfile").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    if shutil.which("dpkg-query") is None:
        raise FileNotFoundError("dpkg-query is not installed: the Aptfile's packages cannot be measured")
    graph = _dpkg_depends()
    chosen, grown = set(wanted), True
    while grown:
        users = {dep: {p for p, deps in graph.items() if dep in deps} for p in chosen for dep in graph.get(p, ())}
        grown = {dep for dep, needed_by in users.items() if dep in graph and dep not in chosen and needed_by <= chosen}
        chosen |= grown
    part = f"Aptfile: {' '.join(wanted)} and {len(chosen) - len(wanted)} dependencies"
    slug.parts[part] = Part(part, estimated=True)
    downloads = 0
    for package in sorted(chosen):
        if package not in graph:  # not installed here: its download (xz, a little smaller than gzip)
            show = subprocess.run(["apt-cache", "show", "--no-all-versions", package], capture_output=True, text=True)
            downloads += sum(int(size) for size in re.findall(r"^Size: (\d+)", show.stdout, re.M))
            continue
        listed = subprocess.run(["dpkg-query", "-L", package], capture_output=True, text=True, check=True).stdout
        for path in map(Path, listed.splitlines()):
            if path.is_file() and not path.is_symlink():
                slug.add(part, path, f".apt{path}", estimated=True)
    return {part: downloads}


def add_node(slug: Slug, root: Path) -> None:
    """With heroku/nodejs among app.json's buildpacks: its Node.js runtime and the production node_modules."""
    buildpacks = [pack["url"] for pack in json.loads((root / "app.json").read_text()).get("buildpacks", [])]
    if not any("nodejs" in url for url in buildpacks):
        return
    for path, name in _node_runtime():
        slug.add("Node.js runtime (heroku/nodejs)", path, f".heroku/node/{name}", estimated=True)
    for name in json.loads((root / "package.json").read_text()).get("dependencies", {}):
        folder = root / "node_modules" / name
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} is missing: run `npm ci` first")
        for path in folder.rglob("*"):
            if path.is_file():
                slug.add("node_modules (npm ci)", path, str(path.relative_to(root)))


def _node_runtime() -> list[tuple[Path, str]]:
    """The files of this machine's Node.js: Debian's (or NodeSource's) ``nodejs`` package, else the folder an
    official build was unpacked in (``bin/node`` below it), as the buildpack unpacks one."""
    if shutil.which("dpkg-query"):
        listed = subprocess.run(["dpkg-query", "-L", "nodejs"], capture_output=True, text=True)
        if listed.returncode == 0:
            paths = [Path(line) for line in listed.stdout.splitlines()]
            return [(path, str(path.relative_to("/"))) for path in paths if path.is_file() and not path.is_symlink()]
    node = shutil.which("node")
    prefix = Path(node).resolve().parent.parent if node else None
    if prefix is None or prefix == Path("/usr"):
        raise FileNotFoundError("Node.js is not installed: the heroku/nodejs buildpack's runtime cannot be estimated")
    return [(path, str(path.relative_to(prefix))) for path in prefix.rglob("*")
            if path.is_file() and not path.is_symlink()]


def measure_slug(site: Path, python: str, root: Path = ROOT, *, app_only: bool = False) -> list[Part]:
    """Lay the slug out, run ``bin/post_compile`` over it as the Python buildpack does, compress it.

    The hook may delete and add files, never write into one: they are hard links to the installed files.

    Parameters:
      site: the site-packages holding the runtime dependencies.
      python: the interpreter that runs them.
      root: the repository.
      app_only: the app tree alone (the smoke run: seconds, not minutes).
    """
    with tempfile.TemporaryDirectory(prefix="slug-") as tmp:
        slug = Slug(Path(tmp))
        add_app_tree(slug, root)
        downloads: dict = {}
        if not app_only:
            add_dependencies(slug, site)
            add_python(slug, python, site)
            downloads = add_aptfile(slug, root)
            add_node(slug, root)
        if (slug.folder / "bin" / "post_compile").is_file():
            subprocess.run(["bash", "bin/post_compile"], cwd=slug.folder, check=True, stdout=subprocess.DEVNULL)
        return slug.measure(downloads)


def installed_slug(root: Path = ROOT, *, app_only: bool = False) -> list[Part]:
    """The slug of ``root`` with this virtualenv's runtime distributions (what the test measures: no install)."""
    return measure_slug(Path(sysconfig.get_paths()["purelib"]), sys.executable, root, app_only=app_only)


def fresh_slug(workdir: Path, root: Path = ROOT) -> list[Part]:
    """The slug of ``root`` with a fresh virtualenv where ``pip install .`` of its work tree (tracked files,
    with their changes) installed the runtime dependencies."""
    project, venv = workdir / "project", workdir / "venv"
    commit = subprocess.run(["git", "stash", "create"], cwd=root, capture_output=True, text=True).stdout.strip()
    archive = subprocess.run(["git", "archive", commit or "HEAD"], cwd=root, check=True, capture_output=True).stdout
    project.mkdir()
    subprocess.run(["tar", "-x", "-C", str(project)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(project)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (site,) = venv.glob("lib/python*/site-packages")
    return measure_slug(site, str(venv / "bin" / "python"), root)


def total_mib(parts: list[Part]) -> float:
    return sum(part.compressed for part in parts) / MIB


def report(parts: list[Part]) -> str:
    """One line per part, biggest first, and the total against the goal and Heroku's limits."""
    lines = [f"{'part':66} {'on disk':>8} {'gzipped':>8}"]
    for part in sorted(parts, key=lambda p: -p.compressed):
        name = part.name + (" (estimated)" if part.estimated else "")
        lines.append(f"{name:66} {part.raw / MIB:7.1f}M {part.compressed / MIB:7.1f}M")
    total = total_mib(parts)
    lines.append(f"{'slug':66} {sum(p.raw for p in parts) / MIB:7.1f}M {total:7.1f}M")
    lines.append(f"goal <= {GOAL_MIB} MiB: {'met' if total <= GOAL_MIB else 'NOT met'} "
                 f"(Heroku warns above {WARNING_MIB} MiB, refuses above {LIMIT_MIB} MiB)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--installed", action="store_true", help="measure this virtualenv's runtime distributions")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose slug to measure (a baseline)")
    parser.add_argument("--app-only", action="store_true", help="only the app tree (tests/integration/test_slug.py "
                        "measures the whole slug)")
    args = parse_options(parser, SMOKE)
    if args.installed:
        parts = installed_slug(args.tree, app_only=args.app_only)
        print(report(parts) if not args.app_only else report(parts).rsplit("\n", 1)[0] + "\n(the app tree alone)")
        return
    with tempfile.TemporaryDirectory(prefix="bench-slug-") as tmp:
        print(report(fresh_slug(Path(tmp), args.tree)))


if __name__ == "__main__":
    main()
