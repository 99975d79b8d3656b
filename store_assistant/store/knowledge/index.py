"""The index on disk: Qdrant (local mode, or a server when `qdrant_url` is set) through
llama-index, two collections (chunks, and each chunk's sentences), and the manifest of content
hashes that makes `ingest()` incremental: unchanged files are skipped, removed ones removed.
"""

from __future__ import annotations

import atexit
import json
import re
import shutil
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from store_assistant.files import write_atomic
from store_assistant.store import policy_rules
from store_assistant.store.documents import Chunk, read_folder
from store_assistant.config import Settings
from store_assistant.errors import DataError, RetrievalError
from store_assistant.store.knowledge.embeddings import built_with, embedder


COLLECTION = "store_knowledge"
# Every sentence of every chunk, embedded on its own: a question about one line of a long section
# ("how long is an FT8 cycle?") is close in meaning to that line, not to the section's average.
SENTENCES = "store_knowledge_sentences"
MANIFEST = "knowledge.json"
MANIFEST_VERSION = 2  # 2: with the sentence collection; an index of version 1 is rebuilt
SENTENCE_WORDS = 4  # shorter lines ("Black", "Step 2") are not embedded on their own


def open_client(settings: Settings, rebuild: bool = False):
    """A Qdrant client for the settings' server or local folder. With `rebuild`, a local folder
    that cannot be opened (corrupt files, not a lock) is deleted and started afresh: it holds only
    what `ingest` derives from the markdown, so nothing is lost."""
    from qdrant_client import QdrantClient

    if settings.qdrant_url:
        try:
            client = QdrantClient(url=settings.qdrant_url, timeout=int(settings.timeout_s))
            client.get_collections()
        except Exception as exc:
            raise RetrievalError(f"Cannot reach the Qdrant server at {settings.qdrant_url} ({exc}). "
                                 f"Start it, fix STORE_ASSISTANT_QDRANT_URL, or unset it to use "
                                 f"local mode.") from None
        return client
    path = settings.qdrant_location
    path.mkdir(parents=True, exist_ok=True)
    try:
        return QdrantClient(path=str(path))
    except Exception as exc:
        if "already accessed" in str(exc):
            raise RetrievalError(f"The index at {path} is in use by another process (is the app "
                                 f"running?). Stop it first, or use a Qdrant server "
                                 f"(STORE_ASSISTANT_QDRANT_URL).") from None
        if not rebuild:
            raise RetrievalError(f"The index at {path} cannot be opened ({type(exc).__name__}: "
                                 f"{exc}). Run `store-assistant ingest --rebuild`.") from None
    shutil.rmtree(path)
    path.mkdir(parents=True)
    return QdrantClient(path=str(path))


def vector_store(client, collection: str = COLLECTION):
    from llama_index.vector_stores.qdrant import QdrantVectorStore

    return QdrantVectorStore(collection_name=collection, client=client)


def node_of(chunk: Chunk, vector: list[float]):
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    metadata = {k: v for k, v in asdict(chunk).items() if k != "text" and v is not None}
    metadata["chunk_id"] = metadata.pop("id")
    node = TextNode(id_=str(uuid.uuid5(uuid.NAMESPACE_URL, chunk.id)), text=chunk.text,
                    metadata=metadata, embedding=vector)
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=chunk.doc_id)
    return node


def embedding_text(chunk: Chunk) -> str:
    return f"{chunk.title} > {chunk.heading}\n{chunk.text}"


def sentences_of(chunk: Chunk) -> list[str]:
    """The chunk's sentences and list items of SENTENCE_WORDS words or more."""
    parts = re.split(r"(?<=[.!?])\s+|\n+", chunk.text)
    return [p.strip() for p in parts if len(p.split()) >= SENTENCE_WORDS]


def sentence_nodes_of(chunk: Chunk, vectors: list[list[float]]) -> list:
    nodes = []
    for i, (text, vector) in enumerate(zip(sentences_of(chunk), vectors)):
        node = node_of(chunk, vector)
        node.id_ = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{chunk.id}~{i}"))
        node.text = text
        nodes.append(node)
    return nodes


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks: int = 0

    def __str__(self) -> str:
        return (f"{self.added} added, {self.updated} updated, {self.removed} removed, "
                f"{self.unchanged} unchanged documents; {self.chunks} chunks in the index")


def manifest_path(settings: Settings) -> Path:
    return settings.data_dir / MANIFEST


def _old_version(settings: Settings) -> bool:
    """True when the index was built by an older version of this code: rebuilt, not patched."""
    try:
        found = json.loads(manifest_path(settings).read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError, AttributeError):
        return False  # missing or unreadable: read_manifest says so
    return found != MANIFEST_VERSION


def _other_embeddings(settings: Settings) -> bool:
    """True when the index was built with another embedding model than the setting names."""
    try:
        manifest = json.loads(manifest_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and built_with(manifest) != settings.embeddings


def read_manifest(settings: Settings) -> dict:
    path = manifest_path(settings)
    if not path.exists():
        return {"version": MANIFEST_VERSION, "documents": {}}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("version") != MANIFEST_VERSION:
            raise ValueError("old manifest version")
        return manifest
    except (ValueError, OSError) as exc:
        raise RetrievalError(f"{path} is unreadable ({exc}). Run `store-assistant ingest "
                             f"--rebuild`.") from None


def read_sources(sources: Iterable[tuple[Path, str]]) -> dict[str, tuple[str, list[Chunk]]]:
    """Every document of every (folder, kind), read and checked; one DataError naming every
    problem in every folder, so a user fixes them in one pass."""
    documents: dict[str, tuple[str, list[Chunk]]] = {}
    problems = []
    for folder, kind in sources:
        try:
            documents.update(read_folder(Path(folder), kind))
            if kind == "policy":
                policy_rules.load(Path(folder))  # its figures must match the policies read
        except DataError as exc:
            problems.append(str(exc))
    if problems:
        raise DataError("\n".join(problems))
    return documents


def ingest(settings: Settings, sources: Iterable[tuple[Path, str]], rebuild: bool = False,
           progress: bool = True, client=None,
           documents: dict[str, tuple[str, list[Chunk]]] | None = None) -> IngestReport:
    """Bring the index in line with the manuals (markdown, HTML, PDF) in `sources` [(folder, kind)].

    Everything is read and validated before the index is touched (or given as `documents`, from
    `read_sources`); the manifest is written last, so an interrupted ingest is repaired by the next
    one (changed files are re-embedded). For all-or-nothing, ingest into `staged_index`.
    """
    sources = [(Path(folder).resolve(), kind) for folder, kind in sources]
    if documents is None:
        documents = read_sources(sources)
    rebuild = rebuild or _old_version(settings) or _other_embeddings(settings)
    manifest = {"version": MANIFEST_VERSION, "documents": {}} if rebuild else read_manifest(settings)
    old = manifest["documents"]
    report = IngestReport()
    owns_client = client is None
    if owns_client:
        close_knowledge_bases()  # local mode: this process may hold the folder open for searching
    client = client or open_client(settings, rebuild)
    try:
        for collection in (COLLECTION, SENTENCES):
            if rebuild and client.collection_exists(collection):
                client.delete_collection(collection)
        stores = [vector_store(client), vector_store(client, SENTENCES)]
        if not all(client.collection_exists(c) for c in (COLLECTION, SENTENCES)):
            old = {}  # an index folder that lost a collection: re-embed everything
        for doc_id in set(old) - set(documents):
            for store in stores:
                store.delete(doc_id)
            report.removed += 1
        todo = [doc_id for doc_id, (sha, _) in documents.items()
                if old.get(doc_id, {}).get("sha") != sha]
        report.unchanged = len(documents) - len(todo)
        chunks = [chunk for doc_id in todo for chunk in documents[doc_id][1]]
        if chunks:
            from tqdm import tqdm

            nodes, lines = [], []
            batch = 64
            with tqdm(total=len(chunks), desc="embedding", unit="chunk", disable=not progress) as bar:
                for start in range(0, len(chunks), batch):
                    part = chunks[start:start + batch]
                    vectors = embedder(settings).embed([embedding_text(c) for c in part])
                    nodes += [node_of(c, v) for c, v in zip(part, vectors)]
                    texts = [(c, t) for c in part for t in sentences_of(c)]
                    vectors = embedder(settings).embed([t for _, t in texts]) if texts else []
                    for chunk in part:
                        own = [v for (c, _), v in zip(texts, vectors) if c is chunk]
                        lines += sentence_nodes_of(chunk, own)
                    bar.update(len(part))
            for doc_id in todo:
                if doc_id in old:
                    for store in stores:
                        store.delete(doc_id)
                    report.updated += 1
                else:
                    report.added += 1
            stores[0].add(nodes)
            if lines:
                stores[1].add(lines)
    finally:
        if owns_client:
            client.close()
    new_manifest = {"version": MANIFEST_VERSION, "embeddings": settings.embeddings,
                    "sources": [[str(folder), kind] for folder, kind in sources], "documents": {
        doc_id: {"sha": sha, "chunks": [asdict(c) for c in chunks_]}
        for doc_id, (sha, chunks_) in sorted(documents.items())}}
    write_atomic(manifest_path(settings), json.dumps(new_manifest, indent=1))
    report.chunks = sum(len(c) for _, c in documents.values())
    return report

OPEN: dict[tuple, object] = {}  # the open KnowledgeBase of each index (search.py)
OPEN_LOCK = threading.Lock()


def close_knowledge_bases() -> None:
    """Release every open index (before `ingest` writes to the same folder in this process)."""
    with OPEN_LOCK:
        for kb in OPEN.values():
            kb.close()  # type: ignore[attr-defined]
        OPEN.clear()


# Closed while the interpreter is still whole: left to qdrant-client's __del__ at shutdown, the
# local client printed an ImportError traceback after every CLI answer.
atexit.register(close_knowledge_bases)
