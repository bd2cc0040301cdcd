"""docs/CONTRACT.md, the project's own statement of the contract with the Django API, names everything the
platform's original does: every backticked name (keys, columns, statuses, steps, paths, variables, tags) and
every message key and column of its tables. The original sits beside the project (``../shared/CONTRACT.md``) in
the platform's checkout, not in a clone of this repository: without it the check is skipped, saying so."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.services import ROOT

OWN = ROOT / "docs" / "CONTRACT.md"
FENCED = re.compile(r"```.*?```", re.DOTALL)
TABLE_HEADERS = {"key", "column", "variable"}


def the_original() -> Path | None:
    """``../shared/CONTRACT.md`` beside this checkout or, in a linked git worktree, beside its main checkout."""
    places = [ROOT.parent]
    try:
        common = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--path-format=absolute", "--git-common-dir"],
                                capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        places.append(Path(common).parent.parent)  # <main checkout>/.git -> the main checkout's parent
    except (OSError, subprocess.SubprocessError):
        pass  # not a git checkout (an unpacked archive): only beside it
    return next((place / "shared" / "CONTRACT.md" for place in places if (place / "shared" / "CONTRACT.md").is_file()),
                None)


def normal(text: str) -> str:
    """One spelling of a name however the Markdown wrapped it: no space after a comma, single spaces."""
    return re.sub(r"\s+", " ", re.sub(r",\s+", ",", text)).strip()


def names_in(contract: str) -> list[str]:
    """The names a contract gives: its backticked spans (outside code blocks) and the first cell of each table row
    (message keys, columns, Redis keys, variables; "a, b" is two names)."""
    prose = FENCED.sub("", contract)
    names = [normal(span) for span in re.findall(r"`([^`]+)`", prose)]
    for line in prose.splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2 and not set(line) <= set("|-: "):
            names += [normal(part.strip("` ")) for part in cells[1].split(",")]
    return list(dict.fromkeys(name for name in names if name and name not in TABLE_HEADERS))


def stated_in(own: str) -> list[str]:
    """Where a name counts as stated in our document: its backticked spans and its code blocks' lines."""
    blocks = [normal(line) for block in FENCED.findall(own) for line in block.splitlines()]
    return [normal(span) for span in re.findall(r"`([^`]+)`", FENCED.sub("", own))] + blocks


def missing_from(own: str, contract: str) -> list[str]:
    """The names of ``contract`` that ``own`` does not state: a name must be one of its spans, or stand inside
    one (or a code block's line) with no letter, digit, ``_`` or ``-`` touching it on either side."""
    places = stated_in(own)
    return [name for name in names_in(contract)
            if not any(re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", place) for place in places)]


def test_every_name_of_the_original_contract_is_stated_in_docs_contract():
    original = the_original()
    if original is None:
        pytest.skip("no ../shared/CONTRACT.md beside the project (a clone has none): nothing to compare with")
    contract = original.read_text()
    assert len(names_in(contract)) > 100  # the check reads the original's names, not an empty list
    assert missing_from(OWN.read_text(), contract) == []


def test_the_check_finds_a_name_left_out_or_only_in_prose():
    contract = ("| column | type |\n|---|---|\n| error_reason | text |\n| created_at, updated_at | timestamptz |\n"
                "Steps: `queued`, `done`. Keys: `lock:video:{video_id}`.\n")
    own = "`error_reason`, `created_at` and `updated_at`; steps `queued` and `done`; the lock lock:video:{video_id}.\n"
    assert missing_from(own, contract) == ["lock:video:{video_id}"]  # outside backticks it does not count
    assert missing_from(own.replace("`done`", "`done_later`"), contract) == ["done", "lock:video:{video_id}"]
    assert missing_from(own + "`SET lock:video:{video_id} token NX PX`\n", contract) == []


def test_readme_points_at_the_projects_own_contract():
    readme = (ROOT / "README.md").read_text()
    assert "[docs/CONTRACT.md](docs/CONTRACT.md)" in readme
    assert "`../shared/CONTRACT.md` (message bodies" not in readme  # a clone has no ../shared to be bound by
