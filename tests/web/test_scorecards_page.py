"""AppTest drives the real app.py to the Scorecards page, over a run written by the real writers.

The run is built from hand-made replies and scores (no model), then written by
`evaluation.write_run`, so the page reads exactly the files `store-assistant eval` writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from store_assistant.evaluation import runner as evaluation
from store_assistant.config import load_settings
from store_assistant.evaluation.runner import results_from, update_baseline, write_run
from store_assistant.evaluation.golden import Fact, GoldenCase
from store_assistant.evaluation.metrics import Reply, Score
from tests.conftest import sign_in_as_manager

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "store_assistant/web/pages/scorecards.py"
RUN_ID = "20261201-090000-abc123"
ARMS = ("pe-zero-shot", "rag-hybrid")

CASES = [
    GoldenCase("price-1", "price", "dev", "How much is the MacBook Air 13?", "It is $999.99.",
               (Fact("price", 999.99),), ("5465502",)),
    GoldenCase("policy-1", "policy", "dev", "What is the restocking fee on cameras?", "15%.",
               (Fact("number", 15.0, unit="%"),), ("policy:returns",)),
    GoldenCase("nc-1", "not-carried", "dev", "Do you sell drones?", "Sorry, we don't carry drones.",
               (), (), expect="decline"),
]
# (arm, case) -> (answer text, correct?, reason for the verdict)
ANSWERS = {
    ("pe-zero-shot", "price-1"): ("It costs **$899** [today](http://x.example)", False,
                                  "missing: price $999.99"),
    ("rag-hybrid", "price-1"): ("The MacBook Air 13 is $999.99 (SKU 5465502).", True,
                                "all 1 facts stated"),
    ("pe-zero-shot", "policy-1"): ("There is a 15% restocking fee.", True, "all 1 facts stated"),
    ("rag-hybrid", "policy-1"): ("Opened cameras: 15% restocking fee.", True, "all 1 facts stated"),
    ("pe-zero-shot", "nc-1"): ("Yes, drones are in aisle 4.", False, "did not decline"),
    ("rag-hybrid", "nc-1"): ("Sorry, we don't carry drones.", True, "declined as expected"),
}


def write_demo_run(runs_dir: Path, run_id: str = RUN_ID) -> Path:
    scored = []
    for (arm, case_id), (text, correct, reason) in ANSWERS.items():
        reply = Reply(case_id, arm, 0, text, "local/smollm2-135m",
                      sources=["5465502"] if arm == "rag-hybrid" else [],
                      latency_ms=2500.0 if arm == "rag-hybrid" else 800.0, ttft_ms=300.0,
                      usage={"completion_tokens": 20}, flags=["guarded"] if not correct else [])
        scored.append((reply, {"correct": Score(correct, reason),
                               "fact_accuracy": Score(1.0 if correct else 0.0, reason)}))
    meta = {"id": run_id, "started": "2026-12-01T09:00:00+00:00", "arms": list(ARMS),
            "model": "local/smollm2-135m", "split": None, "tags": None, "repeats": 1,
            "cases": len(CASES), "as_of": "2026-12-01"}
    return write_run(runs_dir, results_from(scored, CASES, meta), scored)


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty runs folder for the page, and no committed baselines unless a test writes one."""
    folder = tmp_path / "runs"
    monkeypatch.setenv("EVAL_RUNS_DIR", str(folder))
    monkeypatch.setenv("STORE_ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(evaluation, "BASELINES_DIR", tmp_path / "baselines")
    return folder


def open_page(runs: Path) -> AppTest:
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    sign_in_as_manager(at, load_settings())
    at.switch_page(PAGE)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Scorecards"
    return at


def drill_down_cases(at: AppTest) -> list[str]:
    table = next(df.value for df in at.dataframe if "question" in df.value.columns)
    return list(table["case"])


def test_page_lists_the_run_and_shows_each_arm(runs: Path) -> None:
    write_demo_run(runs)
    at = open_page(runs)
    run = at.selectbox(key="scorecard_run")
    assert run.options == [f"2026-12-01 09:00 · pe-zero-shot, rag-hybrid · 3 cases · {RUN_ID}"]
    main = at.dataframe[0].value
    assert list(main["arm"]) == list(ARMS)
    assert main.loc[main["arm"] == "rag-hybrid", "correct"].iloc[0].startswith("1.000")
    assert main.loc[main["arm"] == "pe-zero-shot", "correct"].iloc[0].startswith("0.333")
    assert [m.label for m in at.metric] == ["pe-zero-shot: correct", "rag-hybrid: correct"]
    assert [m.value for m in at.metric] == ["33%", "100%"]
    assert at.metric[1].delta == "+67 points vs pe-zero-shot"
    assert "No committed `all` baseline" in at.info[0].value


def test_choosing_arms_recomputes_the_scorecard_for_them(runs: Path) -> None:
    write_demo_run(runs)
    at = open_page(runs)
    at.multiselect(key=f"scorecard_arms_{RUN_ID}").set_value(["rag-hybrid"]).run()
    assert not at.exception
    assert list(at.dataframe[0].value["arm"]) == ["rag-hybrid"]
    assert [m.label for m in at.metric] == ["rag-hybrid: correct"]
    assert not at.radio  # nothing to compare against
    assert len(at.table) == 1  # one answer card in the side-by-side view


def test_an_arm_that_does_not_beat_a_control_is_said_in_words(runs: Path) -> None:
    """control-null answers like rag-hybrid here: the page must say rag-hybrid does not beat it."""
    scored = []
    for arm in ("rag-hybrid", "control-null"):
        for (answered_by, case_id), (text, correct, reason) in ANSWERS.items():
            if answered_by == "rag-hybrid":
                scored.append((Reply(case_id, arm, 0, text, "local/x", latency_ms=10.0,
                                     path="data" if case_id != "policy-1" else "model"),
                               {"correct": Score(correct, reason),
                                "fact_accuracy": Score(1.0 if correct else 0.0, reason)}))
    meta = {"id": RUN_ID, "started": "2026-12-01T09:00:00+00:00",
            "arms": ["rag-hybrid", "control-null"], "model": "local/x", "split": None,
            "tags": None, "repeats": 1, "cases": len(CASES), "as_of": "2026-12-01"}
    write_run(runs, results_from(scored, CASES, meta), scored)
    at = open_page(runs)
    said = [w.value.replace("\\", "") for w in at.warning]
    assert any("rag-hybrid does NOT beat control-null on correct" in w for w in said), said
    main = at.dataframe[0].value
    assert main.loc[main["arm"] == "rag-hybrid", "paths"].iloc[0] == "model 33%, data 67%"


def test_regression_against_the_baseline_is_shown(runs: Path, tmp_path: Path) -> None:
    folder = write_demo_run(runs)
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    # The committed baseline had pe-zero-shot right on every case; this run has it right on one.
    better = {cid: dict(scores, correct=1.0)
              for cid, scores in results["scores"]["pe-zero-shot"].items()}
    baseline = dict(results, scores=dict(results["scores"], **{"pe-zero-shot": better}))
    update_baseline(baseline, "all", tmp_path / "baselines")
    at = open_page(runs)
    assert "Regressions against the baseline" in at.error[0].value
    assert "pe-zero-shot: correct 0.333 is below" in at.error[0].value.replace("\\", "")
    assert "rag-hybrid" not in at.error[0].value


def test_filters_narrow_the_drill_down(runs: Path) -> None:
    write_demo_run(runs)
    at = open_page(runs)
    assert drill_down_cases(at) == ["price-1", "policy-1", "nc-1"]
    at.multiselect(key="scorecard_categories").set_value(["price"]).run()
    assert drill_down_cases(at) == ["price-1"]
    at.multiselect(key="scorecard_categories").set_value([]).run()
    at.radio(key="scorecard_outcome").set_value("tie").run()  # rag-hybrid vs pe-zero-shot
    assert drill_down_cases(at) == ["policy-1"]
    at.radio(key="scorecard_outcome").set_value("win").run()
    assert drill_down_cases(at) == ["price-1", "nc-1"]


def test_side_by_side_shows_both_answers_escaped_with_reasons(runs: Path) -> None:
    write_demo_run(runs)
    at = open_page(runs)
    at.selectbox(key="scorecard_case").set_value("price-1").run()
    texts = [md.value for md in at.markdown]
    # Model output is shown inert: the bold and the link are escaped, not rendered.
    assert r"It costs \*\*$899\*\* \[today\]\(http://x\.example\)" in [
        t.replace("\\$", "$") for t in texts]
    assert r"The MacBook Air 13 is $999\.99 \(SKU 5465502\)\." in [
        t.replace("\\$", "$") for t in texts]
    reasons = [table.value for table in at.table]  # one metrics table per arm, cells escaped
    assert len(reasons) == 2
    assert r"missing: price \$999\.99" in list(reasons[0]["reason"])
    assert reasons[1].loc[r"Correct \(all facts, nothing invented\)", "value"] == "yes"
    captions = [c.value for c in at.caption]
    assert any("sources: 5465502" in c and "2\\.5 s" in c for c in captions)


def test_no_runs_says_how_to_make_one(runs: Path) -> None:
    at = open_page(runs)
    assert "store-assistant eval --tag gate" in at.info[0].value
    assert str(runs) in at.info[0].value
    assert not at.dataframe


def test_malformed_run_is_an_error_for_that_run_only(runs: Path) -> None:
    write_demo_run(runs)
    broken = runs / "20261202-080000-bad000"
    broken.mkdir()
    (broken / "results.json").write_text('{"run": {"id": "x"', encoding="utf-8")
    at = open_page(runs)
    run = at.selectbox(key="scorecard_run")
    assert run.options[0] == "20261202-080000-bad000 · cannot be read"  # newest first
    assert "Run 20261202-080000-bad000 cannot be shown" in at.error[0].value
    assert "is not valid JSON" in at.error[0].value
    run.set_value(RUN_ID).run()
    assert not at.exception and not at.error
    assert list(at.dataframe[0].value["arm"]) == list(ARMS)


def test_a_results_file_without_scores_names_what_is_missing(runs: Path) -> None:
    folder = write_demo_run(runs)
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    del results["scores"]
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    at = open_page(runs)
    assert "has no scores" in at.error[0].value


def test_an_analytics_run_shows_its_own_columns_and_answers(runs: Path, tmp_path: Path) -> None:
    """A run written by `store-assistant analytics eval` (its no-model arms here) opens in the same
    page: execution accuracy, consistency and valid queries, and each answer with its SQL."""
    from store_assistant.analytics.sales import generate
    from store_assistant.config import PROJECT_DIR
    from store_assistant.evaluation.analytics import run_analytics_eval

    database = generate(PROJECT_DIR / "manuals" / "inventory.csv", tmp_path / "sales.db")
    run_analytics_eval(load_settings(), database, [], ("control-keywords", "control-null"),
                       runs_dir=runs, progress=False)
    at = open_page(runs)
    main = at.dataframe[0].value
    assert list(main["arm"]) == ["control-keywords", "control-null"]
    assert {"execution accuracy", "consistency", "valid query", "refusal correct"} <= set(main)
    assert main.loc[main["arm"] == "control-null", "execution accuracy"].iloc[0] \
        .startswith("0.000")
    assert drill_down_cases(at)[0] == "oled-westside-last-month-1"
