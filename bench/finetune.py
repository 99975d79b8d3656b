"""Training cost on this machine: wall time, peak RAM and adapter size of a `model train` run, and
whether the same command reproduces the shipped adapter byte for byte.

    .venv/bin/python bench/finetune.py                                   # the default config
    .venv/bin/python bench/finetune.py --config finetune_data/configs/quick.toml
    .venv/bin/python bench/finetune.py --shipped      # report the shipped adapter's own run

`--shipped` trains nothing: it reports what `model train` measured and recorded in
models/registry.json when it made the shipped adapter.

Trains in a scratch models folder (the shipped registry is not touched), as a subprocess so the
peak RSS is the training's own. Writes bench/results/finetune[-<config>].json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# BENCH_RESULTS_DIR: the test suite's smoke runs write to a scratch folder, not bench/results/.
RESULTS = Path(os.environ.get("BENCH_RESULTS_DIR") or Path(__file__).parent / "results")
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--shipped", action="store_true")
    args = parser.parse_args()
    if args.shipped:
        registry = json.loads((ROOT / "models" / "registry.json").read_text())
        name = registry["active"]
        report(registry["models"][name], None, None, True, "-shipped",
               "`.venv/bin/python bench/finetune.py --shipped` (recorded by: "
               f"`{registry['models'][name]['command']}`)")
        return
    with tempfile.TemporaryDirectory(prefix="finetune-bench-") as scratch:
        env = {**os.environ, "STORE_ASSISTANT_MODELS_DIR": scratch}
        command = [str(Path(sys.executable).with_name("store-assistant")), "model", "train"]
        if args.config:
            command += ["--config", str(args.config)]
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, cwd=ROOT)
        wall = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        registry = json.loads((Path(scratch) / "registry.json").read_text())
    name, entry = next(iter(registry["models"].items()))
    shipped = json.loads((ROOT / "models" / "registry.json").read_text())["models"].get(name, {})
    suffix = f"-{args.config.stem}" if args.config else ""
    report(entry, round(wall, 1), round(peak_mb),
           entry["adapter_sha256"] == shipped.get("adapter_sha256"), suffix,
           f"`.venv/bin/python bench/finetune.py{' --config ' + str(args.config) if args.config else ''}`")


def report(entry: dict, wall: float | None, peak_mb: int | None, same: bool, suffix: str,
           how: str) -> None:
    result = {
        "command": entry["command"], "wall_seconds": wall,
        "training_seconds": entry["training_seconds"],
        "peak_rss_mb": peak_mb or entry["peak_rss_mb"],
        "adapter_mb": round(entry["adapter_bytes"] / 1e6, 2),
        "train_examples": entry["data"]["train_examples"], "steps": entry["steps"],
        "stopped": entry["stopped"], "first_valid_loss": entry["first_valid_loss"],
        "best_valid_loss": entry["best_valid_loss"], "parity": entry["parity"],
        "precision": entry["config"]["precision"], "same_adapter_as_shipped": same,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"finetune{suffix}.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(f"| {key} | {value} |" for key, value in result.items())
    (RESULTS / f"finetune{suffix}.md").write_text(
        f"# Fine-tuning cost (finetune{suffix})\n\n{how}\n\n| | value |\n|---|---:|\n{rows}\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
