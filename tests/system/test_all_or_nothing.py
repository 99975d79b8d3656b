"""A command that fails changes nothing (issue 17): `ingest` with each input broken in turn, and
failing part-way, into a new data folder and into one in use; then `data generate`, `model
train`, `users` and `feedback export`. Every check compares the data folder byte for byte."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from store_assistant.cli import EXIT_BAD_INPUT, main
from store_assistant.config import load_settings
from store_assistant.store import knowledge
from store_assistant.store.knowledge import knowledge_base
from tests.conftest import TEST_ENV

REAL_CSV = Path(__file__).resolve().parents[2] / "manuals" / "inventory.csv"


def tree(folder: Path) -> dict[str, str] | None:
    """Every file below `folder` by its SHA-256; None when the folder does not exist."""
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    manuals = tmp_path / "manuals"
    manuals.mkdir()
    (manuals / "kettle.md").write_text("# Acme Kettle\n\n## Capacity\nHolds 1.7 litres.\n")
    (manuals / "toaster.md").write_text("# Acme Toaster\n\n## Power\nThe toaster draws 1500 W.\n")
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "returns.md").write_text("# Returns\n\n## Window\nReturn within 15 days.\n")
    inventory = tmp_path / "inventory.csv"
    inventory.write_bytes(REAL_CSV.read_bytes())
    return {"manuals": manuals, "policies": policies, "inventory": inventory}


def ingest_args(inputs: dict[str, Path], data_dir: Path, *extra: str) -> list[str]:
    return ["ingest", "--manuals", str(inputs["manuals"]), "--policies", str(inputs["policies"]),
            "--inventory", str(inputs["inventory"]), "--data-dir", str(data_dir), *extra]


def break_input(inputs: dict[str, Path], which: str) -> str:
    """Break one input; returns what the error must say."""
    if which == "inventory missing":
        inputs["inventory"].unlink()
        return "inventory.csv does not exist"
    if which == "inventory malformed":
        lines = inputs["inventory"].read_text().splitlines()
        header = lines[0].split(",")
        cells = lines[1].split(",")
        cells[header.index("price")] = "twelve"
        inputs["inventory"].write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
        return "line 2"
    if which == "manuals missing":
        inputs["manuals"].rename(inputs["manuals"].with_name("gone"))
        return "manuals is not a folder"
    if which == "manual empty":
        (inputs["manuals"] / "blank.md").write_text("")
        return "blank.md"
    if which == "policies missing":
        inputs["policies"].rename(inputs["policies"].with_name("gone-policies"))
        return "policies is not a folder"
    if which == "policy without headings":
        (inputs["policies"] / "flat.md").write_text("Just text with no headings at all.")
        return "flat.md has no markdown headings"
    raise AssertionError(which)


BROKEN = ["inventory missing", "inventory malformed", "manuals missing", "manual empty",
          "policies missing", "policy without headings"]


@pytest.mark.parametrize("which", BROKEN)
def test_ingest_with_a_broken_input_does_not_create_the_data_folder(
        inputs: dict[str, Path], tmp_path: Path, capsys, which: str) -> None:
    data_dir = tmp_path / "new" / "data"
    said = break_input(inputs, which)
    assert main(ingest_args(inputs, data_dir)) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert said in err and "Nothing was changed" in err and "Traceback" not in err
    assert not (tmp_path / "new").exists()


@pytest.fixture
def ingested(inputs: dict[str, Path], tmp_path: Path) -> Path:
    """A data folder after one good ingest, with a manual and a price changed since: a second
    ingest would change both the index and the inventory."""
    data_dir = tmp_path / "data"
    assert main(ingest_args(inputs, data_dir)) == 0
    knowledge.close_knowledge_bases()
    (inputs["manuals"] / "kettle.md").write_text("# Acme Kettle\n\n## Capacity\nHolds 2 litres.\n")
    text = inputs["inventory"].read_text()
    assert ",MPXQ2LL/A,1299.99," in text
    inputs["inventory"].write_text(text.replace(",MPXQ2LL/A,1299.99,", ",MPXQ2LL/A,1199.99,"))
    return data_dir


def kettle(data_dir: Path) -> str:
    settings = load_settings({"data_dir": str(data_dir)}, env=TEST_ENV)
    text = knowledge_base(settings).search("kettle capacity", mode="dense", k=1)[0].chunk.text
    knowledge.close_knowledge_bases()
    return text


@pytest.mark.parametrize("which", BROKEN)
def test_ingest_with_a_broken_input_leaves_the_data_folder_as_it_was(
        inputs: dict[str, Path], ingested: Path, capsys, which: str) -> None:
    before = tree(ingested)
    said = break_input(inputs, which)
    assert main(ingest_args(inputs, ingested)) == EXIT_BAD_INPUT
    assert said in capsys.readouterr().err
    assert tree(ingested) == before


def test_every_broken_input_is_named_in_one_go(inputs: dict[str, Path], tmp_path: Path,
                                               capsys) -> None:
    said = [break_input(inputs, which) for which in
            ("inventory malformed", "manual empty", "policy without headings")]
    assert main(ingest_args(inputs, tmp_path / "data")) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert all(text in err for text in said), err


def test_ingest_failing_while_embedding_changes_nothing(
        inputs: dict[str, Path], ingested: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tree(ingested)
    calls = []

    def embed_then_fail(texts, batch_size=32):
        calls.append(len(texts))
        raise MemoryError("out of memory while embedding")

    monkeypatch.setattr(knowledge.EMBEDDER, "embed", embed_then_fail)
    with pytest.raises(MemoryError):
        main(ingest_args(inputs, ingested))
    assert calls, "the changed manual was not re-embedded, so the failure was never reached"
    monkeypatch.undo()
    assert tree(ingested) == before
    assert "1.7 litres" in kettle(ingested)
    assert not list(ingested.glob(".ingest-*"))


def test_inventory_rejected_after_the_index_was_built_changes_neither(
        inputs: dict[str, Path], ingested: Path, capsys) -> None:
    """The file parses, but its store columns differ from the database's: the import fails only
    after the new index is staged, and the staged index is dropped with it."""
    before = tree(ingested)
    text = inputs["inventory"].read_text().replace("stock_", "stock_x", 1)
    inputs["inventory"].write_text(text)
    assert main(ingest_args(inputs, ingested)) == EXIT_BAD_INPUT
    assert "store" in capsys.readouterr().err
    assert tree(ingested) == before
    assert "1.7 litres" in kettle(ingested)


def test_index_swap_failing_rolls_the_inventory_back(
        inputs: dict[str, Path], ingested: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tree(ingested)

    def disk_full(self) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(knowledge.StagedIndex, "commit", disk_full)
    with pytest.raises(OSError, match="No space"):
        main(ingest_args(inputs, ingested, "--rebuild"))
    monkeypatch.undo()
    assert tree(ingested) == before
    assert "1.7 litres" in kettle(ingested)


def test_a_good_ingest_after_a_failed_one_takes_the_change(
        inputs: dict[str, Path], ingested: Path, capsys) -> None:
    break_input(inputs, "manual empty")
    assert main(ingest_args(inputs, ingested)) == EXIT_BAD_INPUT
    (inputs["manuals"] / "blank.md").unlink()
    assert main(ingest_args(inputs, ingested)) == 0
    assert "2 litres" in kettle(ingested)
    assert not list(ingested.glob(".ingest-*"))
    assert main(["inventory", "show", "5721723", "--data-dir", str(ingested)]) == 0
    assert "price: $1,199.99" in capsys.readouterr().out


def test_a_scratch_folder_left_by_a_killed_ingest_is_cleared(inputs: dict[str, Path],
                                                              ingested: Path) -> None:
    dead = ingested / ".ingest-999999999-x1y2"  # no such process
    (dead / "replaced").mkdir(parents=True)
    (dead / "replaced" / "old-index").write_text("the index before a swap that never finished")
    mine = ingested / f".ingest-{os.getpid()}-a1b2"  # a running process's: left alone
    mine.mkdir()
    assert main(ingest_args(inputs, ingested)) == 0
    assert not dead.exists() and mine.exists()


# --- the other commands that write ----------------------------------------------------------

def test_users_add_with_bad_input_changes_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    import io

    data_dir = tmp_path / "data"
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-enough-password\n"))
    assert main(["users", "add", "ana", "--role", "manager", "--password-stdin",
                 "--data-dir", str(data_dir)]) == 0
    before = tree(data_dir)
    for name, password in (("ana", "another-long-password"),   # exists
                           ("bo", "short"),                     # too short
                           ("bad name!", "a-long-enough-password")):
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        assert main(["users", "add", name, "--role", "staff", "--password-stdin",
                     "--data-dir", str(data_dir)]) == EXIT_BAD_INPUT
        assert tree(data_dir) == before, name
    assert main(["users", "remove", "nobody", "--data-dir", str(data_dir)]) == EXIT_BAD_INPUT
    assert tree(data_dir) == before
    assert "Traceback" not in capsys.readouterr().err


def test_feedback_export_to_a_path_that_is_a_file_writes_nothing(tmp_path: Path, capsys) -> None:
    from store_assistant.answering.base import Answer
    from store_assistant.store.answer_log import answer_log

    data_dir = tmp_path / "data"
    settings = load_settings({"data_dir": str(data_dir)}, env=TEST_ENV)
    log = answer_log(settings)
    answer_id = log.record_answer("How much is the Sony WH-1000XM5?", Answer(
        text="It is $10.", strategy="rag-hybrid", model="local/smollm2-135m", sources=[],
        latency_ms=900, usage={}, flags=[]))
    log.record_feedback(answer_id, "down", correction="It is $399.99.")
    out = tmp_path / "out"
    out.mkdir()
    (out / "feedback-seeds.yaml").mkdir()  # the second file cannot be written
    assert main(["feedback", "export", "--out", str(out), "--data-dir", str(data_dir)]) != 0
    assert sorted(p.name for p in out.iterdir()) == ["feedback-seeds.yaml"]
    assert "Traceback" not in capsys.readouterr().err


def test_data_generate_with_a_broken_input_writes_nothing(inputs: dict[str, Path],
                                                          tmp_path: Path, capsys) -> None:
    out = tmp_path / "generated"
    data_dir = tmp_path / "data"
    # No inventory in the data folder yet: named, nothing written.
    assert main(["data", "generate", "--no-paraphrase", "--num", "20", "--out", str(out),
                 "--data-dir", str(data_dir)]) != 0
    assert "No inventory database" in capsys.readouterr().err
    assert not out.exists() and not data_dir.exists()
    assert main(["data", "generate", "--teacher", "no-such-provider/x", "--num", "20",
                 "--out", str(out), "--data-dir", str(data_dir)]) == EXIT_BAD_INPUT
    assert not out.exists()
    assert "Traceback" not in capsys.readouterr().err


def test_model_train_that_cannot_finish_registers_nothing(tmp_path: Path, monkeypatch,
                                                          capsys) -> None:
    models = tmp_path / "models"
    monkeypatch.setenv("STORE_ASSISTANT_MODELS_DIR", str(models))
    models.mkdir()
    (models / "registry.json").write_text('{"models": {"volt-lora": ')  # hand-edited, broken
    before = tree(models)
    assert main(["model", "train", "--max-steps", "1"]) == EXIT_BAD_INPUT
    assert "registry.json" in capsys.readouterr().err
    assert tree(models) == before
    (models / "registry.json").unlink()
    assert main(["model", "train", "--max-steps", "1", "--base", "no-such-model"]) == EXIT_BAD_INPUT
    assert tree(models) == {}
