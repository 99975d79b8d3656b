"""The scorecard: a pure function from (results, baseline) to tables, and writers for them.

Comparing is the product, so every number comes with its uncertainty: a mean with a 95% bootstrap
CI over cases (over groups for consistency), the paired difference to the reference arm and to
the committed baseline with its CI, per-case win/tie/loss counts, and an exact McNemar test on
the binary "correct" verdict. The bootstrap uses a fixed seed, so the same results always give
the same scorecard (and the snapshot test can compare text).
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

HEADLINE = ("correct", "fact_accuracy", "unsupported_facts", "refusal", "consistency", "hit_at_5",
            "mrr", "context_recall", "guideline_adherence", "price_error", "price_error_relative",
            "rouge_l", "semantic_similarity")
# The additive ladder, first rung first: each step adds one technique to the one before.
LADDER = (("Prompt engineering", ("pe-few-shot", "pe-zero-shot", "pe-cot")),
          ("+ RAG", ("rag-hybrid", "rag-dense", "rag-bm25")),
          ("+ fine-tuning", ("finetuned+rag", "finetuned")))
JUDGED = ("faithfulness", "factual_correctness")  # only when the run had --judge
REFERENCE_ARM = "pe-zero-shot"
TARGET_ARM = "rag-hybrid"
FACT_CATEGORIES = ("price", "stock", "promotion")
RESAMPLES = 2000


# --- statistics -----------------------------------------------------------------------------

def mean_ci(values: list[float], seed: int = 0) -> dict:
    """Mean with a 95% percentile-bootstrap CI; n=0 gives None, never NaN."""
    if not values:
        return {"mean": None, "lo": None, "hi": None, "n": 0}
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), (RESAMPLES, len(data)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {"mean": float(data.mean()), "lo": float(lo), "hi": float(hi), "n": len(values)}


def paired(a: dict[str, float | None], b: dict[str, float | None], higher_is_better: bool = True,
           seed: int = 0) -> dict | None:
    """a - b over the cases both scored: mean difference with CI, and win/tie/loss for a."""
    common = [k for k in a if k in b and a[k] is not None and b[k] is not None]
    if not common:
        return None
    diffs = [a[k] - b[k] for k in common]
    sign = 1 if higher_is_better else -1
    stats = mean_ci(diffs, seed)
    stats.update(wins=sum(sign * d > 1e-9 for d in diffs), ties=sum(abs(d) <= 1e-9 for d in diffs),
                 losses=sum(sign * d < -1e-9 for d in diffs))
    return stats


def mcnemar(a: dict[str, float | None], b: dict[str, float | None]) -> float | None:
    """Exact two-sided McNemar p-value for paired binary outcomes (1 = correct)."""
    from scipy.stats import binomtest

    common = [k for k in a if k in b and a[k] is not None and b[k] is not None]
    only_a = sum(a[k] >= 0.5 > b[k] for k in common)
    only_b = sum(b[k] >= 0.5 > a[k] for k in common)
    if not common:
        return None
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(only_a, only_a + only_b, 0.5).pvalue)


def percentile(values: list[float], q: float) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.percentile(values, q)) if values else None


# --- the pure function ----------------------------------------------------------------------

def _values(results: dict, arm: str, metric: str) -> dict[str, float | None]:
    return {cid: scores.get(metric) for cid, scores in results["scores"].get(arm, {}).items()}


def _grouped(results: dict, per_case: dict[str, float | None]) -> dict[str, float | None]:
    """Consistency counts groups: a group scores 1 only if every wording agreed."""
    groups: dict[str, list[float]] = {}
    for cid, value in per_case.items():
        group = results["cases"].get(cid, {}).get("group")
        if group and value is not None:
            groups.setdefault(group, []).append(value)
    return {g: float(min(v)) for g, v in groups.items()}


def metric_values(results: dict, arm: str, metric: str) -> dict[str, float | None]:
    per_case = _values(results, arm, metric)
    return _grouped(results, per_case) if metric == "consistency" else per_case


def scorecard(results: dict, baseline: dict | None = None) -> dict:
    """(results, baseline) -> the scorecard as plain data: rows per arm, categories, ladder."""
    arms = list(results["arms"])
    info = results["metrics"]
    reference = REFERENCE_ARM if REFERENCE_ARM in arms else arms[0]
    rows = []
    for arm in arms:
        row: dict[str, Any] = {"arm": arm, "cases": len(results["scores"].get(arm, {}))}
        for metric in [*HEADLINE, *(m for m in JUDGED if m in info)]:
            row[metric] = mean_ci([v for v in metric_values(results, arm, metric).values()
                                   if v is not None])
        unsupported = [v for v in _values(results, arm, "unsupported_facts").values() if v is not None]
        row["unsupported_total"] = int(sum(unsupported))
        row["failures"] = sum(results["failures"].get(arm, {}).values())
        perf = results["perf"].get(arm, {})
        row["latency_p50_ms"] = percentile(perf.get("latency_ms", []), 50)
        row["latency_p95_ms"] = percentile(perf.get("latency_ms", []), 95)
        row["ttft_p50_ms"] = percentile(perf.get("ttft_ms", []), 50)
        tokens = perf.get("tokens", [])
        row["tokens_mean"] = float(np.mean(tokens)) if tokens else None
        costs = perf.get("cost_usd", [])
        row["cost_per_1k_usd"] = (None if not costs or any(c is None for c in costs)
                                  else float(np.mean(costs)) * 1000)
        if arm != reference:
            row["vs_reference"] = {
                "arm": reference,
                "correct": paired(_values(results, arm, "correct"),
                                  _values(results, reference, "correct")),
                "fact_accuracy": paired(_values(results, arm, "fact_accuracy"),
                                        _values(results, reference, "fact_accuracy")),
                "mcnemar_p": mcnemar(_values(results, arm, "correct"),
                                     _values(results, reference, "correct"))}
        if baseline and arm in baseline.get("arms", []):
            row["vs_baseline"] = {m: paired(_values(results, arm, m), _values(baseline, arm, m),
                                            info[m]["higher_is_better"])
                                  for m in ("correct", "fact_accuracy", "unsupported_facts")}
            row["vs_baseline"]["mcnemar_p"] = mcnemar(_values(results, arm, "correct"),
                                                      _values(baseline, arm, "correct"))
            row["baseline"] = {m: mean_ci([v for v in _values(baseline, arm, m).values()
                                           if v is not None])
                               for m in ("correct", "fact_accuracy")}
        rows.append(row)
    return {"run": results["run"], "reference_arm": reference, "rows": rows,
            "categories": _categories(results, arms), "ladder": _ladder(rows),
            "targets": _targets(results, arms), "regressions": regressions(rows),
            "freshness": results.get("freshness"),
            "metrics": {m: info[m] for m in [*HEADLINE, *JUDGED] if m in info}}


def _categories(results: dict, arms: list[str]) -> dict:
    table: dict[str, dict[str, dict]] = {}
    for category in sorted({c["category"] for c in results["cases"].values()}):
        ids = {cid for cid, c in results["cases"].items() if c["category"] == category}
        table[category] = {}
        for arm in arms:
            values = [v for cid, v in _values(results, arm, "correct").items()
                      if cid in ids and v is not None]
            facts = [v for cid, v in _values(results, arm, "fact_accuracy").items()
                     if cid in ids and v is not None]
            table[category][arm] = {"correct": float(np.mean(values)) if values else None,
                                    "fact_accuracy": float(np.mean(facts)) if facts else None,
                                    "n": len(values)}
    return table


def _ladder(rows: list[dict]) -> list[dict]:
    by_arm = {r["arm"]: r for r in rows}
    steps = []
    for label, candidates in LADDER:
        arm = next((a for a in candidates if a in by_arm), None)
        if arm:
            steps.append({"step": label, "arm": arm, "correct": by_arm[arm]["correct"],
                          "fact_accuracy": by_arm[arm]["fact_accuracy"],
                          "latency_p50_ms": by_arm[arm]["latency_p50_ms"]})
    return steps


def _targets(results: dict, arms: list[str]) -> list[dict]:
    """The issue's targets for the default arm, on whatever split this run covered."""
    if TARGET_ARM not in arms:
        return []
    cases = results["cases"]
    facts = [v for cid, v in _values(results, TARGET_ARM, "fact_accuracy").items()
             if v is not None and cases[cid]["category"] in FACT_CATEGORIES]
    refusal = [v for v in _values(results, TARGET_ARM, "refusal").values() if v is not None]
    consistent = [v for v in metric_values(results, TARGET_ARM, "consistency").values()
                  if v is not None]
    hits = [v for v in _values(results, TARGET_ARM, "hit_at_5").values() if v is not None]
    unsupported = sum(v for v in _values(results, TARGET_ARM, "unsupported_facts").values()
                      if v is not None)
    out = []
    for name, values, goal in (("fact accuracy (price/stock/promotion)", facts, 0.90),
                               ("refusal correctness", refusal, 0.95),
                               ("consistency (groups)", consistent, 0.90),
                               ("hit@5", hits, 0.95)):
        value = float(np.mean(values)) if values else None
        out.append({"target": name, "value": value, "goal": f">= {goal:.2f}", "n": len(values),
                    "met": None if value is None else value >= goal})
    out.append({"target": "unsupported facts", "value": float(unsupported), "goal": "= 0",
                "n": len(_values(results, TARGET_ARM, "unsupported_facts")), "met": unsupported == 0})
    return out


def regressions(rows: list[dict]) -> list[str]:
    """Arms whose score fell below the committed baseline's CI (the gate's first check)."""
    found = []
    for row in rows:
        base = row.get("baseline")
        if not base:
            continue
        for metric in ("correct", "fact_accuracy"):
            now, then = row[metric]["mean"], base[metric]
            if now is not None and then["lo"] is not None and now < then["lo"] - 1e-9:
                found.append(f"{row['arm']}: {metric} {now:.3f} is below the baseline's CI "
                             f"[{then['lo']:.3f}, {then['hi']:.3f}] (baseline mean {then['mean']:.3f})")
    return found


# --- baselines ------------------------------------------------------------------------------

def baseline_name(run: dict) -> str:
    """The committed baseline a run is compared with: the CI gate subset, a split, or all cases."""
    if run.get("tags") == ["gate"]:
        return "gate"
    return run.get("split") or "all"


def load_baseline(name: str | None, results: dict, folder: Path | None = None) -> dict | None:
    from store_assistant.evaluation import BASELINES_DIR

    path = (folder or BASELINES_DIR) / f"{name or baseline_name(results['run'])}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


# --- writers --------------------------------------------------------------------------------

def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, dict):
        if value.get("mean") is None:
            return "n/a"
        return f"{value['mean']:.{digits}f} [{value['lo']:.{digits}f}, {value['hi']:.{digits}f}]"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _delta(stats: dict | None) -> str:
    if not stats:
        return "n/a"
    return (f"{stats['mean']:+.3f} [{stats['lo']:+.3f}, {stats['hi']:+.3f}] "
            f"W/T/L {stats['wins']}/{stats['ties']}/{stats['losses']}")


def main_table(card: dict) -> list[dict[str, str]]:
    """The headline rows as text cells, shared by markdown, CSV and HTML."""
    out = []
    for row in card["rows"]:
        ref = row.get("vs_reference") or {}
        base = row.get("vs_baseline") or {}
        out.append({
            "arm": row["arm"], "cases": str(row["cases"]),
            "correct": _fmt(row["correct"]), "fact accuracy": _fmt(row["fact_accuracy"]),
            "unsupported (total)": str(row["unsupported_total"]),
            "refusal": _fmt(row["refusal"]), "consistency": _fmt(row["consistency"]),
            "hit@5": _fmt(row["hit_at_5"]), "MRR": _fmt(row["mrr"]),
            "guidelines": _fmt(row["guideline_adherence"]),
            "price MAE ($)": _fmt(row["price_error"]["mean"], 2),
            "ROUGE-L": _fmt(row["rouge_l"]["mean"]), "similarity": _fmt(row["semantic_similarity"]["mean"]),
            "p50 ms": _ms(row["latency_p50_ms"]), "p95 ms": _ms(row["latency_p95_ms"]),
            "TTFT p50 ms": _ms(row["ttft_p50_ms"]),
            "tokens": _fmt(row["tokens_mean"], 1),
            "$ / 1k answers": _fmt(row["cost_per_1k_usd"], 2),
            **{info_label: _fmt(row[m]) for m, info_label in
               (("faithfulness", "faithfulness (judge)"),
                ("factual_correctness", "factual correctness (judge)")) if m in row},
            "failures": str(row["failures"]),
            f"Δ correct vs {card['reference_arm']}": _delta(ref.get("correct")),
            "McNemar p": _fmt(ref.get("mcnemar_p")),
            "Δ correct vs baseline": _delta(base.get("correct")),
        })
    return out


def _markdown_table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "(none)\n"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r[h].replace("|", "\\|") for h in header) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def to_markdown(card: dict) -> str:
    run = card["run"]
    parts = [f"# Scorecard {run['id']}\n",
             f"{run['cases']} cases (split: {run.get('split') or 'all'}, tags: "
             f"{','.join(run.get('tags') or []) or 'all'}), arms: {', '.join(run['arms'])}, model "
             f"`{run['model']}`, repeats {run['repeats']}, facts as of {run['as_of']}. "
             f"Means with 95% bootstrap CIs; Δ are paired differences over the same cases.\n",
             "## Arms\n", _markdown_table(main_table(card)),
             "## Additive ladder\n", _markdown_table([
                 {"step": s["step"], "arm": s["arm"], "correct": _fmt(s["correct"]),
                  "fact accuracy": _fmt(s["fact_accuracy"]), "p50 ms": _ms(s["latency_p50_ms"])}
                 for s in card["ladder"]]),
             "## Correct by category\n", _markdown_table(category_table(card))]
    if card["targets"]:
        parts += [f"## Targets ({TARGET_ARM})\n", _markdown_table([
            {"target": t["target"], "value": _fmt(t["value"]), "goal": t["goal"], "n": str(t["n"]),
             "met": {True: "yes", False: "**no**", None: "not measured"}[t["met"]]}
            for t in card["targets"]])]
    if card.get("freshness"):
        parts += ["## Freshness (answers after an inventory change)\n",
                  _markdown_table(freshness_table(card))]
    parts += ["## Regressions against the baseline\n",
              "\n".join(f"- {r}" for r in card["regressions"]) + "\n" if card["regressions"]
              else "None.\n"]
    return "\n".join(parts)


def category_table(card: dict) -> list[dict[str, str]]:
    arms = [r["arm"] for r in card["rows"]]
    return [{"category": cat, **{arm: f"{_fmt(cell[arm]['correct'], 2)} (n={cell[arm]['n']})"
                                 for arm in arms}}
            for cat, cell in card["categories"].items()]


def freshness_table(card: dict) -> list[dict[str, str]]:
    return [{"arm": r["arm"], "change": r["change"], "SKU": r["sku"], "case": r["case"],
             "old → new": f"{r['old']:g} → {r['new']:g}" + (f" ({r['store']})" if r["store"] else ""),
             "before": r["before"], "after": r["after"]}
            for r in card["freshness"]["rows"]]


def to_csv(card: dict) -> str:
    rows = main_table(card)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["arm"])
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_scorecard(results: dict, baseline: dict | None, folder: Path) -> dict:
    """scorecard.md / .csv / .json / .html in `folder`; returns the scorecard."""
    from store_assistant.report import to_html

    card = scorecard(results, baseline)
    outputs = {"scorecard.md": to_markdown(card), "scorecard.csv": to_csv(card),
               "scorecard.json": json.dumps(card, indent=1), "scorecard.html": to_html(card)}
    for name, text in outputs.items():
        tmp = folder / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(folder / name)
    return card


def escape(text: str) -> str:
    return html.escape(str(text), quote=True)
