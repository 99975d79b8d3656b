"""The store's knowledge index: the chunks of the manuals and policies (`documents.py`), searchable.

`ingest()` embeds every chunk, and every sentence of it, with a packaged embedding model (MiniLM,
or multilingual-e5-small: the `embeddings` setting; the manifest records which) and stores them in
Qdrant (two collections; local mode on disk by default, a server when `qdrant_url` is set)
through llama-index, the only package here that imports either. It is incremental: a manifest of
content hashes in the data directory says which files changed, so unchanged files are skipped and
removed files are removed. `KnowledgeBase.search()` offers dense, BM25 and hybrid retrieval
(reciprocal rank fusion of chunks by meaning, chunks by their closest sentence, and BM25);
`sections()` gives each section once. BM25 is rebuilt in memory from the manifest at start-up
(milliseconds for a few hundred chunks), which keeps one source of truth on disk.

The package reads top to bottom: `embeddings` (the packaged models), `index` (Qdrant, the manifest,
`ingest`), `staging` (all-or-nothing ingests), `search` (dense, BM25, hybrid). Its names are
imported from here.
"""

from store_assistant.store.knowledge.embeddings import (EMBEDDER, EMBEDDERS, EMBEDDING_PACKAGE,
                                                        E5Embedder, Embedder, built_with, embedder)
from store_assistant.store.knowledge.index import (COLLECTION, MANIFEST, MANIFEST_VERSION,
                                                   SENTENCE_WORDS, SENTENCES, IngestReport,
                                                   close_knowledge_bases, ingest, manifest_path,
                                                   read_manifest, read_sources, sentences_of)
from store_assistant.store.knowledge.search import (MODES, RRF_K, Hit, KnowledgeBase, distinct,
                                                    fuse, knowledge_base)
from store_assistant.store.knowledge.staging import StagedIndex, staged_index

__all__ = ["COLLECTION", "E5Embedder", "EMBEDDER", "EMBEDDERS", "EMBEDDING_PACKAGE", "Embedder",
           "Hit", "IngestReport", "KnowledgeBase", "MANIFEST", "MANIFEST_VERSION", "MODES",
           "RRF_K", "SENTENCES", "SENTENCE_WORDS", "StagedIndex", "built_with",
           "close_knowledge_bases", "distinct", "embedder", "fuse", "ingest", "knowledge_base",
           "manifest_path", "read_manifest", "read_sources", "sentences_of", "staged_index"]
