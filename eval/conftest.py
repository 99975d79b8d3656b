"""The regression gate's one evaluation run, shared by every check in eval/test_gate.py.

It runs the gate arms over the cases tagged `gate` on the shipped model (GATE_MODEL), with the app's own
generation settings, against a fresh copy of the real store data. Answers are cached in
eval/runs/cache.sqlite (keyed on prompts, code, settings, model and data), so a second
`pytest eval/` only re-scores; a change to any of those re-answers what it affects.
"""

from __future__ import annotations

import json
import os

import pytest

from store_assistant.config import ENV_PREFIX, load_settings


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def gate(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """{"results": ..., "card": the scorecard against eval/baselines/gate.json, "baseline": ...,
    "settings": the store data it ran on}"""
    from store_assistant.evaluation.runner import (GATE_ARMS, GATE_MODEL, RUNS_DIR, EvalConfig,
                                                   run_eval)
    from store_assistant.store.inventory import Inventory, inventory_path
    from store_assistant.store.knowledge import close_knowledge_bases, ingest
    from store_assistant.evaluation.runner import load_baseline
    from store_assistant.evaluation.scorecard import scorecard

    data_dir = tmp_path_factory.mktemp("gate-data")
    settings = load_settings({"data_dir": str(data_dir), "llm": GATE_MODEL}, env={})
    Inventory(inventory_path(settings)).import_csv(settings.inventory_csv)
    ingest(settings, [(settings.manuals_dir, "manual"), (settings.policies_dir, "policy")],
           progress=False)
    config = EvalConfig(arms=list(GATE_ARMS), tags=["gate"],
                        runs_dir=tmp_path_factory.mktemp("gate-runs"),
                        cache_path=RUNS_DIR / "cache.sqlite")
    folder = run_eval(settings, config, progress=False)
    close_knowledge_bases()
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    baseline = load_baseline("gate", results)
    return {"results": results, "baseline": baseline, "card": scorecard(results, baseline),
            "folder": folder, "settings": settings}
