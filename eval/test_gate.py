"""`pytest eval/`: the regression gate over the committed baseline (eval/baselines/gate.json).

The gate (`scorecard.gate_failures`) runs rag-hybrid, the product's default, on the default model
and asks of it: nothing below the baseline's CI (correct, fact accuracy, the facts its model
wrote, hit@5); more answers correct than the same pipeline with a model that writes nothing
(control-null), and more of the asked facts written by its model; no unsupported figure. Most
gate cases reach the model (a test counts them), so a model that stopped helping fails it. Two
tests prove it can fail: under control-null's model, and with a random retriever.

Update the baseline only on purpose, after reading the scorecard:
    store-assistant eval --arms rag-hybrid --tag gate --update-baseline
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


def test_the_gate_reaches_the_model(gate: dict) -> None:
    """A gate whose answers code builds cannot see the model: at least 30 of its cases must reach
    it (any path but 'data'), and it must be the product's default model."""
    from store_assistant.config import DEFAULT_LLM

    results = gate["results"]
    assert results["models"][TARGET_ARM] == DEFAULT_LLM
    reached = [case for case, path in results["paths"][TARGET_ARM].items() if path != "data"]
    assert len(reached) >= 30, f"only {len(reached)} gate cases reach the model: {reached}"


def test_the_gate_passes(gate: dict) -> None:
    failures = gate_failures(gate["card"])
    assert failures == [], "\n".join(failures)


def test_the_gate_fails_under_the_null_model(gate: dict) -> None:
    """control-null is rag-hybrid's pipeline with a model that writes nothing: put its answers in
    rag-hybrid's place and the gate must fail, though code still answers most cases right."""
    results = with_arm(gate["results"], TARGET_ARM, gate["results"], "control-null")
    failures = gate_failures(scorecard(results, gate["baseline"]))
    assert any("correct no more often than with a model that writes nothing" in f
               for f in failures), failures
    assert any("writes no more of the asked facts" in f for f in failures), failures


def test_the_gate_fails_with_a_broken_retriever(gate: dict, tmp_path, monkeypatch) -> None:
    """The gate cases answered from the manuals and policies, afresh (their own cache), with a
    retriever that returns random sections, in rag-hybrid's place. They are answered by
    control-null, rag-hybrid's own pipeline and retriever with a model that writes nothing: what
    is retrieved does not depend on the model, and 30 model answers would add a minute."""
    def random_sections(self, query: str, mode: str = "hybrid", k: int = 4, **wanted) -> list[Hit]:
        chunks = sorted(self.chunks.values(), key=lambda chunk: chunk.id)
        return [Hit(chunk, 0.5) for chunk in random.Random(query).sample(chunks, k)]

    monkeypatch.setattr(KnowledgeBase, "search", random_sections)
    config = EvalConfig(arms=["control-null"], tags=["gate"], controls=False, runs_dir=tmp_path,
                        categories=["specs", "policy", "compatibility"],
                        cache_path=tmp_path / "cache.sqlite")
    try:
        folder = run_eval(gate["settings"], config, progress=False)
    finally:
        close_knowledge_bases()
    broken = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    results = with_arm(gate["results"], TARGET_ARM, broken, "control-null")
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
