"""Benchmark: retrieval latency per mode at 1k/10k/100k chunks, ingest throughput, RAG vs PE.

Scale-up: the real manual and policy chunks are copied (text with a copy number, so BM25 sees
distinct documents) and their real MiniLM vectors are reused with small Gaussian noise,
renormalised: search cost depends on the number of points and dimensions, not on prose, and
embedding 100k chunks on 2 cores would take ~12 minutes by itself. Ingest throughput is measured
separately on the real corpus with real embeddings.

    .venv/bin/python bench/retrieval.py [--sizes 1000,10000,100000] [--questions 20]

Writes bench/results/retrieval.json and .md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from store_assistant.config import load_settings
from store_assistant.store.documents import Chunk
from store_assistant.store.knowledge import (COLLECTION, EMBEDDER, MANIFEST_VERSION, MODES,
                                             SENTENCES, KnowledgeBase, close_knowledge_bases,
                                             ingest, read_manifest, sentences_of)
from store_assistant.store.knowledge.index import (node_of, open_client, sentence_nodes_of,
                                                   vector_store)
from store_assistant.store.inventory import Inventory, inventory_path

HERE = Path(__file__).parent
QUESTIONS = [q for q in (HERE / "questions.txt").read_text().splitlines() if q.strip()]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _points(client, collection: str) -> list:
    points, offset = [], None
    while True:
        batch, offset = client.scroll(collection, limit=1000, offset=offset, with_vectors=True)
        points += batch
        if offset is None:
            return points


def _text(payload: dict) -> str:
    return json.loads(payload["_node_content"])["text"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--skip-answers", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "retrieval")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    questions = QUESTIONS[:args.questions]
    work = Path(tempfile.mkdtemp(prefix="sa-bench-"))
    results: dict = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "command": f"python bench/retrieval.py --sizes {args.sizes} "
                                f"--questions {args.questions}", "sizes": {}}
    try:
        # 1. Ingest throughput on the real corpus (cold: includes loading the embedding model).
        base = load_settings({"data_dir": str(work / "real")})
        started = time.perf_counter()
        report = ingest(base, [(base.manuals_dir, "manual"), (base.policies_dir, "policy")],
                        progress=False)
        seconds = time.perf_counter() - started
        results["ingest"] = {"chunks": report.chunks, "seconds": round(seconds, 2),
                             "chunks_per_s": round(report.chunks / seconds, 1)}
        print("ingest", results["ingest"], flush=True)
        chunks = [Chunk(**d) for doc in read_manifest(base)["documents"].values()
                  for d in doc["chunks"]]
        # The ingest's own vectors, each chunk's and each of its sentences' (hybrid ranks chunks
        # by their closest sentence as well), copied with noise to make the larger corpora.
        client = open_client(base)
        by_chunk = {p.payload["chunk_id"]: p.vector for p in _points(client, COLLECTION)}
        by_line: dict[str, dict[str, list[float]]] = {}
        for p in _points(client, SENTENCES):
            by_line.setdefault(p.payload["chunk_id"], {})[_text(p.payload)] = p.vector
        client.close()
        vectors = np.array([by_chunk[c.id] for c in chunks])
        lines = [np.array([by_line[c.id][t] for t in sentences_of(c)]) for c in chunks]
        EMBEDDER.embed(["warm-up"])

        def noisy(vector: np.ndarray, copy: int) -> list[float]:
            if copy:
                vector = vector + rng.normal(0, 0.02, vector.shape[-1])
            return (vector / np.linalg.norm(vector)).tolist()

        # 2. Retrieval latency per mode at each size.
        rng = np.random.default_rng(0)
        for size in sizes:
            settings = load_settings({"data_dir": str(work / f"n{size}")})
            client = open_client(settings)
            store, sentence_store = vector_store(client), vector_store(client, SENTENCES)
            manifest_chunks, nodes, sentence_nodes = [], [], []
            for i in range(size):
                source = chunks[i % len(chunks)]
                copy = i // len(chunks)
                chunk = replace(source, id=f"{source.id}~{copy}", doc_id=f"{source.doc_id}~{copy}",
                                text=f"{source.text} (copy {copy})")
                manifest_chunks.append(chunk)
                nodes.append(node_of(chunk, noisy(vectors[i % len(chunks)], copy)))
                sentence_nodes += sentence_nodes_of(chunk, [noisy(v, copy)
                                                          for v in lines[i % len(chunks)]])
            started = time.perf_counter()
            for target, items in ((store, nodes), (sentence_store, sentence_nodes)):
                for start in range(0, len(items), 1000):
                    target.add(items[start:start + 1000])
            load_s = time.perf_counter() - started
            manifest = {"version": MANIFEST_VERSION, "documents": {"synthetic": {
                "sha": "-", "chunks": [c.__dict__ for c in manifest_chunks]}}}
            (settings.data_dir / "knowledge.json").write_text(json.dumps(manifest))
            kb = KnowledgeBase(settings, client=client)
            started = time.perf_counter()
            kb.search("warm-up", mode="bm25")
            bm25_build_s = time.perf_counter() - started
            row = {"points_load_s": round(load_s, 1), "bm25_build_s": round(bm25_build_s, 2),
                   "sentences": len(sentence_nodes)}
            for mode in MODES:
                kb.search(questions[0], mode=mode)  # warm
                latencies = []
                for q in questions:
                    latencies += timed(lambda: kb.search(q, mode=mode, k=4), 1)
                row[mode] = {"p50_ms": round(statistics.median(latencies), 1),
                             "p95_ms": round(percentile(latencies, 95), 1)}
            results["sizes"][str(size)] = row
            print(size, row, flush=True)
            client.close()
            shutil.rmtree(settings.data_dir, ignore_errors=True)

        # 3. RAG vs PE end-to-end on the embedded model, same questions, same run.
        if not args.skip_answers:
            from store_assistant.inference.gateway import Gateway
            from store_assistant.inference.local import RUNTIME
            from store_assistant.answering.strategies import build_strategy

            Inventory(inventory_path(base)).import_csv(base.inventory_csv)
            close_knowledge_bases()
            gateway = Gateway(base)
            llama = RUNTIME.load(gateway.model.split("/", 1)[1]).llama
            pe = build_strategy("pe-zero-shot", gateway, base)
            rag = build_strategy("rag-hybrid", gateway, base)
            pe.answer(questions[0]), rag.answer(questions[0])
            pe_ms, rag_ms = [], []
            for i, q in enumerate(questions):
                order = [(pe, pe_ms), (rag, rag_ms)][:: 1 if i % 2 else -1]
                for strategy, sink in order:
                    llama.reset()
                    sink.append(strategy.answer(q).latency_ms)
            results["answers"] = {
                "n": len(questions), "pe_p50_ms": round(statistics.median(pe_ms)),
                "rag_p50_ms": round(statistics.median(rag_ms)),
                "pe_p95_ms": round(percentile(pe_ms, 95)), "rag_p95_ms": round(percentile(rag_ms, 95)),
                "ratio_p50": round(statistics.median(rag_ms) / statistics.median(pe_ms), 2)}
            print("answers", results["answers"], flush=True)
    finally:
        close_knowledge_bases()
        shutil.rmtree(work, ignore_errors=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"# Retrieval and RAG latency ({results['when']})", "", f"`{results['command']}`", "",
             f"Ingest (real corpus, cold, embeddings included): {results['ingest']['chunks']} "
             f"chunks in {results['ingest']['seconds']} s = {results['ingest']['chunks_per_s']} "
             f"chunks/s.", "", "| chunks | dense p50/p95 ms | bm25 p50/p95 ms | hybrid p50/p95 ms |",
             "|---:|---:|---:|---:|"]
    for size, row in results["sizes"].items():
        lines.append(f"| {size} | " + " | ".join(f"{row[m]['p50_ms']} / {row[m]['p95_ms']}"
                                                 for m in MODES) + " |")
    if "answers" in results:
        a = results["answers"]
        lines += ["", f"RAG (rag-hybrid) vs PE (pe-zero-shot) answer latency, {a['n']} questions, "
                      f"embedded model: p50 {a['rag_p50_ms']} ms vs {a['pe_p50_ms']} ms "
                      f"(ratio {a['ratio_p50']}; goal <= 1.5), p95 {a['rag_p95_ms']} vs "
                      f"{a['pe_p95_ms']} ms."]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
