"""The analytics evaluation: managers' questions, hand-written gold SQL, and four arms.

    store-assistant analytics eval --models qwen2.5-coder-0.5b,qwen2.5-coder-1.5b

Each case in `eval/analytics/cases.yaml` has gold SQL written by hand from the layer's
definitions, or the refusal it must get. The gold runs on a read-only connection of its own (not
through the guard or the compiler under test), and results are compared by this module's own
rules: rows as a multiset (a list for rankings), cells in any column order, numbers equal to 9
significant digits. Arms: `sql-semantic` and `sql-raw` per model, `control-keywords` (the layer's
words alone, no model) and `control-null` (refuses everything). The run is written in the staff
runs' shape, so the same scorecard and page read it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import yaml

from store_assistant.analytics.asking import MODES, NumbersAnswer, ask_numbers, run_query
from store_assistant.analytics.keywords import keyword_query
from store_assistant.analytics.layer import Layer, layer_for
from store_assistant.analytics.sales import content_hash
from store_assistant.config import PROJECT_DIR, Settings
from store_assistant.errors import DataError, ModelError
from store_assistant.evaluation.report import write_scorecard
from store_assistant.evaluation.runner import (RUNS_DIR, _sha, model_pin, short_model,
                                               source_commit)
from store_assistant.files import atomic_folder

CASES_FILE = PROJECT_DIR / "eval" / "analytics" / "cases.yaml"
CONTROL_ARMS = ("control-keywords", "control-null")
ARMS = (*MODES, *CONTROL_ARMS)
METRICS = {  # name: (version, label); every one higher is better
    "correct": (1, "Correct (result or refusal)"),
    "execution_accuracy": (1, "Execution accuracy"),
    "valid_query": (1, "Valid query"),
    "refusal": (1, "Refusal correct"),
    "consistency": (1, "Consistency"),
}
# Files whose content decides what an arm answers: a change makes a new arm hash.
_CODE = ("analytics/*.py", "analytics/*.yaml", "prompts/analytics_*", "inference/gateway.py",
         "inference/local.py")


@dataclass(frozen=True)
class AnalyticsCase:
    id: str
    question: str
    group: str | None
    gold_sql: str | None
    refuse: str | None  # no_such_metric | personal_data | write_request
    ordered: bool = False
    split: str = "dev"  # heldout: never looked at while the rules and prompts were written


def load_cases(path: Path = CASES_FILE) -> list[AnalyticsCase]:
    """The cases, checked whole: one DataError listing every problem."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"Cannot read the analytics cases {path}: {exc}") from None
    if not isinstance(raw, list) or not raw:
        raise DataError(f"{path} must be a non-empty list of cases.")
    problems, cases, seen = [], [], set()
    for i, item in enumerate(raw, 1):
        where = f"case {i} ({item.get('id', '?') if isinstance(item, dict) else '?'})"
        if not isinstance(item, dict) or not item.get("id") or not item.get("question"):
            problems.append(f"{where}: needs an id and a question")
            continue
        if item["id"] in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(item["id"])
        if bool(item.get("gold_sql")) == bool(item.get("refuse")):
            problems.append(f"{where}: needs exactly one of gold_sql and refuse")
        if item.get("refuse") and item["refuse"] not in ("no_such_metric", "personal_data",
                                                         "write_request"):
            problems.append(f"{where}: refuse must be no_such_metric, personal_data or "
                            f"write_request")
        if item.get("split", "dev") not in ("dev", "heldout"):
            problems.append(f"{where}: split must be dev or heldout")
        cases.append(AnalyticsCase(str(item["id"]), str(item["question"]).strip(),
                                   item.get("group"), item.get("gold_sql"), item.get("refuse"),
                                   bool(item.get("ordered", False)), item.get("split", "dev")))
    if problems:
        raise DataError(f"{path} has {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return cases


# --- gold and comparison (this module's own; never the guard's or the compiler's) ------------

def gold_rows(database: Path | str, cases: list[AnalyticsCase]) -> dict[str, list[tuple]]:
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        found = {}
        for case in cases:
            if case.gold_sql:
                try:
                    found[case.id] = [tuple(r) for r in db.execute(case.gold_sql).fetchall()]
                except sqlite3.Error as exc:
                    raise DataError(f"The gold SQL of {case.id} fails: {exc}") from None
        return found
    finally:
        db.close()


def _cell(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"n:{float(value):.9g}"
    return f"s:{str(value).strip().lower()}"


def fingerprint(rows: list[tuple] | None, ordered: bool = False) -> Any:
    """Rows in a comparable form: each row's cells sorted (column order does not matter), and
    the rows as a multiset unless their order is the answer."""
    if rows is None:
        return None
    keyed = [tuple(sorted(_cell(c) for c in row)) for row in rows]
    return tuple(keyed) if ordered else tuple(sorted(Counter(keyed).items()))


def same_result(got: list[tuple] | None, gold: list[tuple], ordered: bool) -> bool:
    """>>> same_result([(21,)], [(21.0,)], False)
    True
    >>> same_result([("westside", 5)], [(5, "Westside")], False)
    True
    """
    return got is not None and fingerprint(got, ordered) == fingerprint(gold, ordered)


# --- answering --------------------------------------------------------------------------------

def answer_case(arm: str, question: str, database: Path | str, layer: Layer,
                gateway: Any = None) -> NumbersAnswer:
    """One case through one arm; the controls use no model."""
    if arm in MODES:
        return ask_numbers(question, arm, gateway, database, layer)
    started = time.perf_counter()
    answer = NumbersAnswer(question, arm, None, path="data")
    if arm == "control-null":
        answer.refusal = "refused"
    else:
        query, refusal = keyword_query(layer, question, database)
        run_query(answer, query, database, layer, refusal)
    answer.latency_ms = (time.perf_counter() - started) * 1000
    return answer


def score(case: AnalyticsCase, answer: NumbersAnswer | None, gold: list[tuple] | None) -> dict:
    """Per-case values: None where a metric does not apply (no execution accuracy for a case
    that must be refused)."""
    if answer is None:  # the model failed: counted wrong, and as a failure
        refused = False
        rows = None
    else:
        refused = answer.refusal is not None
        rows = answer.result.rows if answer.result else None
    if case.refuse:
        return {"correct": float(refused), "refusal": float(refused),
                "execution_accuracy": None, "valid_query": None}
    right = float(not refused and same_result(rows, gold or [], case.ordered))
    return {"correct": right, "refusal": float(not refused), "execution_accuracy": right,
            "valid_query": float(rows is not None)}


def consistency(cases: list[AnalyticsCase], outcomes: dict[str, Any]) -> dict[str, float]:
    """Per case in a paraphrase group: 1 if its outcome equals the group's first wording's (the
    scorecard then scores a group 1 only if every wording agreed). An error agrees with nothing."""
    first: dict[str, Any] = {}
    values = {}
    for case in cases:
        if not case.group:
            continue
        outcome = outcomes.get(case.id)
        first.setdefault(case.group, outcome)
        values[case.id] = float(outcome is not None and outcome == first[case.group])
    return values


def _outcome(case: AnalyticsCase, answer: NumbersAnswer | None) -> Any:
    if answer is None or (answer.error and answer.refusal is None):
        return None
    if answer.refusal:
        return "refused"
    return fingerprint(answer.result.rows, case.ordered)


# --- a run ------------------------------------------------------------------------------------

def arm_hash(arm: str, model: str | None, settings: Settings) -> str:
    package = Path(__file__).resolve().parents[1]
    files = sorted(p for pattern in _CODE for p in package.glob(pattern))
    return _sha(arm, model, model_pin(model) if model else None, settings.n_ctx,
                settings.temperature, settings.repeat_penalty,
                *[(p.name, p.read_bytes()) for p in files])[:12]


def run_analytics_eval(settings: Settings, database: Path | str, models: list[str],
                       arms: tuple[str, ...] = ARMS, cases_file: Path = CASES_FILE,
                       runs_dir: Path = RUNS_DIR, progress: bool = True,
                       gateway_for: Callable[[str], Any] | None = None) -> Path:
    """Answer every case with every arm (model arms once per model), score, write the run."""
    from tqdm import tqdm

    from store_assistant.inference.gateway import Gateway

    cases = load_cases(cases_file)
    layer = layer_for(database)
    gold = gold_rows(database, cases)
    started = datetime.now(timezone.utc)
    commit = source_commit()
    plan = [(f"{arm}@{short_model(m)}" if len(models) > 1 else arm, arm, m)
            for m in models for arm in arms if arm in MODES]
    plan += [(arm, arm, None) for arm in arms if arm not in MODES]
    hashes = {label: arm_hash(arm, model, settings) for label, arm, model in plan}
    answers: dict[str, dict[str, NumbersAnswer | None]] = {}
    failures: dict[str, dict[str, int]] = {label: {} for label, *_ in plan}
    with tqdm(total=len(plan) * len(cases), desc="analytics", unit="answer",
              disable=not progress) as bar:
        for label, arm, model in plan:
            gateway = None
            if model:
                gateway = gateway_for(model) if gateway_for else Gateway(settings, model)
                gateway.load()
            answers[label] = {}
            for case in cases:
                try:
                    answers[label][case.id] = answer_case(arm, case.question, database, layer,
                                                          gateway)
                except ModelError as exc:
                    answers[label][case.id] = None
                    failures[label]["model"] = failures[label].get("model", 0) + 1
                    print(f"{label} {case.id}: {exc}")
                bar.update()
    scores = {}
    for label, *_ in plan:
        per_case = {c.id: score(c, answers[label][c.id], gold.get(c.id)) for c in cases}
        for cid, value in consistency(cases, {c.id: _outcome(c, answers[label][c.id])
                                              for c in cases}).items():
            per_case[cid]["consistency"] = value
        scores[label] = per_case
    results = _results(settings, cases, plan, answers, scores, failures, started, commit, hashes,
                       database, models)
    return _write(runs_dir, results, cases, answers, scores)


def _results(settings, cases, plan, answers, scores, failures, started, commit, hashes,
             database, models) -> dict:
    by_label = {label: (arm, model) for label, arm, model in plan}
    perf, perf_data, paths, used = {}, {}, {}, {}
    for label, (arm, model) in by_label.items():
        # Timings of the answers a model wrote, and apart from them those code decided alone.
        asked = [a for a in answers[label].values() if a is not None and a.path == "model"]
        perf[label] = {"latency_ms": [a.latency_ms for a in asked], "cpu_s": [], "ttft_ms": [],
                       "tokens": [a.usage.get("completion_tokens", 0) for a in asked],
                       "prompt_tokens": [a.usage.get("prompt_tokens", 0) for a in asked],
                       "cost_usd": [], "rss_mb": []}
        perf_data[label] = {"latency_ms": [a.latency_ms for a in answers[label].values()
                                           if a is not None and a.path == "data"], "cpu_s": []}
        if model:
            used[label] = model
        paths[label] = {cid: "error" if a is None else a.path
                        for cid, a in answers[label].items()}
    layer = layer_for(database)
    return {
        "run": {"id": f"{started:%Y%m%d-%H%M%S}-analytics", "kind": "analytics",
                "started": started.isoformat(timespec="seconds"),
                "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "arms": [label for label, *_ in plan], "model": models[0] if models else None,
                "models": models if len(models) > 1 else None,
                "core_hour_usd": settings.core_hour_usd, "judge": None, "split": "analytics",
                "categories": None, "tags": ["analytics"], "repeats": 1, "cases": len(cases),
                "as_of": layer.as_of.isoformat(), "data_version": content_hash(database)[:12],
                "layer_version": layer.version,
                "metric_versions": {m.name: m.version for m in layer.metrics.values()},
                "arm_hashes": hashes, "commit": commit,
                "answers": sum(len(a) for a in answers.values())},
        "arms": [label for label, *_ in plan],
        "metrics": {name: {"version": v, "label": label, "higher_is_better": True}
                    for name, (v, label) in METRICS.items()},
        "cases": {c.id: {"category": _category(c, layer), "split": c.split, "group": c.group,
                         "question": c.question} for c in cases},
        "scores": scores, "failures": failures, "perf": perf, "perf_data": perf_data,
        "models": used, "paths": paths,
    }


def _category(case: AnalyticsCase, layer: Layer) -> str:
    """The per-category table's rows: cases to answer and to refuse, dev and heldout apart."""
    return f"{case.split}: {'refuse' if case.refuse else 'answer'}"


def _answer_line(arm: str, case: AnalyticsCase, answer: NumbersAnswer | None,
                 values: dict) -> dict:
    """One answer as the Scorecards page reads it (text, error, sources, flags, each score with
    its reason), plus the analytics fields (query, SQL, rows)."""
    if answer is None:
        return {"arm": arm, "case_id": case.id, "repeat": 0, "error": "the model failed",
                "scores": {}}
    verdict = ("refused, as due" if case.refuse and answer.refusal else
               "answered a question that must be refused" if case.refuse else
               "refused a question it should answer" if answer.refusal else
               f"no result: {answer.error}" if answer.result is None else
               "the result equals the gold SQL's" if values["correct"] else
               "the result differs from the gold SQL's")
    reasons = {"correct": verdict, "execution_accuracy": verdict,
               "valid_query": answer.error or "the query validated and ran",
               "refusal": verdict, "consistency": "the same result as the group's first wording"
               if values.get("consistency") else "a result other than the group's first wording"}
    text = answer.words + (f"\n\n{answer.sql}" if answer.sql else "")
    return {"arm": arm, "case_id": case.id, "repeat": 0, **answer.as_dict(), "text": text,
            "error": None, "sources": [answer.metric.name] if answer.metric else [],
            "flags": [f"path:{answer.path}", *([f"refused:{answer.refusal}"]
                                               if answer.refusal else [])],
            "scores": {name: {"value": value, "reason": reasons.get(name, "")}
                       for name, value in values.items() if value is not None}}


def _write(runs_dir: Path, results: dict, cases: list[AnalyticsCase],
           answers: dict[str, dict[str, NumbersAnswer | None]], scores: dict) -> Path:
    runs_dir.mkdir(parents=True, exist_ok=True)
    final = runs_dir / results["run"]["id"]
    with atomic_folder(final) as scratch:
        lines = [json.dumps(_answer_line(label, c, answers[label][c.id], scores[label][c.id]),
                            ensure_ascii=False, default=str)
                 for label in answers for c in cases]
        (scratch / "answers.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (scratch / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
        write_scorecard(results, None, scratch)
    return final
