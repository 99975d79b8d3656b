"""`store-assistant analytics`: ask the sales numbers, list the metric catalog, (re)generate the
sales history, and evaluate the two answering modes (see docs/analytics.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from store_assistant.cli.exits import EXIT_FAILED, EXIT_OK


def register(commands: Any) -> None:
    analytics = commands.add_parser("analytics", help="managers' sales numbers: ask, metrics, "
                                                      "generate, eval")
    actions = analytics.add_subparsers(dest="action", required=True)

    ask = actions.add_parser("ask", help="answer a question about sales from the semantic layer")
    ask.add_argument("question")
    ask.add_argument("--mode", choices=("sql-semantic", "sql-raw"), default="sql-semantic",
                     help="sql-semantic: the model fills a metric query, code writes the SQL "
                          "(default); sql-raw: the model writes the SQL")
    ask.add_argument("--model", default=None, help="litellm model string (default: settings)")
    ask.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    ask.add_argument("--data-dir", default=None, help="store data directory (default ./data)")
    ask.set_defaults(handler=_ask)

    metrics = actions.add_parser("metrics", help="the metric catalog: names, versions, definitions")
    metrics.add_argument("--data-dir", default=None)
    metrics.set_defaults(handler=_metrics)

    generate = actions.add_parser("generate", help="generate the 12-month sales history from the "
                                                   "inventory CSV (skipped when up to date)")
    generate.add_argument("--seed", type=int, default=None,
                          help="another random seed (default: the fixed one); regenerates")
    generate.add_argument("--force", action="store_true", help="regenerate even if up to date")
    generate.add_argument("--data-dir", default=None)
    generate.set_defaults(handler=_generate)

    evaluate = actions.add_parser("eval", help="score sql-semantic vs sql-raw and the controls "
                                               "on eval/analytics/cases.yaml")
    evaluate.add_argument("--models", default=None,
                          help="comma-separated models, each running both modes (default: the "
                               "configured model)")
    evaluate.add_argument("--arms", default=None,
                          help="comma-separated arms (default: sql-semantic,sql-raw,"
                               "control-keywords,control-null)")
    evaluate.add_argument("--cases", type=Path, default=None, help="a cases YAML file")
    evaluate.add_argument("--runs-dir", type=Path, default=None, help="where runs are written")
    evaluate.add_argument("--update-baseline", action="store_true",
                          help="write this run as eval/baselines/analytics.json")
    evaluate.add_argument("--data-dir", default=None)
    evaluate.set_defaults(handler=_eval)


def _database(args: argparse.Namespace):
    from store_assistant.analytics.sales import ensure
    from store_assistant.config import load_settings

    settings = load_settings({"llm": getattr(args, "model", None), "data_dir": args.data_dir})
    return settings, ensure(settings)


def _ask(args: argparse.Namespace) -> int:
    from store_assistant.analytics.asking import ask_numbers
    from store_assistant.analytics.layer import layer_for
    from store_assistant.inference.gateway import Gateway

    settings, database = _database(args)
    answer = ask_numbers(args.question, args.mode, Gateway(settings), database,
                         layer_for(database))
    if args.json:
        print(json.dumps(answer.as_dict(), indent=1, default=str))
    else:
        print(answer.words)
        if answer.sql:
            print(f"\nSQL ({args.mode}):\n{answer.sql}")
        if answer.metric:
            print(f"\n{answer.metric.label} (v{answer.metric.version}): {answer.metric.description}")
    return EXIT_FAILED if answer.error else EXIT_OK


def _metrics(args: argparse.Namespace) -> int:
    from store_assistant.analytics.layer import layer_for

    _, database = _database(args)
    layer = layer_for(database)
    for metric in layer.metrics.values():
        print(f"{metric.name} v{metric.version} ({metric.unit}): {metric.description}\n"
              f"    = {metric.formula}\n    words: {', '.join(metric.synonyms)}")
    return EXIT_OK


def _generate(args: argparse.Namespace) -> int:
    from store_assistant.analytics.sales import SEED, content_hash, ensure, generate, sales_path
    from store_assistant.config import load_settings

    settings = load_settings({"data_dir": args.data_dir})
    if args.force or args.seed is not None:
        path = generate(settings.inventory_csv, sales_path(settings),
                        SEED if args.seed is None else args.seed)
    else:
        path = ensure(settings)
    print(f"sales history in {path} (content {content_hash(path)[:12]})")
    return EXIT_OK


def _eval(args: argparse.Namespace) -> int:
    from store_assistant.evaluation.analytics import ARMS, CASES_FILE, run_analytics_eval
    from store_assistant.evaluation.runner import RUNS_DIR, parse_models, update_baseline
    from store_assistant.errors import ConfigError

    settings, database = _database(args)
    arms = tuple(a.strip() for a in (args.arms or ",".join(ARMS)).split(",") if a.strip())
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise ConfigError(f"Unknown analytics arm(s) {', '.join(unknown)}; arms: {', '.join(ARMS)}.")
    models = parse_models(args.models, settings) or [settings.llm]
    folder = run_analytics_eval(settings, database, models, arms, args.cases or CASES_FILE,
                                args.runs_dir or RUNS_DIR)
    print((folder / "scorecard.md").read_text(encoding="utf-8"))
    print(f"run written to {folder}")
    if args.update_baseline:
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        print(f"baseline updated: {update_baseline(results, 'analytics')} (commit it)")
    return EXIT_OK
