"""The fine-tuning questions, answered from an evaluation run: does `finetuned` beat prompt-only on
fact accuracy, and does `finetuned+rag` beat `rag-hybrid` (the additive claim)?

    .venv/bin/store-assistant eval --split heldout --freshness \
        --arms pe-zero-shot,pe-few-shot,pe-cot,rag-hybrid,finetuned,finetuned+rag
    .venv/bin/python bench/finetune_compare.py <run-id>

Paired differences over the same cases with 95% bootstrap CIs, win/tie/loss, and the exact
McNemar p on "correct". Writes bench/results/finetune-heldout.json and .md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from store_assistant.evaluation.runner import RUNS_DIR  # noqa: E402
from store_assistant.evaluation.scorecard import mcnemar, paired  # noqa: E402

RESULTS = Path(__file__).parent / "results"
PAIRS = [("finetuned+rag", "rag-hybrid"), ("finetuned", "pe-zero-shot"),
         ("finetuned", "pe-few-shot"), ("finetuned", "pe-cot")]


def main() -> None:
    run = sys.argv[1]
    results = json.loads((RUNS_DIR / run / "results.json").read_text())
    scores = results["scores"]
    rows = []
    for arm, other in PAIRS:
        for metric in ("correct", "fact_accuracy"):
            a = {case: v.get(metric) for case, v in scores[arm].items()}
            b = {case: v.get(metric) for case, v in scores[other].items()}
            diff = paired(a, b)
            rows.append({"arm": arm, "vs": other, "metric": metric,
                         **{k: round(v, 3) if isinstance(v, float) else v for k, v in diff.items()},
                         "mcnemar_p": round(mcnemar(a, b), 4) if metric == "correct" else None})
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "finetune-heldout.json").write_text(json.dumps({"run": run, "rows": rows},
                                                              indent=2) + "\n")
    lines = [f"# Fine-tuned arms on the heldout split (run {run})", "",
             f"`.venv/bin/python bench/finetune_compare.py {run}`", "",
             "| arm | vs | metric | Δ mean [95% CI] | W/T/L | McNemar p |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['arm']} | {r['vs']} | {r['metric']} | {r['mean']:+.3f} "
                     f"[{r['lo']:+.3f}, {r['hi']:+.3f}] | {r['wins']}/{r['ties']}/{r['losses']} "
                     f"| {'' if r['mcnemar_p'] is None else r['mcnemar_p']} |")
    (RESULTS / "finetune-heldout.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
