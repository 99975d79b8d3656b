"""The manual-reading set answered by a strategy: correct, flipped yes/no and evidence shown.

    .venv/bin/python bench/manual_reading.py --strategy rag-hybrid --split dev [--paraphrases]
    .venv/bin/python bench/manual_reading.py --strategy control-extractive --split heldout

Each case's question (and, with --paraphrases, each paraphrase) is asked once through the real
strategy on the store's data in data/ (`make data`), with the configured model, as of the golden
date. Scored by `evaluation/manual_scoring.py`, whose readers are its own. Writes
bench/results/manual-reading-<strategy>-<split>.json (every answer, path, flags, latency and score,
and the commit the code was on) and a .md summary with 95% bootstrap CIs and p50/p95 latency.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from store_assistant.config import load_settings  # noqa: E402
from store_assistant.evaluation.golden import AS_OF  # noqa: E402
from store_assistant.evaluation.manual_cases import READING_DIR, load_reading_cases  # noqa: E402
from store_assistant.evaluation.manual_scoring import VERSION, score  # noqa: E402
from store_assistant.evaluation.runner import arm_hash, data_version, source_commit  # noqa: E402
from store_assistant.evaluation.scorecard import mean_ci, percentile  # noqa: E402
from store_assistant.files import write_atomic  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strategy", default="rag-hybrid")
    parser.add_argument("--split", choices=("dev", "heldout", "all"), default="dev")
    parser.add_argument("--paraphrases", action="store_true", help="ask every paraphrase too")
    parser.add_argument("--limit", type=int, default=None, help="first N cases only (a trial)")
    parser.add_argument("--model", default=None, help="litellm model string (default: configured)")
    parser.add_argument("--rescore", type=Path, default=None,
                        help="re-score a results .json with the current metric, asking nothing")
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("A", "B"), default=None,
                        help="paired difference in correct, A - B, over the same questions")
    args = parser.parse_args()
    if args.rescore:
        return rescore(args.rescore)
    if args.compare:
        return compare(*args.compare)

    from store_assistant.answering.strategies import build_strategy
    from store_assistant.inference.gateway import Gateway

    settings = load_settings({"llm": args.model} if args.model else {})
    cases = [c for c in load_reading_cases() if args.split in ("all", c.split)][:args.limit]
    gateway = Gateway(settings)
    gateway.load()
    strategy = build_strategy(args.strategy, gateway, settings, today=AS_OF)
    strategy.answer("Warm-up: what is HDMI?")  # load and warm the index and model off the clock
    rows = []
    for number, case in enumerate(cases, 1):
        for variant, question in enumerate(case.questions if args.paraphrases else case.questions[:1]):
            started = time.perf_counter()
            answer = strategy.answer(question)
            seconds = time.perf_counter() - started
            result = score(case, answer.text)
            rows.append({"case": case.id, "variant": variant, "split": case.split,
                         "asks": case.asks, "kind": case.kind, "question": question,
                         "answer": answer.text, "path": answer.path, "flags": answer.flags,
                         "sources": [s.id for s in answer.sources], "seconds": round(seconds, 3),
                         "correct": result.correct, "flipped": result.flipped,
                         "evidence_hit": result.evidence_hit, "reason": result.reason})
            mark = "ok " if result.correct else ("FLIP" if result.flipped else "-- ")
            print(f"[{number}/{len(cases)}] {mark} {seconds:5.1f}s {case.id}: {result.reason}",
                  flush=True)
    report = summary(rows)
    run = {"strategy": args.strategy, "model": gateway.model, "split": args.split,
           "paraphrases": args.paraphrases, "metric_version": VERSION,
           "commit": source_commit(), "as_of": AS_OF.isoformat(), **made_on(args.strategy, settings),
           "made": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "summary": report, "answers": rows}
    name = f"manual-reading-{args.strategy}-{args.split}" + ("-paraphrases" if args.paraphrases else "")
    if args.model:  # another model than the configured default: its own files, beside them
        name += "@" + args.model.split("/")[-1]
    write_atomic(RESULTS / f"{name}.json", json.dumps(run, indent=1) + "\n")
    write_atomic(RESULTS / f"{name}.md", markdown(run))
    print(markdown(run))


def made_on(strategy: str, settings) -> dict[str, str]:
    """What decides a run's answers besides the model: the strategy's code and prompts (the
    evaluation's own arm hash), the store's data and manuals, and the cases."""
    cases = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(READING_DIR.glob("*.yaml"))))
    return {"arm_hash": arm_hash(strategy, settings), "data_version": data_version(settings),
            "cases_sha": cases.hexdigest()[:16]}


def stale(run: dict, settings) -> list[str]:
    """Why a committed run no longer describes the code, data or cases, or [] when it does."""
    now = made_on(run["strategy"], settings)
    return [f"{key} {run.get(key)} is now {value}" for key, value in now.items()
            if run.get(key) != value]


def rescore(path: Path) -> None:
    """The same answers under the current metric version (the file says which)."""
    run = json.loads(path.read_text(encoding="utf-8"))
    cases = {case.id: case for case in load_reading_cases()}
    for row in run["answers"]:
        result = score(cases[row["case"]], row["answer"])
        row.update(correct=result.correct, flipped=result.flipped,
                   evidence_hit=result.evidence_hit, reason=result.reason)
    run.update(metric_version=VERSION, summary=summary(run["answers"]))
    write_atomic(path, json.dumps(run, indent=1) + "\n")
    write_atomic(path.with_suffix(".md"), markdown(run))
    print(markdown(run))


def compare(a_path: Path, b_path: Path) -> None:
    """A - B in correct with a paired bootstrap CI and win/tie/loss; written beside A."""
    from store_assistant.evaluation.scorecard import paired

    a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (a_path, b_path))
    def per(run):
        return {f"{r['case']}#{r['variant']}": float(r["correct"]) for r in run["answers"]}
    diff = paired(per(a), per(b))
    text = (f"# {a['strategy']} vs {b['strategy']} on {a['split']}\n\n"
            f"Made by `bench/manual_reading.py --compare` from {a_path.name} (commit {a['commit']}) "
            f"and {b_path.name} (commit {b['commit']}), metric v{a['metric_version']}.\n\n"
            f"| correct, A - B | 95% CI | A wins / ties / B wins | n |\n|---|---|---|---|\n"
            f"| {diff['mean']:+.3f} | [{diff['lo']:+.3f}, {diff['hi']:+.3f}] | "
            f"{diff['wins']} / {diff['ties']} / {diff['losses']} | {diff['n']} |\n")
    write_atomic(a_path.with_name(a_path.stem + "-vs-" + b["strategy"] + ".md"), text)
    print(text)


def summary(rows: list[dict]) -> dict:
    def share(key: str, subset: list[dict]) -> dict:
        return mean_ci([float(bool(r[key])) for r in subset])

    yesno = [r for r in rows if r["kind"] == "yesno"]
    seconds = [r["seconds"] for r in rows]
    return {"answers": len(rows), "correct": share("correct", rows),
            "flipped": {"count": sum(bool(r["flipped"]) for r in yesno), "of": len(yesno)},
            "evidence_hit": share("evidence_hit", rows),
            "by_asks": {asks: share("correct", [r for r in rows if r["asks"] == asks])
                        for asks in sorted({r["asks"] for r in rows})},
            "paths": dict(Counter(r["path"] for r in rows)),
            "p50_s": percentile(seconds, 50), "p95_s": percentile(seconds, 95)}


def markdown(run: dict) -> str:
    s = run["summary"]

    def ci(stats: dict) -> str:
        if stats["mean"] is None:
            return "–"
        return f"{stats['mean']:.3f} [{stats['lo']:.3f}, {stats['hi']:.3f}] (n={stats['n']})"

    lines = [f"# Manual-reading set: {run['strategy']} on {run['split']}",
             "", f"Made by `bench/manual_reading.py` on commit {run['commit']} with "
             f"{run['model']}, {run['made']}; metric v{run['metric_version']}; "
             f"{'every paraphrase' if run['paraphrases'] else 'first wording of each case'}.", "",
             "| metric | value |", "|---|---|",
             f"| correct | {ci(s['correct'])} |",
             f"| flipped yes/no | {s['flipped']['count']} of {s['flipped']['of']} |",
             f"| evidence hit (a gold sentence in the reply) | {ci(s['evidence_hit'])} |",
             f"| latency p50 / p95 | {s['p50_s']:.1f} s / {s['p95_s']:.1f} s |",
             f"| paths | {', '.join(f'{k} {v}' for k, v in sorted(s['paths'].items()))} |",
             "", "| asks | correct |", "|---|---|"]
    lines += [f"| {asks} | {ci(stats)} |" for asks, stats in s["by_asks"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
