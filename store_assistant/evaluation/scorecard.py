"""The scorecard: a pure function from (results, baseline) to a dict of tables (`report.py` writes it).

Comparing is the product, so every number comes with its uncertainty: a mean with a 95% bootstrap
CI over cases (over groups for consistency), the paired difference to the reference arm and to
the committed baseline with its CI, per-case win/tie/loss counts, and an exact McNemar test on
the binary "correct" verdict. The bootstrap uses a fixed seed, so the same results always give
the same scorecard (and the snapshot test can compare text).
"""

from __future__ import annotations

from typing import Any

import numpy as np

HEADLINE = ("correct", "fact_accuracy", "model_facts", "unsupported_facts", "refusal", "consistency", "hit_at_5",
            "mrr", "context_recall", "guideline_adherence", "price_error", "price_error_relative",
            "rouge_l", "semantic_similarity", "execution_accuracy", "valid_query")
# The additive ladder, first rung first: each step adds one technique to the one before.
LADDER = (("Prompt engineering", ("pe-few-shot", "pe-zero-shot", "pe-cot")),
          ("+ RAG", ("rag-hybrid", "rag-dense", "rag-bm25")),
          ("+ fine-tuning", ("finetuned+rag", "finetuned")))
JUDGED = ("faithfulness", "factual_correctness")  # only when the run had --judge
REFERENCE_ARM = "pe-zero-shot"
CONTROLS = ("control-null", "control-extractive", "control-keywords")  # arms with no language model
TARGET_ARM = "rag-hybrid"
FACT_CATEGORIES = ("price", "stock", "promotion")
# What may not fall below the baseline's CI: the answers, the model's own part of them, retrieval.
GATED = ("correct", "fact_accuracy", "model_facts", "hit_at_5")
RESAMPLES = 2000
# The rule that picks the default model from a ladder run: staff wait at most this long for 95% of
# rag-hybrid answers on the machine the run was made on (the model ladder issue's suggestion).
LATENCY_BUDGET_MS = 12_000


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
        claims = [v for v in _values(results, arm, "unsupported_claims").values() if v is not None]
        row["claims_total"] = int(sum(claims)) if claims else None  # None: not scored (older run)
        row.update(_by_path(results, arm))
        row["failures"] = sum(results["failures"].get(arm, {}).values())
        perf = results["perf"].get(arm, {})
        row["latency_p50_ms"] = percentile(perf.get("latency_ms", []), 50)
        row["latency_p95_ms"] = percentile(perf.get("latency_ms", []), 95)
        row["ttft_p50_ms"] = percentile(perf.get("ttft_ms", []), 50)
        tokens = perf.get("tokens", [])
        row["tokens_mean"] = float(np.mean(tokens)) if tokens else None
        row.update(_inference(results, arm))
        if arm != reference:
            row["vs_reference"] = {
                "arm": reference,
                "correct": paired(_values(results, arm, "correct"),
                                  _values(results, reference, "correct")),
                "fact_accuracy": paired(_values(results, arm, "fact_accuracy"),
                                        _values(results, reference, "fact_accuracy")),
                "mcnemar_p": mcnemar(_values(results, arm, "correct"),
                                     _values(results, reference, "correct"))}
        if arm not in CONTROLS:
            row["vs_controls"] = {control: paired(_values(results, arm, "correct"),
                                                  _values(results, control, "correct"))
                                  for control in CONTROLS if control in arms}
            row["model_vs_null"] = (paired(_values(results, arm, "model_facts"),
                                           _values(results, "control-null", "model_facts"))
                                    if "control-null" in arms else None)
        raw = arm.replace("sql-semantic", "sql-raw", 1)
        if arm.startswith("sql-semantic") and raw in arms:  # the two analytics modes, same model
            row["vs_raw"] = {"arm": raw, **{m: paired(_values(results, arm, m),
                                                      _values(results, raw, m))
                                            for m in ("correct", "execution_accuracy")},
                             "mcnemar_p": mcnemar(_values(results, arm, "correct"),
                                                  _values(results, raw, "correct"))}
        if baseline and arm in baseline.get("arms", []):
            row["vs_baseline"] = {m: paired(_values(results, arm, m), _values(baseline, arm, m),
                                            info[m]["higher_is_better"])
                                  for m in ("correct", "fact_accuracy", "unsupported_facts")
                                  if m in info}
            row["vs_baseline"]["mcnemar_p"] = mcnemar(_values(results, arm, "correct"),
                                                      _values(baseline, arm, "correct"))
            row["baseline"] = {m: mean_ci([v for v in _values(baseline, arm, m).values()
                                           if v is not None])
                               for m in GATED}
        rows.append(row)
    return {"run": results["run"], "reference_arm": reference, "rows": rows,
            "categories": _categories(results, arms), "ladder": _ladder(rows),
            "tuned_vs_bigger": tuned_vs_bigger(results, rows),
            "default_pick": default_pick(rows, results),
            "targets": _targets(results, arms), "regressions": regressions(rows),
            "against_controls": against_controls(rows), "taught": _taught(results, arms),
            "baseline_problems": stale_baseline(results, baseline),
            "freshness": results.get("freshness"), "agreement": results.get("agreement"),
            "metrics": {m: info[m] for m in [*HEADLINE, *JUDGED] if m in info}}


PATHS = ("model", "evidence", "model+corrected", "model+facts", "fallback", "data", "error")


def _inference(results: dict, arm: str) -> dict:
    """What an arm's answers cost to make: speeds from each model answer's own timings, memory,
    and dollars per 1,000 answers. A remote model's dollars are litellm's price for its tokens; an
    in-process model's are the CPU-seconds this process spent on the answers (retrieval included,
    answers built from data included) at the run's price per core-hour."""
    perf = results["perf"].get(arm, {})
    data = results.get("perf_data", {}).get(arm, {})
    model = results.get("models", {}).get(arm)
    prompt_tps, gen_tps = [], []
    for latency, ttft, prompt, tokens in zip(perf.get("latency_ms", []), perf.get("ttft_ms", []),
                                             perf.get("prompt_tokens", []), perf.get("tokens", [])):
        if ttft and prompt:
            prompt_tps.append(prompt / (ttft / 1000))
        if ttft and latency and latency > ttft and tokens and tokens > 1:
            gen_tps.append((tokens - 1) / ((latency - ttft) / 1000))
    cpu = [c for c in [*perf.get("cpu_s", []), *data.get("cpu_s", [])] if c is not None]
    rss = [r for r in perf.get("rss_mb", []) if r is not None]
    dollars = perf.get("cost_usd", [])
    price = results["run"].get("core_hour_usd")
    if model and model.startswith("local/"):
        cost = float(np.mean(cpu)) * price / 3600 * 1000 if cpu and price is not None else None
    else:
        cost = None if not dollars or any(c is None for c in dollars) else float(np.mean(dollars)) * 1000
    return {"model": model, "prompt_tps_p50": percentile(prompt_tps, 50),
            "gen_tps_p50": percentile(gen_tps, 50),
            "cpu_s_mean": float(np.mean(cpu)) if cpu else None,
            "peak_rss_mb": max(rss) if rss else None, "cost_per_1k_usd": cost}


def default_pick(rows: list[dict], results: dict, budget_ms: float = LATENCY_BUDGET_MS) -> dict | None:
    """The ladder's winner by the stated rule: among the models whose rag-hybrid answers meet the
    latency budget at p95, the most accurate on `correct`; a model whose paired difference to it
    has a CI reaching 0 is as accurate, and the fastest (p95) of those wins. None without a ladder."""
    candidates = [r for r in rows if r["arm"].startswith(f"{TARGET_ARM}@")
                  and r["correct"]["mean"] is not None]
    if not candidates:
        return None
    within = [r for r in candidates if r["latency_p95_ms"] is not None
              and r["latency_p95_ms"] <= budget_ms]
    if not within:
        return {"arm": None, "model": None, "budget_ms": budget_ms,
                "reason": f"no model answers rag-hybrid within {budget_ms / 1000:.0f} s at p95"}
    best = max(within, key=lambda r: r["correct"]["mean"])
    tied = [r for r in within if r is best or (paired(_values(results, r["arm"], "correct"),
                                                     _values(results, best["arm"], "correct"))
                                               or {}).get("hi", -1) >= 0]
    pick = min(tied, key=lambda r: r["latency_p95_ms"])
    over = [r["arm"] for r in candidates if r not in within]
    return {"arm": pick["arm"], "model": pick["model"], "budget_ms": budget_ms,
            "correct": pick["correct"], "latency_p95_ms": pick["latency_p95_ms"],
            "as_accurate": [r["arm"] for r in tied], "over_budget": over,
            "reason": (f"most accurate within p95 <= {budget_ms / 1000:.0f} s: {best['arm']} "
                       f"({best['correct']['mean']:.3f}); as accurate (paired CI reaches 0): "
                       f"{', '.join(r['arm'] for r in tied)}; the fastest of those at p95 wins"
                       + (f"; over budget: {', '.join(over)}" if over else ""))}


def _by_path(results: dict, arm: str) -> dict:
    """What the model did, apart from what code did: the share of answers per path, and correct
    over the cases the model was asked ("data" answers never reach it). Runs made before paths
    were recorded have none: their shares and model-reached figures are None, never 0."""
    paths = results.get("paths", {}).get(arm)
    if not paths:
        return {"paths": None, "model_cases": None, "correct_model": mean_ci([])}
    n = len(paths)
    reached = {cid for cid, p in paths.items() if p not in ("data", "error")}
    correct = [v for cid, v in _values(results, arm, "correct").items()
               if cid in reached and v is not None]
    return {"paths": {p: sum(v == p for v in paths.values()) / n for p in PATHS
                      if any(v == p for v in paths.values())},
            "model_cases": len(reached), "correct_model": mean_ci(correct),
            "latency_data_p50_ms": percentile(results.get("perf_data", {}).get(arm, {})
                                               .get("latency_ms", []), 50)}


def _taught(results: dict, arms: list[str]) -> list[dict]:
    """Correct on the heldout cases whose answer was in the fine-tuning data (taught) and on the
    rest (untaught), per arm: a fine-tuned arm's gain on taught cases is recall, not skill."""
    tags = {cid: c["taught"] for cid, c in results["cases"].items() if "taught" in c}
    if not tags:
        return []
    rows = []
    for arm in arms:
        values = _values(results, arm, "correct")
        rows.append({"arm": arm, **{name: mean_ci([v for cid, v in values.items()
                                                   if tags.get(cid) is want and v is not None])
                                    for name, want in (("taught", True), ("untaught", False))}})
    return rows


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
    """The additive ladder's steps; in a model-ladder run, one ladder per model."""
    by_arm = {r["arm"]: r for r in rows}
    models = list(dict.fromkeys(r["arm"].partition("@")[2] for r in rows))
    steps = []
    for model, (label, candidates) in ((m, step) for m in models for step in LADDER):
        suffix = f"@{model}" if model else ""
        arm = next((a + suffix for a in candidates if a + suffix in by_arm), None)
        if arm:
            label = f"{label} ({model})" if model else label
            steps.append({"step": label, "arm": arm, "correct": by_arm[arm]["correct"],
                          "correct_model": by_arm[arm]["correct_model"],
                          "fact_accuracy": by_arm[arm]["fact_accuracy"],
                          "latency_p50_ms": by_arm[arm]["latency_p50_ms"]})
    return steps


def tuned_vs_bigger(results: dict, rows: list[dict]) -> list[dict]:
    """The classic question, on the same cases: a fine-tuned model against an untuned other model,
    without RAG (finetuned vs pe-zero-shot) and with it (finetuned+rag vs rag-hybrid).

    Only in a model-ladder run; one row per (tuned model, other model, with or without RAG).
    """
    by_arm = {r["arm"]: r for r in rows}
    models = list(dict.fromkeys(a.partition("@")[2] for a in by_arm if "@" in a))
    pairs = (("finetuned", "pe-zero-shot", "alone"), ("finetuned+rag", "rag-hybrid", "+ RAG"))
    found = []
    for tuned_model in models:
        for other in (m for m in models if m != tuned_model):
            for tuned, untuned, how in pairs:
                a, b = f"{tuned}@{tuned_model}", f"{untuned}@{other}"
                if a in by_arm and b in by_arm:
                    found.append({"how": how, "tuned": a, "untuned": b,
                                  "tuned_correct": by_arm[a]["correct"],
                                  "untuned_correct": by_arm[b]["correct"],
                                  "delta": paired(_values(results, a, "correct"),
                                                  _values(results, b, "correct")),
                                  "mcnemar_p": mcnemar(_values(results, a, "correct"),
                                                       _values(results, b, "correct"))})
    return found


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


def stale_baseline(results: dict, baseline: dict | None) -> list[str]:
    """Why the baseline may not be comparable: made on other answering code (an arm's config hash:
    prompts, code, settings), on another model, or with other metric versions. Empty when it is
    current.

    A comparison with a stale baseline still runs; the scorecard says what changed since."""
    if not baseline:
        return []
    found = []
    then = baseline.get("run", {})
    made = f"made on commit {then.get('commit') or 'unknown'} ({then.get('finished') or 'no date'})"
    hashes, old_hashes = results["run"].get("arm_hashes", {}), then.get("arm_hashes", {})
    for arm in baseline.get("arms", []):
        if arm in hashes and arm in old_hashes and hashes[arm] != old_hashes[arm]:
            found.append(f"{arm}: the baseline was {made} on other prompts, code or settings "
                         f"(arm hash {old_hashes[arm]}, now {hashes[arm]})")
    models, old_models = results.get("models", {}), baseline.get("models", {})
    for arm in baseline.get("arms", []):
        if arm in models and arm in old_models and models[arm] != old_models[arm]:
            found.append(f"{arm}: the baseline was {made} on {old_models[arm]}, this run on "
                         f"{models[arm]}")
    versions = {m: i["version"] for m, i in results["metrics"].items()}
    for metric, info in baseline.get("metrics", {}).items():
        if metric in versions and info.get("version") != versions[metric]:
            found.append(f"{metric}: the baseline was scored with version {info.get('version')}, "
                         f"now {versions[metric]} ({made})")
    return found


def against_controls(rows: list[dict]) -> list[str]:
    """In words, per arm: does it beat each control on "correct" (paired CI above 0)?"""
    lines = []
    for row in rows:
        for control, diff in (row.get("vs_controls") or {}).items():
            if not diff or diff["mean"] is None:
                continue
            verdict = "beats" if diff["lo"] > 0 else "does NOT beat"
            lines.append(f"{row['arm']} {verdict} {control} on correct: "
                         f"{diff['mean']:+.3f} [{diff['lo']:+.3f}, {diff['hi']:+.3f}], "
                         f"W/T/L {diff['wins']}/{diff['ties']}/{diff['losses']}")
    return lines


def regressions(rows: list[dict]) -> list[str]:
    """Arms whose score fell below the committed baseline's CI (the gate's first check)."""
    found = []
    for row in rows:
        base = row.get("baseline")
        if not base:
            continue
        for metric in GATED:
            now, then = row[metric]["mean"], base.get(metric)
            if then is None:
                continue
            if now is not None and then["lo"] is not None and now < then["lo"] - 1e-9:
                found.append(f"{row['arm']}: {metric} {now:.3f} is below the baseline's CI "
                             f"[{then['lo']:.3f}, {then['hi']:.3f}] (baseline mean {then['mean']:.3f})")
    return found


def gate_failures(card: dict, arm: str = TARGET_ARM) -> list[str]:
    """Why the CI gate (`pytest eval/`) fails on this scorecard; empty when it passes.

    The gate asks of the product's default arm: no metric in GATED below the baseline's CI; more
    answers correct than the same pipeline with a model that writes nothing (control-null), and
    its model writes more of the asked facts (paired CIs above 0); more facts than prompt-only
    when prompt-only ran; no unsupported figure; every answer scored."""
    rows = {r["arm"]: r for r in card["rows"]}
    failures = list(card["regressions"])
    row = rows.get(arm)
    if row is None:
        return failures + [f"{arm} is not in the run"]
    beats = (row.get("vs_controls") or {}).get("control-null")
    if not beats or beats["mean"] is None or beats["lo"] <= 0:
        shown = "not measured" if not beats or beats["mean"] is None else (
            f"{beats['mean']:+.3f} [{beats['lo']:+.3f}, {beats['hi']:+.3f}]")
        failures.append(f"{arm}: correct no more often than with a model that writes nothing "
                        f"(control-null): {shown}")
    null = row.get("model_vs_null")
    if not null or null["mean"] is None or null["lo"] <= 0:
        shown = "not measured" if not null or null["mean"] is None else (
            f"{null['mean']:+.3f} [{null['lo']:+.3f}, {null['hi']:+.3f}] over {null['n']} cases")
        failures.append(f"{arm}: its model writes no more of the asked facts than a model that "
                        f"writes nothing (control-null): {shown}")
    versus = (row.get("vs_reference") or {}).get("fact_accuracy")
    if row["arm"] != card["reference_arm"] and (not versus or versus["lo"] <= 0):
        failures.append(f"{arm} does not beat {card['reference_arm']} on fact accuracy"
                        + (f": CI [{versus['lo']:+.3f}, {versus['hi']:+.3f}]" if versus else ""))
    if row["unsupported_total"]:
        failures.append(f"{arm} stated {row['unsupported_total']} unsupported figure(s)")
    if row["failures"]:
        failures.append(f"{arm}: {row['failures']} answer(s) or metric(s) failed")
    return failures
