"""Does the automatic `correct` metric agree with people? Hand labels, and the metric checked on them.

eval/labels.yaml holds answers from real runs, each labelled by reading it against the manuals and
the inventory (not by a script or a model): `correct`, `partly` or `wrong`, with a one-line reason.
Agreement is on the binary question the scorecard asks (is this answer correct?): `partly` counts
as not correct. The metric re-scores the stored answer text, so the figures follow the metric's
current version, not the version of the run the answer came from.

    store-assistant labels sample eval/runs/<run-id> -n 40   # answers to label, as YAML
    store-assistant labels agreement                          # kappa, precision, recall, misses
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import yaml

from store_assistant.config import PROJECT_DIR
from store_assistant.errors import DataError
from store_assistant.evaluation.golden import GoldenCase
from store_assistant.evaluation.metrics import METRICS, Reply, World, correct

LABELS_FILE = PROJECT_DIR / "eval" / "labels.yaml"
LABELS = ("correct", "partly", "wrong")
FIELDS = ("case", "arm", "run", "path", "answer", "label", "reason")


@dataclass(frozen=True)
class Label:
    case: str
    arm: str
    run: str
    path: str | None
    answer: str
    label: str
    reason: str


def load_labels(path: Path = LABELS_FILE, cases: dict[str, GoldenCase] | None = None) -> list[Label]:
    """Every label, or a DataError naming each bad entry (nothing is half-loaded)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} cannot be read ({exc}).") from None
    if not isinstance(raw, list):
        raise DataError(f"{path} must be a list of labelled answers.")
    problems, labels = [], []
    for i, entry in enumerate(raw, 1):
        where = f"{path.name} entry {i}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: not a mapping")
            continue
        unknown = set(entry) - set(FIELDS)
        missing = [k for k in FIELDS if k not in entry and k != "path"]
        if unknown or missing:
            problems.append(f"{where}: " + "; ".join(
                [f"unknown key(s) {sorted(unknown)}"] * bool(unknown)
                + [f"missing {', '.join(missing)}"] * bool(missing)))
            continue
        if entry["label"] not in LABELS:
            problems.append(f"{where}: label must be one of {', '.join(LABELS)}, got {entry['label']!r}")
        if not str(entry["reason"] or "").strip():
            problems.append(f"{where}: a label needs a one-line reason")
        if cases is not None and entry["case"] not in cases:
            problems.append(f"{where}: unknown case {entry['case']!r}")
        labels.append(Label(str(entry["case"]), str(entry["arm"]), str(entry["run"]),
                            entry.get("path"), str(entry["answer"] or ""), str(entry["label"]),
                            str(entry["reason"] or "").strip()))
    if problems:
        raise DataError(f"{len(problems)} problem(s) in {path}:\n  " + "\n  ".join(problems))
    return labels


def cohen_kappa(a: list[bool], b: list[bool]) -> float | None:
    """Cohen's kappa of two raters' yes/no verdicts; None when undefined (no items, or both
    raters gave one verdict only, so chance agreement is 1)."""
    n = len(a)
    if n == 0 or n != len(b):
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    yes_a, yes_b = sum(a) / n, sum(b) / n
    chance = yes_a * yes_b + (1 - yes_a) * (1 - yes_b)
    return None if chance == 1 else (observed - chance) / (1 - chance)


def agreement(labels: list[Label], cases: dict[str, GoldenCase], world: World) -> dict:
    """The metric's verdicts against the labels: n, kappa, precision, recall, and every miss."""
    people, metric, misses = [], [], []
    for item in labels:
        reply = Reply(item.case, item.arm, 0, item.answer, "labelled", path=item.path)
        verdict = correct(cases[item.case], reply, world)
        people.append(item.label == "correct")
        metric.append(bool(verdict.value))
        if people[-1] != metric[-1]:
            misses.append({"case": item.case, "arm": item.arm, "label": item.label,
                           "label_reason": item.reason, "metric": bool(verdict.value),
                           "metric_reason": verdict.reason})
    both = sum(p and m for p, m in zip(people, metric))
    return {"n": len(labels), "metric_version": METRICS["correct"].version,
            "labels": {name: sum(i.label == name for i in labels) for name in LABELS},
            "kappa": cohen_kappa(people, metric),
            "precision": both / sum(metric) if any(metric) else None,
            "recall": both / sum(people) if any(people) else None,
            "agree": sum(p == m for p, m in zip(people, metric)), "misses": misses}


def sample(answers: list[dict], run: str, n: int, categories: dict[str, str], seed: int = 0,
           skip: set[tuple[str, str]] = frozenset()) -> list[dict]:
    """Up to n answers of a run to label, spread over arms and categories (round robin over
    (arm, category) in a seeded shuffle), leaving out (case, arm) pairs already labelled."""
    rng = random.Random(seed)
    pools: dict[tuple[str, str], list[dict]] = {}
    for answer in answers:
        if answer.get("repeat", 0) == 0 and (answer["case_id"], answer["arm"]) not in skip:
            key = (answer["arm"], categories.get(answer["case_id"], "?"))
            pools.setdefault(key, []).append(answer)
    for pool in pools.values():
        rng.shuffle(pool)
    order = sorted(pools)
    rng.shuffle(order)
    picked = []
    while len(picked) < n and any(pools.values()):
        for key in order:
            if pools[key] and len(picked) < n:
                picked.append(pools[key].pop())
    return [{"case": a["case_id"], "arm": a["arm"], "run": run, "path": a.get("path"),
             "answer": a["text"], "label": "", "reason": ""} for a in picked]


def to_yaml(entries: list[dict], cases: dict[str, GoldenCase]) -> str:
    """Entries to label, each preceded by its question and reference answer as comments."""
    parts = []
    for entry in entries:
        case = cases.get(entry["case"])
        notes = "" if case is None else "".join(
            f"# {name}: {' '.join(str(text).split())}\n"
            for name, text in (("question", case.question), ("reference", case.reference)))
        parts.append(notes + yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, width=100))
    return "\n".join(parts)


def summary(found: dict) -> str:
    """One sentence: 'correct (version 5) against 160 hand-labelled answers (...): kappa 0.85, ...'."""
    def show(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"
    counts = ", ".join(f"{v} {k}" for k, v in found["labels"].items())
    return (f"`correct` (version {found['metric_version']}) against {found['n']} hand-labelled "
            f"answers ({counts}): Cohen's kappa {show(found['kappa'])}, precision "
            f"{show(found['precision'])}, recall {show(found['recall'])}; they agree on "
            f"{found['agree']} of {found['n']}.")
