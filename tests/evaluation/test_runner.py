"""The evaluation runner on the embedded model: caching, resuming, atomic runs, freshness, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from store_assistant.evaluation import runner as evaluation
from store_assistant.cli import EXIT_BAD_INPUT, EXIT_OK, main
from store_assistant.errors import ConfigError
from store_assistant.evaluation.runner import (EvalConfig, answer_cases, arm_hash,
                                               check_freshness, data_version, parse_arms, run_eval,
                                               update_baseline)
from store_assistant.store.answer_cache import AnswerCache
from store_assistant.evaluation.golden import load_cases

CASES = """\
- id: price-air
  category: price
  split: heldout
  question: How much is the MacBook Air 13 with 128GB?
  reference: The Apple MacBook Air 13.3" 128GB (SKU 5465502) is $999.99.
  facts:
    - {type: price, value: 999.99}
  sources: ["5465502"]
- id: stock-air
  category: stock
  split: dev
  question: How many MacBook Air 256GB are at the downtown store?
  reference: Downtown has 5 of the MacBook Air 13.3" 256GB (SKU 5465600).
  facts:
    - {type: stock, store: downtown, value: 5}
  sources: ["5465600"]
- id: drone
  category: not-carried
  split: dev
  question: Do you sell drones?
  reference: Sorry, we don't carry drones at Volt Electronics.
  facts: []
  sources: []
  expect: decline
"""


@pytest.fixture
def cases_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "cases.yaml").write_text(CASES, encoding="utf-8")
    return folder


def config(cases_dir: Path, tmp_path: Path, **fields) -> EvalConfig:
    return EvalConfig(**{"arms": ["rag-hybrid"], "cases_dir": cases_dir, "controls": False,
                         "runs_dir": tmp_path / "runs", **fields})


def test_an_interrupted_run_resumes_from_the_cache(store_settings, cases_dir, tmp_path) -> None:
    cases = load_cases(cases_dir)
    cache = AnswerCache(tmp_path / "runs" / "cache.sqlite")
    seen = []

    def stop_after_two(arm: str, cached: bool) -> None:
        seen.append(cached)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        answer_cases(store_settings, ["rag-hybrid"], cases, 1, cache, progress=stop_after_two)
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["cache.sqlite"]

    folder = run_eval(store_settings, config(cases_dir, tmp_path), progress=False)
    results = json.loads((folder / "results.json").read_text())
    assert results["run"]["cached_answers"] == 2 and results["run"]["answers"] == 3
    assert {p.name for p in folder.iterdir()} == {"answers.jsonl", "results.json", "scorecard.md",
                                                  "scorecard.csv", "scorecard.json",
                                                  "scorecard.html"}
    again = json.loads((run_eval(store_settings, config(cases_dir, tmp_path), progress=False)
                        / "results.json").read_text())
    assert again["run"]["cached_answers"] == 3
    assert again["scores"] == results["scores"]


def test_every_run_shows_the_control_arms(store_settings, cases_dir, tmp_path) -> None:
    folder = run_eval(store_settings, config(cases_dir, tmp_path, controls=True), progress=False)
    results = json.loads((folder / "results.json").read_text())
    assert results["arms"] == ["rag-hybrid", "control-null", "control-extractive"]
    scorecard = (folder / "scorecard.md").read_text()
    assert "## Against the controls (no language model)" in scorecard
    assert "rag-hybrid" in scorecard.split("## Against the controls")[1]


def test_every_answer_is_scored_with_reasons(store_settings, cases_dir, tmp_path) -> None:
    folder = run_eval(store_settings, config(cases_dir, tmp_path), progress=False)
    answers = [json.loads(line) for line in (folder / "answers.jsonl").read_text().splitlines()]
    by_case = {a["case_id"]: a for a in answers}
    assert by_case["drone"]["scores"]["refusal"]["value"] is True
    assert by_case["price-air"]["scores"]["hit_at_5"]["value"] is True
    assert "5465502" in by_case["price-air"]["retrieved"]
    # Looked up and declined by code: recorded as such, and kept out of the model's latency.
    assert by_case["price-air"]["path"] == by_case["drone"]["path"] == "data"
    results = json.loads((folder / "results.json").read_text())
    data = [cid for cid, path in results["paths"]["rag-hybrid"].items() if path == "data"]
    assert len(results["perf_data"]["rag-hybrid"]["latency_ms"]) == len(data) >= 2
    assert len(results["perf"]["rag-hybrid"]["latency_ms"]) == 3 - len(data)
    for answer in answers:
        assert answer["error"] is None
        assert all(s["reason"] for s in answer["scores"].values())


def test_a_failed_run_leaves_no_run_folder(store_settings, cases_dir, tmp_path, monkeypatch) -> None:
    def broken(*_):
        raise RuntimeError("disk full")

    monkeypatch.setattr(evaluation, "write_scorecard", broken)
    with pytest.raises(RuntimeError):
        run_eval(store_settings, config(cases_dir, tmp_path), progress=False)
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["cache.sqlite"]


def test_a_model_failure_is_counted_and_not_cached(store_settings, cases_dir, tmp_path) -> None:
    broken = store_settings.replace(llm="openai/store-test", api_base="http://127.0.0.1:9",
                                    max_retries=0, timeout_s=5)
    cache = AnswerCache(tmp_path / "cache.sqlite")
    replies = answer_cases(broken, ["pe-zero-shot"], load_cases(cases_dir)[:1], 1, cache)
    assert replies[0].error and "ModelError" in replies[0].error
    again = answer_cases(broken, ["pe-zero-shot"], load_cases(cases_dir)[:1], 1, cache)
    assert again[0].error  # asked again, not served a cached failure


def test_the_cache_key_follows_settings_and_data(store_settings) -> None:
    assert arm_hash("rag-hybrid", store_settings) == arm_hash("rag-hybrid", store_settings)
    assert arm_hash("rag-hybrid", store_settings) != arm_hash("rag-dense", store_settings)
    assert arm_hash("rag-hybrid", store_settings) != arm_hash(
        "rag-hybrid", store_settings.replace(max_tokens=64))
    assert len(data_version(store_settings)) == 16


def test_unknown_arms_list_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="Did you mean rag-hybrid.*Known: pe-zero-shot"):
        parse_arms("pe-zero-shot,rag-hybird")
    with pytest.raises(ConfigError, match="No arms"):
        parse_arms(" , ")
    with pytest.raises(ConfigError, match="repeats"):
        EvalConfig(repeats=0)


def test_freshness_rag_follows_an_inventory_change(store_settings, cases_dir, tmp_path) -> None:
    before = data_version(store_settings)
    cache = AnswerCache(tmp_path / "cache.sqlite")
    report = check_freshness(store_settings, ["rag-hybrid"], load_cases(cases_dir), cache)
    rows = {r["change"]: r for r in report["rows"]}
    assert set(rows) == {"price", "stock-out"}  # the cases have no promotion case to change
    assert rows["price"]["old"] == 999.99 and rows["price"]["after"] == "follows", rows["price"]
    assert rows["stock-out"]["after"] == "follows", rows["stock-out"]["answer_after"]
    assert data_version(store_settings) == before  # the real data was not touched


def test_freshness_the_finetuned_model_goes_stale(store_settings, cases_dir, tmp_path) -> None:
    """What the adapter learned is frozen at training time: no change reaches its answers."""
    cache = AnswerCache(tmp_path / "cache.sqlite")
    report = check_freshness(store_settings.replace(max_tokens=32), ["finetuned"],
                             load_cases(cases_dir), cache)
    assert report["followed"] == {"finetuned": 0}
    for row in report["rows"]:
        assert row["answer_after"] == row["answer_before"], row


def test_a_finetuned_arm_is_re_answered_when_its_adapter_changes(store_settings, tmp_path,
                                                                 monkeypatch) -> None:
    import json
    import shutil

    from store_assistant.config import PROJECT_DIR

    models = tmp_path / "models"
    shutil.copytree(PROJECT_DIR / "models", models)
    moved = store_settings.replace(models_dir=models)
    before = arm_hash("finetuned", moved)
    assert arm_hash("rag-hybrid", moved) == arm_hash("rag-hybrid", store_settings)
    registry = json.loads((models / "registry.json").read_text())
    registry["models"][registry["active"]]["adapter_sha256"] = "0" * 64  # as if retrained
    (models / "registry.json").write_text(json.dumps(registry))
    assert arm_hash("finetuned", moved) != before
    assert arm_hash("finetuned+rag", moved) != arm_hash("finetuned", moved)


def test_cli_eval_prints_the_scorecard_and_leaves_baselines_alone(store_settings, cases_dir,
                                                                  tmp_path, capsys) -> None:
    baselines = sorted(p.stat().st_mtime for p in evaluation.BASELINES_DIR.glob("*.json"))
    code = main(["eval", "--arms", "rag-hybrid", "--cases", str(cases_dir), "--runs-dir",
                 str(tmp_path / "runs"), "--data-dir", str(store_settings.data_dir)])
    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert "| rag-hybrid | 3 |" in out and "run written to" in out
    assert sorted(p.stat().st_mtime for p in evaluation.BASELINES_DIR.glob("*.json")) == baselines
    assert main(["eval", "--arms", "rag-hybird", "--cases", str(cases_dir)]) == EXIT_BAD_INPUT
    assert "Did you mean rag-hybrid" in capsys.readouterr().err


def test_updating_a_baseline_is_explicit_and_atomic(tmp_path) -> None:
    results = {"run": {"id": "r"}, "arms": ["a"], "scores": {}, "freshness": {"rows": []}}
    path = update_baseline(results, "gate", tmp_path)
    assert path == tmp_path / "gate.json"
    assert "freshness" not in json.loads(path.read_text())
    assert [p.name for p in tmp_path.iterdir()] == ["gate.json"]


def test_a_malformed_case_file_names_file_and_line(tmp_path) -> None:
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "bad.yaml").write_text(CASES.replace("category: stock", "category: stocks"))
    with pytest.raises(Exception, match=r"bad\.yaml:\d+.*stocks.*Did you mean stock"):
        load_cases(folder)


def test_a_judge_that_fails_is_counted_not_hidden(store_settings, cases_dir, tmp_path) -> None:
    """An unreachable judge: every judge score is a failure with its reason; the rest stands."""
    settings = store_settings.replace(api_base="http://127.0.0.1:9", max_retries=0, timeout_s=5)
    cfg = config(cases_dir, tmp_path, judge="openai/judge-test", categories=["price"])
    results = json.loads((run_eval(settings, cfg, progress=False) / "results.json").read_text())
    assert results["run"]["judge"] == "openai/judge-test"
    assert "factual_correctness" in results["metrics"]
    assert results["failures"]["rag-hybrid"]["factual_correctness"] == 1
    assert results["scores"]["rag-hybrid"]["price-air"]["correct"] == 1.0
    with pytest.raises(ConfigError, match="Unknown model"):
        run_eval(settings, config(cases_dir, tmp_path, judge="nonsense"), progress=False)


def test_two_runs_in_the_same_second_get_their_own_folders(tmp_path) -> None:
    from store_assistant.evaluation.runner import write_run
    from tests.evaluation.test_scorecard import results as sample

    first, second = write_run(tmp_path, sample(), []), write_run(tmp_path, sample(), [])
    assert second.name == first.name + "-2"
    assert json.loads((second / "results.json").read_text())["run"]["id"] == second.name


def test_an_arm_is_re_answered_only_when_its_own_prompts_change(store_settings, monkeypatch,
                                                              tmp_path) -> None:
    import store_assistant.evaluation.runner as ev

    before = {arm: arm_hash(arm, store_settings) for arm in ("pe-cot", "rag-hybrid")}
    fake_package = tmp_path / "package"
    real = Path(ev.__file__).parents[1]
    for path in [*(real / "prompts").iterdir(),
                 *ev.answering_code(real)]:
        copy = fake_package / path.relative_to(real)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(path.read_bytes())
    monkeypatch.setattr(ev, "__file__", str(fake_package / "evaluation" / "runner.py"))
    (fake_package / "prompts" / "unrelated.md").write_text("a new teacher prompt")
    assert {arm: arm_hash(arm, store_settings) for arm in before} == before
    (fake_package / "prompts" / "cot.md").write_text("Think differently.")
    assert arm_hash("pe-cot", store_settings) != before["pe-cot"]
    assert arm_hash("rag-hybrid", store_settings) == before["rag-hybrid"]


def test_a_model_ladder_runs_each_arm_on_each_model(store_settings, cases_dir, tmp_path) -> None:
    from store_assistant.inference.local import embedded_model_path

    # A second model: the same weights under another name (fast here; a real ladder adds Qwen).
    settings = store_settings.replace(local_models={"copy": str(embedded_model_path())})
    ladder = evaluation.parse_models("smollm2-135m,local/copy", settings)
    assert ladder == ["local/smollm2-135m", "local/copy"]
    folder = run_eval(settings, config(cases_dir, tmp_path, arms=["rag-hybrid", "finetuned+rag"],
                                       models=ladder, controls=True), progress=False)
    results = json.loads((folder / "results.json").read_text())
    # finetuned+rag has an adapter only on the embedded model; the controls have no model
    assert results["arms"] == ["rag-hybrid@smollm2-135m", "finetuned+rag@smollm2-135m",
                               "rag-hybrid@copy", "control-null", "control-extractive"]
    assert results["models"]["rag-hybrid@copy"] == "local/copy"
    assert results["models"]["finetuned+rag@smollm2-135m"] == "local/volt-lora"
    assert evaluation.baseline_name(results["run"]) == "ladder"
    spent = results["perf_data"]["rag-hybrid@copy"]["cpu_s"]  # these cases are answered from data
    assert len(spent) == 3 and all(c > 0 for c in spent)
    scorecard = (folder / "scorecard.md").read_text()
    assert "## Inference cost per arm" in scorecard and "## The default model" in scorecard
    with pytest.raises(ConfigError, match="Unknown model|No local model"):
        evaluation.parse_models("smollm2-135m,local/nonesuch", settings)


def test_a_run_names_the_commit_it_started_on(store_settings, cases_dir, tmp_path,
                                              monkeypatch) -> None:
    """An edit or commit made while a long run answers must not relabel what made the answers."""
    state = {"commit": "before"}
    answer = evaluation.answer_cases

    def answer_then_commit(*args, **kwargs):
        replies = answer(*args, **kwargs)
        state["commit"] = "after"  # somebody commits while the run answers
        return replies

    monkeypatch.setattr(evaluation, "answer_cases", answer_then_commit)
    monkeypatch.setattr(evaluation, "source_commit", lambda: state["commit"])
    folder = run_eval(store_settings, config(cases_dir, tmp_path), progress=False)
    assert json.loads((folder / "results.json").read_text())["run"]["commit"] == "before"


def test_the_cache_key_covers_what_the_answering_code_imports(tmp_path) -> None:
    """Read from the import graph, not a list of paths: a module split in two stays covered."""
    from store_assistant.config import PROJECT_DIR
    from store_assistant.evaluation.runner import answering_code

    package = PROJECT_DIR / "store_assistant"
    names = {str(p.relative_to(package)) for p in answering_code(package)}
    assert {"answering/rag.py", "answering/evidence.py", "store/knowledge/search.py",
            "store/policy_rules.py", "inference/local.py", "templates.py"} <= names
    assert not any(n.startswith(("web/", "cli/", "evaluation/")) for n in names)
    # a package whose strategies import a module that imports, inside a function, a second one
    fake = tmp_path / "store_assistant"
    (fake / "answering").mkdir(parents=True)
    (fake / "store").mkdir()
    (fake / "answering" / "strategies.py").write_text("from store_assistant.store import search\n")
    (fake / "store" / "search.py").write_text("def f():\n    import store_assistant.store.split_off\n")
    (fake / "store" / "split_off.py").write_text("")
    (fake / "store" / "unused.py").write_text("")
    assert {p.name for p in answering_code(fake)} == {"strategies.py", "search.py", "split_off.py"}
