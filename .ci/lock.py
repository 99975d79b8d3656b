"""Re-pin requirements.lock: every installed dependency by exact version and by the SHA-256 of the
file pip installs, so `pip install --require-hashes` refuses a re-published or substituted release.

    make lock      # after changing a dependency in pyproject.toml and installing it
    .venv/bin/python .ci/lock.py --files DIR   # hash files already downloaded into DIR

Reads the virtualenv's packages (`pip freeze --all`), downloads each one's file the way the
install does (same indexes, this platform), and writes the lock atomically. llama-cpp-python is
left out: it is built here from its source archive, whose hash the Makefile pins.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

ROOT = Path(__file__).resolve().parents[1]
SKIP = {"pip", "llama-cpp-python", "store-assistant"}
HEADER = """\
# Every dependency, pinned by version and by the SHA-256 of the file installed on this platform
# (Linux x86-64, CPython 3.11). Installed with `pip install --require-hashes --no-deps`.
# Regenerate with `make lock`; llama-cpp-python is built from source (hash pinned in the Makefile).
"""


def main() -> None:
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all", "--exclude-editable"],
                            check=True, capture_output=True, text=True).stdout.splitlines()
    pins = sorted({line.split(" @ ")[0].strip() for line in frozen
                   if line and not line.startswith("#")
                   and canonicalize_name(line.split("==")[0].split(" @ ")[0]) not in SKIP},
                  key=str.lower)
    given = sys.argv[2] if sys.argv[1:2] == ["--files"] else None
    with tempfile.TemporaryDirectory() as scratch:
        wanted = Path(scratch) / "pins.txt"
        wanted.write_text("\n".join(pins) + "\n", encoding="utf-8")
        if given is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                            "--prefer-binary", "-r", str(wanted), "-d", scratch], check=True)
        hashes = {}
        for path in Path(given or scratch).iterdir():
            if path.suffix == ".whl":
                name, version, *_ = parse_wheel_filename(path.name)
            elif path.name.endswith(".tar.gz"):
                name, version = parse_sdist_filename(path.name)
            else:
                continue
            hashes[(name, str(version))] = hashlib.sha256(path.read_bytes()).hexdigest()
    lines = []
    for pin in pins:
        name, version = pin.split("==")
        digest = hashes.get((canonicalize_name(name), version))
        if digest is None:
            sys.exit(f"pip downloaded no file for {pin}; the lock is unchanged.")
        lines.append(f"{pin} \\\n    --hash=sha256:{digest}")
    out = ROOT / "requirements.lock"
    tmp = out.with_suffix(".lock.tmp")
    tmp.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    print(f"{out}: {len(lines)} packages pinned by version and hash")


if __name__ == "__main__":
    main()
