"""The chat page in a real browser: the first answer after start against warm ones, and screenshots.

    .venv/bin/python bench/app_first_answer.py [--pause 15] [--data-dir data]

Starts the app (`streamlit run app.py`, the configured default strategy and model) on a copy of the
data directory, opens it in headless Chromium, waits `--pause` seconds (staff reading the page and
typing; the page warms its strategy meanwhile, off their clock) and asks the questions of issue 29
one by one, timing each from Enter to the finished answer on the page. Writes
bench/results/app-first-answer.{json,md} (each answer as drawn, its seconds, the first against the
median of the others, the commit) and a full-page screenshot after each answer in
bench/results/screens/ to be looked at by eye.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from load import start_app, stop_app  # noqa: E402
from store_assistant.config import load_settings  # noqa: E402
from store_assistant.evaluation.runner import source_commit  # noqa: E402
from store_assistant.files import write_atomic  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CHROMIUM = "/usr/bin/chromium"
_CAPTION = re.compile(r" · \d+\.\d s( · |$)")  # web/ui.caption: strategy · model · seconds
# Issue 29's questions, as a new staff member typed them.
QUESTIONS = [
    "Does the LG C3 support HDR10+?",
    "Does the LG C3 have Chromecast built in?",
    "Which HDMI port on the LG C3 should the soundbar go in?",
    "What's the restocking fee on an opened Wi-Fi-only iPad?",
    "A customer opened a Canon EF 50mm lens and wants to return it. Is there a restocking fee?",
    "The LG Magic Remote pointer stopped moving",
    "How heavy is the 77 inch LG C3 without the stand?",
    "How many no-receipt returns can a customer make in a year?",
    "A customer is returning a TV she paid $700 cash for. Can I give her the cash back?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pause", type=float, default=15.0,
                        help="seconds between the page appearing and the first question")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    screens = RESULTS / "screens"
    screens.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="app-first-answer-"))
    shutil.copytree(args.data_dir, work / "data",
                    ignore=shutil.ignore_patterns(".lock", "accounts.db", "answer-log"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    app = start_app(port, work / "app.log", work / "data")
    rows = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            page.goto(f"http://127.0.0.1:{port}/")
            box = page.get_by_placeholder("Ask about a product, price, stock or policy...")
            box.wait_for(timeout=180_000)
            shown = time.perf_counter() - started
            time.sleep(args.pause)
            for number, question in enumerate(QUESTIONS, 1):
                before = page.locator('[data-testid="stChatMessage"]').count()
                box.fill(question)
                asked = time.monotonic()
                box.press("Enter")
                reply = page.locator('[data-testid="stChatMessage"]').nth(before + 1)
                # Finished: the caption under the answer is drawn last ("rag-hybrid · <model> ·
                # 2.1 s · ..."). The reply's message box appears at once, empty, while it runs.
                reply.get_by_text(_CAPTION).wait_for(timeout=180_000)
                seconds = time.monotonic() - asked
                text = reply.inner_text()
                page.screenshot(path=str(screens / f"answer-{number}.png"), full_page=True)
                rows.append({"question": question, "seconds": round(seconds, 2), "answer": text})
                print(f"[{number}] {seconds:5.1f}s {question}\n{text}\n", flush=True)
            browser.close()
    finally:
        stop_app(app)
        shutil.rmtree(work, ignore_errors=True)
    warm = statistics.median(r["seconds"] for r in rows[1:])
    run = {"commit": source_commit(), "model": load_settings().llm,
           "made": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "pause_s": args.pause, "page_shown_s": round(shown, 1),
           "first_s": rows[0]["seconds"], "warm_median_s": warm,
           "first_over_warm": round(rows[0]["seconds"] / warm, 2), "answers": rows}
    write_atomic(RESULTS / "app-first-answer.json", json.dumps(run, indent=1) + "\n")
    lines = ["# The first answer after start, in a real browser",
             "", f"Made by `bench/app_first_answer.py` on commit {run['commit']} with "
             f"{run['model']}, {run['made']}. The page appeared {run['page_shown_s']} s after "
             f"start; the first question was asked {args.pause:g} s later (staff typing). Times "
             f"are Enter to the finished answer on the page (Streamlit, headless Chromium, the "
             f"same 2 cores).", "",
             f"First answer **{run['first_s']} s**; the others' median **{warm} s** "
             f"(first / warm = {run['first_over_warm']}).", "",
             "| # | seconds | question |", "|---|---|---|"]
    lines += [f"| {i} | {r['seconds']} | {r['question']} |" for i, r in enumerate(rows, 1)]
    write_atomic(RESULTS / "app-first-answer.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
