"""`store-assistant`: ask questions, one or a batch, list strategies, look up or edit the
inventory, evaluate strategies, make fine-tuning data, train and pick models, manage accounts.

Each group of commands is a module here with a `register(commands)` that adds its sub-commands
and handlers: `ask.py`, `inventory.py`, `evaluate.py`, `finetune.py`, `operations.py`. Errors are
ours (`StoreAssistantError`), printed as one line with the fix, never as a traceback; exit codes
are in `exits.py`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from store_assistant.cli import analytics, ask, evaluate, finetune, inventory, operations
from store_assistant.cli.exits import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from store_assistant.errors import ConfigError, DataError, StoreAssistantError

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "main"]


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
    for group in (ask, inventory, evaluate, analytics, finetune, operations):
        group.register(commands)
    return parser
