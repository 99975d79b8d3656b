"""The analytics regression gate: the hand-gold cases are sound, the no-model control still
scores what the committed run says, and the gate is shown able to fail on a broken arm.

The model arms (minutes per model here) are measured by `store-assistant analytics eval` and
committed in eval/baselines/analytics.json; this gate re-runs what costs seconds.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from store_assistant.analytics import keywords
from store_assistant.analytics.sales import generate
from store_assistant.config import PROJECT_DIR, load_settings
from store_assistant.evaluation.analytics import (CASES_FILE, fingerprint, gold_rows, load_cases,
                                                  run_analytics_eval, same_result)
from store_assistant.evaluation.runner import BASELINES_DIR
from store_assistant.evaluation.scorecard import regressions, scorecard

BASELINE = BASELINES_DIR / "analytics.json"


@pytest.fixture(scope="module")
def sales_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(PROJECT_DIR / "manuals" / "inventory.csv",
                    tmp_path_factory.mktemp("sales") / "sales.db")


def test_the_cases_are_many_varied_and_their_gold_runs(sales_db: Path) -> None:
    cases = load_cases()
    assert len(cases) >= 120
    groups = Counter(c.group for c in cases if c.group)
    assert sum(1 for n in groups.values() if n >= 3) >= 25
    assert {c.refuse for c in cases if c.refuse} == {"no_such_metric", "personal_data",
                                                      "write_request"}
    gold = gold_rows(sales_db, cases)
    for case in cases:
        if case.gold_sql:
            assert gold[case.id], f"{case.id}: gold returns no rows"
            assert all(v is not None for row in gold[case.id] for v in row), case.id
    first: dict[str, object] = {}
    for case in cases:
        if case.group and case.gold_sql:
            seen = first.setdefault(case.group, fingerprint(gold[case.id], case.ordered))
            assert fingerprint(gold[case.id], case.ordered) == seen, f"{case.id} disagrees"


def test_results_compare_by_value_not_by_form() -> None:
    assert same_result([("westside", 12)], [(12.0, "Westside")], ordered=False)
    assert same_result([(1,), (2,)], [(2,), (1,)], ordered=False)
    assert not same_result([(1,), (2,)], [(2,), (1,)], ordered=True)
    assert not same_result([(0.1234,)], [(0.1235,)], ordered=False)
    assert not same_result(None, [(1,)], ordered=False)
    assert not same_result([(1, "x")], [(1,)], ordered=False)  # an extra column is a different answer


def controls_run(sales_db: Path, folder: Path) -> dict:
    settings = load_settings({"data_dir": str(folder / "data")})
    run = run_analytics_eval(settings, sales_db, [], ("control-keywords", "control-null"),
                             runs_dir=folder / "runs", progress=False)
    return json.loads((run / "results.json").read_text(encoding="utf-8"))


def test_the_no_model_controls_score_what_the_committed_run_says(sales_db: Path,
                                                                 tmp_path: Path) -> None:
    assert BASELINE.exists(), "no committed analytics run: store-assistant analytics eval " \
                              "--update-baseline"
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    results = controls_run(sales_db, tmp_path)
    for arm in ("control-keywords", "control-null"):
        now = {cid: s["correct"] for cid, s in results["scores"][arm].items()}
        then = {cid: s["correct"] for cid, s in baseline["scores"][arm].items()}
        changed = sorted(cid for cid in now if now[cid] != then.get(cid))
        assert not changed, (f"{arm} now answers {len(changed)} case(s) differently from the "
                             f"committed run ({', '.join(changed[:5])}): the keywords, layer or "
                             f"cases changed; re-run `store-assistant analytics eval "
                             f"--update-baseline` and commit it")
    assert regressions(scorecard(results, baseline)["rows"]) == []


def test_the_gate_fails_on_a_broken_arm(sales_db: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The keyword control with its period reading broken: every "last month" becomes the whole
    year. The same check as above must report it, against the committed run."""
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    monkeypatch.setattr(keywords, "_periods", lambda layer, text: [])
    results = controls_run(sales_db, tmp_path)
    found = regressions(scorecard(results, baseline)["rows"])
    assert any(line.startswith("control-keywords: correct") for line in found), found
