"""Benchmark: answers on the long third-party manual (WSJT-X User Guide, 161 questions).

The manual is fetched and ingested as in `run.py`; every question is then answered by the RAG
strategy on the configured model (the default unless `--model`), exactly as staff would get it,
and scored against the people's reference answers:

- ROUGE-L F1 against the reference (ragas, the scorecard's metric);
- unsupported claims: figures, capitalised names and quotes the answer asserts that its read
  sources and the question do not contain (`metrics.claims_unsupported`, written apart from the
  guard that tries to remove them).

Side by side with two answers that use no model: the text of the top section by plain BM25
(no title or heading path), and the text of rag-hybrid's top section ("quote the top section").

    .venv/bin/python bench/long_manual/answers.py [--model local/qwen2.5-coder-0.5b] [--limit N]

Writes bench/results/long-manual-answers.json and .md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run import fetch, plain_bm25_chunks, questions  # noqa: E402

from store_assistant.answering.strategies import build_strategy  # noqa: E402
from store_assistant.config import load_settings  # noqa: E402
from store_assistant.evaluation.judge import rouge_l  # noqa: E402
from store_assistant.evaluation.metrics import claims_unsupported  # noqa: E402
from store_assistant.evaluation.runner import source_commit  # noqa: E402
from store_assistant.files import write_all_atomic  # noqa: E402
from store_assistant.inference.gateway import Gateway  # noqa: E402
from store_assistant.store.inventory import Inventory, inventory_path  # noqa: E402
from store_assistant.store.knowledge import close_knowledge_bases, ingest, knowledge_base  # noqa: E402

HERE = Path(__file__).parent
RESULTS = HERE.parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a litellm model string (default: the configured model)")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    args = parser.parse_args()
    manual = fetch()
    cases = questions()[:args.limit] if args.limit else questions()
    work = Path(tempfile.mkdtemp(prefix="sa-long-answers-"))
    rows = []
    try:
        folder = work / "manuals"
        folder.mkdir()
        shutil.copy(manual, folder)
        settings = load_settings({"data_dir": str(work / "data"),
                                  **({"llm": args.model} if args.model else {})})
        Inventory(inventory_path(settings)).import_csv(settings.inventory_csv)
        ingest(settings, [(folder, "manual")], progress=False)
        kb = knowledge_base(settings)
        baseline = plain_bm25_chunks(list(kb.chunks.values()))
        strategy = build_strategy("rag-hybrid", Gateway(settings), settings)
        started = time.perf_counter()
        for case in cases:
            answer = strategy.answer(case["question"])
            read = [s for s in answer.sources if s.read]
            evidence = "\n".join([case["question"],
                                  *(f"{s.title} > {s.heading}\n{s.text}" for s in read)])
            top = kb.sections(case["question"], mode="hybrid", k=1)[0].chunk.text
            bm25_top = baseline(case["question"])
            rows.append({
                "id": case["id"], "answer": answer.text, "path": answer.path,
                "removed": [f for f in answer.flags if f.startswith("guard_removed")],
                "rouge_l": {"rag-hybrid": rouge_l(case["reference"], answer.text),
                            "quote-top-section": rouge_l(case["reference"], top),
                            "plain-bm25-top-section": rouge_l(case["reference"], bm25_top)},
                "unsupported": claims_unsupported(answer.text, evidence),
                "evidence": evidence,  # to re-score without re-answering
                "latency_ms": round(answer.latency_ms)})
            print(f"{case['id']} {answer.path} rouge {rows[-1]['rouge_l']['rag-hybrid']:.2f} "
                  f"unsupported {rows[-1]['unsupported']}", file=sys.stderr, flush=True)
        minutes = (time.perf_counter() - started) / 60
        model = strategy.gateway.model
    finally:
        close_knowledge_bases()
        shutil.rmtree(work, ignore_errors=True)
    arms = ("rag-hybrid", "quote-top-section", "plain-bm25-top-section")
    results = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": source_commit(), "model": model, "questions": len(rows),
        "command": "python bench/long_manual/answers.py" + (f" --model {args.model}"
                                                           if args.model else ""),
        "minutes": round(minutes, 1),
        "rouge_l": {arm: round(statistics.mean(r["rouge_l"][arm] for r in rows), 3)
                    for arm in arms},
        "unsupported_claims": sum(len(r["unsupported"]) for r in rows),
        "answers_with_unsupported": sum(bool(r["unsupported"]) for r in rows),
        "sentences_removed": sum(len(r["removed"]) for r in rows),
        "paths": {p: sum(r["path"] == p for r in rows) for p in sorted({r["path"] for r in rows})},
        "rows": rows}
    md = [f"# Answers on a long manual ({results['when']}, commit "
          f"{(results['commit'] or 'unknown')[:12]})", "",
          f"`{results['command']}`: {len(rows)} questions on the WSJT-X User Guide "
          f"(bench/long_manual), model `{model}`, {results['minutes']} min.", "",
          "| answer | ROUGE-L F1 vs the references | unsupported claims |", "|---|---:|---:|",
          f"| rag-hybrid ({model}) | {results['rouge_l']['rag-hybrid']:.3f} | "
          f"{results['unsupported_claims']} in {results['answers_with_unsupported']} answers |",
          f"| quote the top section (rag-hybrid, no model) | "
          f"{results['rouge_l']['quote-top-section']:.3f} | 0 (quoted) |",
          f"| plain BM25's top section (no model) | "
          f"{results['rouge_l']['plain-bm25-top-section']:.3f} | 0 (quoted) |", "",
          f"Paths: {', '.join(f'{p} {n}' for p, n in results['paths'].items())}; sentences the "
          f"guard removed: {results['sentences_removed']}."]
    write_all_atomic(RESULTS, {"long-manual-answers.json": json.dumps(results, indent=1) + "\n",
                               "long-manual-answers.md": "\n".join(md) + "\n"})
    print("\n".join(md))


if __name__ == "__main__":
    main()
