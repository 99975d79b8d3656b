"""How long an evaluation takes on this machine: a cold run (empty answer cache), then a warm re-run.

    .venv/bin/python bench/eval_run.py                       # all six arms, every case
    .venv/bin/python bench/eval_run.py --split heldout       # the heldout split only
    .venv/bin/python bench/eval_run.py --tag gate --arms pe-zero-shot,rag-hybrid   # the CI gate
    .venv/bin/python bench/eval_run.py --split heldout --cache eval/runs/cache.sqlite \
        --cold-from <run-id>     # warm timing on a kept cache; cold time read from an earlier run

Uses the app's data folder (`make data`) and a throw-away cache, so the cold run answers every
case. Writes bench/results/eval_run[-<selection>].json and .md, and keeps the cold run's folder
(scorecard included) under eval/runs/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from store_assistant.config import load_settings  # noqa: E402
from store_assistant.evaluation.runner import ALL_ARMS, RUNS_DIR, EvalConfig, parse_arms, run_eval  # noqa: E402

# BENCH_RESULTS_DIR: the test suite's smoke runs write to a scratch folder, not bench/results/.
RESULTS = Path(os.environ.get("BENCH_RESULTS_DIR") or Path(__file__).parent / "results")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default=",".join(ALL_ARMS))
    parser.add_argument("--split", choices=("dev", "heldout"))
    parser.add_argument("--tag", action="append")
    parser.add_argument("--category", action="append")
    parser.add_argument("--runs-dir", type=Path, default=RUNS_DIR, help="where run folders go")
    parser.add_argument("--cache", type=Path, help="an existing answer cache (default: an empty one)")
    parser.add_argument("--cold-from", metavar="RUN_ID",
                        help="report this earlier run (eval/runs/RUN_ID) as the cold run")
    args = parser.parse_args()
    settings = load_settings()
    arms = parse_arms(args.arms)
    with tempfile.TemporaryDirectory(prefix="eval-bench-") as scratch:
        cache = args.cache or Path(scratch) / "cache.sqlite"
        timings = {}
        labels = ("cold", "warm")
        if args.cold_from:
            meta = json.loads((args.runs_dir / args.cold_from / "results.json").read_text())["run"]
            timings["cold"] = (datetime.fromisoformat(meta["finished"])
                               - datetime.fromisoformat(meta["started"])).total_seconds()
            timings["cold_run"] = args.cold_from
            labels = ("fill", "warm")  # the first pass answers whatever the cache lacks
        for label in labels:
            config = EvalConfig(arms=arms, split=args.split, tags=args.tag,
                                categories=args.category, runs_dir=args.runs_dir,
                                cache_path=cache)
            started = time.perf_counter()
            folder = run_eval(settings, config)
            timings[label] = time.perf_counter() - started
            timings[f"{label}_run"] = folder.name
    results = json.loads((args.runs_dir / timings["cold_run"] / "results.json").read_text())
    answers = results["run"]["answers"]
    report = {"arms": arms, "split": args.split, "tags": args.tag, "cases": results["run"]["cases"],
              "answers": answers, "cold_s": round(timings["cold"], 1),
              "warm_s": round(timings["warm"], 1),
              "cold_s_per_answer": round(timings["cold"] / answers, 2),
              "runs": [timings["cold_run"], timings["warm_run"]], "model": settings.llm,
              "warm_cached_answers": json.loads((args.runs_dir / timings["warm_run"] / "results.json")
                                                .read_text())["run"]["cached_answers"],
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "threads": settings.threads}
    name = "eval_run" + (f"-{args.split}" if args.split else "") + (
        f"-{'-'.join(args.tag)}" if args.tag else "") + (
        f"-{'-'.join(args.category)}" if args.category else "")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=1) + "\n")
    (RESULTS / f"{name}.md").write_text(
        f"# Evaluation run time ({name})\n\n`.venv/bin/python bench/eval_run.py "
        f"{' '.join(sys.argv[1:])}`\n\n| | value |\n|---|---:|\n"
        f"| arms | {', '.join(arms)} |\n| cases | {report['cases']} |\n| answers | {answers} |\n"
        f"| cold run | {report['cold_s']:.0f} s ({report['cold_s_per_answer']} s/answer) |\n"
        f"| warm re-run ({report['warm_cached_answers']} of {answers} answers cached) | "
        f"{report['warm_s']:.1f} s |\n"
        f"| model | {settings.llm}, {settings.threads} threads |\n| machine | {report['machine']} |\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
