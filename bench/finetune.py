"""Training cost on this machine: wall time, peak RAM and adapter size of a `model train` run, and
whether the same command reproduces the shipped adapter byte for byte.

    .venv/bin/python bench/finetune.py                                   # the default config
    .venv/bin/python bench/finetune.py --config finetune_data/configs/quick.toml

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
RESULTS = Path(__file__).parent / "results"
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args()
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
    result = {
        "command": "store-assistant model train" + (f" --config {args.config}" if args.config
                                                    else ""),
        "wall_seconds": round(wall, 1), "training_seconds": entry["training_seconds"],
        "peak_rss_mb": round(peak_mb), "adapter_mb": round(entry["adapter_bytes"] / 1e6, 2),
        "train_examples": entry["data"]["train_examples"], "steps": entry["steps"],
        "stopped": entry["stopped"], "first_valid_loss": entry["first_valid_loss"],
        "best_valid_loss": entry["best_valid_loss"], "parity": entry["parity"],
        "precision": entry["config"]["precision"],
        "same_adapter_as_shipped": entry["adapter_sha256"] == shipped.get("adapter_sha256"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
    suffix = f"-{args.config.stem}" if args.config else ""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"finetune{suffix}.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(f"| {key} | {value} |" for key, value in result.items() if key != "command")
    (RESULTS / f"finetune{suffix}.md").write_text(
        f"# Fine-tuning cost (finetune{suffix})\n\n`.venv/bin/python bench/finetune.py"
        f"{' --config ' + str(args.config) if args.config else ''}`\n\n| | value |\n|---|---:|\n"
        f"{rows}\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
