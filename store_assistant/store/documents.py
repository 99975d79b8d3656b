"""The manuals and policies as the assistant reads them: documents split by heading into chunks.

Markdown is read as written. HTML is converted to markdown by markdownify (headings kept; images,
scripts and the front matter before the first heading dropped). A PDF is read with pypdf: its
outline (bookmarks) gives the heading tree and each section's page, and its text layer the words;
a PDF without an outline is read page by page ("Page 12"). Each chunk keeps its heading path
("Troubleshooting > No sound"), its page for a PDF, its document's title and, for a markdown
product manual, the product's SKU and category from the front matter (optional: a file's title
and product come from its first heading or its name). A bad file (empty, binary, not UTF-8, no
headings, a scanned PDF with no text) is reported by name and nothing is read from its folder.
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
SUFFIXES = (".md", ".html", ".htm", ".pdf")


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
    page: int | None = None  # the PDF page (1-based) the section starts on



def slug(text: str) -> str:
    """'Troubleshooting > No sound!' -> 'troubleshooting-no-sound'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def read_document(path: Path, root: Path, kind: str) -> list[Chunk]:
    """Chunks of one markdown, HTML or PDF file, or a DataError naming the file and the fix."""
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path} is empty. Add content or remove the file.")
    suffix = path.suffix.lower()
    relative = path.relative_to(root)
    # A markdown file's id has no suffix (ids in the golden cases predate other formats); an HTML
    # and a PDF copy of one manual side by side stay two documents.
    doc_id = f"{kind}:{relative.with_suffix('').as_posix() if suffix == '.md' else relative.as_posix()}"
    if suffix == ".pdf":
        title, sections = _read_pdf(path, raw)
        meta: dict = {}
    else:
        if b"\x00" in raw:
            raise DataError(f"{path} looks binary, not {suffix[1:]} text. Remove it from the folder.")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}). "
                            f"Save it as UTF-8.") from None
        if suffix == ".md":
            meta, body = _front_matter(text, path)
        else:
            meta, body = {}, html_markdown(text)
        sections = [(heading, content, None) for heading, content in _sections(body)]
        if suffix != ".md":  # "2. My UPS driver says it's *broken*" -> without the emphasis
            sections = [(re.sub(r"(?<!\w)[*_]+|[*_]+(?!\w)", "", h), c, p) for h, c, p in sections]
        if suffix != ".md":  # what comes before the first heading is navigation and contents
            sections = [section for section in sections if section[0]]
        title = _first_h1(body) if suffix == ".md" else _html_title(text) or _first_h1(body)
        if not sections:
            raise DataError(f"{path} has no {'markdown' if suffix == '.md' else 'HTML'} headings. "
                            f"Add a '# Title' line and '## Section' headings (<h1>, <h2> in HTML) "
                            f"so answers can cite a section.")
    title = str(meta.get("product") or meta.get("title") or title
                or path.stem.replace("-", " ").replace("_", " ").title())
    product = str(meta.get("product") or title) if kind == "manual" else None
    chunks, seen = [], set()
    for heading, content, page in sections:
        for part, words in enumerate(_split_words(content)):
            heading_path = heading or "Overview"
            chunk_id = f"{doc_id}#{slug(heading_path)}" + (f"-{part + 1}" if part else "")
            while chunk_id in seen:  # two sections with the same heading
                chunk_id += "-b"
            seen.add(chunk_id)
            chunks.append(Chunk(id=chunk_id, doc_id=doc_id, kind=kind, title=title,
                                heading=heading_path, text=words, product=product,
                                sku=str(meta["sku"]) if meta.get("sku") else None,
                                category=str(meta["category"]) if meta.get("category") else None,
                                page=page))
    return chunks


def html_markdown(html: str) -> str:
    """An HTML page as markdown with ATX headings; no images (often inline base64), scripts,
    styles or link targets."""
    from markdownify import markdownify

    return markdownify(html, heading_style="ATX", strip=["img", "script", "style", "a"])


def _html_title(html: str) -> str | None:
    match = re.search(r"<title[^>]*>(.*?)</title>", html, re.IGNORECASE | re.DOTALL)
    return " ".join(match.group(1).split()) if match and match.group(1).strip() else None


def _read_pdf(path: Path, raw: bytes) -> tuple[str | None, list[tuple[str, str, int | None]]]:
    """(title, [(heading path, text, page)]) from a PDF's outline and text layer."""
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed-but-readable files are common
    try:
        reader = PdfReader(io.BytesIO(raw))
        pages = [_clean(page.extract_text() or "") for page in reader.pages]
        outline = _outline(reader)
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path} is not a readable PDF ({type(exc).__name__}: {exc}).") from None
    if not any(page.strip() for page in pages):
        raise DataError(f"{path} has no text layer (a scanned PDF?). Run it through OCR first, "
                        f"or remove it from the folder.")
    title = (reader.metadata or {}).get("/Title") or None
    if not outline:  # no bookmarks: a section a page, cited by its page number
        return title, [(f"Page {i}", text, i) for i, text in enumerate(pages, 1) if text.strip()]
    # Cut each page's text where its outline entries' titles start; the text before the first
    # entry (cover, contents) is left out.
    marks = []  # (page index, offset, heading path)
    stack: list[str] = []
    cursor = {}
    for depth, name, index in outline:
        stack = stack[:depth] + [name]
        found = _find_title(pages[index], name, cursor.get(index, 0))
        offset = found if found is not None else cursor.get(index, 0)
        cursor[index] = offset
        marks.append((index, offset, " > ".join(stack)))
    sections = []
    for n, (index, offset, heading) in enumerate(marks):
        end_index, end_offset = (marks[n + 1][:2] if n + 1 < len(marks)
                                 else (len(pages) - 1, len(pages[-1])))
        if (end_index, end_offset) < (index, offset):
            end_index, end_offset = index, len(pages[index])
        parts = [pages[index][offset:end_offset] if end_index == index else pages[index][offset:]]
        parts += pages[index + 1:end_index]
        if end_index != index:
            parts.append(pages[end_index][:end_offset])
        text = "\n".join(parts).strip()
        own = re.match(r"[\dA-Z.]*\s*" + _title_pattern(heading.split(" > ")[-1], 0).pattern, text)
        text = text[own.end():].strip() if own else text  # the heading is the path, not text
        sections.append((heading, text, index + 1))
    return title, [s for s in sections if s[1]]


def _outline(reader) -> list[tuple[int, str, int]]:
    """[(depth, title, page index)] of a PDF's bookmarks, in order."""
    found: list[tuple[int, str, int]] = []

    def walk(items, depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
                continue
            try:
                index = reader.get_destination_page_number(item)
            except Exception:  # a bookmark to nowhere: skipped, not fatal
                continue
            if index is not None and index >= 0 and str(item.title).strip():
                found.append((depth, " ".join(str(item.title).split()), index))

    walk(reader.outline, 0)
    return found


_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                         "\u2026": "...", "\ufb01": "fi", "\ufb02": "fl"})


def _clean(text: str) -> str:
    return text.translate(_QUOTES)


def _find_title(page: str, title: str, start: int) -> int | None:
    """Where a heading starts on its page (with any section number printed before it): its
    first words, ignoring spacing and punctuation ("and ..." is "and . . ." in the text)."""
    match = _title_pattern(title).search(page, start) or _title_pattern(title).search(page)
    if match is None:
        return None
    line_start = page.rfind("\n", 0, match.start()) + 1
    prefix = page[line_start:match.start()]
    return line_start if re.fullmatch(r"[\dA-Z.]*\s*", prefix) else match.start()


def _title_pattern(title: str, first: int = 6) -> re.Pattern:
    """The title's first words (all with `first=0`), any spacing or punctuation between them."""
    words = re.findall(r"\w+", _clean(title))
    words = (words[:first] if first else words) or [title]
    return re.compile(r"\W*".join(re.escape(w) for w in words) + r"\W*")


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
    in_fence = False
    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
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
            heading = " ".join(match.group(2).split())  # a non-breaking space is a space
            stack = [(lv, h) for lv, h in stack if lv < level] + [(level, heading)]
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
    """{doc_id: (sha256, chunks)} for every markdown, HTML and PDF file below `folder`; all
    problems reported at once."""
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder of manuals (markdown, HTML or PDF).")
    documents, problems = {}, []
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    for path in paths:
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
        raise DataError(f"{folder} has no .md, .html or .pdf files to ingest.")
    return documents
