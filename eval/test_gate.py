"""`pytest eval/`: the regression gate over the committed baseline (eval/baselines/gate.json).

Update the baseline only on purpose, after reading the scorecard:
    store-assistant eval --arms pe-zero-shot,rag-hybrid --tag gate --update-baseline
The full evaluation (all arms, all cases) is `make eval`.
"""

from __future__ import annotations

import math

from store_assistant.evaluation.runner import GATE_ARMS
from store_assistant.evaluation.golden import load_cases, select


def _row(gate: dict, arm: str) -> dict:
    return next(r for r in gate["card"]["rows"] if r["arm"] == arm)


def test_the_baseline_covers_this_gate(gate: dict) -> None:
    baseline = gate["baseline"]
    assert baseline is not None, ("eval/baselines/gate.json is missing: run `store-assistant eval "
                                  "--arms pe-zero-shot,rag-hybrid --tag gate --update-baseline`")
    assert set(GATE_ARMS) <= set(baseline["arms"])
    gate_ids = {c.id for c in select(load_cases(), tags=["gate"])}
    missing = gate_ids - set(baseline["cases"])
    assert not missing, f"gate cases not in the baseline (update it on purpose): {sorted(missing)}"


def test_the_baseline_was_made_on_this_code_and_these_metrics(gate: dict) -> None:
    """A baseline made on other prompts, guard or retrieval code, or other metric versions, is
    not a baseline for this code: re-make it on purpose (see the module docstring)."""
    assert gate["card"]["baseline_problems"] == [], gate["card"]["baseline_problems"]


def test_no_arm_falls_below_its_baseline(gate: dict) -> None:
    assert gate["card"]["regressions"] == []


def test_rag_beats_prompt_only_on_fact_accuracy(gate: dict) -> None:
    delta = _row(gate, "rag-hybrid")["vs_reference"]["fact_accuracy"]
    assert delta["lo"] > 0, f"RAG - PE fact accuracy CI [{delta['lo']:.3f}, {delta['hi']:.3f}] includes 0"


def test_rag_states_no_unsupported_facts(gate: dict) -> None:
    assert _row(gate, "rag-hybrid")["unsupported_total"] == 0


def test_every_answer_was_scored(gate: dict) -> None:
    results = gate["results"]
    for arm in GATE_ARMS:
        assert results["failures"][arm] == {}, f"{arm} failed: {results['failures'][arm]}"
        assert len(results["scores"][arm]) == results["run"]["cases"]
        for case_id, scores in results["scores"][arm].items():
            for metric, value in scores.items():
                assert value is None or math.isfinite(value), f"{arm} {case_id} {metric}={value}"
