"""A video's chapters in its outputs (CONTRACT 4c): written from what its encode found, or none.

``write`` decides the chapters from the candidates the encode left (one pass:
its own; an encode in parts: all its parts', see ``domain.video.chapters.decide``)
and lays out ``hls/chapters.json``, its images, ``chapters.vtt`` and the
master's SESSION-DATA line in the local output tree. ``stale`` names, before
the upload, what an earlier encode published that this one does not replace
(every chapter file when this encode found none, the images past the new last
chapter otherwise); ``drop`` deletes them once the new master is up, so no
earlier chapters stay listed or readable.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from domain.errors import SourceNotFound
from domain.ports import ObjectStorage
from domain.video import chapter_files
from domain.video.chapters import CANDIDATES_FILE, Chapter, decide, dump_candidates, load_candidates

log = logging.getLogger(__name__)


class ChapterOutputs:
    """Writes a video's chapters and removes the ones an earlier encode left.

    Parameters:
      storage: the bucket holding the video's outputs.
      min_seconds: the shortest chapter (CHAPTER_MIN_SECONDS).
    """

    def __init__(self, storage: ObjectStorage, *, min_seconds: float) -> None:
        self.storage = storage
        self.min_seconds = min_seconds

    def write(self, slides_dir: Path, out: Path, master: Path, duration_seconds: float) -> list[Chapter]:
        """Decide the chapters from ``slides_dir``'s candidates and write them under ``out``; return them.

        Parameters:
          slides_dir: where the encode left ``candidates.json`` and the candidates' images.
          out: the local mirror of the video's prefix (``hls/`` inside).
          master: the local master playlist, which gets the SESSION-DATA line when there are chapters.
          duration_seconds: the video's duration.
        """
        try:
            candidates = load_candidates((slides_dir / CANDIDATES_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []  # the encode looked for no slides
        except ValueError as error:
            log.warning("the slide changes found could not be read (%s); no chapters", error)
            return []
        chapters = decide(candidates, duration_seconds=duration_seconds, min_seconds=self.min_seconds)
        images = [slides_dir / chapter.image for chapter in chapters]
        if not all(chapter.image == image.name and image.is_file() for chapter, image in zip(chapters, images)):
            log.warning("a chapter's slide image is missing; no chapters")
            return []
        if chapters:
            folder = master.parent / chapter_files.IMAGE_FOLDER
            folder.mkdir(exist_ok=True)
            for chapter, image in zip(chapters, images):
                shutil.copyfile(image, folder / chapter_files.image_name(chapter.number))
            (master.parent / chapter_files.JSON_NAME).write_text(chapter_files.chapters_json(chapters), encoding="utf-8")
            (out / chapter_files.VTT_NAME).write_text(chapter_files.chapters_vtt(chapters, duration_seconds),
                                                      encoding="utf-8")
        master.write_text(chapter_files.with_chapters(master.read_text(), bool(chapters)))
        return chapters

    @staticmethod
    def gather(folders: Sequence[Path], into: Path) -> None:
        """The candidates of several ranges (a video's parts) as one encode's: one ``candidates.json``
        and every image in ``into``. A part without its file found nothing (or looked for nothing).

        Parameters:
          folders: each part's folder, as its encode left it.
          into: the folder ``write`` then reads.
        """
        into.mkdir(parents=True, exist_ok=True)
        found = []
        for folder in folders:
            try:
                found += load_candidates((folder / CANDIDATES_FILE).read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue
            for image in folder.glob("*.jpg"):  # named by their time on the whole video: no two alike
                shutil.copyfile(image, into / image.name)
        (into / CANDIDATES_FILE).write_text(dump_candidates(found), encoding="utf-8")

    def stale(self, prefix: str, chapters: Sequence[Chapter]) -> list[str]:
        """The keys under ``prefix`` an earlier encode wrote that these ``chapters`` leave behind.

        Parameters:
          prefix: the video's output prefix (``videos/{tenant}/{id}``).
          chapters: what this encode found.
        """
        hls = f"{prefix}/hls"
        try:
            previous = chapter_files.listed_images(self.storage.read_text(f"{hls}/{chapter_files.JSON_NAME}"))
        except SourceNotFound:
            previous = []
        kept = {chapter_files.image_name(chapter.number) for chapter in chapters}
        keys = [f"{hls}/{chapter_files.IMAGE_FOLDER}/{name}" for name in dict.fromkeys(previous) if name not in kept]
        if not chapters:
            keys += [f"{hls}/{chapter_files.JSON_NAME}", f"{prefix}/{chapter_files.VTT_NAME}"]
        return keys

    def drop(self, keys: Sequence[str]) -> None:
        """Delete ``keys`` (from ``stale``), after the new master is uploaded.

        Parameters:
          keys: the objects to delete.
        """
        if keys:
            self.storage.delete_keys(keys)
