"""The shop floor's answer log: every answer the app gives, and what staff thought of it.

One JSON line per event in a file per day (`data/answer-log/2026-11-29.jsonl`), deleted after
`answer_log_days`: append-only, readable with grep, and about 1 KB per answer. Each line is one
`write` to a file opened for appending, under an exclusive `flock`, so sessions in other threads
or processes never interleave. Staff feedback is a line of its own pointing at the answer's id
(the last one wins), and 👎 answers with a correction export as candidate golden cases and
fine-tuning seeds for a person to review. Of what a customer said, only the question is kept;
no account, session or address is recorded.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from store_assistant.errors import DataError

FOLDER = "answer-log"
RATINGS = ("up", "down")
MAX_CORRECTION = 2000  # characters: a corrected answer, not an essay
# Flags that mean a check changed what the model wrote before staff saw it.
GUARD_FLAGS = ("guard_", "prompt_leak_blocked", "excerpt_withheld")
_ID = re.compile(r"[0-9a-f]{32}")
_DAY_FILE = re.compile(r"(\d{4}-\d{2}-\d{2})\.jsonl")


class AnswerLog:
    """Answers and feedback in `folder`, one file per UTC day, the last `keep_days` days kept."""

    def __init__(self, folder: Path, keep_days: int = 90) -> None:
        self.folder, self.keep_days = Path(folder), keep_days

    # --- writing ---------------------------------------------------------------------------

    def record_answer(self, question: str, answer: Any, door: str = "app") -> str:
        """Log an `Answer` (answering.base) given to `question` through `door` ("app" for the
        shop floor, "cli" for the shell); returns its id for feedback."""
        usage = answer.usage or {}
        return self._append({
            "type": "answer", "door": door, "strategy": answer.strategy, "model": answer.model,
            "latency_ms": round(answer.latency_ms, 1),
            "ttft_ms": None if answer.ttft_ms is None else round(answer.ttft_ms, 1),
            "prompt_tokens": usage.get("prompt_tokens", 0),
            "completion_tokens": usage.get("completion_tokens", 0),
            "cost_usd": answer.cost_usd, "flags": list(answer.flags), "error": None,
            "question": question, "answer": answer.text,
            "sources": [source.id for source in answer.sources]})

    def record_error(self, question: str, strategy: str, model: str, latency_ms: float,
                     error: Exception, door: str = "app") -> str:
        """Log a question that got an error instead of an answer (its kind and message)."""
        return self._append({
            "type": "answer", "door": door, "strategy": strategy, "model": model,
            "latency_ms": round(latency_ms, 1), "ttft_ms": None, "prompt_tokens": 0,
            "completion_tokens": 0, "cost_usd": 0.0, "flags": [],
            "error": f"{type(error).__name__}: {error}", "question": question, "answer": None,
            "sources": []})

    def record_feedback(self, answer_id: str, rating: str, correction: str | None = None) -> None:
        """Staff's 👍/👎 on an answer, with an optional correction; a DataError changes nothing.

        '👎, "The XM5 is $329.99 with the holiday deal"' -> rating "down" and that correction.
        """
        if not isinstance(answer_id, str) or not _ID.fullmatch(answer_id):
            raise DataError(f"{answer_id!r} is not an answer id from this log.")
        if rating not in RATINGS:
            raise DataError(f"Rating {rating!r} is not one of {', '.join(RATINGS)}.")
        if correction is not None:
            if not isinstance(correction, str):
                raise DataError("A correction must be text.")
            correction = correction.strip() or None
        if correction and len(correction) > MAX_CORRECTION:
            raise DataError(f"The correction is {len(correction):,} characters; keep it under "
                            f"{MAX_CORRECTION:,}.")
        if correction and any(ord(c) < 32 and c not in "\n\t" for c in correction):
            raise DataError("The correction contains control characters; type it as plain text.")
        self._append({"type": "feedback", "answer_id": answer_id, "rating": rating,
                      "correction": correction})

    def _append(self, event: dict) -> str:
        now = datetime.now(timezone.utc)
        event = {"id": uuid.uuid4().hex, "time": now.isoformat(timespec="milliseconds"), **event}
        line = (json.dumps(event, ensure_ascii=False) + "\n").encode("utf-8")
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{now.date().isoformat()}.jsonl"
        new_day = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
        finally:
            os.close(fd)  # closing releases the lock
        if new_day:
            self.rotate(now.date())
        return event["id"]

    def rotate(self, today: date | None = None) -> list[Path]:
        """Delete the day files older than `keep_days`; returns what was deleted."""
        today = today or datetime.now(timezone.utc).date()
        oldest = today - timedelta(days=self.keep_days - 1)
        gone = []
        for path, day in self._day_files():
            if day < oldest:
                path.unlink(missing_ok=True)
                gone.append(path)
        return gone

    # --- reading ---------------------------------------------------------------------------

    def _day_files(self) -> list[tuple[Path, date]]:
        if not self.folder.is_dir():
            return []
        files = []
        for path in sorted(self.folder.iterdir()):
            match = _DAY_FILE.fullmatch(path.name)
            if match:
                try:
                    files.append((path, date.fromisoformat(match.group(1))))
                except ValueError:
                    continue
        return files

    def read(self, since: date | None = None) -> tuple[list[dict], int]:
        """(answers with their latest feedback merged in, unreadable lines) since a day.

        A line cut short by a crash or edited by hand is skipped and counted, never guessed at.
        """
        answers: dict[str, dict] = {}
        feedback: dict[str, dict] = {}
        unreadable = 0
        for path, day in self._day_files():
            if since and day < since:
                continue
            with path.open("rb") as handle:
                for raw in handle:
                    event = _event(raw)
                    if event is None:
                        unreadable += 1
                    elif event["type"] == "answer":
                        answers[event["id"]] = {**event, "rating": None, "correction": None}
                    else:
                        feedback[event["answer_id"]] = event
        for answer_id, event in feedback.items():
            if answer_id in answers:
                answers[answer_id].update(rating=event["rating"], correction=event["correction"])
        return sorted(answers.values(), key=lambda a: a["time"]), unreadable


def _event(raw: bytes) -> dict | None:
    """One log line as a dict, or None when it is not a whole, well-formed event."""
    try:
        event = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(event, dict) or not isinstance(event.get("time"), str):
        return None
    if event.get("type") == "answer":
        fields = {"id": str, "strategy": str, "model": str, "latency_ms": (int, float),
                  "flags": list, "question": str}
    elif event.get("type") == "feedback":
        fields = {"answer_id": str, "rating": str}
    else:
        return None
    if not all(isinstance(event.get(k), t) and not isinstance(event.get(k), bool)
               for k, t in fields.items()):
        return None
    if event["type"] == "feedback" and event["rating"] not in RATINGS:
        return None
    if event["type"] == "answer" and (
            not math.isfinite(event["latency_ms"])
            or not all(isinstance(f, str) for f in event["flags"])
            or not isinstance(event.get("sources", []), list)
            or not all(isinstance(x, str) for x in event.get("sources", []))
            or not all(isinstance(event.get(k), (str, type(None))) for k in ("error", "answer"))):
        return None
    if event["type"] == "feedback" and ("correction" not in event  # a key renamed by hand
                                        or not isinstance(event["correction"], (str, type(None)))):
        return None
    try:
        stamp = datetime.fromisoformat(event["time"])
    except ValueError:
        return None
    if stamp.tzinfo is None:
        return None
    return event


def guard_corrected(flags: list[str]) -> bool:
    return any(flag.startswith(GUARD_FLAGS) for flag in flags)


# --- closing the loop: corrections -> candidate cases and seeds --------------------------------

def corrections(answers: list[dict]) -> list[dict]:
    """The 👎 answers that came with a correction, oldest first."""
    return [a for a in answers if a.get("rating") == "down" and a.get("correction")]


def candidate_cases(answers: list[dict], today: date | None = None) -> str:
    """YAML for eval/cases/, one candidate golden case per correction, to be reviewed.

    The correction becomes the reference; category, split and typed facts are left for the
    reviewer (the golden loader rejects the placeholders, so nothing counts until checked).
    """
    today = today or date.today()
    lines = [f"# Candidate golden cases from staff corrections, exported {today.isoformat()}.",
             "# Review each before use: check the correction against the inventory and manuals,",
             "# set the category and split, type the facts, then move it into",
             "# eval/cases/<category>.yaml. `pytest eval/` reads only eval/cases/.", ""]
    for answer in corrections(answers):
        case = {"id": f"feedback-{answer['id'][:12]}", "category": "REVIEW", "split": "dev",
                "question": answer["question"], "reference": answer["correction"],
                "facts": [], "sources": list(answer.get("sources", [])),
                "tags": ["feedback"]}
        lines += [f"# {answer['time'][:10]} {answer['strategy']} ({answer['model']}) answered:",
                  *[f"#   {line}" for line in (answer.get("answer") or "").splitlines()[:6]],
                  yaml.safe_dump([case], sort_keys=False, allow_unicode=True, width=100).rstrip(),
                  ""]
    return "\n".join(lines)


def candidate_seeds(answers: list[dict], today: date | None = None) -> str:
    """A taxonomy leaf (qna.yaml) of the corrections, to be reviewed before it is trained on."""
    today = today or date.today()
    leaf = {"version": 1, "created_by": "store-assistant feedback export",
            "task_description": f"Staff corrections from the shop floor, exported "
                                f"{today.isoformat()}. Review each answer before training.",
            "seed_examples": [{"question": a["question"], "answer": a["correction"]}
                              for a in corrections(answers)]}
    header = ("# Candidate fine-tuning seeds from staff corrections. Review every answer, then\n"
              "# save this as finetune_data/taxonomy/skills/<area>/<leaf>/qna.yaml (5 or more\n"
              "# seeds) and regenerate the synthetic data. Heldout eval questions must not go in.\n")
    return header + yaml.safe_dump(leaf, sort_keys=False, allow_unicode=True, width=100)


def answer_log(settings: Any) -> AnswerLog:
    return AnswerLog(settings.data_dir / FOLDER, settings.answer_log_days)
