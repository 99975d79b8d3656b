"""`pytest eval/`: the regression gate over the committed baseline (eval/baselines/gate.json).

The gate (`scorecard.gate_failures`) asks of rag-hybrid, the product's default: nothing below the
baseline's CI (correct, fact accuracy, the facts its model wrote, hit@5); its model writes more of
the asked facts than a model that writes nothing; more facts than prompt-only; no unsupported
figure. Two tests prove it can fail: under control-null's model, and with a random retriever.

Update the baseline only on purpose, after reading the scorecard:
    store-assistant eval --arms pe-zero-shot,rag-hybrid --tag gate --update-baseline
The full evaluation (all arms, all cases) is `make eval`.
"""

from __future__ import annotations

import copy
import json
import math
import random


from store_assistant.evaluation.golden import load_cases, select
from store_assistant.evaluation.runner import GATE_ARMS, EvalConfig, run_eval
from store_assistant.evaluation.scorecard import TARGET_ARM, gate_failures, scorecard
from store_assistant.store.knowledge import Hit, KnowledgeBase, close_knowledge_bases

PER_ARM = ("scores", "failures", "perf", "perf_data", "paths")


def with_arm(results: dict, arm: str, source: dict, source_arm: str) -> dict:
    """`results` with `arm`'s answers replaced by `source_arm`'s answers in `source`."""
    merged = copy.deepcopy(results)
    for key in PER_ARM:
        merged[key][arm] = copy.deepcopy(source[key][source_arm])
    return merged


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


def test_the_gate_passes(gate: dict) -> None:
    failures = gate_failures(gate["card"])
    assert failures == [], "\n".join(failures)


def test_the_gate_fails_under_the_null_model(gate: dict) -> None:
    """control-null is rag-hybrid's pipeline with a model that writes nothing: put its answers in
    rag-hybrid's place and the gate must fail, though code still answers most cases right."""
    results = with_arm(gate["results"], TARGET_ARM, gate["results"], "control-null")
    failures = gate_failures(scorecard(results, gate["baseline"]))
    assert any("writes no more of the asked facts" in f for f in failures), failures
    assert any("model_facts" in f for f in failures), failures


def test_the_gate_fails_with_a_broken_retriever(gate: dict, tmp_path, monkeypatch) -> None:
    """rag-hybrid answered afresh (its own cache) with a retriever that returns random sections,
    on the gate cases answered from the manuals and policies (code answers the others)."""
    def random_sections(self, query: str, mode: str = "hybrid", k: int = 4, **wanted) -> list[Hit]:
        chunks = sorted(self.chunks.values(), key=lambda chunk: chunk.id)
        return [Hit(chunk, 0.5) for chunk in random.Random(query).sample(chunks, k)]

    monkeypatch.setattr(KnowledgeBase, "search", random_sections)
    config = EvalConfig(arms=[TARGET_ARM], tags=["gate"], controls=False, runs_dir=tmp_path,
                        categories=["specs", "policy", "compatibility"],
                        cache_path=tmp_path / "cache.sqlite")
    try:
        folder = run_eval(gate["settings"], config, progress=False)
    finally:
        close_knowledge_bases()
    broken = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    results = with_arm(gate["results"], TARGET_ARM, broken, TARGET_ARM)
    failures = gate_failures(scorecard(results, gate["baseline"]))
    assert any(f.startswith(f"{TARGET_ARM}: hit_at_5") for f in failures), failures


def test_every_answer_was_scored(gate: dict) -> None:
    results = gate["results"]
    for arm in GATE_ARMS:
        assert results["failures"][arm] == {}, f"{arm} failed: {results['failures'][arm]}"
        assert len(results["scores"][arm]) == results["run"]["cases"]
        for case_id, scores in results["scores"][arm].items():
            for metric, value in scores.items():
                assert value is None or math.isfinite(value), f"{arm} {case_id} {metric}={value}"
