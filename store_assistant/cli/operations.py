"""`store-assistant users add|remove|list|unlock` and `store-assistant feedback export` (docs/operations.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from store_assistant.cli.exits import EXIT_OK
from store_assistant.errors import DataError


def register(commands: Any) -> None:
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
    unlock = user_actions.add_parser(
        "unlock", help="clear an account's failed sign-ins (it is locked after 5 in 15 minutes)")
    unlock.add_argument("name")
    unlock.set_defaults(handler=_users)
    for action in (add, remove, accounts_list, unlock):
        action.add_argument("--data-dir", default=None, help="store data directory (default ./data)")

    feedback = commands.add_parser("feedback", help="staff corrections from the answer log")
    feedback_actions = feedback.add_subparsers(dest="action", required=True)
    export = feedback_actions.add_parser(
        "export", help="👎 answers with a correction -> candidate eval cases and fine-tuning seeds")
    export.add_argument("--out", type=Path, required=True, help="folder for the two YAML files")
    export.add_argument("--days", type=int, default=None, help="only the last N days")
    export.add_argument("--data-dir", default=None, help="store data directory (default ./data)")
    export.set_defaults(handler=_feedback_export)


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
    if args.action == "unlock":
        cleared = accounts.unlock(settings, args.name)
        print(f"unlocked {args.name} ({cleared} failed sign-in(s) cleared)")
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
    print(f"added {args.name} ({args.role}) to {accounts.accounts_path(settings)}")
    return EXIT_OK


def _feedback_export(args: argparse.Namespace) -> int:
    from datetime import date, timedelta

    from store_assistant.store.answer_log import (answer_log, candidate_cases, candidate_seeds,
                                            corrections)
    from store_assistant.config import load_settings
    from store_assistant.files import write_all_atomic

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
    files = {"feedback-cases.yaml": candidate_cases(answers),
             "feedback-seeds.yaml": candidate_seeds(answers)}
    taken = [name for name in files if (args.out / name).is_dir() or args.out.is_file()]
    if taken:
        raise DataError(f"{args.out / taken[0]} is in the way (a folder, or --out is a file); "
                        f"nothing was written. Pick another --out.")
    write_all_atomic(args.out, files)  # both files or neither
    written = [str(args.out / name) for name in files]
    print(f"{len(fixed)} corrected answer(s) -> {', '.join(written)}. Review them before use: "
          f"the files say how.")
    return EXIT_OK
