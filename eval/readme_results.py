"""Writes the README's results and model-ladder sections, and their full scorecards, from the
committed heldout and ladder runs.

The figures are never typed: `eval/baselines/heldout.json` and `eval/baselines/ladder.json` are
real runs' results (made with `store-assistant eval --split heldout [--models ...]
--update-baseline`, naming their commit), and this script renders them between the README's
`<!-- results -->`, `<!-- ladder -->` and `<!-- pe-variants -->` markers and into
bench/results/scorecard-heldout.md, scorecard-ladder.md and scorecard-pe-variants.md. `pytest` fails when any of them is stale.

    .venv/bin/python eval/readme_results.py          # rewrite both
    .venv/bin/python eval/readme_results.py --check  # exit 1 if either is out of date
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from store_assistant.evaluation.agreement import summary
from store_assistant.evaluation.report import (analytics_table, inference_table, markdown_table,
                                               main_table,
                                               pick_text, taught_table, to_markdown, tuned_table)
from store_assistant.evaluation.scorecard import scorecard
from store_assistant.files import write_atomic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "eval" / "baselines" / "heldout.json"
README = ROOT / "README.md"
SCORECARD = ROOT / "bench" / "results" / "scorecard-heldout.md"
LADDER = ROOT / "eval" / "baselines" / "ladder.json"
LADDER_SCORECARD = ROOT / "bench" / "results" / "scorecard-ladder.md"
# Few-shot and chain-of-thought prompts on the bigger models (`store-assistant eval --split heldout
# --arms pe-few-shot,pe-cot --models qwen2.5-coder-0.5b,qwen2.5-coder-1.5b --no-controls`).
PE_VARIANTS = ROOT / "eval" / "baselines" / "pe-variants.json"
PE_VARIANTS_SCORECARD = ROOT / "bench" / "results" / "scorecard-pe-variants.md"
PE_START, PE_END = "<!-- pe-variants -->", "<!-- /pe-variants -->"
# The long third-party manual (bench/long_manual/run.py and answers.py write these).
LONG = ROOT / "bench" / "results" / "long-manual.json"
LONG_ANSWERS = ROOT / "bench" / "results" / "long-manual-answers.json"
INGEST_PDF = ROOT / "bench" / "results" / "ingest-pdf.json"
LONG_START, LONG_END = "<!-- long-manual -->", "<!-- /long-manual -->"
# Managers' sales questions: sql-semantic vs sql-raw and the controls (`store-assistant analytics
# eval --models ... --update-baseline`).
ANALYTICS = ROOT / "eval" / "baselines" / "analytics.json"
ANALYTICS_SCORECARD = ROOT / "bench" / "results" / "scorecard-analytics.md"
ANALYTICS_START, ANALYTICS_END = "<!-- analytics -->", "<!-- /analytics -->"
START, END = "<!-- results -->", "<!-- /results -->"
LADDER_START, LADDER_END = "<!-- ladder -->", "<!-- /ladder -->"
LADDER_COLUMNS = ("arm", "correct", "correct when the model was asked", "p50 ms", "p95 ms",
                  "TTFT p50 ms", "prompt tok/s", "generation tok/s", "peak RSS MB",
                  "$ / 1k answers")
COLUMNS = ("arm", "correct", "model asked (cases)", "correct when the model was asked",
           "facts the model wrote", "paths", "p50 ms (model)")


def section(results: dict) -> str:
    card = scorecard(results)
    run = card["run"]
    rows = [{k: row[k] for k in COLUMNS} for row in main_table(card)]
    parts = [f"**Results on the heldout split** ({run['cases']} cases, model `{run['model']}`, run "
             f"`{run['id']}` on commit `{(run.get('commit') or 'unknown')[:12]}`, "
             f"{run['finished'][:10]}; full scorecard: `bench/results/scorecard-heldout.md`). "
             f"Means with 95% bootstrap CIs. *Paths*: the share of answers the model wrote as is "
             f"(model), the guard corrected or completed (+corrected, +facts), the guard replaced "
             f"(fallback), or code built from the inventory without asking the model (data). "
             f"*Facts the model wrote*: the asked facts in the model's own text, before the guard.",
             "", markdown_table(rows).rstrip("\n"), ""]
    if card["against_controls"]:
        parts += ["Against the controls (the same pipeline with no language model):", ""]
        parts += [f"- {line}" for line in card["against_controls"]] + [""]
    if card.get("taught"):
        parts += ["Heldout cases whose answer is in the fine-tuning data (taught) and the rest:", "",
                  markdown_table(taught_table(card)).rstrip("\n"), ""]
    if results.get("agreement"):
        parts += [f"Is the metric right? {summary(results['agreement'])} "
                  f"(`store-assistant labels agreement --misses` lists the disagreements.)", ""]
    return "\n".join(parts)


def ladder_section(results: dict) -> str:
    card = scorecard(results)
    run = card["run"]
    rows = [{k: row[k] for k in LADDER_COLUMNS} for row in inference_table(card)]
    parts = [f"**The model ladder on the heldout split** ({run['cases']} cases, models "
             f"{', '.join(f'`{m}`' for m in run['models'])}, run `{run['id']}` on commit "
             f"`{(run.get('commit') or 'unknown')[:12]}`, {run['finished'][:10]}, this project's "
             f"2-core machine; full scorecard: `bench/results/scorecard-ladder.md`). Latency, "
             f"time to first token and tokens/s are over the answers the model wrote; $ / 1k "
             f"answers is the CPU-seconds of all answers at ${run['core_hour_usd']:g} per "
             f"core-hour. The finetuned arm runs only on the model its adapter was trained on.",
             "", markdown_table(rows).rstrip("\n"), "", pick_text(card).rstrip("\n"), ""]
    if card.get("tuned_vs_bigger"):
        parts += ["Fine-tuned against untuned, without the store's data and with RAG (paired over "
                  "the same cases; Δ = fine-tuned minus untuned):", "",
                  markdown_table(tuned_table(card)).rstrip("\n"), ""]
    if card["against_controls"]:
        parts += ["Against the controls:", ""]
        parts += [f"- {line}" for line in card["against_controls"]] + [""]
    return "\n".join(parts)


def pe_variants_section(results: dict) -> str:
    card = scorecard(results)
    run = card["run"]
    rows = [{k: row[k] for k in ("arm", "correct", "p50 ms", "p95 ms", "$ / 1k answers")}
            for row in inference_table(card)]
    return "\n".join([
        f"**Few-shot and chain-of-thought on the bigger models** (run `{run['id']}` on commit "
        f"`{(run.get('commit') or 'unknown')[:12]}`, {run['cases']} heldout cases; full "
        f"scorecard: `bench/results/scorecard-pe-variants.md`). Worked examples or a reasoning "
        f"step do not give a prompt-only answer the store's prices, stock or policies:", "",
        markdown_table(rows).rstrip("\n"), ""])


def long_manual_section(retrieval: dict, answers: dict | None, ingest: dict | None) -> str:
    rows = [{"arm": arm, "section hit@1": f"{v['hit@1']:.3f}", "hit@5": f"{v['hit@5']:.3f}",
             "MRR": f"{v['mrr']:.3f}"} for arm, v in retrieval["arms"].items()]
    parts = [f"**A long third-party manual** (the WSJT-X User Guide, {retrieval['sections']} "
             f"sections, {retrieval['questions']} questions written by reading it, each with its "
             f"gold section and a reference answer; `{retrieval['command']}` on commit "
             f"`{(retrieval.get('commit') or 'unknown')[:12]}`; ingest {retrieval['ingest_s']} s). "
             f"Retrieval, against plain BM25 over the same sections:", "",
             markdown_table(rows).rstrip("\n"), ""]
    if answers:
        rows = [{"answer": f"rag-hybrid ({answers['model']})",
                 "ROUGE-L F1": f"{answers['rouge_l']['rag-hybrid']:.3f}",
                 "unsupported claims": f"{answers['unsupported_claims']} in "
                                       f"{answers['answers_with_unsupported']} answer"
                                       f"{'' if answers['answers_with_unsupported'] == 1 else 's'}"},
                {"answer": "quote rag-hybrid's top section (no model)",
                 "ROUGE-L F1": f"{answers['rouge_l']['quote-top-section']:.3f}",
                 "unsupported claims": "0 (quoted)"},
                {"answer": "plain BM25's top section (no model)",
                 "ROUGE-L F1": f"{answers['rouge_l']['plain-bm25-top-section']:.3f}",
                 "unsupported claims": "0 (quoted)"}]
        parts += [f"Answers against the references (`{answers['command']}` on commit "
                  f"`{(answers.get('commit') or 'unknown')[:12]}`, {answers['questions']} "
                  f"questions; details: `bench/results/long-manual-answers.md`):", "",
                  markdown_table(rows).rstrip("\n"), ""]
    if ingest:
        parts += [f"Bringing PDFs: {len(ingest['files'])} PDF guides of {ingest['pages']} pages "
                  f"(Network UPS Tools) ingest cold in {ingest['seconds']} s, {ingest['chunks']} "
                  f"chunks, peak memory {ingest['peak_rss_mb']} MB (`{ingest['command']}` on "
                  f"commit `{(ingest.get('commit') or 'unknown')[:12]}`).", ""]
    return "\n".join(parts)


def analytics_section(results: dict) -> str:
    card = scorecard(results)
    run = card["run"]
    columns = ("arm", "correct", "execution accuracy", "consistency", "valid query",
               "refusal correct", "Δ correct vs sql-raw", "p50 ms")
    rows = [{k: row[k] for k in columns} for row in analytics_table(card)]
    by_arm = {row["arm"]: row for row in card["rows"]}
    default = run["model"].split("/")[-1]
    semantic = by_arm.get(f"sql-semantic@{default}") or by_arm.get("sql-semantic")
    raw = by_arm.get(f"sql-raw@{default}") or by_arm.get("sql-raw")
    verdict = []
    if semantic and raw and "control-keywords" in by_arm:
        versus = semantic["vs_controls"]["control-keywords"]
        verdict = [
            f"In words, on the default model ({default}): the semantic layer is what makes the "
            f"numbers right. sql-semantic is correct on {semantic['correct']['mean']:.1%} of the "
            f"cases (execution accuracy {semantic['execution_accuracy']['mean']:.3f}, paraphrase "
            f"consistency {semantic['consistency']['mean']:.3f}), and sql-raw on "
            f"{raw['correct']['mean']:.1%}. Against the layer's keyword reading with no model, "
            f"the model's edits change correct by {versus['mean']:+.3f} "
            f"[{versus['lo']:+.3f}, {versus['hi']:+.3f}] (W/T/L {versus['wins']}/"
            f"{versus['ties']}/{versus['losses']}).", ""]
    return "\n".join([
        f"**Managers' sales questions** ({run['cases']} hand-gold cases, "
        f"`eval/analytics/cases.yaml`; run `{run['id']}` on commit "
        f"`{(run.get('commit') or 'unknown')[:12]}`; full scorecard: "
        f"`bench/results/scorecard-analytics.md`). Correct: the result equals the hand-written "
        f"gold SQL's, or a refusal where one is due. `control-keywords` builds the metric query "
        f"from the layer's words with no model; `control-null` refuses everything.", "",
        markdown_table(rows).rstrip("\n"), "", *verdict,
        *(f"- {line}" for line in card["against_controls"]), ""])


def _between(text: str, start: str, end: str, body: str) -> str:
    head, found, rest = text.partition(start)
    _, closed, tail = rest.partition(end)
    if not found or not closed:
        raise SystemExit(f"README.md has no {start} ... {end} markers")
    return f"{head}{start}\n{body}\n{end}{tail}"


def outputs() -> dict[Path, str]:
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    readme = _between(README.read_text(encoding="utf-8"), START, END, section(results))
    out = {SCORECARD: to_markdown(scorecard(results))}
    if LADDER.exists():
        ladder = json.loads(LADDER.read_text(encoding="utf-8"))
        readme = _between(readme, LADDER_START, LADDER_END, ladder_section(ladder))
        out[LADDER_SCORECARD] = to_markdown(scorecard(ladder))
    if PE_VARIANTS.exists():
        variants = json.loads(PE_VARIANTS.read_text(encoding="utf-8"))
        readme = _between(readme, PE_START, PE_END, pe_variants_section(variants))
        out[PE_VARIANTS_SCORECARD] = to_markdown(scorecard(variants))
    if ANALYTICS.exists():
        analytics = json.loads(ANALYTICS.read_text(encoding="utf-8"))
        readme = _between(readme, ANALYTICS_START, ANALYTICS_END, analytics_section(analytics))
        out[ANALYTICS_SCORECARD] = to_markdown(scorecard(analytics))
    if LONG.exists():
        answers, ingest = (json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
                           for path in (LONG_ANSWERS, INGEST_PDF))
        readme = _between(readme, LONG_START, LONG_END, long_manual_section(
            json.loads(LONG.read_text(encoding="utf-8")), answers, ingest))
    return {README: readme, **out}


def main() -> None:
    stale = [path for path, text in outputs().items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    if "--check" in sys.argv:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run .venv/bin/python eval/readme_results.py")
        raise SystemExit(1 if stale else 0)
    for path in stale:
        write_atomic(path, outputs()[path])
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
