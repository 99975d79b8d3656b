"""`store-assistant ask` (one question, streamed; or a batch) and `store-assistant strategies`.

A batch is validated whole before the first question is asked, and its output file appears only
when complete. Answers asked here are logged like the app's, marked "cli" (kept out of the shop
floor's charts).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from store_assistant.cli.exits import EXIT_FAILED, EXIT_OK
from store_assistant.errors import DataError, ModelError
from store_assistant.files import atomic_open


def register(commands: Any) -> None:
    ask = commands.add_parser("ask", help="answer a question, or a batch of them")
    ask.add_argument("question", nargs="?", help="the question, in quotes")
    ask.add_argument("--strategy", default=None, help="strategy name (see `store-assistant strategies`)")
    ask.add_argument("--model", default=None, help="litellm model string, e.g. ollama/llama3.2")
    ask.add_argument("--data-dir", default=None, help="store data directory (default ./data)")
    ask.add_argument("--json", action="store_true", help="print the answer as one JSON object")
    ask.add_argument("--batch", type=Path, help='JSONL file of {"id", "question"} lines')
    ask.add_argument("--out", type=Path, help="JSONL file for the batch's answers")
    ask.set_defaults(handler=_ask)

    listing = commands.add_parser("strategies", help="list the registered strategies")
    listing.set_defaults(handler=_strategies)


def _ask(args: argparse.Namespace) -> int:
    from store_assistant.answering.questions import validate_question

    if args.batch is None:
        if args.out is not None:
            raise DataError("--out goes with --batch. To save one answer, use --json > file.")
        if args.question is None:
            raise DataError('Give a question, e.g. store-assistant ask "Is the Pixel 8 in stock?", '
                            "or --batch questions.jsonl --out answers.jsonl.")
        question = validate_question(args.question)
        strategy = _strategy(args)
        if args.json:
            print(json.dumps(_record(None, strategy.answer(question)), ensure_ascii=False))
            return EXIT_OK
        stream = strategy.stream(question)
        streamed = "".join(print(piece, end="", flush=True) or piece for piece in stream)
        answer = stream.answer
        if answer.text != streamed.strip():  # post-processing changed it (reasoning hidden, guard)
            print(f"\n\nAnswer:\n{answer.text}")
        print(f"\n\n-- {answer.strategy} | {answer.model} | {answer.latency_ms / 1000:.1f} s"
              f"{' | ' + ', '.join(answer.flags) if answer.flags else ''}")
        documents = [s for s in answer.sources if s.kind != "inventory"]
        for rank, source in enumerate(documents, 1):
            page = f", p. {source.page}" if source.page else ""
            note = "" if source.read else "  (not read by the model)"
            print(f"   [{rank}] {source.title} > {source.heading}{page}{note}")
        return EXIT_OK

    if args.question is not None:
        raise DataError("Give either a question or --batch, not both.")
    if args.out is None:
        raise DataError("--batch needs --out FILE for the answers.")
    items = read_batch(args.batch)
    out = args.out.resolve()
    if out == args.batch.resolve():
        raise DataError(f"--out {args.out} would overwrite the --batch input; choose another file.")
    if not out.parent.is_dir():
        raise DataError(f"The folder for --out ({out.parent}) does not exist. Create it first.")
    strategy = _strategy(args)
    return _run_batch(strategy, items, out)


def read_batch(path: Path) -> list[tuple[Any, str]]:
    """Every line of a batch file, validated, or one DataError listing every bad line."""
    from store_assistant.answering.questions import validate_question

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"Batch file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"Cannot read batch file {path}: {exc}") from None
    items, problems, seen = [], [], set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or "id" not in item or "question" not in item:
                raise DataError('expected an object with "id" and "question"')
            if not isinstance(item["id"], (str, int)) or isinstance(item["id"], bool):
                raise DataError('"id" must be a string or an integer')
            if item["id"] in seen:
                raise DataError(f'duplicate id {item["id"]!r}')
            seen.add(item["id"])
            items.append((item["id"], validate_question(item["question"])))
        except json.JSONDecodeError as exc:
            problems.append(f"  line {number}: not JSON ({exc.msg})")
        except DataError as exc:
            problems.append(f"  line {number}: {exc}")
    if problems:
        shown = problems[:20] + ([f"  ... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise DataError(f"{path} has {len(problems)} bad line(s); nothing was answered:\n"
                        + "\n".join(shown))
    if not items:
        raise DataError(f"{path} has no questions.")
    return items


def _run_batch(strategy: Any, items: list[tuple[Any, str]], out: Path) -> int:
    from tqdm import tqdm

    failures = 0
    with atomic_open(out) as handle:
        for item_id, question in tqdm(items, desc=f"answering ({strategy.name})",
                                      unit="q", file=sys.stderr):
            try:
                record = _record(item_id, strategy.answer(question))
            except ModelError as exc:
                failures += 1
                record = {"id": item_id, "answer": None, "strategy": strategy.name,
                          "model": strategy.gateway.model, "error": str(exc)}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {len(items)} answers to {out} ({failures} failed)", file=sys.stderr)
    return EXIT_FAILED if failures else EXIT_OK


def _record(item_id: Any, answer: Any) -> dict:
    record = {"id": item_id} if item_id is not None else {}
    data = answer.to_dict()
    record.update({"answer": data["text"], "model_text": data["raw_text"],
                   "strategy": data["strategy"], "model": data["model"],
                   "sources": data["sources"], "latency_ms": round(data["latency_ms"], 1),
                   "ttft_ms": None if data["ttft_ms"] is None else round(data["ttft_ms"], 1),
                   "usage": data["usage"], "cost_usd": data["cost_usd"], "flags": data["flags"]})
    return record


def _strategy(args: argparse.Namespace) -> Any:
    from store_assistant.config import load_settings
    from store_assistant.inference.gateway import Gateway
    from store_assistant.answering.strategies import DEFAULT_STRATEGY, build_strategy, check_strategy
    from store_assistant.store.answer_log import answer_log

    settings = load_settings({"llm": args.model, "data_dir": args.data_dir})
    name = check_strategy(args.strategy or DEFAULT_STRATEGY)  # before loading any model
    # Logged like the app's answers, marked "cli": kept out of the shop floor's charts.
    return build_strategy(name, Gateway(settings), settings, answer_log=answer_log(settings),
                          door="cli")


def _strategies(args: argparse.Namespace) -> int:
    from store_assistant.answering.strategies import DEFAULT_STRATEGY, STRATEGIES, describe

    width = max(map(len, STRATEGIES))
    for name in STRATEGIES:
        marker = " (default)" if name == DEFAULT_STRATEGY else ""
        print(f"{name:<{width}}  {describe(name)}{marker}")
    return EXIT_OK
