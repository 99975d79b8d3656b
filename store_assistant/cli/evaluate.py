"""`store-assistant eval`: score strategies on the golden cases (see docs/evaluation.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from store_assistant.cli.exits import EXIT_OK


def register(commands: Any) -> None:
    evaluate = commands.add_parser("eval", help="score strategies on the golden cases")
    evaluate.add_argument("--arms", default=None,
                          help="comma-separated strategies (default: all eight)")
    evaluate.add_argument("--split", choices=("dev", "heldout"), help="only this split")
    evaluate.add_argument("--category", action="append", help="only this category (repeatable)")
    evaluate.add_argument("--tag", action="append", help='only cases with this tag, e.g. "gate"')
    evaluate.add_argument("--repeats", type=int, default=1, help="answers per case and arm")
    evaluate.add_argument("--model", default=None, help="litellm model string for every arm")
    evaluate.add_argument("--models", default=None,
                          help="the model ladder: run every arm on each of these comma-separated "
                               "models, e.g. local/smollm2-135m,local/qwen2.5-coder-0.5b")
    evaluate.add_argument("--judge", default=None, help="LLM-judge model (optional, off by default)")
    evaluate.add_argument("--freshness", action="store_true",
                          help="also change prices/stock/promotions on a scratch copy and re-ask")
    evaluate.add_argument("--no-controls", action="store_true",
                          help="leave out the control arms (control-null, control-extractive)")
    evaluate.add_argument("--update-baseline", action="store_true",
                          help="write this run as the committed baseline for its selection")
    evaluate.add_argument("--cases", type=Path, default=None, help="folder of case files")
    evaluate.add_argument("--runs-dir", type=Path, default=None, help="where runs are written")
    evaluate.add_argument("--data-dir", default=None, help="store data directory (default ./data)")
    evaluate.set_defaults(handler=_eval)

    labels = commands.add_parser("labels", help="hand labels of answers, and the metric's agreement")
    actions = labels.add_subparsers(dest="action", required=True)
    sample = actions.add_parser("sample", help="print answers of a run to label, as YAML")
    sample.add_argument("run", type=Path, help="a run folder, e.g. eval/runs/<run-id>")
    sample.add_argument("-n", type=int, default=40, help="how many answers (default 40)")
    sample.add_argument("--seed", type=int, default=0)
    sample.set_defaults(handler=_labels_sample)
    agree = actions.add_parser("agreement", help="the correct metric against eval/labels.yaml")
    agree.add_argument("--data-dir", default=None, help="store data directory (default ./data)")
    agree.add_argument("--misses", action="store_true", help="list every disagreement")
    agree.set_defaults(handler=_labels_agreement)


def _eval(args: argparse.Namespace) -> int:
    from store_assistant.config import load_settings
    from store_assistant.evaluation.runner import (ALL_ARMS, EvalConfig, parse_arms, parse_models,
                                                   run_eval, update_baseline)
    from store_assistant.evaluation.golden import CASES_DIR

    settings = load_settings({"llm": args.model, "data_dir": args.data_dir})
    config = EvalConfig(arms=parse_arms(args.arms or ",".join(ALL_ARMS)), split=args.split,
                        categories=args.category, tags=args.tag, repeats=args.repeats,
                        model=args.model, judge=args.judge, freshness=args.freshness,
                        models=parse_models(args.models, settings),
                        cases_dir=args.cases or CASES_DIR, controls=not args.no_controls)
    if args.runs_dir:
        config.runs_dir = args.runs_dir
    folder = run_eval(settings, config, progress=True)
    print((folder / "scorecard.md").read_text(encoding="utf-8"))
    print(f"run written to {folder} (scorecard.html for charts)")
    if args.update_baseline:
        from store_assistant.evaluation.runner import baseline_name

        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        path = update_baseline(results, baseline_name(results["run"]))
        print(f"baseline updated: {path} (commit it)")
    return EXIT_OK


def _labels_sample(args: argparse.Namespace) -> int:
    from store_assistant.errors import DataError
    from store_assistant.evaluation.agreement import LABELS_FILE, load_labels, sample, to_yaml
    from store_assistant.evaluation.golden import load_cases

    path = args.run / "answers.jsonl"
    if not path.is_file():
        raise DataError(f"{path} does not exist: pass a run folder (eval/runs/<run-id>).")
    answers = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    cases = {c.id: c for c in load_cases()}
    done = {(l.case, l.arm) for l in load_labels()} if LABELS_FILE.exists() else set()
    entries = sample(answers, args.run.name, args.n, {c.id: c.category for c in cases.values()},
                     args.seed, done)
    print(to_yaml(entries, cases), end="")
    return EXIT_OK


def _labels_agreement(args: argparse.Namespace) -> int:
    from store_assistant.config import load_settings
    from store_assistant.evaluation.agreement import agreement, load_labels, summary
    from store_assistant.evaluation.golden import load_cases
    from store_assistant.evaluation.runner import world_for

    cases = {c.id: c for c in load_cases()}
    found = agreement(load_labels(cases=cases), cases,
                      world_for(load_settings({"data_dir": args.data_dir})))
    print(summary(found))
    if args.misses:
        for miss in found["misses"]:
            print(f"- {miss['case']} ({miss['arm']}): labelled {miss['label']} "
                  f"({miss['label_reason']}); the metric says "
                  f"{'correct' if miss['metric'] else 'not correct'} ({miss['metric_reason']})")
    return EXIT_OK

