"""The manuals and policies as the assistant reads them: markdown split by heading into chunks.

Each chunk keeps its heading path ("Troubleshooting > No sound"), its document's title and, for a
product manual, the product's SKU and category from the front matter (optional: a file's title and
product come from its first heading or its name). A bad file (empty, binary, not UTF-8, no
headings) is reported by name and nothing is read from its folder.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from store_assistant.errors import DataError

# A section longer than this is split at paragraph breaks: MiniLM reads 256 word pieces at most, and
# short chunks keep the RAG prompt (and so CPU prompt time) small.
MAX_CHUNK_WORDS = 160
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Chunk:
    id: str  # "manual:sony-wh-1000xm5#specifications"
    doc_id: str  # "manual:sony-wh-1000xm5"
    kind: str  # "manual" | "policy"
    title: str
    heading: str  # heading path below the title: "Troubleshooting > No sound"
    text: str
    product: str | None = None
    sku: str | None = None
    category: str | None = None



def slug(text: str) -> str:
    """'Troubleshooting > No sound!' -> 'troubleshooting-no-sound'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def read_document(path: Path, root: Path, kind: str) -> list[Chunk]:
    """Chunks of one markdown file, or a DataError naming the file and the fix."""
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path} is empty. Add content or remove the file.")
    if b"\x00" in raw:
        raise DataError(f"{path} looks binary, not markdown. Remove it from the folder.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}). "
                        f"Save it as UTF-8.") from None
    meta, body = _front_matter(text, path)
    relative = path.relative_to(root).with_suffix("").as_posix()
    doc_id = f"{kind}:{relative}"
    sections = _sections(body)
    if not sections:
        raise DataError(f"{path} has no markdown headings. Add a '# Title' line and '## Section' "
                        f"headings so answers can cite a section.")
    title = str(meta.get("product") or meta.get("title") or _first_h1(body)
                or path.stem.replace("-", " ").replace("_", " ").title())
    product = str(meta.get("product") or title) if kind == "manual" else None
    chunks, seen = [], set()
    for heading, content in sections:
        for part, words in enumerate(_split_words(content)):
            heading_path = heading or "Overview"
            chunk_id = f"{doc_id}#{slug(heading_path)}" + (f"-{part + 1}" if part else "")
            while chunk_id in seen:  # two sections with the same heading
                chunk_id += "-b"
            seen.add(chunk_id)
            chunks.append(Chunk(id=chunk_id, doc_id=doc_id, kind=kind, title=title,
                                heading=heading_path, text=words, product=product,
                                sku=str(meta["sku"]) if meta.get("sku") else None,
                                category=str(meta["category"]) if meta.get("category") else None))
    return chunks


def _front_matter(text: str, path: Path) -> tuple[dict, str]:
    if not text.startswith("---"):
        return {}, text
    end = text.find("\n---", 3)
    if end == -1:
        raise DataError(f"{path}: front matter starts with '---' but never ends. Close it with a "
                        f"'---' line.")
    try:
        meta = yaml.safe_load(text[3:end]) or {}
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: front matter is not valid YAML ({exc}).") from None
    if not isinstance(meta, dict):
        raise DataError(f"{path}: front matter must be 'key: value' lines.")
    return meta, text[end + 4:].lstrip("-\n")


def _first_h1(body: str) -> str | None:
    for line in body.splitlines():
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 1:
            return match.group(2)
    return None


def _sections(body: str) -> list[tuple[str, str]]:
    """[(heading path below the H1, text)] for every section with text; [] when no headings."""
    stack: list[tuple[int, str]] = []
    sections: list[tuple[str, list[str]]] = []
    current: list[str] = []
    heading_seen, in_fence = False, False
    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            heading_seen = True
            sections.append((" > ".join(h for level, h in stack if level > 1), current))
            level = len(match.group(1))
            stack = [(lv, h) for lv, h in stack if lv < level] + [(level, match.group(2))]
            current = []
        else:
            current.append(line)
    sections.append((" > ".join(h for level, h in stack if level > 1), current))
    if not heading_seen:
        return []
    return [(heading, "\n".join(lines).strip()) for heading, lines in sections
            if "\n".join(lines).strip()]


def _split_words(text: str) -> list[str]:
    """The section as one chunk, or several at paragraph breaks if it is long."""
    if len(text.split()) <= MAX_CHUNK_WORDS:
        return [text]
    parts, current = [], []
    for paragraph in re.split(r"\n\s*\n", text):
        if current and len(" ".join(current).split()) + len(paragraph.split()) > MAX_CHUNK_WORDS:
            parts.append("\n\n".join(current))
            current = []
        current.append(paragraph)
    parts.append("\n\n".join(current))
    return parts


def read_folder(folder: Path, kind: str) -> dict[str, tuple[str, list[Chunk]]]:
    """{doc_id: (sha256, chunks)} for every .md file below `folder`; all problems reported at once."""
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder of markdown files.")
    documents, problems = {}, []
    for path in sorted(folder.rglob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        try:
            chunks = read_document(path, folder, kind)
        except DataError as exc:
            problems.append(str(exc))
            continue
        documents[chunks[0].doc_id] = (hashlib.sha256(path.read_bytes()).hexdigest(), chunks)
    if problems:
        raise DataError(f"{len(problems)} file(s) cannot be ingested; nothing was changed:\n  "
                        + "\n  ".join(problems))
    if not documents:
        raise DataError(f"{folder} has no .md files to ingest.")
    return documents
