"""The fine-tuning questions, answered from an evaluation run: does `finetuned` beat prompt-only on
fact accuracy, and does `finetuned+rag` beat `rag-hybrid` (the additive claim)?

    .venv/bin/store-assistant eval --split heldout --freshness \
        --arms pe-zero-shot,pe-few-shot,pe-cot,rag-hybrid,finetuned,finetuned+rag
    .venv/bin/python bench/finetune_compare.py <run-id>

Paired differences over the same cases with 95% bootstrap CIs, win/tie/loss, and the exact
McNemar p on "correct". Writes bench/results/finetune-heldout.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from store_assistant.evaluation.runner import RUNS_DIR  # noqa: E402
from store_assistant.evaluation.scorecard import mcnemar, paired  # noqa: E402

# BENCH_RESULTS_DIR: the test suite's smoke runs write to a scratch folder, not bench/results/.
RESULTS = Path(os.environ.get("BENCH_RESULTS_DIR") or Path(__file__).parent / "results")
PAIRS = [("finetuned+rag", "rag-hybrid"), ("finetuned", "pe-zero-shot"),
         ("finetuned", "pe-few-shot"), ("finetuned", "pe-cot")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run id under --runs-dir")
    parser.add_argument("--runs-dir", type=Path, default=RUNS_DIR)
    args = parser.parse_args()
    run = args.run
    results = json.loads((args.runs_dir / run / "results.json").read_text())
    scores = results["scores"]
    pairs = [(arm, other) for arm, other in PAIRS if arm in scores and other in scores]
    if not pairs:
        sys.exit(f"Run {run} has none of the compared pairs ({PAIRS}); it has {sorted(scores)}.")
    rows = []
    for arm, other in pairs:
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
