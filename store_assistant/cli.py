"""`store-assistant`: ask questions, one or a batch, list strategies, look up or edit the
inventory, and generate fine-tuning data from the shell.

Exit codes: 0 done; 1 the model failed (the message says why); 2 bad input or settings (including
an unknown SKU or a rejected inventory edit), in which case nothing was written. A batch is
validated whole before the first question is asked, and its output file appears only when complete
(written to a temp file, then renamed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from store_assistant.files import atomic_open
from store_assistant.errors import (ConfigError, DataError, InventoryError, ModelError,
                                    StoreAssistantError)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded with a trained model
    try:
        return args.handler(args)
    except (DataError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StoreAssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="store-assistant",
                                     description="Answer store staff's product questions.")
    commands = parser.add_subparsers(dest="command", required=True)

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

    ingest = commands.add_parser("ingest", help="index manuals and policies, load the inventory")
    ingest.add_argument("--manuals", type=Path, help="folder of product manuals (markdown)")
    ingest.add_argument("--policies", type=Path, help="folder of store policies (markdown)")
    ingest.add_argument("--inventory", type=Path, help="inventory CSV file")
    ingest.add_argument("--data-dir", default=None, help="where the index and database go")
    ingest.add_argument("--rebuild", action="store_true", help="re-embed everything from scratch")
    ingest.set_defaults(handler=_ingest)

    inventory = commands.add_parser("inventory", help="look up or edit prices, promotions, stock")
    actions = inventory.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", help="one product: price, promotion, stock per store")
    show.add_argument("sku")
    show.add_argument("--json", action="store_true", help="print the product as one JSON object")
    edit = actions.add_parser("set", help="change a product's price, stock or promotion")
    edit.add_argument("sku")
    edit.add_argument("--price", help="new regular price, e.g. 1299.99")
    edit.add_argument("--stock", action="append", default=[], metavar="STORE=N",
                      help="units in one store; repeat for several stores")
    edit.add_argument("--promo", metavar="TEXT", help='promotion text, e.g. "Spring sale"')
    edit.add_argument("--promo-price", help="the promotion's price (below the regular price)")
    edit.add_argument("--from", dest="start", metavar="YYYY-MM-DD",
                      help="first day of the promotion (default today)")
    edit.add_argument("--until", metavar="YYYY-MM-DD", help="last day of the promotion")
    edit.add_argument("--clear-promo", action="store_true", help="end the promotion now")
    load = actions.add_parser("import", help="add or update products from a CSV file")
    load.add_argument("file", type=Path)
    load.add_argument("--force", action="store_true",
                      help="re-apply a file even if it was the last one imported")
    dump = actions.add_parser("export", help="write every product to a CSV file")
    dump.add_argument("file", type=Path)
    for action in (show, edit, load, dump):
        action.add_argument("--data-dir", default=None,
                            help="store data directory (default ./data)")
        action.set_defaults(handler=_inventory)

    evaluate = commands.add_parser("eval", help="score strategies on the golden cases")
    evaluate.add_argument("--arms", default=None,
                          help="comma-separated strategies (default: all eight)")
    evaluate.add_argument("--split", choices=("dev", "heldout"), help="only this split")
    evaluate.add_argument("--category", action="append", help="only this category (repeatable)")
    evaluate.add_argument("--tag", action="append", help='only cases with this tag, e.g. "gate"')
    evaluate.add_argument("--repeats", type=int, default=1, help="answers per case and arm")
    evaluate.add_argument("--model", default=None, help="litellm model string for every arm")
    evaluate.add_argument("--judge", default=None, help="LLM-judge model (optional, off by default)")
    evaluate.add_argument("--freshness", action="store_true",
                          help="also change prices/stock/promotions on a scratch copy and re-ask")
    evaluate.add_argument("--update-baseline", action="store_true",
                          help="write this run as the committed baseline for its selection")
    evaluate.add_argument("--cases", type=Path, default=None, help="folder of case files")
    evaluate.add_argument("--runs-dir", type=Path, default=None, help="where runs are written")
    evaluate.add_argument("--data-dir", default=None, help="store data directory (default ./data)")
    evaluate.set_defaults(handler=_eval)

    data = commands.add_parser("data", help="fine-tuning data")
    data_actions = data.add_subparsers(dest="action", required=True)
    generate = data_actions.add_parser(
        "generate", help="seeds + data-built questions + teacher paraphrases -> train/valid JSONL")
    generate.add_argument("--teacher", default=None,
                          help="litellm model that rewords questions (default: the embedded model)")
    generate.add_argument("--num", type=int, default=None,
                          help="at most this many examples (default 900)")
    generate.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    generate.add_argument("--no-paraphrase", action="store_true", help="no teacher calls")
    generate.add_argument("--out", type=Path, default=None,
                          help="output folder (default finetune_data/generated)")
    generate.add_argument("--data-dir", default=None, help="store data directory (default ./data)")
    generate.set_defaults(handler=_data_generate)

    model = commands.add_parser("model", help="fine-tuned models: train, list, use")
    model_actions = model.add_subparsers(dest="action", required=True)
    train = model_actions.add_parser(
        "train", help="LoRA on the embedded model -> GGUF adapter, parity-checked and registered")
    train.add_argument("--config", type=Path, default=None,
                       help="TOML file listing settings that differ from the defaults "
                            "(e.g. finetune_data/configs/default.toml)")
    train.add_argument("--name", default=None, help="register as this name (default volt-lora)")
    train.add_argument("--max-steps", type=int, default=None, help="stop after N steps (a trial)")
    train.add_argument("--max-examples", type=int, default=None,
                       help="train on the first N examples only")
    train.add_argument("--replace", action="store_true", help="overwrite a model of that name")
    train.add_argument("--use", action="store_true", help="make it the active model when done")
    train.set_defaults(handler=_model_train)
    model_actions.add_parser("list", help="registered models; * marks the active one"
                             ).set_defaults(handler=_model_list)
    use = model_actions.add_parser("use", help="make NAME the model of the finetuned strategies")
    use.add_argument("name")
    use.set_defaults(handler=_model_use)

    users = commands.add_parser("users", help="app accounts: staff and managers")
    user_actions = users.add_subparsers(dest="action", required=True)
    add = user_actions.add_parser("add", help="create an account (asks for the password)")
    add.add_argument("name")
    add.add_argument("--role", choices=("staff", "manager"), required=True)
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input (scripts), not a prompt")
    add.set_defaults(handler=_users)
    remove = user_actions.add_parser("remove", help="delete an account")
    remove.add_argument("name")
    remove.set_defaults(handler=_users)
    accounts_list = user_actions.add_parser("list", help="accounts and roles")
    accounts_list.set_defaults(handler=_users)
    for action in (add, remove, accounts_list):
        action.add_argument("--data-dir", default=None, help="store data directory (default ./data)")

    feedback = commands.add_parser("feedback", help="staff corrections from the answer log")
    feedback_actions = feedback.add_subparsers(dest="action", required=True)
    export = feedback_actions.add_parser(
        "export", help="👎 answers with a correction -> candidate eval cases and fine-tuning seeds")
    export.add_argument("--out", type=Path, required=True, help="folder for the two YAML files")
    export.add_argument("--days", type=int, default=None, help="only the last N days")
    export.add_argument("--data-dir", default=None, help="store data directory (default ./data)")
    export.set_defaults(handler=_feedback_export)
    return parser


# --- feedback --------------------------------------------------------------------------------

def _feedback_export(args: argparse.Namespace) -> int:
    from datetime import date, timedelta

    from store_assistant.store.answer_log import (answer_log, candidate_cases, candidate_seeds,
                                            corrections)
    from store_assistant.config import load_settings
    from store_assistant.files import write_atomic

    if args.days is not None and args.days < 1:
        raise DataError(f"--days must be 1 or more, not {args.days}.")
    settings = load_settings({"data_dir": args.data_dir})
    since = date.today() - timedelta(days=args.days - 1) if args.days else None
    answers, unreadable = answer_log(settings).read(since=since)
    if unreadable:
        print(f"warning: {unreadable} unreadable line(s) in the log were left out", file=sys.stderr)
    fixed = corrections(answers)
    if not fixed:
        print(f"no corrected answers in the log ({len(answers)} answers read); nothing written")
        return EXIT_OK
    written = []
    for name, text in (("feedback-cases.yaml", candidate_cases(answers)),
                       ("feedback-seeds.yaml", candidate_seeds(answers))):
        path = args.out / name
        write_atomic(path, text)
        written.append(str(path))
    print(f"{len(fixed)} corrected answer(s) -> {', '.join(written)}. Review them before use: "
          f"the files say how.")
    return EXIT_OK


# --- users -----------------------------------------------------------------------------------

def _users(args: argparse.Namespace) -> int:
    from store_assistant.store import accounts
    from store_assistant.config import load_settings

    settings = load_settings({"data_dir": getattr(args, "data_dir", None)})
    if args.action == "list":
        users = accounts.load_users(settings)
        if not users:
            print("no accounts; add a manager with `store-assistant users add NAME --role manager`")
        for name, user in sorted(users.items()):
            print(f"{name}  {user['role']}  created {user.get('created', '?')}")
        return EXIT_OK
    if args.action == "remove":
        accounts.remove_user(settings, args.name)
        print(f"removed {args.name}")
        return EXIT_OK
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        import getpass
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("Again: ") != password:
            raise DataError("The two passwords differ; nothing was changed.")
    accounts.add_user(settings, args.name, args.role, password)
    print(f"added {args.name} ({args.role}) to {accounts.users_path(settings)}")
    return EXIT_OK


# --- model -----------------------------------------------------------------------------------

def _model_train(args: argparse.Namespace) -> int:
    from store_assistant.config import load_settings
    from store_assistant.finetune.train import load_config

    settings = load_settings()
    config = load_config(args.config, name=args.name, max_steps=args.max_steps,
                         max_examples=args.max_examples, threads=settings.threads)
    from store_assistant.finetune.pipeline import train_model  # torch: only when training

    import shlex

    command = "store-assistant " + " ".join(map(shlex.quote, args.argv))
    entry = train_model(settings, config, command, replace=args.replace, activate=args.use)
    folder = settings.models_dir / config.name
    print(f"{config.name}: {entry['steps']} steps in {entry['training_seconds'] / 60:.1f} min "
          f"({entry['stopped']}), validation loss {entry['first_valid_loss']:.3f} -> "
          f"{entry['best_valid_loss']:.3f}; adapter {entry['adapter_bytes'] / 1e6:.1f} MB")
    parity = entry["parity"]
    print(f"parity with llama.cpp on {parity['prompts']} prompts: {parity['equal']} identical, "
          f"{parity['near_tie']} parted at a near-tie (largest gap {parity['max_gap']:.2f} "
          f"logits; runtime rounding, see finetune/export.py)")
    print(f"wrote {folder}/ (adapter.gguf, loss.json, loss.png, config.toml) and "
          f"{settings.models_dir / 'registry.json'}")
    from store_assistant.inference.models import load_registry

    if load_registry(settings)["active"] != config.name:
        print(f"serve it with `store-assistant model use {config.name}`")
    return EXIT_OK


def _model_list(args: argparse.Namespace) -> int:
    from store_assistant.config import load_settings
    from store_assistant.inference.models import check, load_registry

    settings = load_settings()
    registry = load_registry(settings)
    if not registry["models"]:
        print("no fine-tuned models; train one with `store-assistant model train`")
    for name, entry in registry["models"].items():
        marker = "*" if name == registry["active"] else " "
        status = check(settings, entry) or "ok"
        loss = entry.get("best_valid_loss")
        minutes = (entry.get("training_seconds") or 0) / 60
        print(f"{marker} {name}  base {entry['base']}  valid loss "
              f"{loss if loss is not None else '?'}  trained {minutes:.1f} min  "
              f"{entry.get('created', '')}  {status}")
    return EXIT_OK


def _model_use(args: argparse.Namespace) -> int:
    from store_assistant.config import load_settings
    from store_assistant.inference.models import use

    use(load_settings(), args.name)
    print(f"the finetuned strategies now use local/{args.name}")
    return EXIT_OK


# --- data ------------------------------------------------------------------------------------

def _data_generate(args: argparse.Namespace) -> int:
    if args.num is not None and args.num < 1:
        raise DataError(f"--num must be at least 1, got {args.num}.")
    from store_assistant.config import load_settings
    from store_assistant.finetune.synthetic import GENERATED_DIR, generate

    settings = load_settings({"data_dir": args.data_dir})
    out = args.out or GENERATED_DIR
    manifest = generate(settings, teacher=args.teacher, num=args.num, seed=args.seed, out=out,
                        paraphrase=not args.no_paraphrase, progress=True)
    print(manifest.summary(out))
    return EXIT_OK


# --- eval ------------------------------------------------------------------------------------

def _eval(args: argparse.Namespace) -> int:
    from store_assistant.config import load_settings
    from store_assistant.evaluation.runner import ALL_ARMS, EvalConfig, parse_arms, run_eval, update_baseline
    from store_assistant.evaluation.golden import CASES_DIR

    config = EvalConfig(arms=parse_arms(args.arms or ",".join(ALL_ARMS)), split=args.split,
                        categories=args.category, tags=args.tag, repeats=args.repeats,
                        model=args.model, judge=args.judge, freshness=args.freshness,
                        cases_dir=args.cases or CASES_DIR)
    if args.runs_dir:
        config.runs_dir = args.runs_dir
    settings = load_settings({"llm": args.model, "data_dir": args.data_dir})
    folder = run_eval(settings, config, progress=True)
    print((folder / "scorecard.md").read_text(encoding="utf-8"))
    print(f"run written to {folder} (scorecard.html for charts)")
    if args.update_baseline:
        from store_assistant.evaluation.runner import baseline_name

        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        path = update_baseline(results, baseline_name(results["run"]))
        print(f"baseline updated: {path} (commit it)")
    return EXIT_OK


# --- ask -------------------------------------------------------------------------------------

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
    record.update({"answer": data["text"], "strategy": data["strategy"], "model": data["model"],
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


# --- ingest --------------------------------------------------------------------------------

def _ingest(args: argparse.Namespace) -> int:
    from store_assistant.config import load_settings
    from store_assistant.store.inventory import Inventory, inventory_path
    from store_assistant.store.knowledge import ingest

    settings = load_settings({"data_dir": args.data_dir, "manuals_dir": args.manuals,
                              "policies_dir": args.policies, "inventory_csv": args.inventory})
    csv_path = settings.inventory_csv
    if not csv_path.is_file():
        raise DataError(f"Inventory file {csv_path} does not exist. Pass --inventory FILE.csv.")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Validate and load the inventory first: it is one transaction, so a bad file changes nothing.
    report = Inventory(inventory_path(settings)).import_csv(csv_path, actor="ingest",
                                                            force=args.rebuild)
    print(f"inventory: {report}", file=sys.stderr)
    result = ingest(settings, [(settings.manuals_dir, "manual"), (settings.policies_dir, "policy")],
                    rebuild=args.rebuild)
    print(f"knowledge: {result}", file=sys.stderr)
    return EXIT_OK


# --- strategies ------------------------------------------------------------------------------

def _strategies(args: argparse.Namespace) -> int:
    from store_assistant.answering.strategies import DEFAULT_STRATEGY, STRATEGIES, describe

    width = max(map(len, STRATEGIES))
    for name in STRATEGIES:
        marker = " (default)" if name == DEFAULT_STRATEGY else ""
        print(f"{name:<{width}}  {describe(name)}{marker}")
    return EXIT_OK


# --- inventory -------------------------------------------------------------------------------

def _inventory(args: argparse.Namespace) -> int:
    from store_assistant.config import load_settings
    from store_assistant.store.inventory import Inventory, inventory_path

    settings = load_settings({"data_dir": args.data_dir})
    path = inventory_path(settings)
    if args.action == "import" and not path.exists():
        from store_assistant.store.inventory_csv import read_records, read_source

        read_records(*read_source(args.file), known_stores=[])  # a bad file leaves no empty db
    try:
        # Only import may create the database; elsewhere a missing one gets set-up instructions.
        inventory = Inventory(path, create=args.action == "import")
        return {"show": _inventory_show, "set": _inventory_set, "import": _inventory_import,
                "export": _inventory_export}[args.action](inventory, args)
    except InventoryError as exc:  # an unknown SKU, a rejected edit, no database: all input
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _inventory_show(inventory: Any, args: argparse.Namespace) -> int:
    from datetime import date

    product = inventory.lookup(args.sku)
    if product is None:
        raise InventoryError(f"No product with SKU {args.sku!r} in {inventory.path}. "
                             f"Check the number on the label.")
    today = date.today()
    if args.json:
        print(json.dumps(product.to_dict(today), ensure_ascii=False))
    else:
        print(_describe(product, today))
    return EXIT_OK


def _describe(product: Any, today: Any) -> str:
    lines = [f"{product.sku}  {product.name}  "
             f"({product.brand} {product.model}, {product.category})",
             f"price: ${product.price:,.2f}"]
    promotion = product.promotion
    if promotion is not None:
        status = promotion.status(today)
        lines.append(f"promotion ({status}): ${promotion.price:,.2f} \"{promotion.text}\" "
                     f"from {promotion.start} until {promotion.end}")
        if status == "active":
            lines[1] += f" (${promotion.price:,.2f} today)"
    lines.append("stock: " + ", ".join(f"{store} {qty}" for store, qty in product.stock.items()))
    lines.append(f"aisle: {product.aisle or '-'}")
    return "\n".join(lines)


def _inventory_set(inventory: Any, args: argparse.Namespace) -> int:
    import getpass
    from datetime import date

    from store_assistant.store.inventory import Promotion

    stock = {}
    for item in args.stock:
        store, _, qty = item.partition("=")
        if not store.strip() or not qty.strip().lstrip("-").isdigit():
            raise DataError(f"--stock {item!r} should be STORE=N, e.g. --stock downtown=4.")
        stock[store.strip()] = int(qty)
    promotion: Any = None
    if args.clear_promo:
        if args.promo is not None or args.promo_price or args.until or args.start:
            raise DataError("--clear-promo cannot go with --promo, --promo-price, --from or "
                            "--until.")
        promotion = "clear"
    elif args.promo is not None:
        if not args.promo_price or not args.until:
            raise DataError('--promo needs --promo-price and --until, e.g. --promo "Spring sale" '
                            "--promo-price 999 --until 2025-03-31.")
        start = _date(args.start, "--from") if args.start else date.today()
        promotion = Promotion(_price(args.promo_price, "--promo-price"), start,
                              _date(args.until, "--until"), args.promo)
    elif args.promo_price or args.until or args.start:
        raise DataError("--promo-price, --from and --until go with --promo TEXT.")
    price = _price(args.price, "--price") if args.price is not None else None
    if price is None and not stock and promotion is None:
        raise DataError("Nothing to change: give --price, --stock STORE=N, --promo or "
                        "--clear-promo.")
    try:
        actor = f"cli:{getpass.getuser()}"
    except OSError:  # no login name (some containers)
        actor = "cli"
    product = inventory.update(args.sku, price=price, stock=stock or None, promotion=promotion,
                               actor=actor)
    print(_describe(product, date.today()))
    return EXIT_OK


def _price(text: str, flag: str) -> float:
    from store_assistant.store.inventory_csv import cents

    try:
        return cents(text.strip()) / 100
    except ValueError as exc:
        raise DataError(f"{flag}: {exc}.") from None


def _date(text: str, flag: str) -> Any:
    from store_assistant.store.inventory_csv import parse_date

    try:
        return parse_date(text.strip())
    except ValueError as exc:
        raise DataError(f"{flag}: {exc}.") from None


def _inventory_import(inventory: Any, args: argparse.Namespace) -> int:
    report = inventory.import_csv(args.file, actor="cli-import", force=args.force)
    print(f"{args.file} -> {inventory.path}: {report}")
    return EXIT_OK


def _inventory_export(inventory: Any, args: argparse.Namespace) -> int:
    count = inventory.export_csv(args.file)
    print(f"wrote {count} product{'' if count == 1 else 's'} to {args.file}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
