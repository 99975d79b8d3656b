"""Writes the README's results section, and its full scorecard, from the committed heldout run.

The figures are never typed: `eval/baselines/heldout.json` is a real run's results (made with
`store-assistant eval --split heldout --update-baseline`, naming its commit), and this script
renders them between the README's `<!-- results -->` markers and into
bench/results/scorecard-heldout.md. `pytest` fails when either is stale.

    .venv/bin/python eval/readme_results.py          # rewrite both
    .venv/bin/python eval/readme_results.py --check  # exit 1 if either is out of date
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from store_assistant.evaluation.agreement import summary
from store_assistant.evaluation.report import markdown_table, main_table, taught_table, to_markdown
from store_assistant.evaluation.scorecard import scorecard
from store_assistant.files import write_atomic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "eval" / "baselines" / "heldout.json"
README = ROOT / "README.md"
SCORECARD = ROOT / "bench" / "results" / "scorecard-heldout.md"
START, END = "<!-- results -->", "<!-- /results -->"
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


def outputs() -> dict[Path, str]:
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    readme = README.read_text(encoding="utf-8")
    head, start, rest = readme.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"README.md has no {START} ... {END} markers")
    return {README: f"{head}{START}\n{section(results)}\n{END}{tail}",
            SCORECARD: to_markdown(scorecard(results))}


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
