"""`python -m ops model ...`: an operator's Whisper model folder, its manifest and what the worker makes of it.

``manifest FOLDER`` hashes a converted model's files and writes model-manifest.json
beside them (run it where the model was converted, before shipping the folder);
``check FOLDER`` does what a worker does before loading it and prints the limits
its size gets. Neither needs the queues, the database or the bucket.
"""

from __future__ import annotations

from pathlib import Path

from adapters.ai.whisper_limits import limits_for
from adapters.ai.whisper_manifest import MANIFEST_NAME, Manifest, ModelRefused, verified, write_manifest


HELP = "an operator's Whisper model folder: write its manifest, check it"


def add_actions(actions) -> None:
    """``manifest`` and ``check``, on the ``model`` command's subcommand parsers."""
    write = actions.add_parser("manifest", help=f"hash a converted model's files into FOLDER/{MANIFEST_NAME}")
    write.add_argument("folder", type=Path)
    write.add_argument("--name", help="how transcripts name the model (whisper-NAME); default: the folder's name")
    check = actions.add_parser("check", help="check FOLDER against its manifest as a worker does, and show its limits")
    check.add_argument("folder", type=Path)


def command(ops, args, out) -> int:
    """Run ``model manifest`` or ``model check``; one line naming the fault when the folder is refused."""
    folder = args.folder.resolve()
    try:
        if args.model_command == "manifest":
            manifest = write_manifest(folder, args.name)
        else:
            manifest = verified(folder)
    except ModelRefused as refused:
        return out.fail(refused.reason)
    out.emit(summary(folder, manifest, written=args.model_command == "manifest"), describe)
    return 0


def summary(folder: Path, manifest: Manifest, *, written: bool) -> dict:
    limits = limits_for(manifest.parameters)
    return {
        "folder": str(folder), "name": manifest.name, "parameters": manifest.parameters,
        "size": limits.size, "written": written,
        "files": {name: {"sha256": entry.sha256, "bytes": entry.size} for name, entry in sorted(manifest.files.items())},
        "limits": {"memory_mb": limits.memory_mb, "load_seconds": limits.load_seconds,
                   "seconds_per_audio_second": limits.seconds_per_audio_second},
    }


def describe(data: dict) -> str:
    limits = data["limits"]
    done = f"wrote {data['folder']}/{MANIFEST_NAME}" if data["written"] else f"{data['folder']} matches its manifest"
    lines = [
        f"{done}: whisper-{data['name']}, {data['parameters'] / 1e6:.0f} M parameters ({data['size']} size class)",
        *(f"  {name:<26} {entry['bytes']:>13,} bytes  sha256 {entry['sha256']}" for name, entry in data["files"].items()),
        f"limits by default: {limits['memory_mb']} MB of address space (TRANSCRIBE_MEMORY_MB), "
        f"{limits['load_seconds']:g} s + {limits['seconds_per_audio_second']:g} s per second of audio "
        "(TRANSCRIBE_SECONDS_PER_AUDIO_SECOND)",
    ]
    return "\n".join(lines)

