"""The scorecard as a pure function: statistics, baseline comparison, and a golden snapshot.

To accept an intended change to the scorecard's text: UPDATE_SNAPSHOTS=1 pytest tests/evaluation/test_scorecard.py,
then review the diff of tests/evaluation/snapshots/ before committing it.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from store_assistant.evaluation.report import to_csv, to_html, to_markdown
from store_assistant.evaluation.runner import baseline_name
from store_assistant.evaluation.scorecard import gate_failures, mcnemar, mean_ci, paired, scorecard

SNAPSHOTS = Path(__file__).parent / "snapshots"


def results() -> dict:
    """Two arms over six cases: RAG gets 5 right, prompt-only 1; one paraphrase group of 3."""
    cases = {f"c{i}": {"category": "price" if i < 4 else "policy", "split": "heldout",
                       "group": "g1" if i < 3 else None, "question": f"q{i}"} for i in range(6)}
    pe = [1, 0, 0, 0, 0, 0]
    rag = [1, 1, 1, 1, 1, 0]

    def scores(correct: list[int], unsupported: list[int]) -> dict:
        return {f"c{i}": {"correct": float(c), "fact_accuracy": float(c),
                          "unsupported_facts": float(u), "refusal": None,
                          "consistency": 1.0 if i < 3 and all(correct[:3]) else (
                              None if i >= 3 else float(c == 1)),
                          "hit_at_5": None, "mrr": None, "context_recall": None,
                          "guideline_adherence": None, "price_error": None if c else 50.0,
                          "price_error_relative": None if c else 0.05, "rouge_l": 0.5,
                          "semantic_similarity": 0.7}
                for i, (c, u) in enumerate(zip(correct, unsupported))}

    metrics = {m: {"version": 1, "label": m, "higher_is_better": m not in (
        "unsupported_facts", "price_error", "price_error_relative")}
        for m in ("correct", "fact_accuracy", "unsupported_facts", "refusal", "consistency",
                  "hit_at_5", "mrr", "context_recall", "guideline_adherence", "price_error",
                  "price_error_relative", "rouge_l", "semantic_similarity")}
    return {"run": {"id": "test-run", "arms": ["pe-zero-shot", "rag-hybrid"], "model": "local/x",
                    "split": "heldout", "tags": None, "repeats": 1, "cases": 6,
                    "as_of": "2026-12-01"},
            "arms": ["pe-zero-shot", "rag-hybrid"], "metrics": metrics, "cases": cases,
            "scores": {"pe-zero-shot": scores(pe, [1, 2, 0, 1, 0, 0]),
                       "rag-hybrid": scores(rag, [0] * 6)},
            "failures": {"pe-zero-shot": {}, "rag-hybrid": {"correct": 1}},
            "perf": {"pe-zero-shot": {"latency_ms": [1000, 2000, 3000], "ttft_ms": [100, 200, 300],
                                      "tokens": [40, 50, 60], "cost_usd": [0, 0, 0]},
                     "rag-hybrid": {"latency_ms": [2000, 4000], "ttft_ms": [500, 700],
                                    "tokens": [30, 30], "cost_usd": [0.001, None]}},
            # RAG's four price cases were answered by code; the model was asked two.
            "paths": {"pe-zero-shot": {f"c{i}": "model" for i in range(6)},
                      "rag-hybrid": {**{f"c{i}": "data" for i in range(4)}, "c4": "model",
                                     "c5": "fallback"}},
            "perf_data": {"pe-zero-shot": {"latency_ms": []},
                          "rag-hybrid": {"latency_ms": [3, 4, 5, 6]}}}


def test_mean_ci_brackets_the_mean_and_is_reproducible() -> None:
    stats = mean_ci([0, 1, 1, 1, 0, 1, 1, 1])
    assert stats["lo"] <= stats["mean"] == 0.75 <= stats["hi"]
    assert stats == mean_ci([0, 1, 1, 1, 0, 1, 1, 1])
    assert mean_ci([]) == {"mean": None, "lo": None, "hi": None, "n": 0}  # never NaN
    assert mean_ci([1, 1, 1])["lo"] == 1.0


def test_paired_difference_counts_wins_ties_losses() -> None:
    a = {"x": 1.0, "y": 1.0, "z": 0.0, "w": None}
    b = {"x": 0.0, "y": 1.0, "z": 1.0, "w": 1.0}
    stats = paired(a, b)
    assert (stats["wins"], stats["ties"], stats["losses"], stats["n"]) == (1, 1, 1, 3)
    lower = paired({"x": 1.0}, {"x": 3.0}, higher_is_better=False)
    assert lower["wins"] == 1  # fewer unsupported facts is a win


def test_mcnemar_exact_p_values() -> None:
    both = {f"c{i}": 1.0 for i in range(10)}
    assert mcnemar(both, both) == 1.0
    better = {f"c{i}": 1.0 for i in range(10)}
    worse = {f"c{i}": 0.0 for i in range(10)}
    assert mcnemar(better, worse) == pytest.approx(2 * 0.5 ** 10)


def test_scorecard_compares_arms_and_consistency_counts_groups() -> None:
    card = scorecard(results())
    rows = {r["arm"]: r for r in card["rows"]}
    assert rows["rag-hybrid"]["correct"]["mean"] == pytest.approx(5 / 6)
    delta = rows["rag-hybrid"]["vs_reference"]["correct"]
    assert (delta["wins"], delta["ties"], delta["losses"]) == (4, 2, 0)
    assert rows["pe-zero-shot"]["unsupported_total"] == 4
    assert rows["pe-zero-shot"]["consistency"]["n"] == 1  # one group, not three cases
    assert rows["rag-hybrid"]["cost_per_1k_usd"] is None  # one unknown price: unknown, not 0
    assert rows["pe-zero-shot"]["cost_per_1k_usd"] == 0.0
    assert rows["rag-hybrid"]["failures"] == 1
    assert [s["arm"] for s in card["ladder"]] == ["pe-zero-shot", "rag-hybrid"]
    assert card["categories"]["price"]["rag-hybrid"]["correct"] == 1.0


def test_what_the_model_did_is_shown_apart_from_what_code_did() -> None:
    rows = {r["arm"]: r for r in scorecard(results())["rows"]}
    rag = rows["rag-hybrid"]
    assert rag["correct"]["mean"] == pytest.approx(5 / 6)
    assert rag["model_cases"] == 2 and rag["correct_model"]["mean"] == pytest.approx(0.5)
    assert rag["paths"] == {"model": pytest.approx(1 / 6), "fallback": pytest.approx(1 / 6),
                            "data": pytest.approx(4 / 6)}
    assert rag["latency_data_p50_ms"] == pytest.approx(4.5)
    assert rows["pe-zero-shot"]["model_cases"] == 6
    old = results()
    del old["paths"]  # a run from before paths were recorded: unknown, not zero
    row = scorecard(old)["rows"][1]
    assert row["paths"] is None and row["correct_model"]["mean"] is None
    assert "n/a" in to_markdown(scorecard(old))


def test_a_baseline_made_on_other_code_or_metrics_is_reported_stale() -> None:
    now, then = results(), results()
    now["run"]["arm_hashes"] = {"pe-zero-shot": "same", "rag-hybrid": "new"}
    then["run"].update(arm_hashes={"pe-zero-shot": "same", "rag-hybrid": "old"}, commit="abc123",
                       finished="2026-11-28T08:32:45+00:00")
    then["metrics"]["correct"] = {**then["metrics"]["correct"], "version": 0}
    problems = scorecard(now, then)["baseline_problems"]
    assert len(problems) == 2 and problems[0].startswith("rag-hybrid: the baseline was made on "
                                                         "commit abc123")
    assert problems[1].startswith("correct: the baseline was scored with version 0, now 1")
    assert "## The baseline is stale" in to_markdown(scorecard(now, then))
    assert scorecard(now, now)["baseline_problems"] == []
    other = results()
    other["models"] = {**now.get("models", {}), "rag-hybrid": "local/smollm2-135m"}
    now["models"] = {**now.get("models", {}), "rag-hybrid": "local/qwen2.5-coder-0.5b"}
    assert scorecard(now, other)["baseline_problems"] == [
        "rag-hybrid: the baseline was made on commit unknown (no date) on local/smollm2-135m, "
        "this run on local/qwen2.5-coder-0.5b"]


def test_a_drop_below_the_baselines_ci_is_a_regression() -> None:
    baseline = results()
    current = copy.deepcopy(baseline)
    assert scorecard(current, baseline)["regressions"] == []
    for cid in ("c1", "c2", "c3", "c4"):
        current["scores"]["rag-hybrid"][cid]["correct"] = 0.0
        current["scores"]["rag-hybrid"][cid]["fact_accuracy"] = 0.0
    card = scorecard(current, baseline)
    assert any(r.startswith("rag-hybrid: correct") for r in card["regressions"])
    rag = next(r for r in card["rows"] if r["arm"] == "rag-hybrid")
    assert rag["vs_baseline"]["correct"]["losses"] == 4


def test_baseline_names_follow_the_selection() -> None:
    assert baseline_name({"tags": ["gate"], "split": None}) == "gate"
    assert baseline_name({"tags": None, "split": "heldout"}) == "heldout"
    assert baseline_name({"tags": None, "split": None}) == "all"


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_writers_render_every_arm() -> None:
    card = scorecard(results())
    csv_text = to_csv(card)
    assert csv_text.splitlines()[0].startswith("arm,cases,correct")
    assert len(csv_text.strip().splitlines()) == 3
    # A cell a spreadsheet would run ("+0.500 [...]" is a formula to it) is text behind a quote.
    import csv
    import io

    cells = [cell for row in csv.reader(io.StringIO(csv_text)) for cell in row]
    assert any(cell.startswith("'+") for cell in cells)
    assert not any(cell[:1] in ("=", "+", "@") or (cell[:1] == "-" and not _number(cell))
                   for cell in cells)
    page = to_html(card)
    assert page.count("<svg") == 4 and "<script" not in page
    assert json.loads(json.dumps(card))["rows"][1]["arm"] == "rag-hybrid"


def test_markdown_matches_the_snapshot() -> None:
    text = to_markdown(scorecard(results(), results()))
    path = SNAPSHOTS / "scorecard.md"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), "no snapshot yet: run with UPDATE_SNAPSHOTS=1 and review it"
    assert text == path.read_text(encoding="utf-8")


def with_null_control(model_facts: list[float | None],
                      null_correct: list[int] | None = None) -> dict:
    """results() plus control-null (the pipeline with a silent model: rag-hybrid's answers, or
    `null_correct` right) and the facts rag-hybrid's model wrote on the cases it was asked."""
    data = results()
    data["failures"]["rag-hybrid"] = {}
    data["arms"].append("control-null")
    data["scores"]["control-null"] = copy.deepcopy(data["scores"]["rag-hybrid"])
    for i, right in enumerate(null_correct or []):
        data["scores"]["control-null"][f"c{i}"]["correct"] = float(right)
    for i, value in enumerate(model_facts):
        data["scores"]["rag-hybrid"][f"c{i}"]["model_facts"] = value
        data["scores"]["control-null"][f"c{i}"]["model_facts"] = None if value is None else 0.0
    for key in ("failures", "perf", "perf_data", "paths"):
        data[key]["control-null"] = copy.deepcopy(data[key]["rag-hybrid"])
    return data


def test_the_gate_passes_when_the_model_writes_facts_and_fails_when_it_writes_none() -> None:
    writes = with_null_control([None] * 4 + [1.0, 1.0], null_correct=[0] * 6)
    assert gate_failures(scorecard(writes)) == []
    silent = with_null_control([None] * 4 + [0.0, 0.0])
    failures = gate_failures(scorecard(silent))
    assert len(failures) == 2, failures
    assert "correct no more often than with a model that writes nothing" in failures[0]
    assert "writes no more of the asked facts" in failures[1]
    failures = gate_failures(scorecard(silent, writes))  # and below the baseline's CI
    assert any(f.startswith("rag-hybrid: model_facts 0.000 is below") for f in failures)


def test_taught_and_untaught_heldout_cases_are_reported_apart() -> None:
    data = results()
    for i in range(6):
        data["cases"][f"c{i}"]["taught"] = i < 2
    card = scorecard(data)
    rag = next(row for row in card["taught"] if row["arm"] == "rag-hybrid")
    assert rag["taught"]["n"] == 2 and rag["untaught"]["mean"] == pytest.approx(3 / 4)
    assert "## Taught and untaught heldout cases" in to_markdown(card)
    assert scorecard(results())["taught"] == []  # no tags, no table


def ladder_results(correct_small: list[int], correct_big: list[int], p95_big: float) -> dict:
    """rag-hybrid on two models of a ladder run, with the timings the runner records."""
    base = results()
    rag = base["scores"]["rag-hybrid"]
    small = {cid: {**s, "correct": float(c)} for (cid, s), c in zip(rag.items(), correct_small)}
    big = {cid: {**s, "correct": float(c)} for (cid, s), c in zip(rag.items(), correct_big)}
    arms = ["rag-hybrid@small", "rag-hybrid@big"]

    def perf(latency: list[float]) -> dict:
        return {"latency_ms": latency, "ttft_ms": [500.0] * len(latency),
                "prompt_tokens": [600] * len(latency), "tokens": [41] * len(latency),
                "cost_usd": [0.0] * len(latency), "cpu_s": [3.6] * len(latency),
                "rss_mb": [900.0, 1200.0][:len(latency)]}
    return {**base, "arms": arms, "run": {**base["run"], "arms": arms, "core_hour_usd": 0.05,
                                          "models": ["local/small", "local/big"]},
            "scores": {"rag-hybrid@small": small, "rag-hybrid@big": big},
            "failures": {a: {} for a in arms},
            "perf": {"rag-hybrid@small": perf([2500.0, 4500.0]),
                     "rag-hybrid@big": perf([p95_big, p95_big])},
            "perf_data": {a: {"latency_ms": [], "cpu_s": []} for a in arms},
            "paths": {a: {f"c{i}": "model" for i in range(6)} for a in arms},
            "models": {"rag-hybrid@small": "local/small", "rag-hybrid@big": "local/big"}}


def test_the_inference_view_reports_speed_memory_and_cost_per_answer() -> None:
    card = scorecard(ladder_results([1] * 6, [1] * 6, 3000.0))
    small = card["rows"][0]
    assert small["model"] == "local/small"
    assert small["prompt_tps_p50"] == pytest.approx(1200.0)  # 600 tokens in 0.5 s
    assert small["gen_tps_p50"] == pytest.approx(15.0)  # 40 tokens after the first: 20/s and 10/s
    assert small["peak_rss_mb"] == 1200.0 and small["cpu_s_mean"] == pytest.approx(3.6)
    assert small["cost_per_1k_usd"] == pytest.approx(3.6 * 0.05 / 3600 * 1000)
    markdown = to_markdown(card)
    assert "## Inference cost per arm" in markdown and "| 1200 |" in markdown


def test_the_default_is_the_most_accurate_within_budget_then_the_fastest() -> None:
    # the big model is clearly better and within budget: it wins
    pick = scorecard(ladder_results([1, 0, 0, 0, 0, 0], [1] * 6, 9000.0))["default_pick"]
    assert pick["arm"] == "rag-hybrid@big"
    # over the latency budget: the small one, however accurate the big one is
    pick = scorecard(ladder_results([1, 0, 0, 0, 0, 0], [1] * 6, 15000.0))["default_pick"]
    assert pick["arm"] == "rag-hybrid@small" and pick["over_budget"] == ["rag-hybrid@big"]
    # as accurate (no case differs): the faster one
    pick = scorecard(ladder_results([1] * 6, [1] * 6, 5000.0))["default_pick"]
    assert pick["arm"] == "rag-hybrid@small" and set(pick["as_accurate"]) == {
        "rag-hybrid@small", "rag-hybrid@big"}
    assert scorecard(results())["default_pick"] is None  # no ladder, no pick


def test_a_fine_tuned_small_model_is_set_against_an_untuned_bigger_one() -> None:
    """The classic question, alone and with RAG, paired over the same cases."""
    base = ladder_results([1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0], 3000.0)
    rag = base["scores"]["rag-hybrid@small"]

    def arm(correct: list[int]) -> dict:
        return {cid: {**s, "correct": float(c)} for (cid, s), c in zip(rag.items(), correct)}
    extra = {"finetuned@small": arm([1, 1, 1, 0, 0, 0]), "pe-zero-shot@big": arm([0] * 6),
             "finetuned+rag@small": arm([1, 1, 1, 1, 1, 0])}
    results = {**base, "arms": [*base["arms"], *extra],
               "scores": {**base["scores"], **extra},
               "failures": {a: {} for a in [*base["arms"], *extra]},
               "perf": {**base["perf"], **{a: base["perf"]["rag-hybrid@small"] for a in extra}},
               "perf_data": {a: {"latency_ms": [], "cpu_s": []} for a in [*base["arms"], *extra]},
               "paths": {a: {f"c{i}": "model" for i in range(6)} for a in [*base["arms"], *extra]}}
    results["run"] = {**base["run"], "arms": results["arms"]}
    card = scorecard(results)
    rows = {(t["how"], t["tuned"], t["untuned"]): t for t in card["tuned_vs_bigger"]}
    assert set(rows) == {("alone", "finetuned@small", "pe-zero-shot@big"),
                         ("+ RAG", "finetuned+rag@small", "rag-hybrid@big")}
    alone = rows[("alone", "finetuned@small", "pe-zero-shot@big")]["delta"]
    assert alone["mean"] == pytest.approx(0.5) and (alone["wins"], alone["losses"]) == (3, 0)
    with_rag = rows[("+ RAG", "finetuned+rag@small", "rag-hybrid@big")]["delta"]
    assert with_rag["mean"] == pytest.approx(1 / 6) and with_rag["wins"] == 1
    assert "## Fine-tuned vs untuned, alone and with RAG" in to_markdown(card)
    assert "Fine-tuned vs untuned" in to_html(card)
    assert scorecard(ladder_results([1] * 6, [1] * 6, 3000.0))["tuned_vs_bigger"] == []
