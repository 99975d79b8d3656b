"""`pytest eval/`: retrieval on a long third-party manual, a subset of the long-manual benchmark.

The WSJT-X User Guide (tests/data/manuals/wsjtx, its images stripped) is ingested as any store's
manual would be, and every 4th question of bench/long_manual/questions.jsonl (41 of 161, written
by reading it) is ranked. rag-hybrid must put the gold section in its five sources for >= 90% of
them and not lose to plain BM25 over the same sections' text; a test proves the check fails for
a retriever that ranks sections badly. The full benchmark, with the answers' ROUGE-L and
unsupported claims, is `bench/long_manual/run.py` and `answers.py`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

from store_assistant.config import load_settings
from store_assistant.store.knowledge import close_knowledge_bases, ingest, knowledge_base

ROOT = Path(__file__).resolve().parents[1]
MANUAL = ROOT / "tests" / "data" / "manuals" / "wsjtx"
QUESTIONS = ROOT / "bench" / "long_manual" / "questions.jsonl"
HIT_AT_5 = 0.9

Ranker = Callable[[str], list[str]]  # question -> heading paths, best first


def subset() -> list[dict]:
    cases = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    return cases[::4]


def hit_at_5(rank: Ranker, cases: list[dict]) -> float:
    return sum(any(h in case["gold"] for h in rank(case["question"])[:5])
               for case in cases) / len(cases)


def check(rank: Ranker, baseline: Ranker, cases: list[dict]) -> list[str]:
    """What is wrong with `rank` on `cases`: [] when it passes."""
    ours, theirs = hit_at_5(rank, cases), hit_at_5(baseline, cases)
    problems = []
    if ours < HIT_AT_5:
        problems.append(f"section hit@5 {ours:.3f} < {HIT_AT_5}")
    if ours < theirs:
        problems.append(f"section hit@5 {ours:.3f} loses to plain BM25's {theirs:.3f}")
    return problems


@pytest.fixture(scope="module")
def rankers(tmp_path_factory: pytest.TempPathFactory):
    import Stemmer
    from llama_index.core.schema import QueryBundle, TextNode
    from llama_index.retrievers.bm25 import BM25Retriever

    settings = load_settings({"data_dir": str(tmp_path_factory.mktemp("long-manual"))}, env={})
    report = ingest(settings, [(MANUAL, "manual")], progress=False)
    kb = knowledge_base(settings)
    chunks = list(kb.chunks.values())
    retriever = BM25Retriever.from_defaults(
        nodes=[TextNode(id_=c.id, text=c.text, metadata={"heading": c.heading}) for c in chunks],
        similarity_top_k=20, stemmer=Stemmer.Stemmer("english"), language="english")

    def ours(question: str) -> list[str]:
        return [hit.chunk.heading for hit in kb.sections(question, mode="hybrid", k=5)]

    def plain_bm25(question: str) -> list[str]:
        found = retriever.retrieve(QueryBundle(question))
        return list(dict.fromkeys(r.node.metadata["heading"] for r in found))

    yield {"ours": ours, "bm25": plain_bm25, "sections": len({c.heading for c in chunks}),
           "chunks": report.chunks}
    close_knowledge_bases()


def test_the_whole_manual_is_read(rankers) -> None:
    assert rankers["sections"] == 89 and rankers["chunks"] >= 200


def test_rag_hybrid_finds_the_section_on_a_long_manual(rankers) -> None:
    assert check(rankers["ours"], rankers["bm25"], subset()) == []


def test_the_check_fails_for_a_worse_retriever(rankers) -> None:
    """Keyword search alone, shifted down two ranks: the gold section drops out of the top 5."""
    def worse(question: str) -> list[str]:
        ranked = rankers["bm25"](question)
        return ranked[3:] + ranked[:3]
    problems = check(worse, rankers["bm25"], subset())
    assert any("< 0.9" in p for p in problems) and any("loses" in p for p in problems)
