"""All-or-nothing ingests: a copy of the index to ingest into, put in the index's place by
`commit()`, so a failed or interrupted ingest leaves the live index as it was.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path
from contextlib import contextmanager
from typing import Iterator

from store_assistant.files import write_atomic
from store_assistant.config import Settings
from store_assistant.errors import RetrievalError
from store_assistant.store.knowledge.index import open_client, close_knowledge_bases, manifest_path


class StagedIndex:
    """A copy of the index to ingest into; `commit()` puts it in the index's place. See
    `staged_index`."""

    def __init__(self, settings: Settings, scratch: Path, copy: bool) -> None:
        self.target = settings
        self.scratch = scratch
        self.committed = False
        server = bool(settings.qdrant_url)
        # With a Qdrant server the collections can only be changed in place (the manifest, written
        # last, still marks what is done); a local folder is copied and swapped whole.
        self.settings = dataclasses.replace(settings, data_dir=scratch / "data",
                                            qdrant_path=None if server else scratch / "qdrant")
        self.settings.data_dir.mkdir()
        if copy and manifest_path(settings).is_file():
            shutil.copy2(manifest_path(settings), manifest_path(self.settings))
        if copy and not server and settings.qdrant_location.is_dir():
            shutil.copytree(settings.qdrant_location, self.settings.qdrant_location,
                            ignore=shutil.ignore_patterns(".lock"))

    def commit(self) -> None:
        """The staged index and manifest replace the live ones (renames on one file system)."""
        if self.committed:
            return
        close_knowledge_bases()
        live, staged = self.target.qdrant_location, self.settings.qdrant_location
        if staged.is_dir():
            old = self.scratch / "replaced"
            if live.exists():
                os.replace(live, old)
            try:
                os.replace(staged, live)
            except OSError:
                if old.exists():
                    os.replace(old, live)
                raise
        if manifest_path(self.settings).is_file():
            write_atomic(manifest_path(self.target), manifest_path(self.settings).read_bytes())
        self.committed = True


@contextmanager
def staged_index(settings: Settings, rebuild: bool = False) -> Iterator[StagedIndex]:
    """A copy of the index (the Qdrant folder and the manifest) for `ingest`, so that a failure
    anywhere in the block leaves the live index as it was. Call `staged.commit()` to put it in
    place; leaving the block without committing deletes it.

        with staged_index(settings) as staged:
            ingest(staged.settings, sources)
            ... other steps that may fail ...
            staged.commit()
    """
    copy = not rebuild
    if not settings.qdrant_url and settings.qdrant_location.is_dir():
        # The live folder must not be in use (an app writing to it) and must open: a corrupt one
        # is an error naming the fix, unless this is the rebuild that replaces it.
        close_knowledge_bases()
        try:
            open_client(settings).close()
        except RetrievalError as exc:
            if not rebuild or "in use" in str(exc):
                raise
    where = settings.qdrant_location.parent if not settings.qdrant_url else settings.data_dir
    where.mkdir(parents=True, exist_ok=True)
    for stale in where.glob(".ingest-*-*"):  # left by an ingest that was killed mid-way
        if not _alive(stale.name.split("-")[1]):
            shutil.rmtree(stale, ignore_errors=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".ingest-{os.getpid()}-", dir=where))
    try:
        yield StagedIndex(settings, scratch, copy)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _alive(pid: str) -> bool:
    """Whether the process that made a scratch folder still runs (then it is not stale)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (ValueError, OSError):
        return True  # not ours to judge: leave it
    return True
