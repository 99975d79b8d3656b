"""Documented commands can't rot: every command the README shows parses, and every bench script
runs end to end at a tiny size (one question, a few cases), writing its results to a scratch
folder. A change that breaks one (a renamed flag, a moved module, an API change such as the
FairLock's) fails here instead of on the next person to type it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from store_assistant.cli import _parser
from store_assistant.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_COMMAND = re.compile(r"^\s*(?:STORE_ASSISTANT_\w+=\S+\s+)*(?:\.venv/bin/)?store-assistant\s+(.+?)"
                      r"\s*(?:#.*)?$")
_PLACEHOLDERS = {"NAME": "maria", "DIR": "review", "FILE.csv": "inventory.csv", "...": "x"}


def documented_commands() -> list[tuple[str, str]]:
    """(doc, argument string) of every `store-assistant ...` line in a code block of the docs."""
    found = []
    for doc in DOCS:
        inside = False
        for line in doc.read_text(encoding="utf-8").splitlines():
            if line.startswith("```"):
                inside = not inside
                continue
            match = _COMMAND.match(line) if inside else None
            if match:
                found.append((doc.name, match.group(1).rstrip("\\ ")))
    return found


def test_the_docs_show_commands() -> None:
    assert len(documented_commands()) >= 15  # the scan itself can fail: it must find them


@pytest.mark.parametrize("doc,arguments", documented_commands())
def test_every_documented_command_parses(doc: str, arguments: str) -> None:
    words = [_PLACEHOLDERS.get(w, w) for w in shlex.split(arguments)]
    try:
        _parser().parse_args(words)
    except SystemExit as exc:
        pytest.fail(f"{doc}: `store-assistant {arguments}` is rejected (exit {exc.code})")


def test_a_renamed_flag_would_be_caught() -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["eval", "--tags", "gate"])


def test_every_make_target_the_readme_names_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    named = set(re.findall(r"`make (\w+)`", "\n".join(d.read_text() for d in DOCS)))
    assert named and all(re.search(rf"^{t}:", makefile, re.MULTILINE) for t in named), named


# --- the bench scripts, tiny -------------------------------------------------------------------

def bench(script: str, *args: str, env: dict | None = None, timeout: int = 600) -> str:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT,
                            env={**os.environ, **(env or {})}, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{script} failed:\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture
def scratch_env(tmp_path: Path, store_settings: Settings) -> dict:
    return {"BENCH_RESULTS_DIR": str(tmp_path / "results"),
            "STORE_ASSISTANT_DATA_DIR": str(store_settings.data_dir),
            "STORE_ASSISTANT_MAX_TOKENS": "32"}


def test_bench_pe_overhead_runs(tmp_path: Path, scratch_env: dict) -> None:
    bench("pe_overhead.py", "--questions", "1", "--out", str(tmp_path / "pe"), env=scratch_env)
    report = json.loads((tmp_path / "pe.json").read_text())
    assert report and (tmp_path / "pe.md").read_text().count("|") > 4


def test_bench_retrieval_runs(tmp_path: Path, scratch_env: dict) -> None:
    bench("retrieval.py", "--sizes", "50", "--questions", "1", "--skip-answers",
          "--out", str(tmp_path / "retrieval"), env=scratch_env)
    report = json.loads((tmp_path / "retrieval.json").read_text())
    assert report["ingest"]["chunks"] > 0 and "50" in report["sizes"]


def test_bench_eval_run_and_finetune_compare_run(tmp_path: Path, scratch_env: dict) -> None:
    # A copy of the store data: Qdrant local mode lets one process hold a folder, and this
    # test process holds the session's.
    data = tmp_path / "data"
    shutil.copytree(scratch_env["STORE_ASSISTANT_DATA_DIR"], data,
                    ignore=shutil.ignore_patterns(".lock"))
    scratch_env = {**scratch_env, "STORE_ASSISTANT_DATA_DIR": str(data)}
    runs = tmp_path / "runs"
    bench("eval_run.py", "--arms", "rag-hybrid,finetuned+rag", "--tag", "gate", "--category",
          "stock", "--runs-dir", str(runs), env=scratch_env)
    report = json.loads((tmp_path / "results" / "eval_run-gate-stock.json").read_text())
    assert report["answers"] > 0 and report["warm_cached_answers"] == report["answers"]
    out = bench("finetune_compare.py", report["runs"][0], "--runs-dir", str(runs), env=scratch_env)
    assert "| finetuned+rag | rag-hybrid | correct |" in out


def test_bench_finetune_shipped_runs(scratch_env: dict, tmp_path: Path) -> None:
    bench("finetune.py", "--shipped", env=scratch_env)
    report = json.loads((tmp_path / "results" / "finetune-shipped.json").read_text())
    assert report["steps"] > 0


def test_bench_load_runs(tmp_path: Path, scratch_env: dict) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "load.json"
    bench("load.py", "--sessions", "1", "--duration", "1", "--no-warmup", "--port", str(port),
          "--data-dir", scratch_env["STORE_ASSISTANT_DATA_DIR"], "--out", str(out),
          env=scratch_env, timeout=900)
    report = json.loads(out.read_text())
    assert report["summary"]["answered"] >= 1, report["summary"]
    # The app's answers reach the answer log through the answering path, not through app.py.
    assert report["config"]["app_answer_log_lines"] >= report["summary"]["answered"]


def test_bench_prefix_cache_runs(tmp_path: Path, scratch_env: dict) -> None:
    data = tmp_path / "data"  # a copy: this test process holds the session's Qdrant folder
    shutil.copytree(scratch_env["STORE_ASSISTANT_DATA_DIR"], data,
                    ignore=shutil.ignore_patterns(".lock"))
    scratch_env = {**scratch_env, "STORE_ASSISTANT_DATA_DIR": str(data)}
    bench("prefix_cache.py", "--models", "smollm2-135m", "--questions", "1",
          "--out", str(tmp_path / "prefix"), env=scratch_env)
    report = json.loads((tmp_path / "prefix.json").read_text())
    row = report["models"]["smollm2-135m"]["rows"][0]
    assert 0 < row["shared_prefix_tokens"] < row["prompt_tokens"]
    assert row["ttft_reused_ms"] > 0 and row["ttft_cold_ms"] > 0


def test_multilingual_answer_reports_come_from_the_committed_answers_and_labels(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/results/multilingual-answers-*.md is what the committed answers and hand labels
    give, every model answer has a label, and a label never follows an answer that changed."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import multilingual_answers as bench

    labels = bench.read_labels()
    files = sorted((ROOT / "bench" / "results").glob("multilingual-answers-*.json"))
    assert files
    for path in files:
        results = json.loads(path.read_text("utf-8"))
        rendered, text = bench.render(json.loads(path.read_text("utf-8")), labels)
        assert path.with_suffix(".md").read_text("utf-8") == text, (
            f"{path.name}: run bench/multilingual_answers.py --report-only --model "
            f"{results['model']}")
        assert results["commit"] and len(results["rows"]) >= 48
        unlabelled = [r["answer"] for r in rendered["rows"] if r["correct"] is None]
        assert unlabelled == [], f"{path.name}: label these in eval/languages/labels.yaml"
        # docs/models.md's table row for this model says what the labels say.
        model = results["model"].rsplit("/", 1)[-1]
        mine = [r for r in rendered["rows"] if r["arm"] == "rag-hybrid"]
        counts = [sum(r["correct"] for r in mine if keep(r)) for keep in (
            lambda r: r["lang"] != "en", lambda r: r["lang"] == "ko", lambda r: r["lang"] == "en")]
        row = f"| rag-hybrid, {model}"
        line = next(line for line in (ROOT / "docs" / "models.md").read_text("utf-8").splitlines()
                    if line.startswith(row))
        assert line.split("|")[2:5] == [f" {n} " for n in counts], (line, counts)
        changed = dict(rendered["rows"][0], answer=rendered["rows"][0]["answer"] + " (edited)")
        changed["answer_sha"] = bench.sha(changed["answer"])
        relabelled, _ = bench.render({**results, "rows": [changed]}, labels)
        assert relabelled["rows"][0]["correct"] is None
