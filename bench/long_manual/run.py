"""Benchmark: retrieval on a long third-party manual (the WSJT-X User Guide, 161 questions).

The manual is fetched by `fetch.sh` (a pinned, hash-checked Debian package), ingested as HTML by
the product's own reader into a scratch index, and every question is ranked by each retrieval
mode. The baseline is plain BM25 over the same sections' text (no title or heading path), as the
issue asks: no shipped mode may lose to it. Scores are per section, ranked by
`KnowledgeBase.sections`, the function that picks the five sources an answer lists (a section split
into several chunks counts once, at its best rank):

- hit@1, hit@5: the gold section is first / in the top 5;
- MRR: mean of 1/rank of the gold section (0 when not in the top 20).

    .venv/bin/python bench/long_manual/run.py

Writes bench/results/long-manual.json and .md. Answers (ROUGE-L against the references, unsupported
claims) are not measured here yet.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from store_assistant.config import load_settings
from store_assistant.evaluation.runner import source_commit
from store_assistant.files import write_all_atomic
from store_assistant.store.knowledge import MODES, Hit, close_knowledge_bases, ingest, knowledge_base

HERE = Path(__file__).parent
RESULTS = HERE.parent / "results"
DEPTH = 20


def questions() -> list[dict]:
    return [json.loads(line) for line in (HERE / "questions.jsonl").read_text().splitlines()
            if line.strip()]


def fetch() -> Path:
    out = subprocess.run(["bash", str(HERE / "fetch.sh")], check=True, capture_output=True,
                         text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def sections(hits: list[Hit]) -> list[str]:
    """The heading paths of the ranked chunks, each once, best first."""
    return list(dict.fromkeys(hit.chunk.heading for hit in hits))


def plain_bm25(chunks: list):
    """BM25 over the sections' text alone (no title, no heading path): the baseline."""
    import Stemmer
    from llama_index.core.schema import QueryBundle, TextNode
    from llama_index.retrievers.bm25 import BM25Retriever

    nodes = [TextNode(id_=c.id, text=c.text, metadata={"heading": c.heading}) for c in chunks]
    retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=DEPTH,
                                            stemmer=Stemmer.Stemmer("english"), language="english")

    def rank(question: str) -> list[str]:
        found = retriever.retrieve(QueryBundle(question))
        return list(dict.fromkeys(r.node.metadata["heading"] for r in found))
    return rank


def plain_bm25_chunks(chunks: list):
    """The text of plain BM25's top chunk for a question: the no-model answer baseline."""
    import Stemmer
    from llama_index.core.schema import QueryBundle, TextNode
    from llama_index.retrievers.bm25 import BM25Retriever

    nodes = [TextNode(id_=c.id, text=c.text) for c in chunks]
    retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=1,
                                            stemmer=Stemmer.Stemmer("english"), language="english")
    return lambda question: retriever.retrieve(QueryBundle(question))[0].node.text


def scores(ranks: list[int | None]) -> dict:
    n = len(ranks)
    return {"hit@1": round(sum(r == 1 for r in ranks) / n, 3),
            "hit@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 3),
            "mrr": round(sum(1 / r for r in ranks if r) / n, 3)}


def gold_rank(ranking: list[str], gold: list[str]) -> int | None:
    return next((i for i, heading in enumerate(ranking[:DEPTH], 1) if heading in gold), None)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    manual = fetch()
    cases = questions()
    work = Path(tempfile.mkdtemp(prefix="sa-long-manual-"))
    try:
        folder = work / "manuals"
        folder.mkdir()
        shutil.copy(manual, folder)
        settings = load_settings({"data_dir": str(work / "data")})
        started = time.perf_counter()
        report = ingest(settings, [(folder, "manual")], progress=False)
        ingest_s = time.perf_counter() - started
        kb = knowledge_base(settings)
        arms: dict[str, list[int | None]] = {f"rag-{mode}": [] for mode in MODES}
        arms["baseline-plain-bm25"] = []
        baseline = plain_bm25(list(kb.chunks.values()))
        misses: dict[str, list[str]] = {arm: [] for arm in arms}
        for case in cases:
            for mode in MODES:
                rank = gold_rank(sections(kb.sections(case["question"], mode=mode, k=DEPTH)),
                                 case["gold"])
                arms[f"rag-{mode}"].append(rank)
            arms["baseline-plain-bm25"].append(gold_rank(baseline(case["question"]), case["gold"]))
            for arm, ranks in arms.items():
                if ranks[-1] is None or ranks[-1] > 5:
                    misses[arm].append(case["id"])
        results = {
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "commit": source_commit(), "command": "python bench/long_manual/run.py",
            "manual": manual.name, "questions": len(cases), "chunks": report.chunks,
            "sections": len({c.heading for c in kb.chunks.values()}),
            "ingest_s": round(ingest_s, 1),
            "arms": {arm: scores(ranks) for arm, ranks in arms.items()},
            # RRF_K was picked on the odd-numbered questions; the even ones are the check.
            "odd": {arm: scores(ranks[0::2]) for arm, ranks in arms.items()},
            "even": {arm: scores(ranks[1::2]) for arm, ranks in arms.items()},
            "missed_at_5": misses}
    finally:
        close_knowledge_bases()
        shutil.rmtree(work, ignore_errors=True)
    md = [f"# Retrieval on a long manual ({results['when']}, commit "
          f"{(results['commit'] or 'unknown')[:12]})", "",
          f"`{results['command']}`: {results['manual']} (WSJT-X User Guide, GPL-3+, fetched from "
          f"Debian's wsjtx-doc 2.6.1+repack-1), {results['sections']} sections in "
          f"{results['chunks']} chunks, ingested in {results['ingest_s']} s; "
          f"{results['questions']} questions written by reading it (bench/long_manual).", "",
          "| arm | section hit@1 | hit@5 | MRR |", "|---|---:|---:|---:|"]
    md += [f"| {arm} | {s['hit@1']:.3f} | {s['hit@5']:.3f} | {s['mrr']:.3f} |"
           for arm, s in results["arms"].items()]
    md += ["", "The fusion constant (`RRF_K` in store_assistant/store/knowledge/search.py) was picked on the "
           "odd-numbered questions; the even-numbered ones check it:", "",
           "| arm | hit@5 odd | hit@5 even | MRR odd | MRR even |", "|---|---:|---:|---:|---:|"]
    md += [f"| {arm} | {results['odd'][arm]['hit@5']:.3f} | {results['even'][arm]['hit@5']:.3f} | "
           f"{results['odd'][arm]['mrr']:.3f} | {results['even'][arm]['mrr']:.3f} |"
           for arm in results["arms"]]
    write_all_atomic(RESULTS, {"long-manual.json": json.dumps(results, indent=1) + "\n",
                               "long-manual.md": "\n".join(md) + "\n"})
    print("\n".join(md))


if __name__ == "__main__":
    main()
