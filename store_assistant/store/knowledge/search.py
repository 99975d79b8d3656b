"""Searching the index: dense (Qdrant), BM25 (rebuilt in memory from the manifest at start-up,
milliseconds for a few hundred chunks) and hybrid (reciprocal rank fusion of chunks by meaning,
chunks by their closest sentence, and BM25). `sections()` gives each section once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from store_assistant.store.documents import SUFFIXES, Chunk
from store_assistant.config import Settings
from store_assistant.errors import DataError, RetrievalError
from store_assistant.store.knowledge.embeddings import built_with, embedder
from store_assistant.store.knowledge.index import (IngestReport, SENTENCES, OPEN, OPEN_LOCK,
                                                   embedding_text, open_client, vector_store,
                                                   ingest, read_manifest)


# Cormack et al. (2009) use 60; 20 (more weight on the very top ranks) was picked on the odd
# questions of the long-manual benchmark and confirmed on the even ones (bench/long_manual).
RRF_K = 20
MODES = ("dense", "bm25", "hybrid")
log = logging.getLogger("store_assistant.store.knowledge")


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float


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
        self._client = client or open_client(settings)
        self._store = vector_store(self._client)
        self._sentences = vector_store(self._client, SENTENCES)
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

            nodes = [TextNode(id_=c.id, text=embedding_text(c), metadata={"chunk_id": c.id})
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


def knowledge_base(settings: Settings) -> KnowledgeBase:
    """The process's one KnowledgeBase per index: Qdrant local mode allows a single client."""
    key = (str(settings.data_dir.resolve()), str(settings.qdrant_location), settings.qdrant_url)
    with OPEN_LOCK:
        if key not in OPEN:
            OPEN[key] = KnowledgeBase(settings)
        return OPEN[key]
